import json

import pytest

from dangtopic.inference.writers import (
    CsvWriter,
    JsonlWriter,
    iter_jsonl,
    output_format,
    repair_jsonl,
    scan_for_resume,
)


def _rec(i: int, error: str | None = None) -> dict:
    if error:
        return {"id": f"r{i}", "source": "x", "title": None, "error": error}
    return {
        "id": f"r{i}",
        "title": "Tiêu đề",
        "sentences": [
            {
                "index": 0,
                "text": 'Câu một, có dấu phẩy và "ngoặc kép".',
                "labels": ["membership"],
                "scores": {"membership": 0.9, "inspection": 0.1, "restructuring": 0.0, "training": 0.2},
            },
            {
                "index": 1,
                "text": "Câu hai\nxuống dòng.",
                "labels": [],
                "scores": {"membership": 0.1, "inspection": 0.1, "restructuring": 0.0, "training": 0.2},
            },
        ],
        "summary": {"text": "Câu một.", "sentence_indices": [0], "warnings": []},
        "topic_counts": {"membership": 1, "inspection": 0, "restructuring": 0, "training": 0},
    }


def test_output_format_by_extension():
    assert output_format("a/b.JSONL") == ".jsonl"
    assert output_format("r.htm") == ".html"
    assert output_format("x.csv") == ".csv"
    with pytest.raises(ValueError, match="unknown output format"):
        output_format("x.xlsx")
    assert output_format("x.parquet") == ".parquet"


def test_repair_cuts_only_a_truncated_last_line(tmp_path):
    p = tmp_path / "p.jsonl"
    w = JsonlWriter(p)
    for i in range(3):
        w.write(_rec(i))
    w.close()
    whole = p.read_bytes()
    assert repair_jsonl(p) == 0 and p.read_bytes() == whole
    p.write_bytes(whole[:-10])  # crash mid-line
    removed = repair_jsonl(p)
    assert removed > 0
    assert [r["id"] for r in iter_jsonl(p)] == ["r0", "r1"]
    # A cut right after a key.
    last_line_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    p.write_bytes(whole[:last_line_start] + b'{"id": "r2"')
    repair_jsonl(p)
    assert [r["id"] for r in iter_jsonl(p)] == ["r0", "r1"]
    # The first and only line truncated.
    p.write_bytes(b'{"id": "r0", "tit')
    assert repair_jsonl(p) == 17 and p.read_bytes() == b""


def test_unterminated_but_valid_last_line_is_cut(tmp_path):
    # Without its newline the next append would glue two records together.
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps(_rec(0)) + "\n" + json.dumps(_rec(1)), encoding="utf-8")
    repair_jsonl(p)
    assert [r["id"] for r in iter_jsonl(p)] == ["r0"]


def test_scan_counts_duplicates_and_failures(tmp_path):
    p = tmp_path / "p.jsonl"
    w = JsonlWriter(p)
    for r in (_rec(0), _rec(1, "empty file"), _rec(0)):
        w.write(r)
    w.close()
    with open(p, "ab") as f:
        f.write(b'{"id": "r9", "sente')
    st = scan_for_resume(p)
    assert st.done == {"r0": 2, "r1": 1}
    assert (st.records, st.failed, st.sentences) == (3, 1, 4)
    assert st.repaired_bytes > 0


def test_malformed_middle_line_is_an_error(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps(_rec(0)) + "\n{oops\n" + json.dumps(_rec(1)) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="malformed"):
        scan_for_resume(p)


def test_csv_rows(tmp_path):
    import csv

    p = tmp_path / "o.csv"
    w = CsvWriter(p)
    w.write(_rec(0))
    w.write(_rec(1, "not Vietnamese"))
    w.close()
    rows = list(csv.DictReader(p.open(encoding="utf-8-sig")))
    assert len(rows) == 3
    assert rows[0]["text"] == 'Câu một, có dấu phẩy và "ngoặc kép".'
    assert rows[1]["text"] == "Câu hai\nxuống dòng."
    assert rows[0]["labels"] == "membership" and rows[0]["in_summary"] == "1" and rows[1]["in_summary"] == "0"
    assert rows[0]["score_membership"] == "0.9000"
    assert rows[2]["error"] == "not Vietnamese" and rows[2]["text"] == ""


def test_parquet_rows_hold_the_whole_record(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from dangtopic.inference.writers import RESULT_COLUMNS, ParquetWriter

    records = [_rec(0), _rec(1, "not Vietnamese"), _rec(2)]
    p = tmp_path / "sub" / "o.parquet"
    w = ParquetWriter(p, rows_per_group=2)  # two row groups: one full, one written on close
    for r in records:
        w.write(r)
    w.close()
    w.close()  # closing twice is harmless
    f = pq.ParquetFile(p)
    assert f.metadata.num_row_groups == 2
    table = f.read()
    assert table.column_names == list(RESULT_COLUMNS)
    assert [json.loads(x) for x in table.column("record").to_pylist()] == records
    assert table.column("id").to_pylist() == ["r0", "r1", "r2"]
    assert table.column("error").to_pylist() == [None, "not Vietnamese", None]
    assert table.column("topics").to_pylist() == [["membership"], [], ["membership"]]
    assert table.column("summary").to_pylist() == ["Câu một.", None, "Câu một."]
