"""Parquet input, and table rows (Ray Data, Spark, pandas batches) as input records."""

import json

import pytest

from dangtopic.data.readers import (
    InputRecord,
    count_records,
    expand_input,
    input_columns,
    iter_records,
    record_from_row,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

TEXT = "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên."


def _write(path, columns: dict) -> None:
    pq.write_table(pa.table(columns), path)


def test_parquet_rows_are_records_with_errors_kept(tmp_path):
    import datetime

    p = tmp_path / "feed.parquet"
    _write(
        p,
        {
            "id": [7, 8, 9, 10],
            "title": ["Tiêu đề", None, None, None],
            "content": [TEXT, "", None, "The board approved a dividend for all shareholders this year."],
            "published": [datetime.date(2024, 5, 1)] * 4,
        },
    )
    recs = list(iter_records([str(p)], text_field="content"))
    assert [r.id for r in recs] == ["7", "8", "9", "10"]
    assert recs[0].ok and recs[0].title == "Tiêu đề" and recs[0].text == TEXT
    # Every other column is kept, as JSON values, in meta.
    assert recs[0].meta == {"index": 0, "published": "2024-05-01"}
    assert recs[0].source == f"{p}[0]"
    assert "empty text" in recs[1].error
    assert "expected a string" in recs[2].error
    assert "not Vietnamese" in recs[3].error
    assert count_records([expand_input(str(p))]) == 4
    assert input_columns(p) == ["id", "title", "content", "published"]


def test_empty_and_corrupt_parquet_are_one_error_each(tmp_path):
    empty, bad = tmp_path / "empty.parquet", tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), empty)
    bad.write_bytes(b"PAR1 this is not parquet")
    recs = list(iter_records([str(tmp_path)]))
    assert [(r.id, bool(r.error)) for r in recs] == [("bad.parquet", True), ("empty.parquet", True)]
    assert "Parquet" in recs[0].error and "no Parquet rows" in recs[1].error
    assert input_columns(bad) is None


def test_check_inputs_names_the_missing_parquet_column(tmp_path, capsys):
    from dangtopic.cli import main

    p = tmp_path / "feed.parquet"
    _write(p, {"body": [TEXT]})
    assert main(["predict", str(p), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "no column 'text'" in err and "body" in err


def test_to_row_and_back_is_lossless():
    ok = InputRecord(id="a", source="f.jsonl:1", text=TEXT, title="T", meta={"line": 1, "source": "báo"})
    bad = InputRecord(id="b", source="f.jsonl:2", error="line 2: malformed JSON", meta={"line": 2})
    for rec in (ok, bad):
        row = rec.to_row()
        assert set(row) == {"id", "source", "text", "title", "error", "meta"}
        assert all(v is None or isinstance(v, str) for v in row.values())  # one flat string schema
        assert record_from_row(row) == rec


def test_foreign_rows_become_records():
    row = {"id": 3, "text": TEXT, "url": "https://x", "tags": ["a"], "meta": "not json"}
    rec = record_from_row(row)
    assert rec.ok and rec.id == "3" and rec.source == "3"
    assert rec.meta == {"meta": "not json", "url": "https://x", "tags": ["a"]}
    assert record_from_row({"body": TEXT}).error.startswith("missing text field 'text'")
    assert record_from_row({"body": TEXT}, text_field="body").ok
    assert json.loads(InputRecord(id="x", source="s", meta={"k": [1, 2]}).to_row()["meta"]) == {"k": [1, 2]}
