"""Hand-labelled sentences: loading, matching keys, and the article-level train/dev/test split.

Hand labels are JSONL records `{"id": "<article id>#<k>", "text", "labels", ["source"]}`; `k` is the
sentence index within the article (VNDS: title, abstract sentences, body). The labelled set is the
round-2 labels (two passes, adjudicated, judged in context) plus the v1 labels (one pass). The split is
by ARTICLE (near-duplicate articles that share sentences are kept together) and is committed as
`data/labels/split_v2.json` so every trainer and evaluator holds out the same articles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from dangtopic import LABELS
from dangtopic.data.paths import shared_path
from dangtopic.data.text import normalize_sentence

DEFAULT_FILE = "sentences_labelled.jsonl"
# The one labelled set: round-2 (double-annotated, context-aware) first, then v1 (one pass).
HAND_FILES = ("round2_labelled.jsonl", DEFAULT_FILE)
LABELS_DIR = Path(__file__).resolve().parent / "labels"
SPLIT_FILE = LABELS_DIR / "split_v2.json"
SEED_FILE = LABELS_DIR / "seeds_labelled.jsonl"  # evaluation only: never in training
PARTS = ("train", "dev", "test")

# Old-style tone placement ("hoà", "uỷ", "khoẻ") vs new style ("hòa", "ủy", "khỏe") when the
# diphthong ends the syllable; both occur in scraped news, so matching keys put the tone on the first vowel.
# A table over NFC characters: much faster than an NFD round trip on every sentence.
_TONE_TABLE = {
    f + unicodedata.normalize("NFC", s + tone): unicodedata.normalize("NFC", f + tone) + s
    for first, second in (("o", "a"), ("o", "e"), ("u", "y"))
    for f, s in ((first, second), (first.upper(), second), (first.upper(), second.upper()))
    for tone in "\u0300\u0301\u0303\u0309\u0323"
}
# VNDS joins syllables with "_", which must count as a boundary too.
_OLD_TONE = re.compile("(?:" + "|".join(sorted(_TONE_TABLE)) + r")(?![^\W_])")
_NON_WORD = re.compile(r"[\W_]+")


def canonical_tones(text: str) -> str:
    """Move the tone mark of a word-final `oa`/`oe`/`uy` to the first vowel (`uỷ` → `ủy`, `hoà` → `hòa`).

    Expects NFC text (what `normalize_text` produces)."""
    return _OLD_TONE.sub(lambda m: _TONE_TABLE[m.group(0)], text)


def _fold(text: str) -> str:
    return _NON_WORD.sub("", canonical_tones(unicodedata.normalize("NFC", text)).lower())


def sentence_key(text: str) -> int:
    """64-bit matching key of a sentence: case, spacing, punctuation, VNDS `_` and tone placement ignored."""
    return int.from_bytes(hashlib.blake2b(_fold(text).encode("utf-8"), digest_size=8).digest(), "big")


@dataclass
class LabelledSentence:
    """One hand-labelled sentence; `labels` are in `LABELS` order, `[]` means other."""

    id: str
    article_id: str
    index: int
    text: str
    labels: list[str]
    source: str = "shared-hand"


def default_labels_dir() -> Path:
    """`$DANGTOPIC_LABELS` (a folder or a file's folder), else `../shared/data/labels` beside the checkout."""
    p = Path(os.environ.get("DANGTOPIC_LABELS") or shared_path("data", "labels"))
    return p.parent if p.suffix == ".jsonl" else p


def default_labels_file() -> Path:
    env = os.environ.get("DANGTOPIC_LABELS")
    if env and Path(env).suffix == ".jsonl":
        return Path(env)
    return default_labels_dir() / DEFAULT_FILE


def parse_id(sid: str) -> tuple[str, int]:
    """`train/010416#3` → (`train/010416`, 3)."""
    art, sep, k = sid.rpartition("#")
    if not sep or not art or not k.isdigit():
        raise ValueError(f"sentence id must look like '<article>#<index>', got {sid!r}")
    return art, int(k)


def parse_record(d: dict, default_source: str = "shared-hand") -> LabelledSentence:
    """Validate one JSON record into a `LabelledSentence` (raises `ValueError` with the reason)."""
    if not isinstance(d, dict):
        raise ValueError(f"expected a JSON object, got {type(d).__name__}")
    if missing := [k for k in ("id", "text", "labels") if k not in d]:
        raise ValueError(f"missing field(s) {missing}")
    if not isinstance(d["text"], str) or not d["text"].strip():
        raise ValueError("empty text")
    labels = d["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must be a list of strings, got {labels!r}")
    if unknown := sorted(set(labels) - set(LABELS)):
        raise ValueError(f"unknown label(s) {unknown}; expected a subset of {list(LABELS)}")
    art, k = parse_id(str(d["id"]))
    return LabelledSentence(
        id=str(d["id"]),
        article_id=art,
        index=k,
        text=normalize_sentence(d["text"]),
        labels=[lab for lab in LABELS if lab in labels],
        source=str(d.get("source") or default_source),
    )


def load_labelled(path: str | Path | None = None, source: str = "shared-hand") -> list[LabelledSentence]:
    """Read a hand-label JSONL file (default: the shared `sentences_labelled.jsonl`).

    `source` is used for records without a `source` field. Any malformed record or duplicate id raises
    `ValueError` naming the file and line, so a bad label file never trains silently.
    """
    p = Path(path) if path else default_labels_file()
    if p.is_dir():
        p = p / DEFAULT_FILE
    if not p.exists():
        raise FileNotFoundError(f"hand-label file not found: {p} (set DANGTOPIC_LABELS)")
    seen: dict[str, LabelledSentence] = {}
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = parse_record(json.loads(line), source)
            except ValueError as e:  # a JSONDecodeError too
                raise ValueError(f"{p}:{lineno}: {e}") from e
            if item.id in seen:
                raise ValueError(f"{p}:{lineno}: duplicate sentence id {item.id!r}")
            seen[item.id] = item
    return list(seen.values())


def hand_label_files(paths: Sequence[str | Path] | None = None) -> list[Path]:
    """The hand-label files: `paths`, else round-2 + v1 in `default_labels_dir()`."""
    if paths:
        return [Path(p) for p in paths]
    return [default_labels_dir() / name for name in HAND_FILES]


def load_hand_labels(paths: Sequence[str | Path] | None = None) -> list[LabelledSentence]:
    """All hand-labelled sentences of `hand_label_files(paths)`; an id in two files raises `ValueError`."""
    items: list[LabelledSentence] = []
    seen: dict[str, Path] = {}
    for p in hand_label_files(paths):
        for it in load_labelled(p):
            if it.id in seen:
                raise ValueError(f"sentence {it.id!r} is in both {seen[it.id]} and {p}")
            seen[it.id] = p
            items.append(it)
    return items


@dataclass
class LabelledArticle:
    """An article as the annotators read it: its sentences in order, labels where a sentence has them.

    `labels[k]` is None for a context-only sentence (filled in from the corpus around the labelled
    ones of an excerpt); `sources[k]` is the label file's `source`, or None likewise.
    """

    id: str
    sentences: list[str]
    labels: list[list[str] | None]
    sources: list[str | None]

    @property
    def n_labelled(self) -> int:
        return sum(lab is not None for lab in self.labels)


def labelled_articles(
    items: Sequence[LabelledSentence], full_text: dict[str, list[str]] | None = None
) -> list[LabelledArticle]:
    """Group labelled sentences into articles in position order; fill gaps from `full_text`.

    `full_text` maps an article id to all its sentences in the labels' order (for VNDS:
    `VndsArticle.labelled_sentences`). Excerpts get back the sentences around and between their labelled
    ones (the context annotators read) as unlabelled sentences. Annotators sometimes split a sentence
    differently from the corpus, so gaps are located by anchoring on labelled sentences found in the
    corpus, not by index arithmetic alone.
    """
    by_art: dict[str, list[LabelledSentence]] = defaultdict(list)
    for it in items:
        by_art[it.article_id].append(it)
    out = []
    for aid, its in by_art.items():
        its = sorted(its, key=lambda it: it.index)
        corpus = (full_text or {}).get(aid) or []
        where: dict[int, int] = {}
        for j, text in enumerate(corpus):
            where.setdefault(sentence_key(text), j)
        folded = [_fold(text) for text in corpus]
        rows: list[tuple[str, list[str] | None, str | None]] = []  # (sentence, labels, source)
        prev_pos, prev_j = -1, -1
        for it in its:
            j = where.get(sentence_key(it.text))
            if j is not None and j <= prev_j:
                j = None  # a repeated sentence: its first occurrence is already behind us
            if j is None and it.index == prev_pos + 1:
                # one corpus sentence the annotators split in two: a piece of the current or next one
                piece = _fold(it.text)
                j = next(
                    (c for c in (prev_j, prev_j + 1) if 0 <= c < len(folded) and piece in folded[c]), None
                )
            gap = it.index - prev_pos - 1
            if gap > 0:
                hi = j if j is not None else prev_j + 1 + gap
                rows += [(s, None, None) for s in corpus[prev_j + 1 : hi]]  # context, unlabelled
                prev_j = max(prev_j, min(hi, len(corpus)) - 1)
            if j is not None:
                prev_j = j
            rows.append((it.text, list(it.labels), it.source))
            prev_pos = it.index
        if its[-1].source.endswith("excerpt"):
            rows += [(s, None, None) for s in corpus[prev_j + 1 :]]
        out.append(LabelledArticle(aid, *map(list, zip(*rows, strict=True))))
    return out


def vnds_full_text(article_ids: Iterable[str], vnds_dir: str | Path | None = None) -> dict[str, list[str]]:
    """`labelled_sentences` of the VNDS articles in `article_ids` (one pass over the needed splits)."""
    from dangtopic.data.vnds import SPLITS, iter_vnds

    wanted = set(article_ids)
    out: dict[str, list[str]] = {}
    for split in SPLITS:
        ids = {a for a in wanted if a.startswith(split + "/")}
        if not ids:
            continue
        for art in iter_vnds(split, vnds_dir, ids=ids):
            out[art.id] = [normalize_sentence(s) for s in art.labelled_sentences]
            if len(out) == len(wanted):
                break
    return out


def labels_to_vector(labels: Iterable[str]) -> list[int]:
    """Multi-hot vector in `LABELS` order; unknown labels raise `ValueError`."""
    labels = list(labels)
    if unknown := sorted(set(labels) - set(LABELS)):
        raise ValueError(f"unknown label(s) {unknown}")
    return [int(lab in labels) for lab in LABELS]


# --- article-level split -------------------------------------------------------------------------

# Sentences shorter than this (captions, "Ảnh: VGP") are shared by unrelated articles; they must not glue
# articles into one group.
_MIN_GROUP_CHARS = 40


def _hash01(*parts: object) -> float:
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def article_groups(items: Sequence[LabelledSentence]) -> list[list[str]]:
    """Articles grouped when they share a (long) sentence: republished stories must not straddle parts."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    owner: dict[int, str] = {}
    for it in items:
        parent.setdefault(it.article_id, it.article_id)
        if len(_NON_WORD.sub("", it.text)) < _MIN_GROUP_CHARS:
            continue
        a, b = find(owner.setdefault(sentence_key(it.text), it.article_id)), find(it.article_id)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = defaultdict(list)
    for art in parent:
        groups[find(art)].append(art)
    return sorted(sorted(g) for g in groups.values())


def split_articles(
    items: Sequence[LabelledSentence],
    dev_fraction: float = 0.15,
    test_fraction: float = 0.25,
    seed: int = 0,
    min_positives: int = 0,
) -> dict[str, list[str]]:
    """Article ids per part (`train`, `dev`, `test`), stratified so rare labels reach every part.

    Groups of articles are placed greedily, rarest label first and biggest group first: a group goes to
    the part that still lacks that label, else the one with the largest remaining deficit for it
    (targets = fraction × label total, and at least `min_positives` sentences of each label in dev and
    test, so thresholds and scores rest on enough positives). Label-free groups then fill the
    article-count deficits.
    Ties break on a hash of (seed, group), so the result is deterministic for a given seed.
    """
    if not (0 < dev_fraction < 1 and 0 < test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ValueError(f"bad fractions dev={dev_fraction} test={test_fraction}")
    frac = {"train": 1 - dev_fraction - test_fraction, "dev": dev_fraction, "test": test_fraction}
    groups = article_groups(items)
    by_art: dict[str, Counter] = defaultdict(Counter)
    for it in items:
        by_art[it.article_id].update(it.labels)
    g_counts = [sum((by_art[a] for a in g), Counter()) for g in groups]
    total = sum(g_counts, Counter())
    n_articles = sum(len(g) for g in groups)
    rarity = sorted((lab for lab in LABELS if total[lab]), key=lambda lab: (total[lab], lab))

    # the rank in `rarity` of each group's rarest label (len(rarity) for a label-free group)
    rank = [next((r for r, lab in enumerate(rarity) if c[lab]), len(rarity)) for c in g_counts]
    order = sorted(
        range(len(groups)),
        key=lambda i: (
            rank[i],
            -g_counts[i][rarity[rank[i]]] if rank[i] < len(rarity) else 0,
            -len(groups[i]),
            _hash01(seed, groups[i][0]),
        ),
    )
    # dev and test get at least min_positives of each label (at most a third of it); train the rest
    target: dict[str, dict[str, float]] = {p: {} for p in PARTS}
    for lab in rarity:
        for p in ("dev", "test"):
            target[p][lab] = max(frac[p] * total[lab], min(min_positives, total[lab] / 3))
        target["train"][lab] = total[lab] - target["dev"][lab] - target["test"][lab]
    have = {p: Counter() for p in PARTS}
    out: dict[str, list[str]] = {p: [] for p in PARTS}

    def score(i: int, p: str) -> tuple:
        art_deficit = (frac[p] * n_articles - len(out[p])) / (frac[p] * n_articles)
        tie = _hash01(seed, p, groups[i][0])
        if rank[i] == len(rarity):
            return (False, art_deficit, tie)
        lab = rarity[rank[i]]
        # relative deficits: an absolute one would always favour the big train part
        deficit = (target[p][lab] - have[p][lab]) / target[p][lab]
        return (have[p][lab] == 0, deficit + 0.25 * art_deficit, tie)

    for i in order:
        best = max(PARTS, key=partial(score, i))
        out[best].extend(groups[i])
        have[best].update(g_counts[i])
    return {p: sorted(out[p]) for p in PARTS}


def split_by_article(
    items: Sequence[LabelledSentence], dev_fraction: float = 0.15, test_fraction: float = 0.25, seed: int = 0
) -> tuple[list[LabelledSentence], list[LabelledSentence], list[LabelledSentence]]:
    """(train, dev, test) sentences; no article (or near-duplicate article group) is in two parts."""
    return apply_split(items, split_articles(items, dev_fraction, test_fraction, seed))


def apply_split(
    items: Sequence[LabelledSentence], split: dict
) -> tuple[list[LabelledSentence], list[LabelledSentence], list[LabelledSentence]]:
    """Partition sentences by a split dict (`{"train": [ids], "dev": [...], "test": [...]}`).

    A sentence whose article is in no part raises `ValueError`: evaluation must never guess."""
    part_of = {aid: p for p in PARTS for aid in split[p]}
    if missing := sorted({it.article_id for it in items if it.article_id not in part_of}):
        raise ValueError(f"{len(missing)} article(s) in no split part, e.g. {missing[:3]}")
    train, dev, test = ([it for it in items if part_of[it.article_id] == p] for p in PARTS)
    return train, dev, test


def split_summary(items: Sequence[LabelledSentence], split: dict) -> dict[str, dict]:
    """Articles, sentences and per-label sentence counts of each part."""
    out = {}
    for name, part in zip(PARTS, apply_split(items, split), strict=True):
        c = Counter(lab for it in part for lab in it.labels)
        out[name] = {"articles": len(split[name]), "sentences": len(part), **{lab: c[lab] for lab in LABELS}}
    return out


def make_split(
    items: Sequence[LabelledSentence],
    dev_fraction: float = 0.15,
    test_fraction: float = 0.25,
    seed: int = 0,
    source: str = ", ".join(HAND_FILES),
    min_positives: int = 0,
) -> dict:
    """The split as a JSON-ready dict (top-level `train`/`dev`/`test` lists plus provenance and counts)."""
    parts = split_articles(items, dev_fraction, test_fraction, seed, min_positives)
    train = round(1 - dev_fraction - test_fraction, 4)
    split = {
        "version": "v2",
        "source": source,
        "seed": seed,
        "min_positives": min_positives,
        "fractions": {"train": train, "dev": dev_fraction, "test": test_fraction},
        **parts,
    }
    split["counts"] = split_summary(items, split)
    return split


def load_split(path: str | Path | None = None) -> dict:
    """Read a split file (default: the committed `data/labels/split_v2.json`) and check it is disjoint."""
    p = Path(path) if path else SPLIT_FILE
    split = json.loads(Path(p).read_text(encoding="utf-8"))
    if missing := [part for part in PARTS if not isinstance(split.get(part), list)]:
        raise ValueError(f"{p}: missing part {missing[0]!r}")
    seen: dict[str, str] = {}
    for part in PARTS:
        for aid in split[part]:
            if aid in seen:
                raise ValueError(f"{p}: article {aid} is in both {seen[aid]} and {part}")
            seen[aid] = part
    return split


def main(argv: list[str] | None = None) -> int:
    """`python -m dangtopic.data.labels [--write]`: print (and optionally rewrite) split_v2.json."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--labels", nargs="*", help="hand-label JSONL files (default: shared round-2 + v1)")
    ap.add_argument("--out", default=str(SPLIT_FILE))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dev", type=float, default=0.15)
    ap.add_argument("--test", type=float, default=0.15)
    ap.add_argument("--min-positives", type=int, default=40)
    ap.add_argument("--write", action="store_true", help="write the split file (else only print it)")
    args = ap.parse_args(argv)
    items = load_hand_labels(args.labels)
    split = make_split(items, args.dev, args.test, args.seed, min_positives=args.min_positives)
    for part, c in split["counts"].items():
        print(part, json.dumps(c, ensure_ascii=False))
    if args.write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(split, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
