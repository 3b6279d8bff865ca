"""The soak benchmark's machinery on a few records: numbers are produced and checks can fail; no timing."""

import json
import unicodedata

from dangtopic.cli import main
from dangtopic.inference.soak import (
    BAD_EVERY,
    check_outputs,
    generate_soak_jsonl,
    memory_growth,
    proc_memory_mb,
    soak_ok,
)


def test_generated_input_varies_and_plants_bad_records(tmp_path):
    path = tmp_path / "soak.jsonl"
    plan = generate_soak_jsonl(path, 300)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == plan["records"] == 300
    bad_positions = [i for i in range(300) if i % BAD_EVERY == 13]
    assert plan["planned_errors"] == len(bad_positions) == 3
    texts = []
    for i, line in enumerate(lines):
        if i in bad_positions:
            continue
        rec = json.loads(line)
        texts.append(rec["text"])
    assert len(set(texts)) == len(texts), "every good record differs"
    assert sum(t != unicodedata.normalize("NFC", t) for t in texts) == plan["nfd"] > 0
    ids = [json.loads(line)["id"] for i, line in enumerate(lines) if i not in bad_positions]
    assert len(ids) - len(set(ids)) == plan["duplicate_ids"] == 1
    # Same seed, same file: soak runs are comparable.
    generate_soak_jsonl(tmp_path / "again.jsonl", 300)
    assert (tmp_path / "again.jsonl").read_bytes() == path.read_bytes()


def test_memory_growth_from_samples():
    # 10,000 records, RSS grows 1 MB per 1,000 records after a start-up jump.
    samples = [(0.0, 0, 100.0)] + [(float(t), 1000 * t, 400.0 + t) for t in range(1, 11)]
    g = memory_growth(samples, 10_000)
    assert g["start_records"] == 100
    assert g["at_start"] == {"records": 1000, "rss_mb": 401.0, "seconds": 1.0}
    assert g["at_end"]["records"] == 10_000 and g["at_end"]["rss_mb"] == 410.0
    assert abs(g["growth_mb_per_10k"] - 10.0) < 1e-9
    assert abs(g["slope_mb_per_10k"] - 10.0) < 1e-9
    assert abs(g["articles_per_s_steady"] - 1000.0) < 1e-9
    assert g["at_10pct"] == {"records": 1000, "rss_mb": 401.0}
    assert abs(g["growth_after_10pct_mb_per_10k"] - 10.0) < 1e-9
    assert "at_start" not in memory_growth([(0.0, 0, 100.0)], 10_000)


def test_check_outputs_catches_a_lost_record(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "text": "x"}\n\n{"id": "b", "text": "y"}\n{"id": "c"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    recs = [
        {"id": "a", "source": f"{inp}:1"},
        {"id": "b", "source": f"{inp}:3"},
        {"id": "c", "source": f"{inp}:4", "error": "line 4: missing text field 'text' (fields: id)"},
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    c = check_outputs(inp, out)
    assert (c["records_in"], c["records_out"], c["errors"], c["in_order"]) == (3, 3, 1, True)
    assert c["reasons"] == {"missing text field 'text'": 1}
    out.write_text("".join(json.dumps(r) + "\n" for r in recs[::2]), encoding="utf-8")
    c = check_outputs(inp, out)
    assert c["records_out"] == 2 and not c["in_order"]
    res = {"checks": c, "predict": {"returncode": 1}, "input": {}}
    assert not soak_ok(res)


def test_proc_memory_of_this_process():
    import os

    mem = proc_memory_mb(os.getpid())
    assert mem is not None and 0 < mem[0] <= mem[1]
    assert proc_memory_mb(2**22 + 7) is None  # no such process


def test_soak_end_to_end_with_tiny_model(tmp_path, capsys):
    out_json = tmp_path / "soak.json"
    argv = ["benchmark", "--soak", "50", "--soak-model", "tiny", "--threads", "1", "--soak-csv"]
    argv += ["--soak-interval", "0.05", "--soak-dir", str(tmp_path / "w"), "--json", str(out_json)]
    argv += ["--soak-samples", str(tmp_path / "samples.csv")]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "TINY random model" in out and "peak RSS" in out and "result: OK" in out
    res = json.loads(out_json.read_text())
    c = res["checks"]
    assert c["records_in"] == c["records_out"] == 50 and c["in_order"]
    assert c["errors"] == res["input"]["planned_errors"] == 1
    assert c["csv"]["articles"] == 50 and c["csv"]["error_rows"] == 1
    assert res["peak_rss_mb"] > 50  # a Python process with torch loaded
    mem = res["memory"]
    assert mem["at_start"]["rss_mb"] > 50 and mem["at_end"]["rss_mb"] > 50
    assert mem["at_start"]["records"] <= mem["at_end"]["records"] <= 50
    assert res["peak_rss_mb"] >= mem["max_rss_after_start_mb"] - 1
    assert len((tmp_path / "samples.csv").read_text().splitlines()) == res["samples"] + 1
