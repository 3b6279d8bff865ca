"""Fine-tune the sentence topic tagger: `dangtopic train-tagger --config configs/tagger.yaml`.

Hand labels (train part of the article-level split) + extra hand labels + optional weak labels with
soft targets; LoRA on the encoder, separate learning rates for encoder and head, positive-class
weights, per-label thresholds tuned on the dev articles. Runs on CPU or GPU (auto).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dangtopic.models.config import load_config, parse_override
from dangtopic.models.tagger import SentenceTagger, TaggerConfig

logger = logging.getLogger("dangtopic.train_tagger")


@dataclass
class TaggerDataConfig:
    hand_labels: str | None = None  # None → ../shared/data/labels/sentences_labelled.jsonl
    split_file: str | None = None  # None → data/labels/split_v1.json (article-level split)
    extra_labels: list[str] = field(default_factory=list)  # more hand labels, training only
    weak_labels: str | None = None  # a `datasets` folder from `dangtopic build-weak-labels`
    weak_weight: float = 0.5
    max_weak: int = 6000
    # Weak sentences are a sample of their articles: recompute article-level context from the full VNDS
    # article so it matches what the model sees at inference (costs one pass over the VNDS train file).
    weak_full_context: bool = True
    vnds_dir: str | None = None
    # Distillation: a saved tagger whose probabilities replace the weak sentences' label-model targets.
    # A small student (model.num_layers) trained this way learns the teacher's behaviour, not the rules'.
    teacher: str | None = None
    teacher_weight: float = 1.0  # loss weight of teacher-labelled sentences (hand labels weigh 1.0)
    teacher_dtype: str = "float32"  # bfloat16 labels ~2x faster on CPUs with native bf16 (99.8% same labels)

    def __post_init__(self) -> None:
        if self.teacher is not None and not self.weak_labels:
            raise ValueError("data.teacher needs data.weak_labels: the teacher labels those sentences")
        if self.teacher_dtype not in {"float32", "bfloat16"}:
            raise ValueError(f"teacher_dtype must be float32 or bfloat16, got {self.teacher_dtype!r}")


@dataclass
class OptimConfig:
    epochs: int = 4
    batch_size: int = 32
    encoder_lr: float = 3e-4
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    pos_weight_cap: float = 8.0  # BCE positive weight = min(cap, sqrt(neg/pos)) per label
    max_steps: int = 0  # >0 stops early (smoke runs)
    grad_clip: float = 1.0
    # With LoRA only on layers >= model.lora.layers_from, run the frozen layers once and cache their output:
    # each step then costs only the adapted layers (about 3x faster with 8 of 12 layers frozen).
    cache_frozen: bool = True


@dataclass
class TrainTaggerConfig:
    model: TaggerConfig = field(default_factory=TaggerConfig)
    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    output_dir: str = "runs/tagger"
    device: str = "auto"
    threads: int = 0  # 0 = torch default
    seed: int = 13
    log_every: int = 20


@dataclass
class Example:
    text: str
    target: np.ndarray  # float targets in label order (soft for weak labels)
    weight: float
    source: str
    group: str = ""  # article id: sentences of one article share article-level context features
    cached: object = None  # frozen-layer hidden states, filled when training caches them
    feats: object = None  # rule/context features, filled when the model uses them


def _split_file(cfg: TaggerDataConfig) -> Path:
    if cfg.split_file:
        return Path(cfg.split_file)
    return Path(__file__).resolve().parents[1] / "data" / "labels" / "split_v1.json"


def load_hand_splits(cfg: TaggerDataConfig, labels: list[str]) -> dict[str, list[Example]]:
    """Hand-labelled sentences by article-level split part (`train`, `dev`, `test`)."""
    from dangtopic.data.labels import load_labelled

    split = json.loads(_split_file(cfg).read_text(encoding="utf-8"))
    part_of = {aid: part for part in ("train", "dev", "test") for aid in split[part]}
    parts: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    for item in load_labelled(cfg.hand_labels):
        part = part_of.get(item.article_id)
        if part is None:
            raise ValueError(f"article {item.article_id} is in no part of {_split_file(cfg)}")
        vec = np.array([lab in item.labels for lab in labels], dtype=np.float32)
        parts[part].append(Example(item.text, vec, 1.0, item.source, group=item.article_id))
    return parts


def _resolve(path: str) -> Path:
    """Relative config paths are tried against the working directory, then the package root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    packaged = Path(__file__).resolve().parents[1] / p
    return packaged if packaged.exists() else p


