import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from inference_texts import ARTICLE, ARTICLE_2

from dangtopic import LABELS
from dangtopic.cli import main
from dangtopic.inference.pipeline import ArticleResult

SUMMARY_LINE = re.compile(r"^(\d+) articles, (\d+) failed, (\d+) sentences, [\d.]+ s", re.M)


def _predict(*argv: str) -> int:
    return main(["predict", *map(str, argv), "-q"])


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_one_record_per_input_with_errors(inputs, tmp_path, tiny_model_dir, capsys):
    folder, n, n_failed = inputs
    out = tmp_path / "out" / "pred.jsonl"
    code = _predict(folder, "-o", out, "--model", tiny_model_dir, "--batch-size", "8", "--chunk-size", "2")
    err = capsys.readouterr().err
    assert code == 1, err
    recs = _read(out)
    assert len(recs) == n
    failed = [r for r in recs if r.get("error")]
    assert len(failed) == n_failed
    by_id = {r["id"]: r for r in recs}
    assert len(by_id) == n, "ids are unique"
    good = [r for r in recs if not r.get("error")]
    for r in good:
        res = ArticleResult.from_dict(r)
        assert res.sentences and res.summary.sentence_indices
        assert list(res.topic_counts) == list(LABELS)
    assert {r["id"] for r in good} >= {"j1", "j4"}
    reasons = " | ".join(r["error"] for r in failed).lower()
    for word in ("empty", "binary", "vietnamese", "json"):
        assert word in reasons, (word, reasons)
    m = SUMMARY_LINE.search(err)
    assert m, err
    assert (int(m[1]), int(m[2])) == (n, n_failed)
    assert int(m[3]) == sum(len(r["sentences"]) for r in good)


def test_all_good_exit_zero_and_refuses_to_clobber(tmp_path, tiny_model_dir, capsys):
    src = tmp_path / "one.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "p.jsonl"
    assert _predict(src, "-o", out, "--model", tiny_model_dir) == 0
    assert len(_read(out)) == 1
    assert _predict(src, "-o", out, "--model", tiny_model_dir) == 2
    assert "--resume" in capsys.readouterr().err
    assert _predict(src, "-o", out, "--model", tiny_model_dir, "--overwrite") == 0
    assert len(_read(out)) == 1
    assert _predict(src, "-o", tmp_path / "p.xlsx", "--model", tiny_model_dir) == 2
    assert _predict(src, "-o", tmp_path / "q.csv", "--model", tiny_model_dir, "--resume") == 2


def test_resume_after_interruption(inputs, tmp_path, tiny_model_dir):
    folder, n, _ = inputs
    full = tmp_path / "full.jsonl"
    _predict(folder, "-o", full, "--model", tiny_model_dir)
    reference = _read(full)
    data = full.read_bytes()
    lines = data.split(b"\n")
    # Crash after 4 complete records and half of the fifth.
    cut = len(b"\n".join(lines[:4])) + 1 + len(lines[4]) // 2
    part = tmp_path / "part.jsonl"
    part.write_bytes(data[:cut])
    csv_out = tmp_path / "part.csv"
    html_out = tmp_path / "part.html"
    code = _predict(folder, "-o", part, "-o", csv_out, "-o", html_out, "--model", tiny_model_dir, "--resume")
    assert code == 1
    resumed = _read(part)
    assert Counter(r["id"] for r in resumed) == Counter(r["id"] for r in reference)
    assert len(resumed) == n
    # Same records, same order, same content.
    assert [r["id"] for r in resumed] == [r["id"] for r in reference]
    for a, b in zip(resumed, reference, strict=True):
        assert a.get("error") == b.get("error")
        assert [s["labels"] for s in a.get("sentences", [])] == [s["labels"] for s in b.get("sentences", [])]
    # Secondary outputs are rebuilt and cover every record, not only the resumed ones.
    rows = list(csv.DictReader(csv_out.open(encoding="utf-8-sig")))
    assert {r["id"] for r in rows} == {r["id"] for r in reference}
    assert html_out.read_text(encoding="utf-8").count('class="card article"') == sum(
        not r.get("error") for r in reference
    )
    # Resuming a complete output is a no-op.
    assert _predict(folder, "-o", part, "--model", tiny_model_dir, "--resume") == 1
    assert len(_read(part)) == n


