"""Inference test helpers; the tiny models (`tiny_tagger`, `tiny_summarizer`, `tiny_model_dir`) live in
tests/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inference_texts import ARTICLE, ARTICLE_2, ENGLISH


@pytest.fixture()
def pipe(tiny_tagger, tiny_summarizer):
    from dangtopic.inference.pipeline import Pipeline

    return Pipeline(tiny_tagger, tiny_summarizer)


@pytest.fixture()
def inputs(tmp_path) -> tuple[Path, int, int]:
    """A folder of good and bad inputs; returns (folder, expected records, expected failures)."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "a_good.txt").write_text(ARTICLE, encoding="utf-8")
    (d / "b_good_utf16.txt").write_bytes(ARTICLE_2.encode("utf-16"))  # not UTF-8, still readable
    (d / "c_empty.txt").write_bytes(b"")
    (d / "d_binary.txt").write_bytes(bytes(range(256)) * 40)
    (d / "e_english.txt").write_text(ENGLISH, encoding="utf-8")
    lines = [
        json.dumps({"id": "j1", "title": "Bài JSONL", "text": ARTICLE_2}, ensure_ascii=False),
        '{"id": "j2", "text": "Đảng viên',  # malformed JSON
        json.dumps({"id": "j3", "text": ""}),  # empty text
        json.dumps({"id": "j4", "text": ARTICLE}, ensure_ascii=False),
    ]
    (d / "f_batch.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d, 9, 5
