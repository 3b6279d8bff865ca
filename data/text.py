"""Text normalisation shared by every reader and model."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and BOM characters that scraped pages carry and that break matching.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def normalize_text(text: str) -> str:
    """NFC-normalise, drop invisible characters and fold runs of spaces (keeps newlines)."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines)


def normalize_sentence(text: str) -> str:
    """Normalise one sentence to a single line."""
    return _SPACES.sub(" ", normalize_text(text).replace("\n", " ")).strip()


_NO_SPACE_BEFORE = re.compile(r"\s+([,.;:!?%)\]}…”’])")
_NO_SPACE_AFTER = re.compile(r"([(\[{“‘])\s+")
_QUOTES = re.compile(r'"\s*(.*?)\s*"')


def detokenize_vnds(text: str) -> str:
    """Undo VNDS word segmentation and punctuation spacing: `Đà_Nẵng` → `Đà Nẵng`, `25/2 ,` → `25/2,`."""
    text = text.replace("_", " ")
    text = _NO_SPACE_BEFORE.sub(r"\1", text)
    text = _NO_SPACE_AFTER.sub(r"\1", text)
    text = _QUOTES.sub(r'"\1"', text)
    return normalize_sentence(text)