def load_extra(paths: list[str], labels: list[str]) -> list[Example]:
    out = []
    for p in map(_resolve, paths):
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    vec = np.array([lab in d["labels"] for lab in labels], dtype=np.float32)
                    group = str(d.get("id", f"{p}:{len(out)}")).split("#")[0]
                    out.append(Example(d["text"], vec, 1.0, d.get("source", Path(p).name), group=group))
    return out


def load_weak(path: str, labels: list[str], weight: float, limit: int, seed: int) -> list[Example]:
    """Weak examples with soft targets from a `datasets` folder (columns: text, probs or labels)."""
    from datasets import load_from_disk

    from dangtopic.models.encoder import cache_dir

    folder = Path(path)
    if not folder.is_absolute() and not folder.exists():
        folder = cache_dir() / path  # where `dangtopic build-weak-labels` writes by default
    if not folder.exists():
        raise FileNotFoundError(
            f"weak labels not found at {path} or {folder}: run `dangtopic build-weak-labels`"
        )
    ds = load_from_disk(str(folder))
    cols = ds.column_names
    idx = list(range(len(ds)))
    random.Random(seed).shuffle(idx)
    out = []
    for i in idx[:limit] if limit else idx:
        row = ds[i]
        if "probs" in cols:
            probs = row["probs"]
            vec = np.array(
                [probs[lab] for lab in labels] if isinstance(probs, dict) else probs, dtype=np.float32
            )
        else:
            vec = np.array([lab in row["labels"] for lab in labels], dtype=np.float32)
        group = str(row.get("article_id") or f"weak:{i}")
        out.append(Example(row["text"], vec, weight, "weak", group=group))
    return out


def teacher_targets(
    teacher_path: str, examples: list[Example], labels: list[str], weight: float, dtype: str
) -> None:
    """Replace the targets of weak examples, in place, by a teacher tagger's probabilities."""
    import torch

    teacher = SentenceTagger.from_pretrained(_resolve(teacher_path))
    if dtype == "bfloat16":
        teacher.encoder.to(torch.bfloat16)
        teacher.head.to(torch.bfloat16)
    weak = [e for e in examples if e.source in {"weak", "teacher"}]
    missing = set(labels) - set(teacher.config.labels)
    if missing:
        raise ValueError(f"the teacher at {teacher_path} has no {sorted(missing)} labels")
    order = [teacher.config.labels.index(lab) for lab in labels]
    probs = teacher.predict_proba([e.text for e in weak], groups=[e.group for e in weak])
    for e, p in zip(weak, probs[:, order], strict=True):
        e.target = p.astype(np.float32)
        e.weight = weight
        e.source = "teacher"


def weak_article_context(tagger: SentenceTagger, examples: list[Example], vnds_dir: str | None) -> int:
    """Replace the context columns of weak examples by those of their whole VNDS article; returns #articles."""
    from dangtopic.data.vnds import iter_vnds

    wanted = {e.group for e in examples if e.source in {"weak", "teacher"}}
    n_ctx = len(tagger.config.labels)
    context: dict[str, np.ndarray] = {}
    for art in iter_vnds("train", vnds_dir, ids=wanted):
        sents = art.labelled_sentences
        context[art.id] = tagger.features(sents, [art.id] * len(sents))[0, -n_ctx:]
        if len(context) == len(wanted):
            break
    for e in examples:
        if e.source in {"weak", "teacher"} and e.group in context:
            e.feats = e.feats.copy()
            e.feats[-n_ctx:] = context[e.group]
    return len(context)


