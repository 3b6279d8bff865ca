"""Reader for the VNDS (VietNews) corpus: word-segmented JSONL.gz, detokenised on the fly."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from dangtopic.data.paths import shared_path
from dangtopic.data.text import SENTENCE_END, detokenize_vnds

SPLITS = ("train", "val", "test")
# In VNDS a sentence boundary is a standalone terminator token followed by a space.
_ABSTRACT_SPLIT = re.compile(rf"(?<= [{re.escape(SENTENCE_END)}]) (?=\S)")


@dataclass
class VndsArticle:
    """One VNDS article, detokenised. `sentences` are the body sentences, paragraphs flattened."""

    id: str
    title: str
    abstract: str
    abstract_sentences: list[str]
    sentences: list[str]

    @property
    def labelled_sentences(self) -> list[str]:
        """Sentences in the order the hand labels index them: title, abstract, body (`id#k`)."""
        return [self.title, *self.abstract_sentences, *self.sentences]


def default_vnds_dir() -> Path:
    """`$DANGTOPIC_VNDS_DIR`, else `../shared/data/vnds` beside the checkout or the working directory."""
    return Path(os.environ.get("DANGTOPIC_VNDS_DIR") or shared_path("data", "vnds"))


def split_vnds_abstract(abstract: str) -> list[str]:
    """Split a word-segmented VNDS abstract into detokenised sentences."""
    return [detokenize_vnds(p) for p in _ABSTRACT_SPLIT.split(abstract.strip()) if p.strip()]


def parse_vnds_record(d: dict) -> VndsArticle:
    """Turn one raw VNDS JSON object into a detokenised `VndsArticle`."""
    body = [detokenize_vnds(s) for para in d.get("paragraphs", []) for s in para if s.strip()]
    return VndsArticle(
        id=d["id"],
        title=detokenize_vnds(d.get("title", "")),
        abstract=detokenize_vnds(d.get("abstract", "")),
        abstract_sentences=split_vnds_abstract(d.get("abstract", "")),
        sentences=body,
    )


def _line_id(line: str) -> str | None:
    """The `id` of a raw VNDS line without parsing the whole JSON (ids come first in this corpus)."""
    end = line.find('"', 8) if line.startswith('{"id": "') else -1
    return line[8:end] if end > 0 else None


def iter_vnds_lines(split: str, root: str | Path | None = None, limit: int | None = None) -> Iterator[str]:
    """Raw non-blank JSON lines of one VNDS split; `limit` counts the first lines of the file."""
    if split not in SPLITS:
        raise ValueError(f"unknown VNDS split {split!r}; expected one of {SPLITS}")
    path = Path(root) if root else default_vnds_dir()
    path = path / f"vnds_{split}.jsonl.gz" if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(f"VNDS file not found: {path} (set DANGTOPIC_VNDS_DIR)")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        yield from (line for line in islice(f, None if limit is None else max(limit, 0)) if line.strip())


def iter_vnds(
    split: str, root: str | Path | None = None, limit: int | None = None, ids: set[str] | None = None
) -> Iterator[VndsArticle]:
    """Stream detokenised articles of one VNDS split (`train`, `val`, `test`); `ids` keeps only those."""
    for line in iter_vnds_lines(split, root, limit):
        if ids is not None and (quick := _line_id(line)) is not None and quick not in ids:
            continue  # skipped without parsing the JSON
        record = json.loads(line)
        if ids is None or record.get("id") in ids:
            yield parse_vnds_record(record)
