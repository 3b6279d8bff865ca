"""Train the extractive summariser: `dangtopic train-summarizer --config configs/summarizer.yaml`. Recipe:
a deduplicated subsample of VNDS train (near-duplicates of val/test articles removed) → greedy
oracle labels (syllable unigrams+bigrams against the abstract) → sentence embeddings from the frozen,
truncated base encoder (cached on disk) → a small scorer (features + inter-sentence transformer) trained
with BCE on the oracle labels, best epoch by validation ROUGE → word/sentence budget tuned on validation.
The embeddings are computed on CPU; the scorer trains under accelerate (CPU, one GPU or several).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dangtopic.data.rouge import RougeAccumulator, greedy_oracle, ngrams, syllables
from dangtopic.data.vnds import iter_vnds
from dangtopic.models.config import to_dict
from dangtopic.models.encoder import cache_dir
from dangtopic.models.summarizer import (
    FEATURES,
    ExtractiveSummarizer,
    SummarizerConfig,
    is_heading,
    select_sentences,
    sentence_features,
)
from dangtopic.training import loop

logger = logging.getLogger("dangtopic.train_summarizer")


@dataclass
class SummarizerDataConfig:
    vnds_dir: str | None = None  # None → $DANGTOPIC_VNDS_DIR or ../shared/data/vnds
    train_articles: int = 10000  # random subsample of deduplicated VNDS train
    val_articles: int = 1000  # VNDS val articles for epoch selection and budget tuning
    min_sentences: int = 3
    dedup: bool = True  # drop train articles that near-duplicate a val/test article
    # A train article is a near-duplicate when this share of its long sentences occurs in val/test.
    dedup_overlap: float = 0.3
    dedup_min_syllables: int = 8
    oracle_max_sentences: int = 5
    # Training targets: `oracle` (1 for greedy-oracle sentences), `soft` (each sentence's own ROUGE against
    # the abstract, scaled so the article's best is 1), or `mix` (mean of the two).
    targets: str = "oracle"

    def __post_init__(self) -> None:
        if self.train_articles < 1 or self.val_articles < 1:
            raise ValueError("train_articles and val_articles must be >= 1")
        if self.targets not in ("oracle", "soft", "mix"):
            raise ValueError(f"targets must be oracle, soft or mix, got {self.targets!r}")
        if not 0 < self.dedup_overlap <= 1:
            raise ValueError(f"dedup_overlap must be in (0, 1], got {self.dedup_overlap}")


@dataclass
class SummarizerOptimConfig:
    epochs: int = 8
    batch_size: int = 32  # articles per step
    lr: float = 1e-3
    weight_decay: float = 0.01
    title_dropout: float = 0.15  # train without the title sometimes: users may not have one
    grad_clip: float = 1.0
    patience: int = 3

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if not 0 <= self.title_dropout < 1:
            raise ValueError(f"title_dropout must be in [0, 1), got {self.title_dropout}")


@dataclass
class LengthGridConfig:
    """Budgets tried on validation after training; the best (mean syllable R-1/R-2/R-L F1) is saved."""

    tune: bool = True
    max_sentences: list[int] = field(default_factory=lambda: [2, 3])
    max_words: list[int] = field(default_factory=lambda: [40, 50, 60])
    redundancy: list[str] = field(default_factory=lambda: ["trigram", "mmr"])


@dataclass
class TrainSummarizerConfig:
    model: SummarizerConfig = field(default_factory=SummarizerConfig)
    data: SummarizerDataConfig = field(default_factory=SummarizerDataConfig)
    optim: SummarizerOptimConfig = field(default_factory=SummarizerOptimConfig)
    length: LengthGridConfig = field(default_factory=LengthGridConfig)
    output_dir: str = "runs/summarizer"
    feature_cache: str | None = None  # None → $DANGTOPIC_CACHE/summarizer_features; "" disables
    device: str = "auto"  # of the scorer: auto (a GPU where present) | cpu | cuda
    accelerate: loop.AccelerateConfig = field(default_factory=loop.AccelerateConfig)
    threads: int = 0  # 0 = torch default
    seed: int = 13
    cache_shard: int = 250  # articles per cached embedding shard (and per progress line)

    def __post_init__(self) -> None:
        loop.check_device(self.device)


@dataclass
class Doc:
    """One training/validation article: body sentences, oracle labels and (later) embeddings."""

    id: str
    title: str
    sentences: list[str]
    abstract: str
    labels: list[int]
    soft: list[float] = field(default_factory=list)  # per-sentence ROUGE vs the abstract, max-scaled
    emb: np.ndarray | None = None  # [n, H] float16
    title_emb: np.ndarray | None = None  # [H] float16


def _norm_key(text: str) -> int:
    return hash(" ".join(syllables(text)))


def _long_sentences(a, min_syllables: int) -> list[str]:
    return [s for s in [*a.abstract_sentences, *a.sentences] if len(syllables(s)) >= min_syllables]


def dedup_index(
    vnds_dir: str | None, splits: tuple[str, ...], min_syllables: int
) -> tuple[set[int], set[int]]:
    """Hashes of val/test abstracts and of their long sentences (for near-duplicate detection)."""
    abstracts: set[int] = set()
    sents: set[int] = set()
    for split in splits:
        for a in iter_vnds(split, root=vnds_dir):
            abstracts.add(_norm_key(a.abstract))
            abstracts.add(_norm_key(a.title))
            sents.update(_norm_key(s) for s in _long_sentences(a, min_syllables))
    return abstracts, sents


def is_near_duplicate(article, index: tuple[set[int], set[int]], overlap: float, min_syllables: int) -> bool:
    """Same abstract or title as a held-out article, or `overlap` of its long sentences seen there."""
    abstracts, sents = index
    if _norm_key(article.abstract) in abstracts or (article.title and _norm_key(article.title) in abstracts):
        return True
    long = _long_sentences(article, min_syllables)
    return bool(long) and sum(_norm_key(s) in sents for s in long) / len(long) >= overlap


def sentence_rouge(sentences: list[str], reference: str) -> list[float]:
    """Each sentence's mean(R-1 F1, R-2 F1) against the reference, scaled so the best is 1."""
    ref = syllables(reference)
    r1, r2 = ngrams(ref, 1), ngrams(ref, 2)
    out = []
    for s in sentences:
        t = syllables(s)
        f = []
        for c, r in ((ngrams(t, 1), r1), (ngrams(t, 2), r2)):
            o = sum(min(v, r[k]) for k, v in c.items() if k in r)
            p, q = o / max(sum(c.values()), 1), o / max(sum(r.values()), 1)
            f.append(2 * p * q / (p + q) if o else 0.0)
        out.append(sum(f) / 2)
    top = max(out, default=0.0)
    return [x / top if top > 0 else 0.0 for x in out]