def test_csv_and_html_outputs(inputs, tmp_path, tiny_model_dir):
    folder, n, n_failed = inputs
    j, c, h = tmp_path / "o.jsonl", tmp_path / "o.csv", tmp_path / "o.html"
    _predict(folder, "-o", j, "-o", c, "-o", h, "--model", tiny_model_dir, "--topic-summaries")
    recs = _read(j)
    rows = list(csv.DictReader(c.open(encoding="utf-8-sig")))
    good = [r for r in recs if not r.get("error")]
    assert len(rows) == sum(len(r["sentences"]) for r in good) + n_failed
    assert [k for k in rows[0] if k.startswith("score_")] == [f"score_{lab}" for lab in LABELS]
    first = good[0]
    its_rows = [r for r in rows if r["id"] == first["id"]]
    assert [int(r["sentence_index"]) for r in its_rows] == list(range(len(first["sentences"])))
    assert its_rows[0]["text"] == first["sentences"][0]["text"]
    assert its_rows[0]["labels"] == ";".join(first["sentences"][0]["labels"])
    assert float(its_rows[0]["score_inspection"]) == pytest.approx(
        first["sentences"][0]["scores"]["inspection"], abs=1e-4
    )
    assert sum(bool(r["error"]) for r in rows) == n_failed
    assert all(set(r["topic_summaries"]) == set(LABELS) for r in good)
    html = h.read_text(encoding="utf-8")
    assert html.count('class="card article"') == len(good)
    assert "Corpus overview" in html and f"Failed inputs ({n_failed})" in html
    assert html.rstrip().endswith("</html>")


def test_num_workers_gives_the_same_output(inputs, tmp_path, tiny_model_dir):
    folder, n, _ = inputs
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _predict(folder, "-o", a, "--model", tiny_model_dir)
    _predict(folder, "-o", b, "--model", tiny_model_dir, "--num-workers", "2", "--chunk-size", "1")
    ra, rb = _read(a), _read(b)
    assert len(rb) == n
    assert [(r["id"], r.get("error"), [s["labels"] for s in r.get("sentences", [])]) for r in ra] == [
        (r["id"], r.get("error"), [s["labels"] for s in r.get("sentences", [])]) for r in rb
    ]


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DANGTOPIC_CACHE", str(Path.home() / ".cache" / "dangtopic"))
    return env


def test_predict_help_and_run_never_import_training_or_ray(tmp_path, tiny_model_dir):
    src = tmp_path / "one.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "p.jsonl"
    code = f"""
import sys, contextlib, io
from dangtopic.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["predict", "--help"])
    except SystemExit:
        pass
assert not [m for m in sys.modules if m.startswith("dangtopic.training")], "help imported training"
assert "torch" not in sys.modules, "predict --help imported torch"
rc = main(["predict", {str(src)!r}, "-o", {str(out)!r}, "--model", {str(tiny_model_dir)!r}, "-q"])
bad = sorted(m for m in sys.modules if m.startswith("dangtopic.training"))
assert not bad, bad
assert "ray" not in sys.modules, "the local engine imported ray"
print("rc", rc)
"""
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_subprocess_env(), timeout=300
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "rc 0" in p.stdout
    assert len(_read(out)) == 1


class _StubTagger:
    """Cheap deterministic tagger with the SentenceTagger inference interface."""

    labels = LABELS

    def predict_proba(self, texts, batch_size=64, groups=None):
        import numpy as np

        return np.array([[len(t) % 2, 0.2, 0.7, 0.1] for t in texts], dtype=np.float32).reshape(-1, 4)

    def decide(self, probs):
        from dangtopic.models.tagger import TagPrediction

        return [
            TagPrediction(
                labels=[lab for lab, p in zip(LABELS, row, strict=True) if p >= 0.5],
                scores={lab: float(p) for lab, p in zip(LABELS, row, strict=True)},
            )
            for row in probs
        ]


class _StubSummarizer:
    def summarize(self, sentences, title="", candidates=None, max_sentences=None, max_words=None):
        from dangtopic.inference.pipeline import Summary

        i = (candidates or [0])[0]
        return Summary(sentences[i], [i], [])


