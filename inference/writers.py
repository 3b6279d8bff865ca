"""Streaming writers for prediction records (JSONL, CSV, HTML, Parquet) and JSONL resume support.

A record is a result (`ArticleResult.to_dict()`) or an error record `{"id", "source", "title", "error"}`.
The JSONL, CSV and HTML writers flush after each record, so a crash loses at most the record being
written (a half-written JSONL line is cut by `repair_jsonl`).
"""

from __future__ import annotations

import csv
import errno
import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dangtopic import LABELS

OUTPUT_FORMATS = (".jsonl", ".csv", ".html", ".parquet")
_FORMATS = {**{f: f for f in OUTPUT_FORMATS}, ".ndjson": ".jsonl", ".htm": ".html"}
# One row per article in tables (Parquet outputs, the batch predictor's output): a few columns to filter
# on, and the whole record as JSON text, lossless whatever the record holds.
RESULT_COLUMNS = ("id", "source", "title", "error", "topics", "summary", "record")


def output_format(path: str | Path) -> str:
    """The writer a path asks for, by extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"{path}: unknown output format {suffix!r}; use .jsonl, .csv, .html or .parquet")
    return _FORMATS[suffix]


def is_error(record: dict[str, Any]) -> bool:
    return bool(record.get("error"))


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _all(values: Any, kind: type) -> bool:
    return all(isinstance(v, kind) for v in values)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and _all(v, str)


def record_problem(record: Any) -> str | None:
    """Why `record` is not a prediction record as `predict` writes it, or None when it is one."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if not isinstance(record.get("id"), str | int):
        return "no 'id'"
    if "error" in record and "sentences" not in record:
        return None if isinstance(record["error"], str) and record["error"] else "'error' is not a message"
    sentences = record.get("sentences")
    if not isinstance(sentences, list):
        return "no 'sentences' list"
    for i, s in enumerate(sentences):
        if not isinstance(s, dict) or not isinstance(s.get("text"), str):
            return f"sentence {i} has no text"
        if not isinstance(s.get("index", 0), int) or not _str_list(s.get("labels", [])):
            return f"sentence {i}: 'index' is not a number or 'labels' not a list of names"
        scores = s.get("scores", {})
        if not isinstance(scores, dict) or not all(_number(v) for v in scores.values()):
            return f"sentence {i}: 'scores' are not finite numbers"
    summary = record.get("summary") or {}
    if not isinstance(summary, dict) or not _all(summary.get("sentence_indices", []), int):
        return "'summary' is not an object with sentence indices"
    counts = record.get("topic_counts") or {}
    if not isinstance(counts, dict) or not _all(counts.values(), int):
        return "'topic_counts' are not counts"
    topic_summaries = record.get("topic_summaries") or {}
    if not isinstance(topic_summaries, dict) or not _all(topic_summaries.values(), dict):
        return "'topic_summaries' is not an object of summaries"
    for key in ("removed", "warnings"):
        if not _str_list(record.get(key) or []):
            return f"'{key}' is not a list of strings"
    if not isinstance(record.get("meta") or {}, dict):
        return "'meta' is not an object"
    return None


def record_labels(record: dict[str, Any], default: Sequence[str] = LABELS) -> list[str]:
    """Label names of a result record, in the tagger's order (from its topic counts or scores)."""
    if record.get("topic_counts"):
        return list(record["topic_counts"])
    for s in record.get("sentences", []):
        if s.get("scores"):
            return list(s["scores"])
    return list(default)