def _to_doc(a, max_sentences: int, oracle_max: int) -> Doc:
    sents = a.sentences[:max_sentences]
    labels = greedy_oracle(sents, a.abstract, max_sentences=oracle_max)
    return Doc(a.id, a.title, sents, a.abstract, labels, sentence_rouge(sents, a.abstract))


def load_docs(cfg: TrainSummarizerConfig) -> tuple[list[Doc], list[Doc], dict[str, Any]]:
    """Deduplicated, subsampled train docs and val docs with oracle labels, plus data statistics."""
    d = cfg.data
    t0 = time.time()
    index = dedup_index(d.vnds_dir, ("val", "test"), d.dedup_min_syllables) if d.dedup else (set(), set())
    logger.info("dedup index: %d titles/abstracts, %d sentences (%.0fs)", *map(len, index), time.time() - t0)
    seen_train: set[int] = set()
    pool = []
    stats = {"train_total": 0, "train_too_short": 0, "train_dup_heldout": 0, "train_dup_internal": 0}

    def usable(a) -> bool:
        return len(a.sentences) >= d.min_sentences and bool(a.abstract.strip())

    for a in iter_vnds("train", root=d.vnds_dir):
        stats["train_total"] += 1
        if not usable(a):
            stats["train_too_short"] += 1
            continue
        if d.dedup and is_near_duplicate(a, index, d.dedup_overlap, d.dedup_min_syllables):
            stats["train_dup_heldout"] += 1
            continue
        key = _norm_key(a.abstract)
        if key in seen_train:
            stats["train_dup_internal"] += 1
            continue
        seen_train.add(key)
        pool.append(a)
    stats["train_eligible"] = len(pool)
    # Shuffle-then-take keeps the sample a prefix-stable function of the seed: a larger train_articles
    # adds articles (and reuses cached embeddings) instead of drawing a different set.
    random.Random(cfg.seed).shuffle(pool)
    chosen = pool[: d.train_articles]
    del pool
    val_pool = [a for a in iter_vnds("val", root=d.vnds_dir) if usable(a)]
    val_chosen = random.Random(cfg.seed + 1).sample(val_pool, min(d.val_articles, len(val_pool)))
    t1 = time.time()
    cap = cfg.model.max_article_sentences
    train = [_to_doc(a, cap, d.oracle_max_sentences) for a in chosen]
    val = [_to_doc(a, cap, d.oracle_max_sentences) for a in val_chosen]
    stats.update(
        train_used=len(train),
        val_used=len(val),
        oracle_seconds=round(time.time() - t1, 1),
        train_sentences=sum(len(x.sentences) for x in train),
        oracle_mean_selected=round(float(np.mean([len(x.labels) for x in train])), 2) if train else 0.0,
    )
    logger.info("data: %s", stats)
    return train, val, stats