def test_streams_with_bounded_lookahead(tmp_path, monkeypatch):
    """On a long input the reader is never more than one chunk ahead of the output (flat memory)."""
    from dangtopic.data.readers import InputRecord
    from dangtopic.inference import writers
    from dangtopic.inference.pipeline import Pipeline

    n, chunk = 3000, 16
    count = {"read": 0, "written": 0, "lead": 0}

    def fake_records(inputs, **kwargs):
        for i in range(n):
            count["lead"] = max(count["lead"], count["read"] - count["written"])
            count["read"] += 1
            if i % 500 == 7:
                yield InputRecord(id=f"r{i}", source="big.jsonl", error="empty text")
            else:
                text = f"Bài số {i}\n\nToàn tỉnh kết nạp {i} đảng viên mới. Cấp ủy kiểm tra {i} tổ chức đảng."
                yield InputRecord(id=f"r{i}", source="big.jsonl", text=text)

    original = writers.JsonlWriter.write

    def counting_write(self, record):
        count["written"] += 1
        original(self, record)

    monkeypatch.setattr("dangtopic.data.readers.iter_records", fake_records)
    monkeypatch.setattr(writers.JsonlWriter, "write", counting_write)
    monkeypatch.setattr(
        Pipeline, "from_pretrained", classmethod(lambda cls, *a, **k: cls(_StubTagger(), _StubSummarizer()))
    )
    src = tmp_path / "big.jsonl"
    src.write_text("{}\n", encoding="utf-8")  # inputs must exist; its records come from fake_records
    out = tmp_path / "out.jsonl"
    code = _predict(src, "-o", out, "--chunk-size", str(chunk))
    assert code == 1
    recs = _read(out)
    assert [r["id"] for r in recs] == [f"r{i}" for i in range(n)]
    assert sum(bool(r.get("error")) for r in recs) == len(range(7, n, 500))
    assert count["lead"] <= chunk + 1, count


def test_csv_input_with_custom_fields_and_bad_device(tmp_path, tiny_model_dir, capsys):
    src = tmp_path / "bai.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ma", "tieu_de", "noi_dung"])
        w.writerow(["A1", "Tin một", ARTICLE])
        w.writerow(["A2", "Tin hai", ""])
    out = tmp_path / "o.jsonl"
    argv = [src, "-o", out, "--model", tiny_model_dir, "--text-field", "noi_dung", "--id-field", "ma"]
    code = _predict(*argv, "--title-field", "tieu_de")
    assert code == 1
    recs = _read(out)
    assert [r["id"] for r in recs] == ["A1", "A2"]
    assert recs[0]["title"] == "Tin một" and recs[0]["sentences"]
    assert "empty" in recs[1]["error"]
    capsys.readouterr()
    import torch

    if torch.cuda.is_available():
        return
    cuda = ["--model", tiny_model_dir, "--text-field", "noi_dung", "--device", "cuda"]
    assert _predict(src, "-o", tmp_path / "x.jsonl", *cuda) == 2
    assert "CUDA" in capsys.readouterr().err


def test_package_level_exports():
    import dangtopic
    from dangtopic.inference import pipeline

    for name in ("Pipeline", "ArticleResult", "Summary", "SentenceResult"):
        assert getattr(dangtopic, name) is getattr(pipeline, name)


def test_html_output_renders_a_bounded_number_of_articles(tmp_path, tiny_model_dir, capsys):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        (d / f"a{i}.txt").write_text(ARTICLE if i % 2 else ARTICLE_2, encoding="utf-8")
    h = tmp_path / "o.html"
    assert _predict(d, "-o", h, "--model", tiny_model_dir, "--report-max-articles", "2") == 0
    html = h.read_text(encoding="utf-8")
    assert html.count('class="card article"') == 2
    assert "Showing the first 2 of 3 articles in full" in html
    h2 = tmp_path / "all.html"
    assert _predict(d, "-o", h2, "--model", tiny_model_dir, "--report-max-articles", "0") == 0
    assert h2.read_text(encoding="utf-8").count('class="card article"') == 3
    assert _predict(d, "-o", h2, "--model", tiny_model_dir, "--report-max-articles", "-1") == 2
    assert "--report-max-articles must be >= 0" in capsys.readouterr().err
