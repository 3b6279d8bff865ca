"""Fine-tune the tagger: `dangtopic train-tagger --config configs/tagger.yaml`. Two stages in one run:
1. Sentences: LoRA on the top encoder layers (the frozen bottom ones are run once and cached) and the
   head, on every labelled sentence alone. Per-label positive weights; best epoch on dev.
2. Articles: the encoder frozen, the article contextualiser learns from the sentence vectors of whole
   training articles (context-only sentences included) which topic a sentence takes from its article.
   It starts as the identity (the stage-1 tagger); the lone-sentence path is trained beside it
   (`optim.alone_weight`). The run keeps it only if it beats stage 1 on dev.
Thresholds are tuned on the dev articles (≥ 40 positives of every label). Runs under accelerate (loop.py).
Why two stages: trained jointly from the start (one run, 3 epochs) the contextualiser disturbed the
sentence encoder and learnt article-level shortcuts: dev micro-F1 0.67, below the sentence-only tagger.
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
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from dangtopic.data.labels import SEED_FILE, load_labelled, sentence_key
from dangtopic.models.config import to_dict
from dangtopic.models.tagger import SentenceTagger, TaggerConfig
from dangtopic.training import loop

logger = logging.getLogger("dangtopic.train_tagger")


@dataclass
class TaggerDataConfig:
    hand_labels: list[str] = field(default_factory=list)  # [] → ../shared round-2 + v1 label files
    split_file: str | None = None  # None → data/labels/split_v2.json (article-level split)
    # Loss weight per label `source`, e.g. {"shared-hand": 0.5} to down-weight the one-pass v1 labels
    # (0 drops them from training; they stay in dev/test).
    source_weights: dict[str, float] = field(default_factory=dict)
    extra_labels: list[str] = field(default_factory=list)  # lone hand-labelled sentences, training only
    vnds_dir: str | None = None  # full text of the labelled articles (context around excerpts)
    # Distillation: a saved tagger whose probabilities become the targets of every sentence without a gold
    # label (context sentences). A small student (model.num_layers) so learns the teacher's behaviour.
    teacher: str | None = None
    teacher_weight: float = 1.0  # loss weight of teacher-labelled sentences (hand labels weigh 1.0)
    teacher_dtype: str = "float32"  # bfloat16 labels ~2x faster on CPUs with native bf16

    def __post_init__(self) -> None:
        if self.teacher_dtype not in {"float32", "bfloat16"}:
            raise ValueError(f"teacher_dtype must be float32 or bfloat16, got {self.teacher_dtype!r}")
        bad = {k: v for k, v in self.source_weights.items() if not 0 <= v}
        if bad:
            raise ValueError(f"source weights must be >= 0, got {bad}")


@dataclass
class OptimConfig:
    epochs: int = 3
    batch_size: int = 48  # sentences per step (whole articles: a long article makes a step longer)
    encoder_lr: float = 1e-3
    head_lr: float = 2e-3  # head and contextualiser
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    pos_weight_cap: float = 8.0  # BCE positive weight = min(cap, sqrt(neg/pos)) per label
    context_epochs: int = 15  # stage 2: epochs of the contextualiser over frozen sentence vectors
    context_lr: float = 5e-4
    alone_weight: float = 0.5  # stage 2: loss weight of the labelled sentences scored without their article
    max_steps: int = 0  # >0 stops early (smoke runs)
    grad_clip: float = 1.0
    # With LoRA only on layers >= model.lora.layers_from, run the frozen layers once and cache their output:
    # each step then costs only the adapted layers (about 2x faster with 6 of 12 layers frozen).
    cache_frozen: bool = True


@dataclass
class TrainTaggerConfig:
    model: TaggerConfig = field(default_factory=TaggerConfig)
    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    output_dir: str = "runs/tagger"
    # auto: a GPU where present (under `accelerate launch`, each process its own), else cpu | cpu | cuda
    device: str = "auto"
    accelerate: loop.AccelerateConfig = field(default_factory=loop.AccelerateConfig)
    threads: int = 0  # 0 = torch default
    seed: int = 13
    log_every: int = 20

    def __post_init__(self) -> None:
        loop.check_device(self.device)


@dataclass
class Doc:
    """What the model reads at once: an article (sentences in order, title first) or one lone sentence."""

    id: str
    texts: list[str]
    targets: np.ndarray  # [n, labels], soft for teacher targets
    weights: np.ndarray  # [n] loss weight; 0 for context-only sentences
    source: str
    alone: bool = False  # judged without an article (the extra labels, which were labelled alone)
    cached: list | None = None  # frozen-layer hidden states per sentence, when training caches them

    @property
    def length(self) -> int:
        """The contextualiser's article length: 0 means alone."""
        return 0 if self.alone else len(self.texts)

    @property
    def labelled(self) -> np.ndarray:
        return self.weights > 0