def _cache_file(
    cfg: TrainSummarizerConfig, summ: ExtractiveSummarizer, docs: list[Doc], tag: str
) -> Path | None:
    if cfg.feature_cache == "":
        return None
    root = Path(cfg.feature_cache) if cfg.feature_cache else cache_dir() / "summarizer_features"
    spec = cfg.model.encoder
    encoder = [summ.fingerprint, summ.config.num_layers, spec.max_length, spec.prefix, spec.pooling]
    key = json.dumps([*encoder, spec.word_segment, [(x.id, len(x.sentences)) for x in docs]])
    return root / f"{tag}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def _embed_shard(summ: ExtractiveSummarizer, docs: list[Doc]) -> tuple[np.ndarray, np.ndarray]:
    texts_per_doc = [[x.title or "", *x.sentences] for x in docs]
    offsets = np.cumsum([0] + [len(t) for t in texts_per_doc])
    emb = np.zeros((int(offsets[-1]), summ.encoder.config.hidden_size), dtype=np.float16)
    step = 32  # articles per call: length-sorting across articles cuts padding
    for start in range(0, len(docs), step):
        texts = [t for tt in texts_per_doc[start : start + step] for t in tt]
        # An empty title still occupies its slot; it is ignored when the doc is filled in.
        out = summ.embed([t or "." for t in texts]).numpy().astype(np.float16)
        emb[offsets[start] : offsets[min(start + step, len(docs))]] = out
    return emb, offsets


def embed_docs(summ: ExtractiveSummarizer, docs: list[Doc], cfg: TrainSummarizerConfig, tag: str) -> None:
    """Fill `doc.emb` / `doc.title_emb` with pooled embeddings, in shards of `cache_shard` articles cached on
    disk, so an interrupted run resumes and a larger `train_articles` reuses what was computed."""
    t0 = time.time()
    shard = max(1, cfg.cache_shard)
    done_new = 0
    for start in range(0, len(docs), shard):
        part = docs[start : start + shard]
        path = _cache_file(cfg, summ, part, tag)
        if path is not None and path.exists():
            data = np.load(path)
            emb, offsets = data["emb"], data["offsets"]
            logger.info("%s: articles %d-%d loaded from cache", tag, start, start + len(part))
        else:
            emb, offsets = _embed_shard(summ, part)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, emb=emb, offsets=offsets)
                tmp.rename(path)  # a killed run never leaves a truncated shard behind
            done_new += len(part)
            done, rate = start + len(part), done_new / max(time.time() - t0, 1e-9)
            eta = (len(docs) - done) / max(rate, 1e-9)
            logger.info(
                "%s: embedded %d/%d articles (%.2f art/s, ETA %.0f s)", tag, done, len(docs), rate, eta
            )
        for i, x in enumerate(part):
            block = emb[offsets[i] : offsets[i + 1]]
            x.title_emb = block[0] if x.title else None
            x.emb = block[1:]


