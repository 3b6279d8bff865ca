"""`dangtopic build-weak-labels`: a weakly labelled sentence set from the Party-related part of VNDS train.

Steps: fit the LF label model on the hand-labelled TRAIN part (never dev/test); select Party-related VNDS
train articles by cue phrases; drop articles and sentences that also occur in VNDS val/test (the corpus has
near-duplicates across splits), in the hand-labelled articles, or in any hand-labelled file (gold wins and
evaluation sentences never leak); apply the LFs; keep confident positives (capped per label) and a seeded
sample of confident negatives; save a HF `datasets` folder plus a JSON/text report with per-LF coverage and
accuracy on the hand labels and the weak labels' P/R/F1 on the hand-labelled dev part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dangtopic import LABELS
from dangtopic.data.labels import (
    LabelledSentence,
    apply_split,
    canonical_tones,
    labels_to_vector,
    load_hand_labels,
    load_labelled,
    load_split,
    sentence_key,
)
from dangtopic.data.vnds import iter_vnds_lines, parse_vnds_record, split_vnds_abstract
from dangtopic.data.weak import (
    ABSTAIN,
    DEFAULT_LFS,
    POSITIVE,
    LabelModel,
    apply_lfs,
    fold,
    keyword_labels,
    lf_report,
)
from dangtopic.models.config import ConfigError, load_config, parse_override, to_dict

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "weak_labels.yaml"

DEFAULT_CUES = [
    "đảng viên",
    "chi bộ",
    "cấp ủy",
    "đảng ủy",
    "đảng bộ",
    "tổ chức đảng",
    "ủy ban kiểm tra",
    "kỷ luật đảng",
    "xây dựng đảng",
    "ban tổ chức",
    "kết nạp",
    "lý luận chính trị",
    "bồi dưỡng cán bộ",
    "đào tạo, bồi dưỡng",
    "tinh giản biên chế",
    "biên chế",
    "bộ máy",
    "tinh gọn",
    "khai trừ",
    "khiển trách|cảnh cáo|cách chức",
    "tỉnh ủy|thành ủy|huyện ủy|quận ủy",
]


@dataclass
class SelectConfig:
    """Which VNDS train articles count as Party-related: at least `min_distinct` different cues occur."""

    cues: list[str] = field(default_factory=lambda: list(DEFAULT_CUES))
    min_distinct: int = 2

    def __post_init__(self) -> None:
        if not self.cues:
            raise ValueError("select.cues must not be empty")
        if not 1 <= self.min_distinct <= len(self.cues):
            raise ValueError(f"select.min_distinct must be in [1, {len(self.cues)}], got {self.min_distinct}")
        for c in self.cues:
            try:
                re.compile(c)
            except re.error as e:
                raise ValueError(f"select.cues: bad pattern {c!r}: {e}") from e


@dataclass
class WeakLabelsConfig:
    """Options of `dangtopic build-weak-labels` (configs/weak_labels.yaml)."""

    vnds_dir: str | None = None  # None → $DANGTOPIC_VNDS_DIR or ../shared/data/vnds
    hand_labels: list[str] = field(default_factory=list)  # [] → the shared round-2 + v1 label files
    split_file: str | None = None  # None → data/labels/split_v2.json
    extra_labels: list[str] = field(default_factory=lambda: ["data/labels/extra_labelled.jsonl"])
    seed_labels: list[str] = field(default_factory=lambda: ["data/labels/seeds_labelled.jsonl"])
    out_dir: str | None = None  # None → $DANGTOPIC_CACHE/weak_labels; never inside the repository
    report_txt: str | None = None
    seed: int = 13
    limit: int | None = None  # VNDS train articles to scan (None = all)
    heldout_splits: list[str] = field(default_factory=lambda: ["val", "test"])
    select: SelectConfig = field(default_factory=SelectConfig)
    pos_threshold: float = 0.8
    neg_threshold: float = 0.1
    max_per_label: int = 3000
    negatives_ratio: float = 1.0
    hard_negative_fraction: float = 0.5
    min_chars: int = 25
    max_chars: int = 600
    strength: float = 10.0
    hot_share: float = 0.3
    use_extra_for_precision: bool = True
    exclude_hand_train: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.neg_threshold < self.pos_threshold < 1:
            raise ValueError(
                f"need 0 < neg_threshold < pos_threshold < 1, got {self.neg_threshold}, {self.pos_threshold}"
            )
        if self.max_per_label < 1:
            raise ValueError(f"max_per_label must be >= 1, got {self.max_per_label}")
        if self.negatives_ratio < 0:
            raise ValueError(f"negatives_ratio must be >= 0, got {self.negatives_ratio}")
        if not 0 <= self.hard_negative_fraction <= 1:
            raise ValueError(f"hard_negative_fraction must be in [0, 1], got {self.hard_negative_fraction}")
        if not 0 < self.min_chars < self.max_chars:
            raise ValueError(f"need 0 < min_chars < max_chars, got {self.min_chars}, {self.max_chars}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if not 0 < self.hot_share < 1:
            raise ValueError(f"hot_share must be in (0, 1), got {self.hot_share}")
        if self.strength <= 0:
            raise ValueError(f"strength must be > 0, got {self.strength}")
        bad = [s for s in self.heldout_splits if s not in ("val", "test")]
        if bad:
            raise ValueError(f"heldout_splits must be among val/test, got {bad}")


@dataclass
class HandData:
    """Every hand-labelled sentence the builder must know about, by role."""

    train: list[LabelledSentence]
    dev: list[LabelledSentence]
    test: list[LabelledSentence]
    extra: list[LabelledSentence] = field(default_factory=list)  # training-only
    seeds: list[LabelledSentence] = field(default_factory=list)  # evaluation-only


def _resolve(p: str) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def load_hand_data(cfg: WeakLabelsConfig) -> HandData:
    """Hand labels split by `split_file`, plus the extra (training) and seed (evaluation) label files."""
    items = load_hand_labels([_resolve(p) for p in cfg.hand_labels] or None)
    train, dev, test = apply_split(items, load_split(_resolve(cfg.split_file) if cfg.split_file else None))
    extra = [
        it
        for p in cfg.extra_labels
        if _resolve(p).exists()
        for it in load_labelled(_resolve(p), source="dangtopic-dev-llm")
    ]
    seeds = [
        it
        for p in cfg.seed_labels
        if _resolve(p).exists()
        for it in load_labelled(_resolve(p), source="dangtopic-dev-llm")
    ]
    for p in [*cfg.extra_labels, *cfg.seed_labels]:
        if not _resolve(p).exists():
            logger.warning("label file %s not found; skipped", _resolve(p))
    return HandData(train, dev, test, extra, seeds)


# --- corpus access --------------------------------------------------------------------------------------


def iter_vnds_records(split: str, root: str | Path | None = None, limit: int | None = None) -> Iterator[dict]:
    """Raw VNDS JSON objects (word-segmented); parsing them is cheap, detokenising is done only when selected."""
    for line in iter_vnds_lines(split, root, limit):
        yield json.loads(line)


def _raw_sentences(d: dict) -> list[str]:
    return [s for para in d.get("paragraphs", []) for s in para if s.strip()]


def record_match_text(d: dict) -> str:
    """Lower-cased, tone-unified text of a raw record with word-segmentation underscores removed."""
    text = " ".join([d.get("title", ""), d.get("abstract", ""), *_raw_sentences(d)])
    return canonical_tones(text.replace("_", " ")).lower()


class Selector:
    """Counts distinct Party cues in an article (word-bounded, on `record_match_text`)."""

    def __init__(self, cfg: SelectConfig) -> None:
        self.cues = [re.compile(rf"(?<!\w)(?:{canonical_tones(c)})(?!\w)") for c in cfg.cues]
        self.min_distinct = cfg.min_distinct

    def score(self, d: dict) -> int:
        text = record_match_text(d)
        return sum(1 for c in self.cues if c.search(text))

    def __call__(self, d: dict) -> bool:
        return self.score(d) >= self.min_distinct


def _valid_key_text(text: str, min_chars: int = 20) -> bool:
    # Very short strings (bylines, "Ảnh: TTXVN") collide across unrelated articles.
    return len(re.sub(r"[\W_]+", "", text)) >= min_chars


@dataclass
class Exclusions:
    """Keys that must not appear in the weak set."""

    heldout_sentences: set[int] = field(default_factory=set)  # VNDS val/test + hand dev/test sentences
    heldout_docs: set[int] = field(default_factory=set)  # VNDS val/test + hand dev/test titles and abstracts
    gold_sentences: set[int] = field(default_factory=set)  # every hand-labelled sentence (gold wins)
    eval_articles: set[str] = field(default_factory=set)  # hand dev/test article ids
    gold_articles: set[str] = field(default_factory=set)  # hand train article ids

    def add_heldout_record(self, d: dict) -> None:
        title, abstract = d.get("title", ""), d.get("abstract", "")
        for t in (title, abstract):
            if _valid_key_text(t):
                self.heldout_docs.add(sentence_key(t))
        for s in [title, *split_vnds_abstract(abstract), *_raw_sentences(d)]:
            if _valid_key_text(s, 1):
                self.heldout_sentences.add(sentence_key(s))


def build_exclusions(hand: HandData, heldout_records: Iterable[dict], exclude_hand_train: bool) -> Exclusions:
    """Exclusion keys from VNDS val/test records and the hand labels."""
    ex = Exclusions()
    n = 0
    for d in heldout_records:
        ex.add_heldout_record(d)
        n += 1
    logger.info("held-out VNDS articles hashed: %d (%d sentence keys)", n, len(ex.heldout_sentences))
    for it in [*hand.dev, *hand.test, *hand.seeds]:
        ex.heldout_sentences.add(sentence_key(it.text))
        if it.index == 0 and _valid_key_text(it.text):
            ex.heldout_docs.add(sentence_key(it.text))
    ex.eval_articles = {it.article_id for it in [*hand.dev, *hand.test]}
    for it in [*hand.train, *hand.extra]:
        ex.gold_sentences.add(sentence_key(it.text))
    if exclude_hand_train:
        ex.gold_articles = {it.article_id for it in hand.train}
    return ex


# --- label model and its evaluation ---------------------------------------------------------------------


def _matrix(items: list[LabelledSentence]) -> tuple[np.ndarray, np.ndarray]:
    L = apply_lfs([it.text for it in items])
    Y = np.array([labels_to_vector(it.labels) for it in items], dtype=int).reshape(-1, len(LABELS))
    return L, Y


def _prf(y: np.ndarray, pred: np.ndarray) -> dict:
    from dangtopic.training.metrics import multilabel_report

    return multilabel_report(y, pred, LABELS)


def fit_and_evaluate(hand: HandData, cfg: WeakLabelsConfig) -> tuple[LabelModel, dict]:
    """Fit the label model on the TRAIN part; measure LFs and weak labels on train/dev (and seeds)."""
    if not hand.train:
        raise ValueError("no hand-labelled TRAIN sentences to fit the label model on")
    L_tr, Y_tr = _matrix(hand.train)
    L_ex, Y_ex = _matrix(hand.extra) if (hand.extra and cfg.use_extra_for_precision) else (None, None)
    model = LabelModel(
        DEFAULT_LFS, strength=cfg.strength, context_threshold=cfg.pos_threshold, hot_share=cfg.hot_share
    ).fit(L_tr, Y_tr, L_ex, Y_ex, groups=[it.article_id for it in hand.train])
    report: dict = {
        "label_model": model.to_dict(),
        "lf": {},
        "eval": {},
        "sizes": {
            "hand_train": len(hand.train),
            "hand_dev": len(hand.dev),
            "extra": len(hand.extra),
            "seeds": len(hand.seeds),
        },
    }
    parts = {"train": (L_tr, Y_tr)}
    if hand.dev:
        parts["dev"] = _matrix(hand.dev)
    if hand.extra:
        parts["extra"] = (L_ex, Y_ex) if L_ex is not None else _matrix(hand.extra)
    if hand.seeds:
        parts["seeds"] = _matrix(hand.seeds)
    texts = {"train": hand.train, "dev": hand.dev, "extra": hand.extra, "seeds": hand.seeds}
    for name, (L, Y) in parts.items():
        report["lf"][name] = lf_report(L, Y)
        if name in ("dev", "seeds"):
            probs = model.predict_proba(L, [it.article_id for it in texts[name]])
            kw = np.array([labels_to_vector(keyword_labels(it.text)) for it in texts[name]]).reshape(
                -1, len(LABELS)
            )
            conf = probs >= cfg.pos_threshold
            report["eval"][name] = {
                "weak@0.5": _prf(Y, probs >= 0.5),
                f"weak@{cfg.pos_threshold}": _prf(Y, conf),
                "keyword baseline": _prf(Y, kw),
                "confident_negative_precision": {
                    lab: _neg_precision(Y[:, i], probs[:, i] <= cfg.neg_threshold)
                    for i, lab in enumerate(LABELS)
                },
            }
    return model, report


def _neg_precision(y: np.ndarray, neg: np.ndarray) -> dict:
    n = int(neg.sum())
    return {"n": n, "precision": float((~y.astype(bool) & neg).sum() / n) if n else float("nan")}


# --- the corpus scan ------------------------------------------------------------------------------------


def _h(seed: int, *parts: object) -> int:
    return int.from_bytes(
        hashlib.blake2b("\x1f".join(map(str, (seed, *parts))).encode(), digest_size=8).digest(), "big"
    )


@dataclass
class Candidates:
    ids: list[str] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    votes: list[list[int]] = field(default_factory=list)


def scan_corpus(records: Iterable[dict], ex: Exclusions, cfg: WeakLabelsConfig, stats: Counter) -> Candidates:
    """Select Party-related articles, apply exclusions, and collect LF votes of every kept sentence."""
    selector = Selector(cfg.select)
    cand = Candidates()
    seen: set[int] = set()
    t0 = time.time()
    for d in records:
        stats["articles_scanned"] += 1
        if stats["articles_scanned"] % 20000 == 0:
            logger.info(
                "scanned %d articles (%d selected) in %.0fs",
                stats["articles_scanned"],
                stats["articles_selected"],
                time.time() - t0,
            )
        if not selector(d):
            continue
        stats["articles_selected"] += 1
        aid = d.get("id", "")
        if aid in ex.eval_articles:
            stats["articles_dropped_hand_eval"] += 1
            continue
        if aid in ex.gold_articles:
            stats["articles_dropped_hand_train"] += 1
            continue
        art = parse_vnds_record(d)
        if any(_valid_key_text(t) and sentence_key(t) in ex.heldout_docs for t in (art.title, art.abstract)):
            stats["articles_dropped_heldout_duplicate"] += 1
            continue
        stats["articles_used"] += 1
        for k, s in enumerate(art.labelled_sentences):
            stats["sentences_seen"] += 1
            if not cfg.min_chars <= len(s) <= cfg.max_chars:
                stats["sentences_dropped_length"] += 1
                continue
            key = sentence_key(s)
            if key in ex.heldout_sentences:
                stats["sentences_dropped_heldout"] += 1
                continue
            if key in ex.gold_sentences:
                stats["sentences_dropped_gold"] += 1
                continue
            if key in seen:
                stats["sentences_dropped_duplicate"] += 1
                continue
            seen.add(key)
            f = fold(s, normalized=True)
            cand.ids.append(f"{aid}#{k}")
            cand.article_ids.append(aid)
            cand.texts.append(s)
            cand.keys.append(key)
            cand.votes.append([lf.vote_folded(f) for lf in DEFAULT_LFS])
    stats["sentences_labelled"] = len(cand.ids)
    return cand


def _primary_lf(row: np.ndarray, label: str) -> str:
    """The most precise (by prior order: first listed) positive LF of `label` that fired; '-' if none."""
    for j, lf in enumerate(DEFAULT_LFS):
        if lf.label == label and lf.polarity == POSITIVE and row[j] != ABSTAIN:
            return lf.name
    return "-"


def _diverse_sample(
    idx: np.ndarray, V: np.ndarray, label: str, keys: list[int], cap: int, seed: int, stats: Counter
) -> list[int]:
    """Up to `cap` of `idx`, round-robin over the positive LF that fired first, seeded order within each.

    When the cap binds, one frequent cue (e.g. 'kỷ luật') cannot crowd out the rarer ones.
    """
    groups: dict[str, list[int]] = {}
    for i in idx:
        groups.setdefault(_primary_lf(V[i], label), []).append(int(i))
    for g in groups.values():
        g.sort(key=lambda i: _h(seed, label, keys[i]))
    out: list[int] = []
    order = sorted(groups)
    depth = 0
    while len(out) < cap and any(depth < len(groups[g]) for g in order):
        for g in order:
            if depth < len(groups[g]) and len(out) < cap:
                out.append(groups[g][depth])
        depth += 1
    for i in out:
        stats[f"positives_by_lf/{label}/{_primary_lf(V[i], label)}"] += 1
    return out


def choose(cand: Candidates, probs: np.ndarray, cfg: WeakLabelsConfig, stats: Counter) -> list[dict]:
    """Confident positives (≤ max_per_label each, seeded sample) and a seeded sample of confident negatives."""
    V = np.asarray(cand.votes, dtype=np.int8).reshape(-1, len(DEFAULT_LFS))
    chosen: set[int] = set()
    for li, lab in enumerate(LABELS):
        idx = np.flatnonzero(probs[:, li] >= cfg.pos_threshold)
        stats[f"confident_{lab}"] = len(idx)
        chosen.update(_diverse_sample(idx, V, lab, cand.keys, cfg.max_per_label, cfg.seed, stats))
    positives = sorted(chosen)
    neg_mask = (probs <= cfg.neg_threshold).all(axis=1)
    neg_mask[positives] = False
    fired = (V != ABSTAIN).any(axis=1)
    hard = sorted(np.flatnonzero(neg_mask & fired), key=lambda i: _h(cfg.seed, "neg", cand.keys[i]))
    easy = sorted(np.flatnonzero(neg_mask & ~fired), key=lambda i: _h(cfg.seed, "neg", cand.keys[i]))
    stats["confident_negative_hard"], stats["confident_negative_easy"] = len(hard), len(easy)
    n_neg = int(round(cfg.negatives_ratio * len(positives)))
    n_hard = min(len(hard), int(round(cfg.hard_negative_fraction * n_neg)))
    n_easy = min(len(easy), n_neg - n_hard)
    n_hard = min(len(hard), n_neg - n_easy)  # top up from hard when easy ones run short
    negatives = [int(i) for i in hard[:n_hard]] + [int(i) for i in easy[:n_easy]]
    rows = []
    for i, kind in [*((i, "positive") for i in positives), *((i, "negative") for i in negatives)]:
        rows.append(
            {
                "id": cand.ids[i],
                "article_id": cand.article_ids[i],
                "text": cand.texts[i],
                "labels": [lab for li, lab in enumerate(LABELS) if probs[i, li] >= cfg.pos_threshold],
                "probs": [round(float(p), 4) for p in probs[i]],
                "kind": kind,
                "lfs": [lf.name for j, lf in enumerate(DEFAULT_LFS) if V[i, j] != ABSTAIN],
                "source": "weak-v1",
            }
        )
    rows.sort(key=lambda r: r["id"])
    stats["rows_positive"], stats["rows_negative"] = len(positives), len(negatives)
    for lab in LABELS:
        stats[f"rows_{lab}"] = sum(lab in r["labels"] for r in rows)
    stats["rows_negative_hard"] = sum(1 for r in rows if r["kind"] == "negative" and r["lfs"])
    return rows


def build_weak_labels(
    train_records: Iterable[dict], heldout_records: Iterable[dict], hand: HandData, cfg: WeakLabelsConfig
) -> tuple[list[dict], dict]:
    """The whole pipeline on given corpora (in-memory friendly): returns (rows, report)."""
    t0 = time.time()
    model, report = fit_and_evaluate(hand, cfg)
    ex = build_exclusions(hand, heldout_records, cfg.exclude_hand_train)
    t1 = time.time()
    stats: Counter = Counter()
    cand = scan_corpus(train_records, ex, cfg, stats)
    t2 = time.time()
    V = np.asarray(cand.votes, dtype=np.int8).reshape(-1, len(DEFAULT_LFS))
    probs = model.predict_proba(V, cand.article_ids) if len(V) else np.zeros((0, len(LABELS)))
    # LF coverage on the corpus itself: how often each rule fires on the selected sentences.
    report["lf"]["corpus_coverage"] = {
        lf.name: float((V[:, j] != ABSTAIN).mean()) if len(V) else 0.0 for j, lf in enumerate(DEFAULT_LFS)
    }
    rows = choose(cand, probs, cfg, stats)
    report["corpus"] = dict(sorted(stats.items()))
    report["timing_s"] = {
        "label_model_and_heldout_hashing": round(t1 - t0, 1),
        "scan": round(t2 - t1, 1),
        "total": round(time.time() - t0, 1),
    }
    report["config"] = to_dict(cfg)
    return rows, report


# --- output ---------------------------------------------------------------------------------------------


def default_out_dir() -> Path:
    from dangtopic.models.encoder import cache_dir

    return cache_dir() / "weak_labels"


def save_dataset(rows: list[dict], out_dir: Path) -> None:
    """Save rows as a HF `datasets` folder (written to a temporary folder, then moved into place)."""
    from datasets import Dataset, Features, Sequence, Value

    features = Features(
        {
            "id": Value("string"),
            "article_id": Value("string"),
            "text": Value("string"),
            "labels": Sequence(Value("string")),
            "probs": Sequence(Value("float32")),
            "kind": Value("string"),
            "lfs": Sequence(Value("string")),
            "source": Value("string"),
        }
    )
    ds = (
        Dataset.from_list(rows, features=features)
        if rows
        else Dataset.from_dict({k: [] for k in features}, features=features)
    )
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    ds.save_to_disk(str(tmp))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def format_report(report: dict) -> str:
    """Human-readable report: corpus counts, LF table, weak-label P/R/F1 on dev, dataset sizes."""
    lines = ["# Weak labels for the sentence topic tagger", ""]
    c = report.get("corpus", {})
    lines.append("## Corpus (VNDS train)")
    for k, v in c.items():
        if k.startswith(("articles", "sentences")):
            lines.append(f"  {k:<40}{v:>10}")
    lines += [
        "",
        "## Labelling functions (coverage = share of sentences where it fires; acc = vote right when it fires)",
    ]
    parts = [p for p in ("train", "dev", "extra", "seeds") if p in report["lf"]]
    head = f"  {'LF':<28}{'label':<14}{'±':<3}" + "".join(f"{p + ' cov/acc':>20}" for p in parts)
    if "corpus_coverage" in report["lf"]:
        head += f"{'VNDS cov':>10}"
    lines.append(head)
    est = {e["name"]: e for e in report["label_model"]["lfs"]}
    for j, row in enumerate(report["lf"]["train"]):
        name = row["lf"]
        cells = ""
        for p in parts:
            r = report["lf"][p][j]
            acc = "   -" if r["fires"] == 0 else f"{r['accuracy']:.2f}"
            cells += f"{r['coverage'] * 100:>9.1f}% {acc:>4} n={r['fires']:<4}"
        line = f"  {name:<28}{row['label']:<14}{row['polarity']:<3}{cells}"
        if "corpus_coverage" in report["lf"]:
            line += f"{report['lf']['corpus_coverage'][name] * 100:>9.2f}%"
        lines.append(line + f"   w={est[name]['weight']:.2f}")
    lines += ["", "  label-model residual P(label | no positive LF fires), by article context cold/warm/hot:"]
    for lab, r in report["label_model"]["residual_context"].items():
        lines.append(f"    {lab:<14}" + " / ".join(f"{r[b]:.3f}" for b in ("cold", "warm", "hot")))
    for name, ev in report.get("eval", {}).items():
        lines += ["", f"## Weak labels vs hand labels: {name}"]
        lines.append(
            f"  {'system':<22}"
            + "".join(f"{lab[:13]:>16}" for lab in LABELS)
            + f"{'micro-F1':>10}{'macro-F1':>10}"
        )
        for sysname in [k for k in ev if k != "confident_negative_precision"]:
            rep = ev[sysname]
            cells = "".join(
                f"{rep[lab]['precision']:.2f}/{rep[lab]['recall']:.2f}/{rep[lab]['f1']:.2f}".rjust(16)
                for lab in LABELS
            )
            lines.append(f"  {sysname:<22}{cells}{rep['micro_f1']:>10.3f}{rep['macro_f1']:>10.3f}")
        lines.append(
            "  (cells: precision/recall/F1; support "
            + ", ".join(f"{lab} {ev['weak@0.5'][lab]['support']}" for lab in LABELS)
            + ")"
        )
        cn = ev["confident_negative_precision"]
        lines.append(
            "  confident-negative precision: "
            + ", ".join(f"{lab} {v['precision']:.3f} (n={v['n']})" for lab, v in cn.items())
        )
    if c:
        lines += ["", "## Weak dataset"]
        for k, v in c.items():
            if k.startswith(("confident", "rows")):
                lines.append(f"  {k:<40}{v:>10}")
        lines.append("  kept positives by the first positive LF that fired:")
        for k, v in c.items():
            if k.startswith("positives_by_lf/"):
                lines.append(f"    {k.split('/', 1)[1]:<46}{v:>8}")
    if "timing_s" in report:
        lines += ["", "## Timing (s): " + ", ".join(f"{k} {v}" for k, v in report["timing_s"].items())]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="YAML config (default: configs/weak_labels.yaml)"
    )
    parser.add_argument(
        "--out", help="output folder of the datasets dataset (default: $DANGTOPIC_CACHE/weak_labels)"
    )
    parser.add_argument("--limit", type=int, help="scan only the first N VNDS train articles")
    parser.add_argument("--report-txt", help="also write the text report to this file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config option (repeatable), e.g. --set pos_threshold=0.85",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        overrides = dict(parse_override(s) for s in args.set)
        if args.limit is not None:
            overrides["limit"] = args.limit
        if args.out:
            overrides["out_dir"] = args.out
        if args.report_txt:
            overrides["report_txt"] = args.report_txt
        cfg = load_config(WeakLabelsConfig, args.config, overrides)
    except (ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out_dir = Path(cfg.out_dir).expanduser().resolve() if cfg.out_dir else default_out_dir()
    if out_dir == REPO_ROOT or REPO_ROOT in out_dir.parents:
        print(
            f"error: out_dir {out_dir} is inside the repository; datasets never go in the repo",
            file=sys.stderr,
        )
        return 2
    hand = load_hand_data(cfg)
    heldout = (d for split in cfg.heldout_splits for d in iter_vnds_records(split, cfg.vnds_dir))
    rows, report = build_weak_labels(iter_vnds_records("train", cfg.vnds_dir, cfg.limit), heldout, hand, cfg)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    save_dataset(rows, out_dir)
    report["out_dir"] = str(out_dir)
    (out_dir / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1, default=float), encoding="utf-8"
    )
    text = format_report(report) + f"\nSaved {len(rows)} rows to {out_dir}\n"
    print(text)
    if cfg.report_txt:
        Path(cfg.report_txt).expanduser().write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    ap = argparse.ArgumentParser(prog="dangtopic build-weak-labels")
    add_arguments(ap)
    raise SystemExit(run(ap.parse_args()))