def _resolve(path: str) -> Path:
    """Relative config paths are tried against the working directory, then the package root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    packaged = Path(__file__).resolve().parents[1] / p
    return packaged if packaged.exists() else p


def load_hand_docs(cfg: TaggerDataConfig, labels: list[str]) -> dict[str, list[Doc]]:
    """The hand-labelled articles by split part (`train`, `dev`, `test`), with their context filled in."""
    from dangtopic.data.labels import labelled_articles, load_hand_labels, load_split, vnds_full_text

    items = load_hand_labels([_resolve(p) for p in cfg.hand_labels] or None)
    split = load_split(_resolve(cfg.split_file) if cfg.split_file else None)
    part_of = {aid: part for part in ("train", "dev", "test") for aid in split[part]}
    missing = sorted({it.article_id for it in items} - set(part_of))
    if missing:
        raise ValueError(f"{len(missing)} labelled article(s) in no part of the split, e.g. {missing[:3]}")
    try:
        full = vnds_full_text(part_of.keys() & {it.article_id for it in items}, cfg.vnds_dir)
    except FileNotFoundError as e:
        logger.warning("%s: excerpts are read without the sentences around them", e)
        full = {}
    parts: dict[str, list[Doc]] = {"train": [], "dev": [], "test": []}
    for art in labelled_articles(items, full):
        part = part_of[art.id]
        targets = np.array([[lab in (ls or []) for lab in labels] for ls in art.labels], dtype=np.float32)
        # evaluation counts every labelled sentence; only training re-weights sources
        w = [
            0.0 if ls is None else (cfg.source_weights.get(src, 1.0) if part == "train" else 1.0)
            for ls, src in zip(art.labels, art.sources, strict=True)
        ]
        if part != "train" or any(w):
            src = next(s for s in art.sources if s is not None)
            parts[part].append(Doc(art.id, art.sentences, targets, np.array(w, dtype=np.float32), src))
    return parts


def load_lone(paths: list[str], labels: list[str]) -> list[Doc]:
    """Lone hand-labelled sentences (labelled without their article), one Doc each."""
    out = []
    for p in map(_resolve, paths):
        for it in load_labelled(p, source=p.name):
            vec = np.array([[lab in it.labels for lab in labels]], dtype=np.float32)
            out.append(Doc(it.id, [it.text], vec, np.ones(1, np.float32), it.source, alone=True))
    return out


def doc_probs(tagger: SentenceTagger, docs: list[Doc], batch_size: int = 64) -> np.ndarray:
    """The tagger's probabilities for every sentence of `docs`, concatenated, each doc read as it is."""
    texts = [t for d in docs for t in d.texts]
    return tagger.proba_articles(texts, [d.length for d in docs], batch_size)