def _batch(docs: list[Doc], rng: random.Random | None, title_dropout: float, targets: str = "oracle"):
    n = max(len(x.sentences) for x in docs)
    emb = torch.zeros(len(docs), n, docs[0].emb.shape[1])
    feats = torch.zeros(len(docs), n, len(FEATURES))
    mask = torch.zeros(len(docs), n, dtype=torch.bool)
    target = torch.zeros(len(docs), n)
    for b, x in enumerate(docs):
        k = len(x.sentences)
        e = torch.from_numpy(x.emb.astype(np.float32))
        use_title = x.title_emb is not None and not (rng is not None and rng.random() < title_dropout)
        t = torch.from_numpy(x.title_emb.astype(np.float32)) if use_title else None
        words = torch.tensor([len(s.split()) for s in x.sentences])
        emb[b, :k] = e
        feats[b, :k] = sentence_features(e, t, torch.arange(k), k, words)
        mask[b, :k] = True
        if targets != "soft":
            target[b, x.labels] = 1.0
        if targets != "oracle" and x.soft:
            soft = torch.tensor(x.soft)
            target[b, :k] = soft if targets == "soft" else (target[b, :k] + soft) / 2
    return emb, feats, mask, target


def predict_probs(scorer, docs: list[Doc], batch_size: int = 64) -> list[np.ndarray]:
    """Selection probabilities for embedded docs."""
    scorer.eval()
    device = next(scorer.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(docs), batch_size):
            chunk = docs[start : start + batch_size]
            emb, feats, mask, _ = (t.to(device) for t in _batch(chunk, None, 0.0))
            probs = torch.sigmoid(scorer(emb, feats, mask)).cpu()
            out.extend(probs[i, : len(x.sentences)].numpy() for i, x in enumerate(chunk))
    return out


def rouge_of_selection(
    docs: list[Doc], probs: list[np.ndarray], cfg: SummarizerConfig, **budget: Any
) -> dict[str, float]:
    """Mean syllable R-1/R-2/R-L F1 of what `summarize` selects by `probs` under `cfg` (or its `budget`)."""
    b = {
        "redundancy": cfg.redundancy,
        "max_sentences": cfg.max_sentences,
        "max_words": cfg.max_words,
        **budget,
    }
    acc = RougeAccumulator("syllable")
    for x, p in zip(docs, probs, strict=True):
        emb = x.emb.astype(np.float32) if b["redundancy"] == "mmr" else None
        allowed = list(range(len(x.sentences)))
        if cfg.skip_headings:
            allowed = [i for i in allowed if not is_heading(x.sentences[i])] or allowed
        idx, _ = select_sentences(
            p, x.sentences, allowed, b["max_sentences"], b["max_words"], b["redundancy"], cfg.mmr_lambda, emb
        )
        acc.add(" ".join(x.sentences[i] for i in idx), x.abstract)
    r = acc.result()
    out = {k: round(v["f"], 4) for k, v in r.items()}
    out["mean"] = round(float(np.mean(list(out.values()))), 4)
    return out


def tune_length(summ: ExtractiveSummarizer, val: list[Doc], grid: LengthGridConfig) -> list[dict[str, Any]]:
    """Try the budget grid on validation and set the best into `summ.config`. Returns all results."""
    probs = predict_probs(summ.scorer, val)
    results = []
    for red, ms, mw in itertools.product(grid.redundancy, grid.max_sentences, grid.max_words):
        r = rouge_of_selection(val, probs, summ.config, redundancy=red, max_sentences=ms, max_words=mw)
        results.append({"redundancy": red, "max_sentences": ms, "max_words": mw, "val": r})
        logger.info("budget %s/%d sents/%d words: %s", red, ms, mw, r)
    best = max(results, key=lambda x: x["val"]["mean"])
    summ.config.redundancy = best["redundancy"]
    summ.config.max_sentences = best["max_sentences"]
    summ.config.max_words = best["max_words"]
    return results


