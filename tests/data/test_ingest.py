"""Ingestion: page text or reader record -> cleaned, sentence-split Article."""

from __future__ import annotations

import json
import time
import unicodedata

import pytest

from dangtopic.data import (
    Article,
    InputRecord,
    article_from_record,
    article_from_text,
    example_paths,
    iter_records,
)


def test_article_from_example_page():
    path = example_paths()[1]
    a = article_from_text(path.read_text(encoding="utf-8"), id="kien_tuong", source=str(path))
    assert isinstance(a, Article)
    assert a.title == "Thị xã Kiến Tường: Đảng bộ nhiều năm liền hoàn thành xuất sắc nhiệm vụ"
    assert "Kiện toàn tổ chức, nâng cao năng lực lãnh đạo" in a.sentences  # in-body subheading kept
    assert "Tổng số đảng viên (ĐV) trong toàn Đảng bộ là 1.985, trong đó có 882 ĐV nữ." in a.sentences
    assert "Chia sẻ bài viết" in a.removed and "Kỳ Nam" in a.removed
    assert a.title not in a.sentences and not any(s in a.removed for s in a.sentences)
    assert len(a.meta["removed_reasons"]) == len(a.removed)
    assert Article.from_dict(json.loads(json.dumps(a.to_dict(), ensure_ascii=False))) == a


def test_given_title_is_used_and_first_line_stays_body():
    text = "Đảng bộ tỉnh kết nạp 500 đảng viên mới trong năm 2023\nCâu thứ hai của bài viết này. Câu thứ ba."
    a = article_from_text(text, id="j1", title="Tiêu đề từ trường title")
    assert a.title == "Tiêu đề từ trường title"
    assert a.sentences == [
        "Đảng bộ tỉnh kết nạp 500 đảng viên mới trong năm 2023",
        "Câu thứ hai của bài viết này.",
        "Câu thứ ba.",
    ]
    b = article_from_text(text, id="j1")
    assert b.title == "Đảng bộ tỉnh kết nạp 500 đảng viên mới trong năm 2023"
    assert b.sentences == ["Câu thứ hai của bài viết này.", "Câu thứ ba."]


def test_nfc_nfd_identical():
    text = example_paths()[0].read_text(encoding="utf-8")
    a = article_from_text(text, id="x")
    b = article_from_text(unicodedata.normalize("NFD", text), id="x")
    assert a == b


def test_article_from_record(tmp_path):
    p = tmp_path / "in.jsonl"
    rows = [
        {
            "id": "r1",
            "title": "Kết nạp đảng viên mới",
            "text": "Tỉnh đã kết nạp 500 đảng viên mới. Vượt 20% chỉ tiêu.",
            "url": "u",
        },
        {"id": "r2", "text": ""},
    ]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    ok, bad = list(iter_records([str(p)]))
    a = article_from_record(ok)
    assert a.id == "r1" and a.title == "Kết nạp đảng viên mới" and a.source == f"{p}:1"
    assert a.sentences == ["Tỉnh đã kết nạp 500 đảng viên mới.", "Vượt 20% chỉ tiêu."]
    assert a.meta["url"] == "u" and a.meta["line"] == 1 and "removed_reasons" in a.meta
    with pytest.raises(ValueError, match="r2: empty text"):
        article_from_record(bad)
    with pytest.raises(ValueError, match="no text"):
        article_from_record(InputRecord(id="z", source="s"))


def test_cleaning_and_splitting_is_fast():
    texts = [p.read_text(encoding="utf-8") for p in example_paths()]
    article_from_text(texts[0])  # warm-up: loads the base tokenizer
    t0 = time.perf_counter()
    for _ in range(10):
        for t in texts:
            article_from_text(t)
    ms = (time.perf_counter() - t0) * 1000 / (10 * len(texts))
    assert ms < 50, f"{ms:.1f} ms per article"