class TextWriter:
    """A text output written record by record; `close()` syncs it to disk. Also a context manager."""

    def __init__(self, path: str | Path, append: bool = False, encoding: str = "utf-8", newline: str = "\n"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a" if append else "w", encoding=encoding, newline=newline)

    def close(self) -> None:
        if self._f.closed:
            return
        try:
            self._f.flush()
            try:
                os.fsync(self._f.fileno())
            except OSError as e:
                if e.errno != errno.EINVAL:  # EINVAL: a device such as /dev/null, nothing to sync
                    raise
        finally:
            self._f.close()  # the descriptor is released even when the disk is full

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonlWriter(TextWriter):
    """One JSON object per line, flushed per record."""

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()


class CsvWriter(TextWriter):
    """One row per sentence (id, index, text, labels, in_summary, a score per label); one per error record."""

    def __init__(self, path: str | Path, labels: Sequence[str] = LABELS):
        # utf-8-sig so Excel, which analysts open these in, detects the encoding of Vietnamese text.
        super().__init__(path, encoding="utf-8-sig", newline="")
        self.labels = list(labels)
        self._w = csv.writer(self._f)
        header = ["id", "source", "sentence_index", "text", "labels", "in_summary"]
        self._w.writerow(header + [f"score_{lab}" for lab in self.labels] + ["error"])
        self._f.flush()

    def write(self, record: dict[str, Any]) -> None:
        rid, source = record.get("id"), record.get("source") or ""
        if is_error(record):
            self._w.writerow([rid, source, "", "", "", ""] + [""] * len(self.labels) + [record["error"]])
        else:
            chosen = set((record.get("summary") or {}).get("sentence_indices", []))
            for s in record.get("sentences", []):
                scores = s.get("scores", {})
                cells = [s["index"], s["text"], ";".join(s.get("labels", [])), int(s["index"] in chosen)]
                score_cells = [f"{scores[lab]:.4f}" if lab in scores else "" for lab in self.labels]
                self._w.writerow([rid, source, *cells, *score_cells, ""])
        self._f.flush()


def result_row(record: dict[str, Any]) -> dict[str, Any]:
    """A prediction record as one table row of `RESULT_COLUMNS`; `json.loads(row["record"])` gives it back."""
    counts = record.get("topic_counts") or {}
    return {
        "id": str(record.get("id")),
        "source": record.get("source"),
        "title": record.get("title"),
        "error": record.get("error") or None,
        "topics": [lab for lab, n in counts.items() if n],
        "summary": (record.get("summary") or {}).get("text"),
        "record": json.dumps(record, ensure_ascii=False),
    }


def result_schema():
    """The pyarrow schema of `result_row` tables (pyarrow is imported here, only when a table is made)."""
    import pyarrow as pa

    return pa.schema([(c, pa.list_(pa.string()) if c == "topics" else pa.string()) for c in RESULT_COLUMNS])


class ParquetWriter:
    """One row per article (`RESULT_COLUMNS`), in row groups of `rows_per_group` records.

    Readable only once closed: `--resume` rebuilds it from the JSONL output."""

    def __init__(self, path: str | Path, rows_per_group: int = 256):
        from dangtopic.data.readers import require_pyarrow

        require_pyarrow("writing Parquet")
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pa, self._rows, self._per_group = pa, [], rows_per_group
        self._w = pq.ParquetWriter(self.path, result_schema())

    def write(self, record: dict[str, Any]) -> None:
        self._rows.append(result_row(record))
        if len(self._rows) >= self._per_group:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._w.write_table(self._pa.Table.from_pylist(self._rows, schema=self._w.schema))
            self._rows = []

    def close(self) -> None:
        if self._w is None:
            return
        try:
            self._flush()
        finally:
            self._w.close()
            self._w = None


def open_writer(path: str | Path, labels: Sequence[str] = LABELS, append: bool = False, **html: Any):
    """The writer for `path`'s extension; `append` is for JSONL, `html` (title, max_articles) for HTML."""
    fmt = output_format(path)
    if fmt == ".jsonl":
        return JsonlWriter(path, append=append)
    if fmt == ".csv":
        return CsvWriter(path, labels=labels)
    if fmt == ".parquet":
        return ParquetWriter(path)
    from dangtopic.inference.report import HtmlReportWriter

    return HtmlReportWriter(path, labels=labels, **html)


# ---------------------------------------------------------------------- reading / resuming


def iter_jsonl(path: str | Path, skip_bad_last: bool = True) -> Iterator[dict[str, Any]]:
    """Stream records from a predictions JSONL; an unparsable line raises, except a truncated last one."""
    with open(path, encoding="utf-8") as f:
        pending: tuple[int, str] | None = None
        for lineno, line in enumerate(f, 1):
            if pending is not None:
                raise ValueError(f"{path}:{pending[0]}: malformed JSON line: {pending[1][:80]!r}")
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                pending = (lineno, line)
        if pending is not None and not skip_bad_last:
            raise ValueError(f"{path}:{pending[0]}: truncated last line")


@dataclass
class ResumeState:
    """What an existing predictions JSONL already holds."""

    done: Counter = field(default_factory=Counter)
    records: int = 0
    failed: int = 0
    sentences: int = 0
    repaired_bytes: int = 0


def repair_jsonl(path: str | Path) -> int:
    """Cut a crash-truncated (unterminated or unparsable) last line; returns the number of bytes removed."""
    p = Path(path)
    size = p.stat().st_size if p.exists() else 0
    if not size:
        return 0
    with open(p, "rb+") as f:
        block = 1 << 16
        while True:  # read the tail in growing blocks until it holds the whole last line
            start = max(0, size - block)
            f.seek(start)
            tail = f.read()
            nl = tail.rfind(b"\n", 0, len(tail) - 1)  # the newline before the last line, if in the tail
            if nl >= 0 or start == 0:
                break
            block *= 4
        last = tail[nl + 1 :]
        if last.endswith(b"\n"):
            try:
                json.loads(last.decode("utf-8"))
                return 0
            except (UnicodeDecodeError, json.JSONDecodeError):
                if not last.strip():
                    return 0
        f.truncate(start + nl + 1)
        return size - (start + nl + 1)


def scan_for_resume(path: str | Path) -> ResumeState:
    """Repair the file's tail, then count the ids (with multiplicity) and outcomes already written."""
    state = ResumeState()
    p = Path(path)
    if not p.exists():
        return state
    state.repaired_bytes = repair_jsonl(p)
    for n, rec in enumerate(iter_jsonl(p, skip_bad_last=False), 1):
        if problem := record_problem(rec):
            raise ValueError(f"{p}: record {n} is not a dangtopic prediction record ({problem})")
        state.done[str(rec["id"])] += 1
        state.records += 1
        failed = is_error(rec)
        state.failed += failed
        state.sentences += 0 if failed else len(rec.get("sentences", []))
    return state