def teacher_targets(
    teacher_path: str, docs: list[Doc], labels: list[str], weight: float, dtype: str, device: str = "cpu"
) -> int:
    """Give every sentence without a gold label the teacher's probabilities as target; returns their count."""
    teacher = SentenceTagger.from_pretrained(_resolve(teacher_path), device=device)
    if dtype == "bfloat16":
        teacher.to(torch.bfloat16)
    missing = set(labels) - set(teacher.config.labels)
    if missing:
        raise ValueError(f"the teacher at {teacher_path} has no {sorted(missing)} labels")
    order = [teacher.config.labels.index(lab) for lab in labels]
    probs = doc_probs(teacher, docs)[:, order]
    n, ends = 0, np.cumsum([len(d.texts) for d in docs])
    for d, end in zip(docs, ends, strict=True):
        soft = d.weights == 0
        d.targets[soft] = probs[end - len(d.texts) : end][soft]
        d.weights[soft] = weight
        n += int(soft.sum())
    return n


def cache_frozen_states(tagger: SentenceTagger, texts: list[str], layer: int, batch_size: int = 64) -> list:
    """Hidden states entering `layer` for every text (unpadded, fp16 to halve memory)."""
    cache: list = [None] * len(texts)
    order = np.argsort([len(t) for t in texts], kind="stable")
    tagger.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            batch = tagger.encoder.tokenize([texts[i] for i in idx]).to(tagger.device)
            hidden = tagger.hidden_below(batch, layer)
            for i, h, n in zip(idx, hidden, batch["attention_mask"].sum(1).tolist(), strict=True):
                cache[i] = h[:n].to(torch.float16).cpu()
    return cache


def _batches(items: list, budget: int, rng: random.Random, size=lambda d: len(d.texts)) -> list[list]:
    """Shuffled items (docs) packed into steps of about `budget` sentences (whole articles, never split)."""
    items = items[:]
    rng.shuffle(items)
    batches, cur, n = [], [], 0
    for d in items:
        cur.append(d)
        n += size(d)
        if n >= budget:
            batches.append(cur)
            cur, n = [], 0
    if cur:
        batches.append(cur)
    return batches


def _pooled(tagger: SentenceTagger, docs: list[Doc], layer: int, use_cache: bool, chunk: int = 32):
    """Vectors of the sentences of `docs`, in order, through the trainable layers (length-sorted chunks)."""
    texts = [t for d in docs for t in d.texts]
    cached = [h for d in docs for h in d.cached] if use_cache else None
    order = np.argsort([len(t) if cached is None else cached[i].shape[0] for i, t in enumerate(texts)])
    out = [None] * len(texts)
    for s in range(0, len(order), chunk):
        idx = order[s : s + chunk]
        if use_cache:
            states = [cached[i] for i in idx]
            hidden = pad_sequence([h.float() for h in states], batch_first=True)
            mask = pad_sequence([torch.ones(h.shape[0], dtype=torch.long) for h in states], batch_first=True)
            vec = tagger.pool_from(hidden.to(tagger.device), mask.to(tagger.device), layer)
        else:
            batch = tagger.encoder.tokenize([texts[i] for i in idx]).to(tagger.device)
            vec = tagger.encoder(batch["input_ids"], batch["attention_mask"])
        for j, i in enumerate(idx):
            out[i] = vec[j]
    return torch.stack(out)


class _SentenceStage(nn.Module):
    """Stage 1's forward as one module call, which accelerate wraps (DDP syncs the gradients of what runs in
    `forward`; autocast covers it): logits of the sentences of `docs`, each alone, through the head."""

    def __init__(self, tagger: SentenceTagger, layer: int, use_cache: bool):
        super().__init__()
        self.tagger, self.layer, self.use_cache = tagger, layer, use_cache

    def forward(self, docs: list[Doc]):
        return self.tagger.head(_pooled(self.tagger, docs, self.layer, self.use_cache))


class _ArticleStage(nn.Module):
    """Stage 2's forward as one module call: logits of sentence vectors read in their articles of `lengths`
    and, when `alone` (indices) is given, of those sentences read without their article."""

    def __init__(self, tagger: SentenceTagger):
        super().__init__()
        self.tagger = tagger

    def train(self, mode: bool = True):
        # only the contextualiser trains in stage 2: the encoder and the head keep dropout off
        self.training = mode
        self.tagger.context.train(mode)
        return self

    def forward(self, vectors, lengths: list[int], alone=None):
        logits = self.tagger(vectors, lengths)
        return logits, None if alone is None else self.tagger(vectors[alone], None)