def _batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffle, then length-sort within pools of 20 batches so padding stays small."""
    items = examples[:]
    rng.shuffle(items)
    pool = batch_size * 20
    batches = []
    for s in range(0, len(items), pool):
        chunk = sorted(items[s : s + pool], key=lambda e: len(e.text))
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def cache_frozen_states(
    tagger: SentenceTagger, examples: list[Example], layer: int, batch_size: int = 64
) -> list:
    """Hidden states entering `layer` for every example (unpadded, fp16 to halve memory)."""
    import torch

    cache: list = [None] * len(examples)
    order = np.argsort([len(e.text) for e in examples], kind="stable")
    tagger.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            batch = tagger.tokenize([examples[i].text for i in idx]).to(tagger.device)
            hidden = tagger.hidden_below(batch, layer)
            lengths = batch["attention_mask"].sum(1).tolist()
            for j, i in enumerate(idx):
                cache[i] = hidden[j, : lengths[j]].to(torch.float16).cpu()
    return cache


def _stack_cached(states: list, device: str):
    import torch

    longest = max(h.shape[0] for h in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1], dtype=torch.float32)
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for i, h in enumerate(states):
        hidden[i, : h.shape[0]] = h.float()
        mask[i, : h.shape[0]] = 1
    return hidden.to(device), mask.to(device)


def evaluate_probs(tagger: SentenceTagger, examples: list[Example], batch_size: int = 64) -> np.ndarray:
    return tagger.predict_proba(
        [e.text for e in examples], batch_size=batch_size, groups=[e.group for e in examples]
    )


def train(cfg: TrainTaggerConfig) -> tuple[SentenceTagger, dict]:
    """Train a tagger from `cfg`; returns the best-on-dev tagger (thresholds tuned) and a log dict."""
    import torch

    from dangtopic.training.metrics import multilabel_report, tune_thresholds

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    labels = list(cfg.model.labels)

    parts = load_hand_splits(cfg.data, labels)
    train_set = parts["train"] + load_extra(cfg.data.extra_labels, labels)
    if cfg.data.weak_labels:
        train_set += load_weak(
            cfg.data.weak_labels, labels, cfg.data.weak_weight, cfg.data.max_weak, cfg.seed
        )
    if cfg.data.teacher:
        t_teacher = time.time()
        teacher_targets(cfg.data.teacher, train_set, labels, cfg.data.teacher_weight, cfg.data.teacher_dtype)
        logger.info(
            "teacher %s labelled the weak sentences in %.1f s", cfg.data.teacher, time.time() - t_teacher
        )
    dev = parts["dev"]
    logger.info(
        "training sentences: %d (%s); dev sentences: %d",
        len(train_set),
        ", ".join(
            f"{s}={sum(e.source == s for e in train_set)}" for s in sorted({e.source for e in train_set})
        ),
        len(dev),
    )

    tagger = SentenceTagger.create(config=cfg.model)
    if cfg.model.lora.r == 0:
        # Full fine-tuning still freezes the 250k-row word embeddings: they dominate memory and overfit.
        for name, p in tagger.encoder.named_parameters():
            if "word_embeddings" in name:
                p.requires_grad_(False)
    tagger.to(device).train()

    targets = np.stack([e.target for e in train_set])
    pos = targets.sum(0)
    neg = len(train_set) - pos
    pos_weight = np.minimum(cfg.optim.pos_weight_cap, np.sqrt(np.maximum(neg, 1) / np.maximum(pos, 1)))
    logger.info(
        "positives per label: %s; pos_weight: %s",
        dict(zip(labels, pos.round(1), strict=True)),
        dict(zip(labels, pos_weight.round(2), strict=True)),
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device), reduction="none")

    enc_params = [p for p in tagger.encoder.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(
        [
            {"params": enc_params, "lr": cfg.optim.encoder_lr},
            {"params": list(tagger.head.parameters()), "lr": cfg.optim.head_lr},
        ],
        weight_decay=cfg.optim.weight_decay,
    )
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(train_set) / cfg.optim.batch_size)
    total = steps_per_epoch * cfg.optim.epochs
    if cfg.optim.max_steps:
        total = min(total, cfg.optim.max_steps)
    warmup = max(1, int(total * cfg.optim.warmup_ratio))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    logger.info(
        "device=%s steps=%d (%d/epoch) trainable encoder params=%d",
        device,
        total,
        steps_per_epoch,
        sum(p.numel() for p in enc_params),
    )

    feats = tagger.features([e.text for e in train_set], [e.group for e in train_set])
    for e, f in zip(train_set, feats, strict=True):
        e.feats = f
    if cfg.model.context_features and cfg.data.weak_labels and cfg.data.weak_full_context:
        n_art = weak_article_context(tagger, train_set, cfg.data.vnds_dir)
        logger.info("article context of weak sentences recomputed from %d full VNDS articles", n_art)
    layer = cfg.model.lora.layers_from
    use_cache = cfg.optim.cache_frozen and cfg.model.lora.r > 0 and layer > 0
    if use_cache:
        t_cache = time.time()
        cached = cache_frozen_states(tagger, train_set, layer)
        for e, h in zip(train_set, cached, strict=True):
            e.cached = h
        logger.info(
            "cached layer-%d states of %d sentences in %.1f s", layer, len(train_set), time.time() - t_cache
        )

    dev_true = np.stack([e.target for e in dev]) if dev else np.zeros((0, len(labels)))
    best = {"micro_f1": -1.0}
    best_state = None
    history = []
    step = 0
    t0 = time.time()
    for epoch in range(cfg.optim.epochs):
        tagger.train()
        for batch in _batches(train_set, cfg.optim.batch_size, rng):
            if step >= total:
                break
            y = torch.tensor(np.stack([e.target for e in batch]), device=device)
            w = torch.tensor([e.weight for e in batch], device=device).unsqueeze(1)
            f = np.stack([e.feats for e in batch]) if feats.shape[1] else None
            if use_cache:
                hidden, mask = _stack_cached([e.cached for e in batch], device)
                logits = tagger.forward_from(hidden, mask, layer, f)
            else:
                logits = tagger.forward(tagger.tokenize([e.text for e in batch]).to(device), f)
            loss = (loss_fn(logits, y) * w).sum() / w.sum() / len(labels)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [p for g in optim.param_groups for p in g["params"]], cfg.optim.grad_clip
            )
            optim.step()
            sched.step()
            step += 1
            if step % cfg.log_every == 0 or step == 1:
                el = time.time() - t0
                logger.info(
                    "epoch %d step %d/%d loss %.4f  %.2fs/step  eta %.1f min",
                    epoch + 1,
                    step,
                    total,
                    loss.item(),
                    el / step,
                    el / step * (total - step) / 60,
                )
        if not dev:
            continue
        probs = evaluate_probs(tagger, dev)
        thr = tune_thresholds(dev_true, probs)
        rep = multilabel_report(dev_true, probs >= thr, labels)
        history.append(
            {
                "epoch": epoch + 1,
                "step": step,
                "dev_micro_f1": rep["micro_f1"],
                "dev_macro_f1": rep["macro_f1"],
            }
        )
        logger.info(
            "epoch %d dev micro-F1 %.3f macro-F1 %.3f thresholds %s",
            epoch + 1,
            rep["micro_f1"],
            rep["macro_f1"],
            dict(zip(labels, thr.round(3), strict=True)),
        )
        if rep["micro_f1"] > best["micro_f1"]:
            best = {
                "micro_f1": rep["micro_f1"],
                "macro_f1": rep["macro_f1"],
                "epoch": epoch + 1,
                "thresholds": thr.tolist(),
                "report": rep,
            }
            best_state = {k: v.detach().clone() for k, v in _trainable_state(tagger).items()}
        if step >= total:
            break
    if best_state is not None:
        _load_trainable_state(tagger, best_state)
        tagger.config.thresholds = {lab: float(t) for lab, t in zip(labels, best["thresholds"], strict=True)}
    tagger.eval()
    train_minutes = (time.time() - t0) / 60
    log = {
        "train_minutes": round(train_minutes, 2),
        "steps": step,
        "device": device,
        "train_sentences": len(train_set),
        "dev_sentences": len(dev),
        "teacher": cfg.data.teacher,
        "best_epoch": best.get("epoch"),
        "dev": best.get("report"),
        "history": history,
    }
    tagger.metrics = {"training": {k: v for k, v in log.items() if k != "dev"}, "dev": best.get("report")}
    return tagger, log


def _trainable_state(tagger: SentenceTagger) -> dict:
    state = {f"encoder.{n}": p for n, p in tagger.encoder.named_parameters() if p.requires_grad}
    state.update({f"head.{n}": p for n, p in tagger.head.named_parameters()})
    return state


def _load_trainable_state(tagger: SentenceTagger, state: dict) -> None:
    import torch

    current = _trainable_state(tagger)
    with torch.no_grad():
        for k, v in state.items():
            current[k].copy_(v)


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="YAML training config (e.g. configs/tagger.yaml)")
    parser.add_argument("--output-dir", help="where to save the trained tagger (overrides the config)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.epochs=2 (repeatable)",
    )


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides = dict(parse_override(s) for s in args.set)
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    cfg = load_config(TrainTaggerConfig, args.config, overrides)
    tagger, log = train(cfg)
    out = tagger.save_pretrained(cfg.output_dir)
    from dangtopic.models.config import to_dict

    (out / "training_config.json").write_text(json.dumps(to_dict(cfg), indent=2), encoding="utf-8")
    (out / "training_log.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    print(
        f"saved tagger to {out} (best dev micro-F1 {log['dev']['micro_f1'] if log['dev'] else float('nan'):.3f}, "
        f"{log['train_minutes']:.1f} min); evaluate with: dangtopic evaluate-tagger --model {out}"
    )
    return 0
