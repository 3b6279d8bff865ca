"""Streaming reader for batch input: .txt files, folders, globs, JSONL(.gz), CSV/TSV(.gz), JSON, Parquet.

Every input record yields exactly one `InputRecord`: either its text or an `error` saying why it
could not be read (empty, binary, undecodable, malformed JSON line, missing field, not Vietnamese).
A bad record never stops the stream, and large JSONL/CSV files are read one line at a time.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import glob
import gzip
import itertools
import json
import os
import re
import unicodedata
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dangtopic.data.text import is_vietnamese, vietnamese_stats

TEXT_SUFFIXES = (".txt", ".txt.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
JSON_SUFFIXES = (".json", ".json.gz")
PARQUET_SUFFIXES = (".parquet",)
FOLDER_SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES + JSON_SUFFIXES + PARQUET_SUFFIXES
_LONGEST_FIRST = sorted(FOLDER_SUFFIXES, key=len, reverse=True)
DEFAULT_MAX_BYTES = 20_000_000  # one article per .txt/.json file; larger is almost surely not an article
_GLOB_CHARS = re.compile(r"[*?\[]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Parquet and the Ray engine need pyarrow / ray, which only this extra installs.
DISTRIBUTED_INSTALL = "pip install 'dangtopic[distributed]'"


def require_pyarrow(what: str) -> None:
    """Raise ImportError saying `what` needs pyarrow and how to install it, when it is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs pyarrow: {DISTRIBUTED_INSTALL}") from None


@dataclass
class InputRecord:
    """One input article, or the reason it could not be read (`error`); `text` is None on error."""

    id: str
    source: str
    text: str | None = None
    title: str | None = None
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_row(self) -> dict[str, Any]:
        """Flat columns for a table (`meta` as JSON text, so every row has one schema); see `record_from_row`."""
        row = {k: getattr(self, k) for k in ("id", "source", "text", "title", "error")}
        return {**row, "meta": json.dumps(self.meta, ensure_ascii=False)}


class DecodeError(ValueError):
    """Bytes that are not readable text (binary, empty, or no encoding gives Vietnamese)."""


def scrub_surrogates(text: str) -> str:
    """`text` without lone surrogates, which no UTF-8 output can hold.

    A byte smuggled in by `surrogateescape` (a file name or CSV cell that is not UTF-8) becomes `\\xNN`,
    any other lone surrogate (a JSON `"\\ud800"` escape without its pair) U+FFFD.
    """
    return _SURROGATE.sub(
        lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}" if "\udc80" <= m[0] <= "\udcff" else "\ufffd", text
    )