def _lone_sentences(docs: list[Doc]) -> list[Doc]:
    """Every sentence with a loss as a Doc of its own (stage 1 reads sentences alone)."""
    out = []
    for d in docs:
        for k in np.flatnonzero(d.labelled):
            s = slice(k, k + 1)
            cached = None if d.cached is None else d.cached[s]
            out.append(Doc(f"{d.id}#{k}", d.texts[s], d.targets[s], d.weights[s], d.source, True, cached))
    return out


def _evaluate(probs: np.ndarray, y: np.ndarray, labels: list[str], stage: int) -> tuple[float, dict]:
    """Thresholds tuned on (dev) probabilities, and the micro-F1 and report at those thresholds."""
    from dangtopic.training.metrics import multilabel_report, tune_thresholds

    thr = tune_thresholds(y, probs)
    rep = multilabel_report(y, probs >= thr, labels)
    f1 = {k: rep[k] for k in ("micro_f1", "macro_f1")}
    return rep["micro_f1"], {**f1, "thresholds": thr.tolist(), "report": rep, "stage": stage}


def train(cfg: TrainTaggerConfig, resume_from: str | Path | None = None) -> tuple[SentenceTagger, dict]:
    """Train a tagger from `cfg` (or continue the run in `resume_from`): the best on dev, and a log dict."""
    # stage 1 leaves the contextualiser unused, stage 2 the encoder's adapters
    accelerator = loop.start_run(cfg, unused_parameters=True)
    device = accelerator.device
    labels = list(cfg.model.labels)
    t_start = time.time()

    data, o = cfg.data, cfg.optim
    parts = load_hand_docs(data, labels)
    held_out = {sentence_key(t) for d in parts["dev"] + parts["test"] for t in d.texts}
    if SEED_FILE.exists():  # the seeds are evaluation-only too
        held_out |= {sentence_key(it.text) for it in load_labelled(SEED_FILE)}
    lone = [d for d in load_lone(data.extra_labels, labels) if sentence_key(d.texts[0]) not in held_out]
    docs = parts["train"] + lone
    if data.teacher:
        t_teacher = time.time()
        n = teacher_targets(data.teacher, docs, labels, data.teacher_weight, data.teacher_dtype, str(device))
        logger.info("teacher %s labelled %d sentences in %.1f s", data.teacher, n, time.time() - t_teacher)
    dev = parts["dev"]
    logger.info(
        "training: %d docs, %d sentences, %d with a loss (%s); dev: %d articles",
        len(docs),
        sum(len(d.texts) for d in docs),
        sum(int(d.labelled.sum()) for d in docs),
        ", ".join(f"{s}={sum(d.source == s for d in docs)}" for s in sorted({d.source for d in docs})),
        len(dev),
    )

    tagger = SentenceTagger.create(config=cfg.model)
    if cfg.model.lora.r == 0:
        # Full fine-tuning still freezes the 250k-row word embeddings: they dominate memory and overfit.
        for name, p in tagger.encoder.named_parameters():
            if "word_embeddings" in name:
                p.requires_grad_(False)
    tagger.to(device).train()
    layer = cfg.model.lora.layers_from
    use_cache = o.cache_frozen and cfg.model.lora.r > 0 and layer > 0
    if use_cache:
        t_cache = time.time()
        texts = [t for d in docs for t in d.texts]
        cached = iter(cache_frozen_states(tagger, texts, layer))
        for d in docs:
            d.cached = [next(cached) for _ in d.texts]
        logger.info(
            "cached layer-%d states of %d sentences in %.1f s", layer, len(texts), time.time() - t_cache
        )

    lone = _lone_sentences(docs)
    targets = np.concatenate([d.targets for d in lone])
    pos = targets.sum(0)
    pos_weight = np.minimum(o.pos_weight_cap, np.sqrt(np.maximum(len(targets) - pos, 1) / np.maximum(pos, 1)))
    logger.info(
        "positives per label: %s; pos_weight: %s",
        dict(zip(labels, pos.round(1), strict=True)),
        dict(zip(labels, pos_weight.round(2), strict=True)),
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device), reduction="none")

    def weighted(logits, batch: list[Doc], rows=None):
        """Loss of the sentences of `batch` (or of its `rows`): BCE by sentence weight, mean over labels."""
        y = torch.tensor(np.concatenate([d.targets for d in batch]), device=device)
        w = torch.tensor(np.concatenate([d.weights for d in batch]), device=device).unsqueeze(1)
        if rows is not None:
            y, w = y[rows], w[rows]
        return (loss_fn(logits, y) * w).sum() / w.sum().clamp(min=1e-6) / len(labels)

    dev_mask = np.concatenate([d.labelled for d in dev]) if dev else np.zeros(0, bool)
    dev_true = np.concatenate([d.targets for d in dev])[dev_mask] if dev else np.zeros((0, len(labels)))
    dev_lone = _lone_sentences(dev)

    # ---- stage 1: encoder (LoRA) + head on sentences alone
    enc_params = [p for p in tagger.encoder.parameters() if p.requires_grad]
    groups = [{"params": enc_params, "lr": o.encoder_lr}, {"params": tagger.head.parameters()}]
    optim = torch.optim.AdamW(groups, lr=o.head_lr, weight_decay=o.weight_decay)  # lr: the head's
    n_batches = math.ceil(len(lone) / o.batch_size)
    total = loop.optimizer_steps(accelerator, n_batches, o.epochs, o.max_steps)
    sched = loop.warmup_schedule(optim, total, o.warmup_ratio, accelerator.num_processes)
    prepared = accelerator.prepare(_SentenceStage(tagger, layer, use_cache), optim, sched)
    logger.info(
        "stage 1: device=%s processes=%d steps=%d (%d/epoch) trainable encoder params=%d",
        device,
        accelerator.num_processes,
        total,
        loop.optimizer_steps(accelerator, n_batches),
        sum(p.numel() for p in enc_params),
    )

    def evaluate_alone() -> tuple[float, dict]:
        return _evaluate(doc_probs(tagger, dev_lone), dev_true, labels, stage=1)

    ckpt = loop.RunCheckpoint(accelerator, cfg, cfg.output_dir, resume_from)
    s1 = loop.fit(
        accelerator,
        *prepared,
        epochs=o.epochs,
        make_batches=lambda rng: _batches(lone, o.batch_size, rng),
        loss_of=lambda model, batch: weighted(model(batch), batch),  # stage 1: no context module
        rng=random.Random(cfg.seed),
        grad_clip=o.grad_clip,
        evaluate=evaluate_alone if dev else None,
        trainable_state=lambda: {n: p for n, p in tagger.named_parameters() if p.requires_grad},
        max_steps=o.max_steps,
        ckpt=ckpt,
        log_every=cfg.log_every,
        name="stage 1",
    )
    history = [{"stage": 1, **h} for h in s1.history]
    best = stage1 = s1.best_info
    accelerator.free_memory()  # stage 2 prepares a model, optimizer and scheduler of its own

    # ---- stage 2: the article contextualiser over frozen sentence vectors of whole articles; the best dev
    # result stays stage 1's if the context never beats it
    if tagger.context is not None and dev and o.context_epochs:
        t0 = time.time()
        tagger.eval()
        with torch.inference_mode():
            # one call: _pooled length-sorts all sentences into chunks; split back per doc afterwards
            train_vec = _pooled(tagger, docs, layer, use_cache).clone().split([len(d.texts) for d in docs])
            dev_vec = tagger.embed([t for d in dev for t in d.texts])
        dev_vec = dev_vec.clone()
        logger.info(
            "stage 2: sentence vectors of %d training docs and %d dev articles in %.1f s",
            len(docs),
            len(dev),
            time.time() - t0,
        )
        optim = torch.optim.AdamW(tagger.context.parameters(), lr=o.context_lr, weight_decay=o.weight_decay)

        def article_batches(rng: random.Random) -> list:
            return _batches(list(range(len(docs))), o.batch_size, rng, size=lambda i: len(docs[i].texts))

        steps = loop.optimizer_steps(accelerator, len(article_batches(random.Random(0))), o.context_epochs)
        sched = loop.warmup_schedule(optim, steps, o.warmup_ratio, accelerator.num_processes)
        prepared = accelerator.prepare(_ArticleStage(tagger), optim, sched)

        def article_loss(model, batch_idx: list[int]):
            batch = [docs[i] for i in batch_idx]
            vectors = torch.cat([train_vec[i] for i in batch_idx])
            in_article = np.concatenate([d.labelled & (not d.alone) for d in batch])
            alone = None
            if o.alone_weight and in_article.any():
                # the same sentences without their article: keeps the lone-sentence path calibrated
                alone = torch.as_tensor(np.flatnonzero(in_article), device=device)
            logits, logits_alone = model(vectors, [d.length for d in batch], alone)
            loss = weighted(logits, batch)
            if logits_alone is not None:
                loss = loss + o.alone_weight * weighted(logits_alone, batch, alone)
            return loss

        def evaluate_in_articles() -> tuple[float, dict]:
            tagger.eval()
            with torch.inference_mode():
                logits = tagger(dev_vec, [d.length for d in dev])
            return _evaluate(torch.sigmoid(logits.float()).cpu().numpy()[dev_mask], dev_true, labels, stage=2)

        s2 = loop.fit(
            accelerator,
            *prepared,
            epochs=o.context_epochs,
            make_batches=article_batches,
            loss_of=article_loss,
            rng=random.Random(cfg.seed + 1),
            grad_clip=o.grad_clip,
            evaluate=evaluate_in_articles,
            trainable_state=tagger.context.state_dict,
            best=best.get("micro_f1", -1.0),
            name="stage 2",
        )
        history.extend({"stage": 2, **h} for h in s2.history)
        logger.info("stage 2 done in %.1f s", time.time() - t0)
        best = best if s2.best_state is None else s2.best_info
        if best.get("stage") == 1:
            logger.info("article context did not beat sentences alone on dev: the tagger ships without it")
            tagger.context = None
            tagger.config.context.layers = 0
    if "thresholds" in best:
        tagger.config.thresholds = {lab: float(t) for lab, t in zip(labels, best["thresholds"], strict=True)}
    tagger.eval()
    ckpt.finish()
    log = {
        "train_minutes": round((time.time() - t_start) / 60, 2),
        "steps": s1.step,
        "device": device.type,
        "processes": accelerator.num_processes,
        "train_docs": len(docs),
        "train_sentences": sum(len(d.texts) for d in docs),
        "dev_sentences": int(dev_mask.sum()),
        "teacher": data.teacher,
        "best_stage": best.get("stage"),
        "best_epoch": best.get("epoch"),
        "dev_micro_f1_sentences_alone": stage1.get("micro_f1"),
        "dev": best.get("report"),
        "history": history,
    }
    tagger.metrics = {"training": {k: v for k, v in log.items() if k != "dev"}, "dev": best.get("report")}
    return tagger, log


add_arguments = loop.add_arguments


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = loop.config_from_args(TrainTaggerConfig, args)
    tagger, log = train(cfg, args.resume_from)
    if not loop.is_main_process():
        return 0  # the processes' models are the same: the main process saves it
    out = tagger.save_pretrained(cfg.output_dir)
    (out / "training_config.json").write_text(json.dumps(to_dict(cfg), indent=2), encoding="utf-8")
    (out / "training_log.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    print(
        f"saved tagger to {out} (best dev micro-F1 {log['dev']['micro_f1'] if log['dev'] else float('nan'):.3f}, "
        f"{log['train_minutes']:.1f} min); evaluate with: dangtopic evaluate-tagger --model {out}"
    )
    return 0
