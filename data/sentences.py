"""Vietnamese sentence splitting tuned for Party-building news.

underthesea's Punkt-style `sent_tokenize` proposes the boundaries; we then repair its failure modes on
this text: place and title abbreviations (`TX.`, `H.`, `PGS.`), closing quotes left at the start of the
next sentence, bare list markers (`1.`), false splits before a lowercase word, and unsplit `…`.
Every line is a hard boundary, so headings never merge into the following paragraph.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from dangtopic.data.text import CLOSERS, SENTENCE_END, ends_like_sentence, normalize_text

# Abbreviations that never end a sentence in this text (lower-cased, without the final dot).
ABBREVIATIONS = frozenset(
    "tp tx tt q p h x đ t ths th.s ts pgs gs bs bsck ks ls nsnd nsưt nsut đ/c đc mr mrs ms dr".split()
)
_OPENING_PAIRS = {"”": "“", "’": "‘", ")": "(", "]": "[", "}": "{", "»": "«"}
_LIST_MARKER = re.compile(r"^(?:\(?(?:\d{1,2}|[a-zđ]|[ivxlc]{1,5})[.)]|[-+•*–—])$", re.I)
_ABBR_TAIL = re.compile(r"(?:^|[\s(“\"'])([^\s(“\"']+)\.$")
_INITIAL = re.compile(r"(?:^|[\s.])[A-ZĐÂĂÊÔƠƯ]\.$")
_UPPER = "A-ZĐÂĂÊÔƠƯÁÀẢÃẠÉÈẺẼẸÍÌỈĨỊÓÒỎÕỌÚÙỦŨỤÝỲỶỸỴ"
# Boundaries the base tokenizer misses: "…" and sentence-final "v.v." before a capitalised word.
_EXTRA_SPLIT = re.compile(rf"(?:…|\.{{3,}}|\b[vV]\.[vV]\.|\b[vV]{{2}}\.|\betc\.)(?=\s+[“\"]?[{_UPPER}])")
_HAS_WORD = re.compile(r"\w")
_INNER_END = re.compile(rf"[{re.escape(SENTENCE_END)}]\s")  # a sentence ends inside the line
_LIST_ITEM_START = re.compile(r"^\(?[a-zđ]\)\s")


@lru_cache(maxsize=1)
def _base_tokenizer() -> Callable[[str], list[str]]:
    """underthesea's `sent_tokenize`, loaded without importing the whole package.

    `import underthesea` pulls in transformers and takes seconds; the tokenizer itself is one pure-Python
    module plus a JSON file, so load that file directly when the layout allows it.
    """
    spec = importlib.util.find_spec("underthesea")
    if spec is not None and spec.origin:
        mod_path = Path(spec.origin).parent / "pipeline" / "sent_tokenize" / "__init__.py"
        if mod_path.is_file():
            sub = importlib.util.spec_from_file_location("_dangtopic_ut_sent_tokenize", mod_path)
            if sub is not None and sub.loader is not None:
                mod = importlib.util.module_from_spec(sub)
                sub.loader.exec_module(mod)
                return mod.sent_tokenize
    from underthesea import sent_tokenize  # pragma: no cover - fallback for other layouts

    return sent_tokenize  # pragma: no cover


def _spans(text: str, pieces: list[str]) -> list[list[int]]:
    """Locate each stripped piece in `text` so merges can re-cut the original string exactly."""
    spans: list[list[int]] = []
    pos = 0
    for piece in pieces:
        start = text.find(piece, pos)
        if start < 0:  # the base tokenizer only strips whitespace, so this should not happen
            start = pos
            piece = text[pos:].strip()
        end = start + len(piece)
        spans.append([start, end])
        pos = end
    return spans


def _ends_with_abbreviation(s: str) -> bool:
    if _INITIAL.search(s):
        return True
    m = _ABBR_TAIL.search(s)
    if not m:
        return False
    token = m.group(1).lower()
    return token in ABBREVIATIONS or all(part in ABBREVIATIONS for part in token.split("."))


def _unbalanced(s: str, closer: str) -> bool:
    if closer in "\"'":
        return s.count(closer) % 2 == 1
    return s.count(_OPENING_PAIRS[closer]) > s.count(closer)


def _starts_lowercase(s: str) -> bool:
    for ch in s:
        if ch.isalpha():
            return ch.islower()
        if ch.isdigit():
            return False
        if ch in ",;:)]}":
            return True
    return False


def _split_line(line: str) -> list[str]:
    pieces = [p for p in _base_tokenizer()(line) if p.strip()]
    # cheap substring test first: the regex scan costs more than the base tokenizer on long lines
    extra_possible = "…" in line or ".." in line or "v." in line or "V." in line or "etc." in line
    if len(pieces) == 1 and not (extra_possible and _EXTRA_SPLIT.search(line)):
        return pieces
    spans = _spans(line, pieces)

    extra: list[list[int]] = []
    for s, e in spans:
        cut = s
        for m in _EXTRA_SPLIT.finditer(line, s, e) if extra_possible else ():
            if len(line[cut : m.end()].split()) >= 3:
                extra.append([cut, m.end()])
                cut = m.end()
        extra.append([cut, e])
    spans = [[s, e] for s, e in extra if line[s:e].strip()]

    out: list[list[int]] = spans[:1]
    for span in spans[1:]:
        prev = line[out[-1][0] : out[-1][1]]
        cur = line[span[0] : span[1]].lstrip()
        # A closing quote/bracket that opens the next piece belongs to the previous sentence.
        moved = 0
        while moved < len(cur) and cur[moved] in CLOSERS and _unbalanced(prev + cur[:moved], cur[moved]):
            moved += 1
        if moved:
            lead = len(line[span[0] : span[1]]) - len(cur)
            out[-1][1] = span[0] + lead + moved
            span = [out[-1][1], span[1]]
            cur = line[span[0] : span[1]].strip()
            if not cur:
                continue
        tail = prev[-40:]  # the checks below only look at the end; keeps long paragraphs linear
        merge = (
            not _HAS_WORD.search(cur)
            or (len(prev) <= 8 and _LIST_MARKER.match(prev.strip()) is not None)
            or _ends_with_abbreviation(tail)
            or (_starts_lowercase(cur) and not _LIST_ITEM_START.match(cur))
        )
        if merge:
            out[-1][1] = span[1]
        else:
            out.append(span)
    sentences = [line[s:e].strip() for s, e in out]
    return [s for s in sentences if s]


def split_sentences(text: str) -> list[str]:
    """Split text into sentences. Line breaks are hard boundaries; no sentence is empty."""
    return [s for line in normalize_text(text).split("\n") if line for s in _split_line(line)]


# A heading ends without sentence punctuation, colon, semicolon or closing quote, and is short.
_HEADING_END = tuple(SENTENCE_END + ":;" + CLOSERS)
HEADING_MAX_WORDS = 15


def is_heading(line: str, max_words: int = HEADING_MAX_WORDS) -> bool:
    """A sub-heading, caption or label: fewer than `max_words` words, no final punctuation."""
    s = line.rstrip()
    return bool(s) and not s.endswith(_HEADING_END) and len(s.split()) < max_words


def split_paragraphs_with_ids(lines: Iterable[str]) -> tuple[list[str], list[int]]:
    """Sentences of each body line in order (a heading stays one), and the paragraph (0, 1, …) of each."""
    out: list[str] = []
    ids: list[int] = []
    para = 0
    for line in lines:
        line = normalize_text(line).replace("\n", " ").strip()
        if not line:
            continue
        heading = not ends_like_sentence(line) and len(line.split()) <= 30 and not _INNER_END.search(line)
        sents = [line] if heading else _split_line(line)
        if sents:
            out.extend(sents)
            ids.extend([para] * len(sents))
            para += 1
    return out, ids


def split_paragraphs(lines: Iterable[str]) -> list[str]:
    """Sentences of each body line in order; a heading line stays one sentence of its own."""
    return split_paragraphs_with_ids(lines)[0]
