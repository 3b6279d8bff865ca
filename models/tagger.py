"""Multi-label sentence topic tagger that reads the article: encoder (+ LoRA) → mean pooling → article
contextualiser → linear head.

Each sentence is encoded once; a small transformer over the sentence vectors of one article (with their
positions) lets a sentence take the topic its article gives it, as annotators judge it. A sentence given
without its article is an article of one sentence at a dedicated "alone" position. A saved tagger folder
(`dangtopic.models.saving`) records the labels and their thresholds in config.json too."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from torch import nn

from dangtopic import LABELS
from dangtopic.models.config import to_dict
from dangtopic.models.encoder import EncoderSpec, SentenceEncoder, pool
from dangtopic.models.saving import open_saved, save_folder, warn_fingerprint_mismatch

logger = logging.getLogger(__name__)

KIND = "sentence-tagger"
DEFAULT_TAGGER_DIR = Path(__file__).resolve().parent / "default" / "tagger"


@dataclass
class LoraSpec:
    """LoRA settings; r=0 means full fine-tuning of the encoder (word embeddings stay frozen)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: list[str] = field(
        default_factory=lambda: [
            "query",
            "key",
            "value",
            "attention.output.dense",
            "intermediate.dense",
            "output.dense",
        ]
    )
    # Adapt only layers >= this index; the frozen layers below can then be cached during training.
    layers_from: int = 0

    def __post_init__(self) -> None:
        if self.r < 0 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"invalid LoRA settings r={self.r} alpha={self.alpha} dropout={self.dropout}")
        if self.layers_from < 0:
            raise ValueError(f"layers_from must be >= 0, got {self.layers_from}")


@dataclass
class ContextSpec:
    """The article contextualiser: pre-norm transformer layers over the sentence vectors of an article."""

    layers: int = 2  # 0 = every sentence judged alone
    heads: int = 4
    ffn: int = 384  # feed-forward width (e5-small's hidden size: keeps the module ~0.9M params a layer)
    dropout: float = 0.1
    max_positions: int = 64  # sentence positions (0 = title) beyond this share the last embedding

    def __post_init__(self) -> None:
        if self.layers < 0 or self.heads < 1 or self.ffn < 1 or self.max_positions < 1:
            raise ValueError(f"invalid context settings {self}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"context dropout must be in [0, 1), got {self.dropout}")


@dataclass
class TaggerConfig:
    """Architecture of the tagger (training hyper-parameters live in the training config)."""

    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    lora: LoraSpec = field(default_factory=LoraSpec)
    context: ContextSpec = field(default_factory=ContextSpec)
    # Keep only the first k encoder layers (None = all): a distilled student for the fast path.
    num_layers: int | None = None
    head_dropout: float = 0.1
    # Decision threshold per label, tuned on dev data by the trainer.
    thresholds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be unique and non-empty: {self.labels}")
        if unknown := set(self.thresholds) - set(self.labels):
            raise ValueError(f"thresholds for unknown labels: {sorted(unknown)}")
        for label, t in self.thresholds.items():
            if not 0.0 < t < 1.0:
                raise ValueError(f"threshold for {label} must be in (0, 1), got {t}")
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 or null, got {self.num_layers}")

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, 0.5)


@dataclass
class TagPrediction:
    """Labels above threshold (in label order) and the probability of every label."""

    labels: list[str]
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "scores": dict(self.scores)}


class ArticleContext(nn.Module):
    """Transformer layers over the sentence vectors of each article, with learned sentence positions."""

    def __init__(self, hidden: int, spec: ContextSpec):
        super().__init__()
        self.spec = spec
        # index max_positions is the "alone" position: a sentence tagged without its article
        self.position = nn.Embedding(spec.max_positions + 1, hidden)
        layer = nn.TransformerEncoderLayer(
            hidden, spec.heads, spec.ffn, spec.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, spec.layers, enable_nested_tensor=False)
        # Zero positions and residual branches: an untrained contextualiser is the identity, so training
        # starts from the sentence-level tagger and adds only the context that helps.
        nn.init.zeros_(self.position.weight)
        for block in self.layers.layers:
            for lin in (block.self_attn.out_proj, block.linear2):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def forward(self, vectors, lengths: list[int]):
        """`vectors` [n, H] are the sentences of consecutive articles of `lengths` → [n, H]. A length of 0
        marks a sentence judged alone (an article of one, at the "alone" position)."""
        alone = self.spec.max_positions
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=vectors.device)
        sizes = lengths.clamp(min=1)
        within = torch.arange(int(sizes.max()), device=vectors.device).expand(len(sizes), -1)
        real = within < sizes[:, None]  # [articles, longest]: a sentence, not padding
        padded = vectors.new_zeros(*real.shape, vectors.shape[-1])
        padded[real] = vectors
        pos = torch.where(lengths[:, None] > 0, within.clamp(max=alone - 1), alone).masked_fill(~real, 0)
        out = self.layers(padded + self.position(pos).to(padded.dtype), src_key_padding_mask=~real)
        return out[real]