def _scrub(obj: Any) -> Any:
    """`scrub_surrogates` through nested JSON values (keys too)."""
    if isinstance(obj, str):
        return scrub_surrogates(obj)
    if isinstance(obj, dict):
        return {_scrub(k): _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- legacy Vietnamese encodings

# TCVN3 (ABC, TCVN 5712:1993 VN3) bytes 0xA0-0xFF, as glibc's TCVN5712-1 table decodes them. VN3 fonts
# keep upper-case toned letters in separate ".VnTimeH" fonts, so those letters come out lower-case.
_TCVN3_HIGH = (
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"
    "éẹềểễếệìỉỄẾỒĩíịò"
    "Ổỏõóọồổỗốộờởỡớợù"
    "ỖủũúụừửữứựỳỷỹýỵỐ"
)
# 0x80-0x9F are Windows-1252 punctuation, as in Word documents.
_TCVN3_TABLE = dict(enumerate(bytes(range(0x80, 0xA0)).decode("cp1252", "replace") + _TCVN3_HIGH, 0x80))


def decode_tcvn3(data: bytes) -> str:
    """Decode TCVN3 (ABC) bytes."""
    return unicodedata.normalize("NFC", data.decode("latin-1").translate(_TCVN3_TABLE))


# VNI-Windows: a letter followed by a Windows-1252 character carrying its marks ("Ñaûng" = "Đảng").
_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
_CIRC, _BREVE = "\u0302", "\u0306"
_VNI_TONES = {"ø": _GRAVE, "ù": _ACUTE, "û": _HOOK, "õ": _TILDE, "ï": _DOT}
_VNI_CIRC = {"â": "", "à": _GRAVE, "á": _ACUTE, "å": _HOOK, "ã": _TILDE, "ä": _DOT}
_VNI_BREVE = {"ê": "", "è": _GRAVE, "é": _ACUTE, "ú": _HOOK, "ü": _TILDE, "ë": _DOT}
_VNI_SINGLE = {
    "ñ": "đ", "Ñ": "Đ", "ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư", "æ": "ỉ", "Æ": "Ỉ", "ó": "ĩ", "Ó": "Ĩ",
    "ò": "ị", "Ò": "Ị", "î": "ỵ", "Î": "Ỵ",
}  # fmt: skip


def vni_to_unicode(text: str) -> str:
    """Convert VNI-Windows text (bytes read as Windows-1252) to Unicode NFC."""
    out: list[str] = []
    for ch in text:
        low = ch.lower()
        base = out[-1].lower() if out else ""
        if low in _VNI_TONES and base in "aeiouyơư" and base:
            out.append(_VNI_TONES[low])
        elif low in _VNI_CIRC and base in "aeo" and base:
            out.append(_CIRC + _VNI_CIRC[low])
        elif low in _VNI_BREVE and base == "a":
            out.append(_BREVE + _VNI_BREVE[low])
        else:
            out.append(_VNI_SINGLE.get(ch, ch))
    return unicodedata.normalize("NFC", "".join(out))


def _decode_vni(data: bytes) -> str:
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return vni_to_unicode(text)


_LEGACY = (
    # Windows-1258 writes tones as separate combining marks; NFC composes them.
    ("cp1258", lambda data: unicodedata.normalize("NFC", data.decode("cp1258"))),
    ("tcvn3", decode_tcvn3),
    ("vni", _decode_vni),
)


def _best_legacy(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) of the legacy decoding that reads most like Vietnamese, if any does."""
    found = []
    for name, decode in _LEGACY:
        try:
            text = decode(data)
        except UnicodeDecodeError:
            continue
        if is_vietnamese(text):
            _, marked, common = vietnamese_stats(text)
            found.append((marked + common, text, name))
    best = max(found, key=lambda c: c[0], default=None)  # the first of equals, as listed
    return best[1:] if best else None


# --------------------------------------------------------------------------- bytes -> text

_MAGIC = (
    (b"%PDF", "PDF"), (b"PK\x03\x04", "ZIP/DOCX/XLSX"), (b"\x1f\x8b", "gzip"), (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"\xd0\xcf\x11\xe0", "MS Office (OLE)"), (b"\x7fELF", "ELF"),
    (b"Rar!", "RAR"), (b"7z\xbc\xaf", "7z"), (b"SQLite format 3", "SQLite"), (b"ID3", "MP3"),
    (b"RIFF", "RIFF media"), (b"BZh", "bzip2"), (b"\xfd7zXZ", "xz"),
)  # fmt: skip
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"),
)  # fmt: skip


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without BOM has NULs in every other byte (the high byte of ASCII letters)."""
    if len(head) < 2:
        return None
    z_even, z_odd = (half.count(0) / len(half) for half in (head[0::2], head[1::2]))
    if z_odd > 0.3 and z_even < 0.02:
        return "utf-16-le"
    if z_even > 0.3 and z_odd < 0.02:
        return "utf-16-be"
    return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes to (text, encoding).

    Tries the BOM, UTF-8, UTF-16 without BOM, then the legacy Vietnamese encodings (Windows-1258,
    TCVN3/ABC, VNI-Windows), keeping whichever reads as Vietnamese. Raises `DecodeError` with the reason.
    """
    if not data.strip():
        raise DecodeError("empty file")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                msg = f"undecodable: starts with a {enc} byte-order mark but is not {enc} ({e.reason})"
                raise DecodeError(msg) from e
    head = data[:8192]
    kind = next((k for m, k in _MAGIC if head.startswith(m)), "MP4/MOV" if head[4:8] == b"ftyp" else None)
    if kind:
        raise DecodeError(f"binary file ({kind}), not text")
    if b"\x00" in head:
        enc = _utf16_without_bom(head)
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode(enc) if enc else ""
            controls = sum(1 for c in text[:4096] if c < " " and c not in "\t\n\r\f\v")
            if enc and text and controls <= 0.01 * len(text[:4096]):
                return text, enc
        raise DecodeError("binary file (contains NUL bytes), not text")
    controls = sum(1 for b in head if b < 0x20 and b not in b"\t\n\r\f\v\x1b")
    if controls > 0.05 * len(head):
        raise DecodeError("binary file (control bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if found := _best_legacy(data):
            return found
        raise DecodeError(
            "undecodable: not UTF-8/UTF-16, and it does not read as Vietnamese in Windows-1258, TCVN3 (ABC) "
            "or VNI-Windows either"
        ) from None
    if not is_vietnamese(text) and re.search(r"[\u00c0-\u00ff]", text):
        # VNI/TCVN3 text pasted into a UTF-8 file shows as Latin-1 letters ("Ñaûng"): undo that.
        with contextlib.suppress(UnicodeEncodeError):
            if found := _best_legacy(text.encode("cp1252")):
                return found[0], f"{found[1]} (in UTF-8 text)"
    return text, "utf-8"


# --------------------------------------------------------------------------- records


class _FingerprintSet:
    """A set of strings kept as 64-bit hashes in one open-addressing array: ~16 bytes an entry instead
    of ~100 for a `set` of `str`, so the ids of a 10M-record stream take ~160 MB, not ~1 GB.

    Two different strings share a hash with probability ~n²/2⁶⁵ (3e-8 for a million); the second is then
    taken as seen, which costs it a `~k` suffix in `_Ids.claim`: ids stay unique and no record is lost.
    """

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._n = 0

    @staticmethod
    def _key(s: str) -> int:
        return (hash(s) & 0xFFFFFFFFFFFFFFFF) or 1  # 0 marks an empty slot

    def _slot(self, key: int) -> int:
        slots, mask = self._slots, len(self._slots) - 1
        i = key & mask
        while slots[i] and slots[i] != key:
            i = (i + 1) & mask
        return i

    def __contains__(self, s: object) -> bool:
        return isinstance(s, str) and self._slots[self._slot(self._key(s))] != 0

    def __len__(self) -> int:
        return self._n

    def add(self, s: str) -> None:
        key = self._key(s)
        i = self._slot(key)
        if self._slots[i]:
            return
        self._slots[i] = key
        self._n += 1
        if 2 * self._n > len(self._slots):  # keep probes short: at most half full
            old, self._slots = self._slots, array("Q", bytes(16 * len(self._slots)))
            for k in filter(None, old):  # the filled slots
                self._slots[self._slot(k)] = k


class _Ids(_FingerprintSet):
    """Hands out unique ids: the preferred one, else the fallback, else `id~2`, `id~3`...

    Every id handed out is kept (uniqueness needs them all), compactly: as a `_FingerprintSet`."""

    def claim(self, preferred: str, fallback: str | None = None) -> str:
        # Scrubbed before the uniqueness check: two ids that differ only in bad bytes stay distinct.
        preferred = scrub_surrogates(preferred)
        fallback = scrub_surrogates(fallback) if fallback else fallback
        numbered = (f"{fallback or preferred}~{k}" for k in itertools.count(2))
        cand = next(c for c in itertools.chain((preferred, fallback), numbered) if c and c not in self)
        self.add(cand)
        return cand


@dataclass
class _Fields:
    text: str
    id: str
    title: str
    check_language: bool
    max_bytes: int


def _language_error(text: str) -> str | None:
    if is_vietnamese(text):
        return None
    n, marked, common = vietnamese_stats(text)
    return (
        f"not Vietnamese ({marked:.0%} of {n} words carry Vietnamese letters, {common:.0%} are frequent "
        "Vietnamese syllables; text typed without diacritics is not supported)"
    )


def _error(ids: _Ids, rid: str, source: str, msg: str, **meta: Any) -> InputRecord:
    return InputRecord(id=ids.claim(rid), source=source, error=msg, meta=meta)


class _GivenIds(_Ids):
    """Ids taken as given: a batch of table rows cannot see the other batches, so clashes are not renamed."""

    def claim(self, preferred: str, fallback: str | None = None) -> str:
        return scrub_surrogates(preferred)


_AS_GIVEN = _GivenIds()  # stateless: one for every row


def _jsonable(v: Any) -> Any:
    """`v` as a JSON value: dates as ISO text, numpy scalars and arrays as numbers and lists, bytes as text.

    Table columns (Parquet, pandas) hold types that the JSON writers of the outputs cannot."""
    if v is None or isinstance(v, str | bool | int | float):
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if hasattr(v, "tolist"):  # numpy scalar or array
        return _jsonable(v.tolist())
    if hasattr(v, "isoformat"):  # date, time, datetime, pandas Timestamp
        return v.isoformat()
    return str(v)  # Decimal, UUID, ...


def _from_mapping(obj: Any, default_id: str, source: str, f: _Fields, ids: _Ids, **meta: Any) -> InputRecord:
    if not isinstance(obj, dict):
        msg = f"expected an object with a {f.text!r} field, got {type(obj).__name__}"
        return _error(ids, default_id, source, msg, **meta)
    raw_id = obj.get(f.id)
    rid = ("" if raw_id is None else str(raw_id).strip()) or default_id
    text = obj.get(f.text)
    if isinstance(text, list) and all(isinstance(p, str) for p in text):
        text = "\n".join(text)  # a list of paragraphs
    if f.text not in obj:
        msg = f"missing text field {f.text!r} (fields: {', '.join(list(map(str, obj))[:12]) or 'none'})"
    elif not isinstance(text, str):
        msg = f"text field {f.text!r} is {type(text).__name__}, expected a string"
    elif not text.strip():
        msg = "empty text"
    elif m := _SURROGATE.search(text):
        msg = (
            f"undecodable: text is not valid Unicode (character {m.start()} is a lone surrogate: a byte that "
            "is not UTF-8, or a JSON \\ud800-style escape without its pair)"
        )
    else:
        msg = _language_error(text) if f.check_language else None
    if msg:
        return _error(ids, rid, source, msg, **meta)
    title = obj.get(f.title)
    title = title.strip() if isinstance(title, str) and title.strip() else None
    extra = {k: v for k, v in obj.items() if k not in (f.text, f.title, f.id)}
    uid = ids.claim(rid)
    if uid != rid:
        extra["duplicate_id"] = rid
    return InputRecord(id=uid, source=source, text=text, title=title, meta={**meta, **extra})


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _read_limited(path: Path, max_bytes: int) -> bytes:
    with _open_binary(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DecodeError(f"file too large (over {max_bytes:,} bytes) for one article; use JSONL for many")
    return data


def _text_record(path: Path, folder: Path | None, f: _Fields, ids: _Ids) -> InputRecord:
    """The record of a .txt(.gz) file: its stem as id, or its path below `folder` when that stem is taken."""
    stem = _stem(path)
    rel = path.relative_to(folder) if folder else None
    fallback = rel.with_name(stem).as_posix() if rel and len(rel.parts) > 1 else None
    rid = stem if scrub_surrogates(stem) not in ids or not fallback else fallback
    src = str(path)
    try:
        text, encoding = decode_bytes(_read_limited(path, f.max_bytes))
    except DecodeError as e:
        return _error(ids, rid, src, str(e))
    if not text.strip():
        return _error(ids, rid, src, "empty file")
    if f.check_language and (msg := _language_error(text)):
        return _error(ids, rid, src, msg, encoding=encoding)
    meta = {} if encoding in ("utf-8", "utf-8-sig") else {"encoding": encoding}
    return InputRecord(id=ids.claim(rid), source=src, text=text, meta=meta)


def _iter_jsonl(path: Path, f: _Fields, ids: _Ids) -> Iterator[InputRecord]:
    name = path.name
    lineno = records = 0
    try:
        with _open_binary(path) as fh:
            for lineno, raw in enumerate(fh, 1):  # one line in memory at a time
                src, default_id = f"{path}:{lineno}", f"{name}:{lineno}"
                try:
                    line = raw.decode("utf-8")
                    line = line.lstrip("\ufeff") if lineno == 1 else line
                    if not line.strip():
                        continue
                    obj, msg = json.loads(line), None
                except UnicodeDecodeError:
                    msg = f"line {lineno}: not valid UTF-8"
                except json.JSONDecodeError as e:
                    msg = f"line {lineno}: malformed JSON ({e.msg} at column {e.colno})"
                records += 1
                if msg:
                    yield _error(ids, default_id, src, msg, line=lineno)
                else:
                    yield _from_mapping(obj, default_id, src, f, ids, line=lineno)
    except (OSError, EOFError, zlib.error) as e:
        yield _error(ids, f"{name}:{lineno + 1}", str(path), f"unreadable after line {lineno}: {e}")
        return
    if records == 0:
        yield _error(ids, name, str(path), "empty file (no JSON lines)")


def _open_csv(path: Path):
    """(text file, csv.reader) of a CSV/TSV(.gz); bytes that are not UTF-8 are kept as surrogates."""
    csv.field_size_limit(2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1)  # no limit: the largest C long
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    fh = opener(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="")
    return fh, csv.reader(fh, delimiter="\t" if ".tsv" in path.name.lower() else ",")


def input_columns(path: str | Path) -> list[str] | None:
    """The column names of a CSV/TSV header or a Parquet schema; None when it has none or is unreadable."""
    if Path(path).name.lower().endswith(PARQUET_SUFFIXES):
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except Exception:  # no pyarrow, or not Parquet: each record says why when it is read
            return None
    try:
        fh, reader = _open_csv(Path(path))
        with fh:
            header = next(reader, None)
    except (OSError, EOFError, zlib.error, csv.Error):
        return None
    return [scrub_surrogates(h.strip()) for h in header] if header else None


def _iter_csv(path: Path, f: _Fields, ids: _Ids) -> Iterator[InputRecord]:
    name = path.name
    try:
        fh, reader = _open_csv(path)
        with fh:
            try:
                header = [h.strip() for h in next(reader, [])]
            except csv.Error as e:
                yield _error(ids, name, str(path), f"malformed CSV header ({e})")
                return
            if not any(header):
                yield _error(ids, name, str(path), "empty file (no CSV header)")
                return
            missing = None
            if f.text not in header:
                # Every row is an input record that fails, so the counts say how many articles were lost.
                missing = (
                    f"CSV has no column {f.text!r} (columns: {', '.join(header[:12])}); see --text-field"
                )
            rows = 0
            while True:
                start = reader.line_num + 1  # a quoted cell may span lines: report the first
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    # One bad row is one error record; the rows after it are still read.
                    msg = f"line {start}: malformed CSV ({e})"
                    yield _error(ids, f"{name}:{start}", f"{path}:{start}", msg, line=start)
                    if reader.line_num < start:  # the reader cannot move on
                        break
                    continue
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                src, default_id = f"{path}:{start}", f"{name}:{start}"
                cells = dict(zip(header, row, strict=False))
                if missing:
                    yield _error(ids, cells.get(f.id, "").strip() or default_id, src, missing, line=start)
                elif len(row) != len(header):
                    msg = f"line {start}: {len(row)} cells but the header has {len(header)} (unquoted delimiter?)"
                    yield _error(ids, default_id, src, msg, line=start)
                else:
                    yield _from_mapping(cells, default_id, src, f, ids, line=start)
            if rows == 0:
                yield _error(ids, name, str(path), "no data rows under the CSV header")
    except (OSError, EOFError, zlib.error) as e:
        yield _error(ids, name, str(path), f"unreadable: {e}")


def _iter_json(path: Path, f: _Fields, ids: _Ids) -> Iterator[InputRecord]:
    stem, src = path.stem, str(path)
    try:
        obj = json.loads(decode_bytes(_read_limited(path, f.max_bytes))[0])
    except DecodeError as e:
        yield _error(ids, stem, src, str(e))
        return
    except json.JSONDecodeError as e:
        yield _error(ids, stem, src, f"malformed JSON ({e.msg} at line {e.lineno}, column {e.colno})")
        return
    if isinstance(obj, dict) and f.text not in obj:  # an object wrapping the list of articles
        obj = next(
            (obj[k] for k in ("data", "articles", "records", "items") if isinstance(obj.get(k), list)), obj
        )
    if isinstance(obj, dict):
        yield _from_mapping(obj, stem, src, f, ids)
    elif isinstance(obj, list):
        if not obj:
            yield _error(ids, stem, src, "empty JSON list")
        for i, item in enumerate(obj):
            yield _from_mapping(item, f"{path.name}[{i}]", f"{path}[{i}]", f, ids, index=i)
    else:
        yield _error(ids, stem, src, f"JSON holds a {type(obj).__name__}, expected an object or a list")


def _table_row(row: dict[str, Any], f: _Fields) -> dict[str, Any]:
    """A table row with every column but the text made JSON-safe (the text is checked as it is)."""
    return {k: v if k == f.text else _jsonable(v) for k, v in row.items()}


def _iter_parquet(path: Path, f: _Fields, ids: _Ids) -> Iterator[InputRecord]:
    name = path.name
    try:
        require_pyarrow("reading Parquet")
    except ImportError as e:
        yield _error(ids, name, str(path), str(e))
        return
    import pyarrow.parquet as pq

    i = 0
    try:
        # 256 rows decoded at a time, however large the file.
        for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield _from_mapping(_table_row(row, f), f"{name}[{i}]", f"{path}[{i}]", f, ids, index=i)
                i += 1
    except Exception as e:  # pyarrow raises its own types for corrupt files: report, keep the rows read
        where = f" after row {i}" if i else ""
        yield _error(ids, f"{name}[{i}]" if i else name, str(path), f"unreadable Parquet{where}: {e}")
        return
    if i == 0:
        yield _error(ids, name, str(path), "empty file (no Parquet rows)")


_READERS = {"jsonl": _iter_jsonl, "csv": _iter_csv, "json": _iter_json, "parquet": _iter_parquet}


def record_from_row(
    row: dict[str, Any],
    text_field: str = "text",
    id_field: str = "id",
    title_field: str = "title",
    *,
    check_language: bool = True,
) -> InputRecord:
    """One table row (a batch of Ray Data, Spark, pandas) as an `InputRecord`, checked as a JSONL line is.

    The columns `source`, `error` and `meta` (JSON text or a dict) of `InputRecord.to_row` pass through,
    other columns go to `meta`. Ids are kept as given: a batch does not see the others to rename clashes.
    """
    f = _Fields(text_field, id_field, title_field, check_language, DEFAULT_MAX_BYTES)
    row = dict(row)
    source, error, meta = row.pop("source", None), row.pop("error", None), _row_meta(row.pop("meta", None))
    raw_id = row.get(id_field)
    rid = "" if raw_id is None else str(_jsonable(raw_id))
    source = str(_jsonable(source)) if source else rid
    if error:  # a record the reader already failed
        title = row.get(title_field)
        title = title if isinstance(title, str) else None
        return InputRecord(id=rid, source=source, title=title, error=str(error), meta=meta)
    rec = _from_mapping(_table_row(row, f), rid, source, f, _AS_GIVEN)
    rec.meta = {**meta, **rec.meta}
    return rec


def _row_meta(value: Any) -> dict[str, Any]:
    """The `meta` column of a row as a dict: JSON text or a mapping; anything else is kept as `meta`."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"meta": value}
    if value is None:
        return {}
    return _jsonable(value) if isinstance(value, dict) else {"meta": _jsonable(value)}


_KINDS = {"jsonl": JSONL_SUFFIXES, "csv": CSV_SUFFIXES, "json": JSON_SUFFIXES, "parquet": PARQUET_SUFFIXES}


def _kind(path: Path) -> str:
    return next((kind for kind, suffixes in _KINDS.items() if path.name.lower().endswith(suffixes)), "text")


def _stem(path: Path) -> str:
    suffix = next((s for s in _LONGEST_FIRST if path.name.lower().endswith(s)), None)
    return path.name[: -len(suffix)] if suffix else path.stem


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
        names = [n for n in files if not n.startswith(".") and n.lower().endswith(FOLDER_SUFFIXES)]
        found += [Path(root) / n for n in names]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


@dataclass
class InputSpec:
    """One input argument and the files it names, as (file, folder it came from); or why it names none."""

    arg: str
    files: list[tuple[Path, Path | None]]
    problem: str | None = None

    @property
    def paths(self) -> list[Path]:
        return [p for p, _ in self.files]


def expand_input(inp: str) -> InputSpec:
    """The files of one input argument: a file, a folder (recursive, sorted) or a glob."""
    p = Path(inp).expanduser()
    if p.is_dir():
        files = _walk(p)
        problem = None if files else f"folder has no {', '.join(FOLDER_SUFFIXES)} files"
        return InputSpec(inp, [(x, p) for x in files], problem)
    if p.is_file():
        return InputSpec(inp, [(p, None)])
    if _GLOB_CHARS.search(inp):
        out: list[tuple[Path, Path | None]] = []
        for mp in map(Path, sorted(glob.glob(os.path.expanduser(inp), recursive=True))):
            out.extend([(x, mp) for x in _walk(mp)] if mp.is_dir() else [(mp, None)])
        return InputSpec(inp, out, None if out else "no files match this pattern")
    return InputSpec(inp, [], "no such file or folder")


def _each_file(specs: Iterable[InputSpec]) -> Iterator[tuple[InputSpec, Path | None, Path | None]]:
    """(spec, file, folder) of each file, once however often named; (spec, None, None) if a spec has none."""
    seen: set[Path] = set()
    for spec in specs:
        if spec.problem:
            yield spec, None, None
            continue
        for path, folder in spec.files:
            key = path.resolve()
            if key not in seen:  # the same file named twice (a folder and a glob): read it once
                seen.add(key)
                yield spec, path, folder


def _count(path: Path, kind: str) -> int:
    """The records of a JSONL, CSV or Parquet file, counted without parsing a record."""
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return max(pq.ParquetFile(path).metadata.num_rows, 1)  # from the footer: no row is read
        if kind == "jsonl":
            with open(path, "rb") as fh:
                return max(sum(1 for line in fh if line.strip()), 1)
        fh, reader = _open_csv(path)
        with fh:
            return max(sum(1 for row in reader if any(c.strip() for c in row)) - 1, 1)  # minus the header
    except Exception:  # no pyarrow or an unreadable file: one error record, as for an empty file
        return 1


def count_records(specs: Iterable[InputSpec]) -> int | None:
    """How many records `iter_records` will yield for these inputs, where counting is cheap (.txt files,
    JSONL and CSV lines, Parquet rows); None when an input can only be counted by parsing it (.json, .gz)."""
    total = 0
    for _, path, _ in _each_file(specs):
        kind = _kind(path) if path else "text"
        if kind == "text":  # a .txt file, or an input that names none: one record
            total += 1
        elif kind == "json" or path.name.lower().endswith(".gz"):
            return None
        else:
            total += _count(path, kind)
    return total


def iter_records(
    inputs: Iterable[str | InputSpec] | str,
    text_field: str = "text",
    id_field: str = "id",
    title_field: str = "title",
    *,
    check_language: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[InputRecord]:
    """Stream one `InputRecord` per input article from files, folders (recursive, sorted) and globs.

    `inputs` may be already expanded (`expand_input`), so that files created later, such as the outputs
    of the run, are never read. Ids are unique within the stream: the file stem for .txt, the `id_field`
    value for JSONL/CSV/JSON, else `name.jsonl:LINE` / `name.csv:LINE` / `name.json[i]`; clashes get
    `~2`, `~3`. No string in a record holds a lone surrogate (see `scrub_surrogates`), so every record
    can be written as UTF-8.
    """
    for rec in _iter_records(inputs, text_field, id_field, title_field, check_language, max_bytes):
        rec.source, rec.title, rec.error, rec.meta = _scrub([rec.source, rec.title, rec.error, rec.meta])
        yield rec


def _iter_records(inputs, text_field, id_field, title_field, check_language, max_bytes):
    if isinstance(inputs, str | os.PathLike | InputSpec):
        inputs = [inputs]
    f = _Fields(text_field, id_field, title_field, check_language, max_bytes)
    ids = _Ids()
    specs = (inp if isinstance(inp, InputSpec) else expand_input(str(inp)) for inp in inputs)  # lazily
    for spec, path, folder in _each_file(specs):
        if path is None:
            yield _error(ids, spec.arg, spec.arg, f"{spec.problem}: {spec.arg}")
            continue
        try:
            kind = _kind(path)
            if kind == "text":
                yield _text_record(path, folder, f, ids)
            else:
                yield from _READERS[kind](path, f, ids)
        except Exception as e:  # last resort: report the file and go on with the next one
            yield _error(ids, _stem(path), str(path), f"unreadable: {type(e).__name__}: {e}")
