"""Article ingestion: readers, cleaning, sentence splitting, the VNDS corpus and label sets."""

from __future__ import annotations

import importlib
from typing import Any

from dangtopic.data.article import Article
from dangtopic.data.text import detokenize_vnds, is_vietnamese, normalize_text

# Imported on first use, so `python -m dangtopic.data.clean` / `.ingest` run cleanly and importing the
# package stays cheap.
_LAZY = {
    **dict.fromkeys(["CleanResult", "clean_page"], "dangtopic.data.clean"),
    **dict.fromkeys(["article_from_record", "article_from_text", "example_paths"], "dangtopic.data.ingest"),
    **dict.fromkeys(["InputRecord", "iter_records"], "dangtopic.data.readers"),
    **dict.fromkeys(["split_paragraphs", "split_sentences"], "dangtopic.data.sentences"),
}

__all__ = ["Article", "detokenize_vnds", "is_vietnamese", "normalize_text", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dangtopic.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