def train(
    cfg: TrainSummarizerConfig, output_dir: str | Path | None = None, resume_from: str | Path | None = None
) -> ExtractiveSummarizer:
    """Run the whole recipe (or continue the run in `resume_from`); saves to `output_dir` or the config's."""
    t_start = time.time()
    accelerator = loop.start_run(cfg)
    out = Path(output_dir or cfg.output_dir)
    summ = ExtractiveSummarizer.from_config(cfg.model)
    train_docs, val_docs, stats = load_docs(cfg)
    if not train_docs or not val_docs:
        raise RuntimeError("no training or validation articles after filtering")
    t_embed = time.time()
    with accelerator.main_process_first():  # the main process fills the embedding cache, the others read it
        embed_docs(summ, train_docs, cfg, "train")
        embed_docs(summ, val_docs, cfg, "val")
    embed_seconds = time.time() - t_embed

    # the scorer: BCE on the oracle labels, best epoch by validation ROUGE
    t_fit = time.time()
    ckpt = loop.RunCheckpoint(accelerator, cfg, out, resume_from)
    o, scorer = cfg.optim, summ.scorer
    opt = torch.optim.AdamW(scorer.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    steps = loop.optimizer_steps(accelerator, math.ceil(len(train_docs) / o.batch_size), o.epochs)
    # 5% warm-up, then cosine decay to 5% of the peak
    sched = loop.warmup_schedule(opt, steps, 0.05, accelerator.num_processes, floor=0.05)
    prepared = accelerator.prepare(scorer, opt, sched)  # the model, optimizer and scheduler

    def make_batches(rng: random.Random) -> list:
        order = list(range(len(train_docs)))
        rng.shuffle(order)
        # each batch carries the seed of its title dropout, so a resumed epoch replays it exactly
        return [
            (order[i : i + o.batch_size], rng.randrange(2**31)) for i in range(0, len(order), o.batch_size)
        ]

    def loss_of(model, batch) -> torch.Tensor:
        idx, seed = batch
        chunk = [train_docs[i] for i in idx]
        emb, feats, mask, target = (
            t.to(accelerator.device)
            for t in _batch(chunk, random.Random(seed), o.title_dropout, cfg.data.targets)
        )
        logits = model(emb, feats, mask)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits[mask], target[mask])

    def evaluate() -> tuple[float, dict]:
        rouge = rouge_of_selection(val_docs, predict_probs(scorer, val_docs), summ.config)
        return rouge["mean"], rouge

    fitted = loop.fit(
        accelerator,
        *prepared,
        epochs=o.epochs,
        make_batches=make_batches,
        loss_of=loss_of,
        rng=random.Random(cfg.seed),
        grad_clip=o.grad_clip,
        evaluate=evaluate,
        trainable_state=scorer.state_dict,
        patience=o.patience,
        ckpt=ckpt,
        name="summariser",
    )
    # the summariser runs on CPU in fp32: without accelerate's autocast wrapper, off the training device
    accelerator.unwrap_model(prepared[0], keep_fp32_wrapper=False).cpu().eval()
    budget = tune_length(summ, val_docs, cfg.length) if cfg.length.tune else []
    final_val = rouge_of_selection(val_docs, predict_probs(summ.scorer, val_docs), summ.config)
    oracle_val = RougeAccumulator("syllable")
    for x in val_docs:
        oracle_val.add(" ".join(x.sentences[i] for i in x.labels), x.abstract)
    summ.metrics = {
        "val": final_val,
        "val_oracle": {k: round(v["f"], 4) for k, v in oracle_val.result().items()},
        "val_articles": len(val_docs),
    }
    summ.training_info = {
        "data": stats,
        "config": to_dict(cfg),
        "epochs": fitted.history,
        "budget_grid": budget,
        "seconds": {
            "total": round(time.time() - t_start, 1),
            "embed": round(embed_seconds, 1),
            "fit": round(time.time() - t_fit, 1),
        },
        "torch_threads": torch.get_num_threads(),
        "device": accelerator.device.type,
        "processes": accelerator.num_processes,
    }
    ckpt.finish()
    if accelerator.is_main_process:  # the processes' models are the same
        summ.save_pretrained(out)
        logger.info("saved to %s in %.1f min (val %s)", out, (time.time() - t_start) / 60, final_val)
    return summ


def add_arguments(parser) -> None:
    loop.add_arguments(parser, Path(__file__).resolve().parents[1] / "configs" / "summarizer.yaml")


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = loop.config_from_args(TrainSummarizerConfig, args)
    summ = train(cfg, resume_from=args.resume_from)
    if not loop.is_main_process():
        return 0
    info, metrics = summ.training_info, summ.metrics
    shown = {"output": cfg.output_dir, "val": metrics["val"], "val_oracle": metrics["val_oracle"]}
    shown.update(seconds=info["seconds"], data=info["data"])
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0