class SentenceTagger(nn.Module):
    """Tags sentences with topic labels, reading each one in its article when given one."""

    def __init__(self, config: TaggerConfig, encoder: SentenceEncoder, head, metrics=None):
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.context = ArticleContext(hidden, config.context) if config.context.layers else None
        self.head = head
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.fast_method: str | None = None  # set by `dangtopic.inference.speed.make_fast`

    @classmethod
    def create(
        cls, encoder: str | None = None, config: TaggerConfig | None = None, **overrides
    ) -> SentenceTagger:
        """A fresh (untrained head) tagger on `encoder` (name, path, or None for the offline default)."""
        config = config or TaggerConfig()
        if encoder is not None:
            config.encoder.name = str(encoder)
        for key, value in overrides.items():
            if not hasattr(config, key):
                raise ValueError(f"unknown TaggerConfig option {key!r}")
            setattr(config, key, value)
        encoder = SentenceEncoder.load(config.encoder, config.num_layers)
        if config.lora.r > 0:
            encoder.model = _add_lora(encoder.model, config.lora)
        return cls(config, encoder, _make_head(encoder.config.hidden_size, config))

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, device: str | None = None, merge: bool = True
    ) -> SentenceTagger:
        """Load a saved tagger (None → the shipped default). `merge` folds LoRA into the weights for speed."""
        from safetensors.torch import load_file

        folder, meta, config = open_saved(path, DEFAULT_TAGGER_DIR, KIND, "tagger", TaggerConfig)
        if (folder / "encoder").is_dir():
            # Full fine-tuning (`lora.r: 0`) saved the whole encoder: its weights, not the base's.
            spec = replace(config.encoder, name=str(folder / "encoder"))
            encoder = SentenceEncoder.load(spec, config.num_layers)
        else:
            encoder = SentenceEncoder.load(config.encoder, config.num_layers)
            warn_fingerprint_mismatch(meta, encoder.fingerprint, "tagger", "predictions")
        if (folder / "adapter").exists():
            from peft import PeftModel

            encoder.model = PeftModel.from_pretrained(encoder.model, folder / "adapter")
            if merge:
                encoder.model = encoder.model.merge_and_unload()
        head = _make_head(encoder.config.hidden_size, config)
        tagger = cls(config, encoder, head, metrics=meta.get("metrics"))
        missing, unexpected = tagger.load_state_dict(load_file(folder / "head.safetensors"), strict=False)
        missing = [k for k in missing if not k.startswith("encoder.")]
        if missing or unexpected:
            raise ValueError(
                f"{folder / 'head.safetensors'} does not fit its config.json "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}): retrain or re-save the tagger"
            )
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return tagger.eval().to(device or "cpu")

    def save_pretrained(self, path: str | Path, card: str | None = None) -> Path:
        """Write config, adapter and head (never the base encoder) to `path`."""
        folder = Path(path)
        if hasattr(self.encoder.model, "peft_config"):
            self.encoder.model.save_pretrained(folder / "adapter")
            # peft records the absolute path of the base; the config's encoder name is what we load by.
            cfg_file = folder / "adapter" / "adapter_config.json"
            adapter_cfg = json.loads(cfg_file.read_text())
            adapter_cfg["base_model_name_or_path"] = self.config.encoder.name
            cfg_file.write_text(json.dumps(adapter_cfg, indent=2))
            # peft's boilerplate card names the local base path; the folder's README.md is the real card.
            (folder / "adapter" / "README.md").unlink(missing_ok=True)
        elif self.config.lora.r == 0:
            self.encoder.model.save_pretrained(folder / "encoder")
            self.encoder.tokenizer.save_pretrained(folder / "encoder")
        meta = {
            "kind": KIND,
            "labels": list(self.config.labels),
            "thresholds": {lab: self.config.threshold(lab) for lab in self.config.labels},
            "base_encoder": self.config.encoder.name,
            "base_fingerprint": self.encoder.fingerprint,
            "config": to_dict(self.config),
            "metrics": self.metrics,
        }
        head = {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}
        stub = (
            f"# dangtopic sentence tagger\n\nLabels: {', '.join(self.config.labels)}\n\n"
            "No evaluation recorded yet: run `dangtopic evaluate-tagger --model PATH --write-card`.\n"
        )
        return save_folder(folder, head, meta, card, stub)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.config.labels)

    @property
    def thresholds(self) -> np.ndarray:
        return np.array([self.config.threshold(lab) for lab in self.config.labels], dtype=np.float32)

    @property
    def tokenizer(self):
        return self.encoder.tokenizer

    @property
    def fingerprint(self) -> str:
        """The base encoder's fingerprint (which weights the tagger was built on)."""
        return self.encoder.fingerprint

    @property
    def device(self):
        return next(self.encoder.parameters()).device  # int8 heads have no parameters

    def hidden_below(self, batch, layer: int):
        """Hidden states entering encoder layer `layer` (frozen part), for caching during training."""
        out = self.encoder.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True
        )
        return out.hidden_states[layer]

    def pool_from(self, hidden, attention_mask, layer: int):
        """Sentence vectors from hidden states entering layer `layer` (the cached-training path)."""
        model = self.encoder.model
        bert = model.get_base_model() if hasattr(model, "get_base_model") else model
        from transformers.masking_utils import create_bidirectional_mask

        # Positional on purpose: the keyword names changed across transformers 5.x releases.
        mask = create_bidirectional_mask(bert.config, hidden, attention_mask)
        for block in bert.encoder.layer[layer:]:
            hidden = block(hidden, mask)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return pool(hidden, attention_mask, self.config.encoder.pooling)

    def forward(self, vectors, lengths: list[int] | None = None):
        """Logits [n, labels] from sentence vectors: articles of `lengths` (0 = alone; None = all alone)."""
        if self.context is not None:
            vectors = self.context(vectors, lengths if lengths is not None else [0] * len(vectors))
        return self.head(vectors)

    def embed(self, texts: list[str], batch_size: int = 64):
        """Sentence vectors [n, H] on the model's device, in the encoder's dtype (the heads' input)."""
        return self.encoder.embed(texts, batch_size).to(self.device, next(self.encoder.parameters()).dtype)

    def base_layers(self) -> int:
        """How many of the encoder's first layers still hold the base encoder's own weights (neither
        adapted nor quantised): a model on the same base may reuse their states (see `predict_proba`)."""
        if self.fast_method == "int8" or self.config.lora.r == 0:
            return 0
        return min(self.config.lora.layers_from, self.encoder.config.num_hidden_layers)

    def predict_proba(
        self, texts: list[str], batch_size: int = 64, groups: list | None = None, tap: int | None = None
    ):
        """Probabilities [n, labels], each sentence judged alone unless `groups` gives its article (any
        hashable; an article's sentences in reading order, the title first). `tap=k` also returns the
        float32 sentence vectors [n, H] pooled after the first k encoder layers, same pass: `(probs, vectors)`."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a list of sentences; use predict() for a single string")
        n = len(texts)
        if groups is not None and len(groups) != n:
            raise ValueError(f"{len(groups)} groups for {n} sentences")
        if groups is None:
            probs, tapped = self._proba(list(texts), [0] * n, batch_size, tap)
        else:
            members: dict = {}
            for i, g in enumerate(groups):
                members.setdefault(g, []).append(i)
            order = np.array([i for idx in members.values() for i in idx], dtype=np.int64)
            lengths = [len(m) for m in members.values()]
            probs, tapped = self._proba([texts[i] for i in order], lengths, batch_size, tap)
            # back from article order to the caller's
            probs[order] = probs.copy()
            if tapped is not None:
                tapped[torch.from_numpy(order)] = tapped.clone()
        return probs if tap is None else (probs, tapped)

    def proba_articles(self, texts: list[str], lengths: list[int], batch_size: int = 64) -> np.ndarray:
        """Probabilities [n, labels] for consecutive articles of `lengths` sentences (0 = one sentence alone)."""
        return self._proba(texts, lengths, batch_size)[0]

    def _proba(self, texts: list[str], lengths: list[int], batch_size: int, tap: int | None = None):
        if sum(max(1, n) for n in lengths) != len(texts):
            raise ValueError(f"article lengths {lengths} do not add up to {len(texts)} sentences")
        hidden = self.encoder.config.hidden_size
        if not texts:
            return np.zeros((0, len(self.config.labels)), dtype=np.float32), torch.zeros(0, hidden)
        self.eval()
        taps = () if tap is None else (tap,)
        vectors = self.encoder.embed(texts, batch_size, taps)
        vectors, tapped = (vectors[0], vectors[1][0]) if taps else (vectors, None)
        with torch.inference_mode():
            logits = self(vectors.to(self.device, next(self.encoder.parameters()).dtype), lengths)
        return torch.sigmoid(logits.float()).cpu().numpy(), tapped

    @overload
    def predict(self, texts: str, batch_size: int = ..., groups: list | None = ...) -> TagPrediction: ...
    @overload
    def predict(
        self, texts: list[str], batch_size: int = ..., groups: list | None = ...
    ) -> list[TagPrediction]: ...

    def predict(self, texts, batch_size: int = 64, groups: list | None = None):
        """Tag one sentence (→ TagPrediction) or a list (→ list of TagPrediction), each judged alone unless
        `groups` names its article (see `predict_proba`; `predict_article` takes one article)."""
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise TypeError(f"sentence {i} is {type(t).__name__}, expected str")
        preds = self.decide(self.predict_proba(items, batch_size=batch_size, groups=groups))
        return preds[0] if single else preds

    def predict_article(self, sentences: list[str], batch_size: int = 64) -> list[TagPrediction]:
        """Tag the sentences of one article, in order (sentence 0 = the title), each read in its article."""
        return self.predict_articles([sentences], batch_size)[0]

    def predict_articles(self, articles: list[list[str]], batch_size: int = 64) -> list[list[TagPrediction]]:
        """`predict_article` for many articles, batched together."""
        if isinstance(articles, str) or any(isinstance(a, str) for a in articles):
            raise TypeError("predict_articles takes a list of articles, each a list of sentences")
        flat = [s for a in articles for s in a]
        preds = iter(self.predict(flat, batch_size, groups=[i for i, a in enumerate(articles) for _ in a]))
        return [[next(preds) for _ in a] for a in articles]

    def decide(self, probs: np.ndarray) -> list[TagPrediction]:
        """Apply the per-label thresholds to a probability matrix."""
        thr = self.thresholds
        labels = self.config.labels
        return [
            TagPrediction(
                labels=[lab for lab, p, t in zip(labels, row, thr, strict=True) if p >= t],
                scores={lab: round(float(p), 6) for lab, p in zip(labels, row, strict=True)},
            )
            for row in probs
        ]


def _make_head(hidden_size: int, config: TaggerConfig) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(config.head_dropout),
        nn.Linear(hidden_size, len(config.labels)),
    )


def _add_lora(base, spec: LoraSpec):
    from peft import LoraConfig, get_peft_model

    present = {name for name, _ in base.named_modules()}
    targets = [t for t in spec.target_modules if any(n.endswith(t) for n in present)]
    if not targets:
        raise ValueError(f"none of the LoRA target modules {spec.target_modules} exist in the encoder")
    n_layers = base.config.num_hidden_layers
    if spec.layers_from >= n_layers:
        raise ValueError(f"lora.layers_from={spec.layers_from} but the encoder has {n_layers} layers")
    layers = list(range(spec.layers_from, n_layers)) if spec.layers_from else None
    cfg = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=targets,
        bias="none",
        layers_to_transform=layers,
        layers_pattern="layer" if layers else None,
    )
    return get_peft_model(base, cfg)
