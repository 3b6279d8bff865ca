"""Issue 12: nothing lost, nothing destroyed, nothing silent (`dangtopic predict`, `dangtopic`)."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from inference_texts import ARTICLE, ARTICLE_2

from dangtopic.cli import main

REPO = Path(__file__).resolve().parents[2]
SUMMARY_LINE = re.compile(r"^(\d+) articles, (\d+) failed, (\d+) sentences", re.M)


def _predict(*argv) -> int:
    return main(["predict", *map(str, argv)])


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _summary(err: str) -> tuple[int, int]:
    m = SUMMARY_LINE.search(err)
    assert m, err
    return int(m[1]), int(m[2])


@pytest.fixture()
def no_model(monkeypatch):
    """Loading the model fails the test: these runs must stop before it."""
    from dangtopic.inference.pipeline import Pipeline

    def refuse(cls, *a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Pipeline, "from_pretrained", classmethod(refuse))


# ---------------------------------------------------------------------- 1. records lost


def test_lone_surrogates_do_not_abort_the_batch_and_resume_gets_past_them(tmp_path, tiny_model_dir, capsys):
    rows = [
        {"id": "s1", "text": ARTICLE},
        {"id": "s2\ud800", "text": ARTICLE_2},
        {"id": "s3", "title": "Tiêu đề \udfff", "text": ARTICLE},
        {"id": "s4", "nguon": {"url\ud800": "x\udc80"}, "text": ARTICLE_2},
        {"id": "s5", "text": ARTICLE.replace("đảng viên", "đảng\ud800viên", 1)},
        {"id": "s6", "text": ARTICLE_2},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out, csv_out, html = tmp_path / "o.jsonl", tmp_path / "o.csv", tmp_path / "o.html"
    argv = [src, "-o", out, "-o", csv_out, "-o", html, "--model", tiny_model_dir, "-q"]
    assert _predict(*argv) == 1
    err = capsys.readouterr().err
    recs = _read(out)
    assert [r["id"] for r in recs] == ["s1", "s2\ufffd", "s3", "s4", "s5", "s6"]
    assert [bool(r.get("error")) for r in recs] == [False, False, False, False, True, False]
    assert "lone surrogate" in recs[4]["error"] and "TextEncodeInput" not in recs[4]["error"]
    assert _summary(err) == (6, 1)
    assert html.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert _predict(*argv, "--resume") == 1
    assert [r["id"] for r in _read(out)] == [r["id"] for r in recs]


def test_a_file_name_that_is_not_utf8_does_not_abort_the_batch(tmp_path, tiny_model_dir, capsys):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(ARTICLE, encoding="utf-8")
    try:
        with open(os.path.join(os.fsencode(d), b"b\xff.txt"), "wb") as fh:
            fh.write(ARTICLE_2.encode("utf-8"))
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    (d / "c.txt").write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert _predict(d, "-o", out, "-o", tmp_path / "o.csv", "--model", tiny_model_dir, "-q") == 0
    assert [r["id"] for r in _read(out)] == ["a", "b\\xff", "c"]
    assert _summary(capsys.readouterr().err) == (3, 0)


# ---------------------------------------------------------------------- 2./3. files destroyed


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("flag", [[], ["--overwrite"], ["--resume"]])
def test_an_output_that_is_an_input_is_refused_before_anything_is_written(
    tmp_path, no_model, capsys, fmt, flag
):
    src = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        src.write_text(f"id,text\n1,{json.dumps(ARTICLE, ensure_ascii=False)}\n", encoding="utf-8")
    else:
        src.write_text(json.dumps({"id": "1", "text": ARTICLE}, ensure_ascii=False) + "\n", encoding="utf-8")
    before = src.read_bytes()
    link = tmp_path / f"link.{fmt}"
    link.symlink_to(src)
    others = [tmp_path / "r.html", tmp_path / "p.jsonl"] if fmt == "csv" else [tmp_path / "r.html"]
    for output in (src, link):
        assert _predict(src, "-o", output, *[f"-o{o}" for o in others], *flag) == 2
        assert "is also an input" in capsys.readouterr().err
        assert src.read_bytes() == before
    assert not any(o.exists() for o in others)
    # Inside an input folder: the folder's existing files are inputs too.
    assert _predict(tmp_path, "-o", src, "--overwrite") == 2
    assert src.read_bytes() == before


def test_a_new_output_inside_the_input_folder_is_not_read(tmp_path, tiny_model_dir, capsys):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    assert _predict(tmp_path, "-o", out, "-o", tmp_path / "pred.csv", "--model", tiny_model_dir, "-q") == 0
    assert [r["id"] for r in _read(out)] == ["a"]


@pytest.mark.parametrize("name", ["o.jsonl", "o.csv", "o.html"])
def test_every_existing_output_is_refused_without_overwrite(tmp_path, tiny_model_dir, capsys, name):
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / name
    out.write_text("analyst's notes\n", encoding="utf-8")
    assert _predict(src, "-o", out, "--model", tiny_model_dir, "-q") == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err
    assert out.read_text(encoding="utf-8") == "analyst's notes\n"
    assert _predict(src, "-o", out, "--model", tiny_model_dir, "-q", "--overwrite") == 0
    assert "analyst's notes" not in out.read_text(encoding="utf-8-sig")


def _readme_quick_start() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if "bin/dangtopic predict" in ln)
    cmd = shlex.split(line.split("&&")[-1])
    assert cmd[0].endswith("dangtopic") and cmd[1] == "predict"
    return cmd


def test_readme_quick_start_runs_twice_in_a_row(tmp_path, tiny_model_dir, monkeypatch, capsys):
    cmd = _readme_quick_start()
    assert " ".join(cmd[1:]) in (REPO / ".ci" / "run").read_text(encoding="utf-8"), "CI runs the README"
    (tmp_path / "data").symlink_to(REPO / "data")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the tiny model stands in for the shipped one; the rest is the README's command
        assert main([*cmd[1:], "--model", str(tiny_model_dir), "-q"]) == 0, capsys.readouterr().err
    assert len(_read(tmp_path / "out" / "predictions.jsonl")) == 2
    assert (tmp_path / "out" / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")


# ---------------------------------------------------------------------- 5. errors the user does not see


def test_inputs_are_checked_before_the_model_loads(tmp_path, no_model, capsys):
    good = tmp_path / "a.txt"
    good.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "out" / "o.jsonl"
    assert _predict(good, tmp_path / "missing.txt", tmp_path / "nothing*.jsonl", "-o", out) == 2
    err = capsys.readouterr().err
    assert "missing.txt: no such file or folder" in err and "nothing*.jsonl: no files match" in err
    bad_csv = tmp_path / "x.csv"
    bad_csv.write_text("id,body\n1,abc\n", encoding="utf-8")
    assert _predict(bad_csv, "-o", out) == 2
    err = capsys.readouterr().err
    assert "no column 'text'" in err and "body" in err and "--text-field" in err
    assert not out.exists()


def test_failed_records_are_named_on_stderr_and_csv_rows_counted(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (d / "b.txt").write_bytes(b"")
    (d / "c.csv").write_text("id,body\nr1,x\nr2,y\nr3,z\n", encoding="utf-8")  # no text column
    monkeypatch.setattr("dangtopic.inference.predict.MAX_FAILURES_SHOWN", 3)
    assert _predict(d, "-o", tmp_path / "o.jsonl", "--model", tiny_model_dir, "-q") == 1
    err = capsys.readouterr().err
    assert _summary(err) == (5, 4)
    shown = [ln for ln in err.splitlines() if ln.startswith("failed: ")]
    assert len(shown) == 3
    assert shown[0].startswith("failed: b (") and "empty file" in shown[0]
    assert shown[1].startswith("failed: r1 (") and "no column 'text'" in shown[1]
    assert "… and 1 more failed record" in err


def test_help_shows_every_default():
    import argparse

    from dangtopic.cli import DefaultsHelpFormatter
    from dangtopic.inference import predict

    parser = argparse.ArgumentParser(formatter_class=DefaultsHelpFormatter)
    predict.add_arguments(parser)
    fmt = parser._get_formatter()
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and not action.required:
            text = fmt._expand_help(action) if action.help else ""
            assert "default" in text, action.option_strings
            if action.default is not None:
                assert str(action.default) in text, action.option_strings


# ---------------------------------------------------------------------- 6. tracebacks


def _one_line_error(err: str) -> None:
    assert "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1, err


@pytest.mark.parametrize("where", ["a_folder", "proc"])
def test_unwritable_outputs_are_one_line_errors(tmp_path, no_model, capsys, where):
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    if where == "a_folder":
        out = tmp_path / "o.jsonl"
        out.mkdir()
    else:
        if not Path("/proc/self").exists():
            pytest.skip("no /proc")
        out = Path("/proc/dangtopic-test.jsonl")
    assert _predict(src, "-o", out, "--overwrite") == 2
    _one_line_error(capsys.readouterr().err)


def test_a_full_disk_stops_cleanly(tmp_path, tiny_model_dir, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    out.symlink_to("/dev/full")
    html = tmp_path / "o.html"
    assert _predict(src, "-o", out, "-o", html, "--model", tiny_model_dir, "-q") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No space left on device" in err
    assert html.read_text(encoding="utf-8").rstrip().endswith("</html>")


@pytest.mark.parametrize("damage", ["garbage_weights", "wrong_shape", "bad_config", "no_summarizer"])
def test_a_broken_model_folder_is_a_one_line_error(tmp_path, tiny_model_dir, capsys, damage):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    if damage == "garbage_weights":
        (model / "tagger" / "head.safetensors").write_bytes(b"\x00garbage" * 10)
    elif damage == "wrong_shape":
        cfg = json.loads((model / "tagger" / "config.json").read_text(encoding="utf-8"))
        cfg["config"]["labels"] = [*cfg["config"]["labels"], "extra"]
        cfg.pop("weights_sha256", None)
        (model / "tagger" / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    elif damage == "bad_config":
        (model / "summarizer" / "config.json").write_text("{not json", encoding="utf-8")
    else:
        shutil.rmtree(model / "summarizer")
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert _predict(src, "-o", out, "--model", model, "-q") == 2
    err = capsys.readouterr().err
    _one_line_error(err)
    assert f"cannot load the model from {model}" in err
    assert not out.exists()


def test_resuming_from_lines_that_are_not_records_is_a_one_line_error(tmp_path, no_model, capsys):
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    for content in ("[1, 2]\n3\n", '{"id": "a", "sentences": "no"}\n', '"text"\n'):
        out.write_text(content, encoding="utf-8")
        assert _predict(src, "-o", out, "--resume") == 2
        err = capsys.readouterr().err
        _one_line_error(err)
        assert "cannot resume" in err and "not a dangtopic prediction record" in err
        assert out.read_text(encoding="utf-8") == content


def test_ctrl_c_while_the_model_loads(tmp_path, monkeypatch, capsys):
    from dangtopic.inference.pipeline import Pipeline

    def interrupted(cls, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(Pipeline, "from_pretrained", classmethod(interrupted))
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "out" / "o.jsonl"
    assert _predict(src, "-o", out, "-o", tmp_path / "out" / "r.html") == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" in err
    assert not out.exists() and not (tmp_path / "out" / "r.html").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_cleanly_and_resume(tmp_path, tiny_model_dir, sig):
    n = 200
    src = tmp_path / "in.jsonl"
    # Short articles keep the resumed part quick; 200 of them keep the first run busy until the signal.
    texts = ("Toàn tỉnh đã kết nạp mới 3.787 đảng viên.", "Cấp ủy kiểm tra chấp hành 1.263 tổ chức đảng.")
    src.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": texts[i % 2]}, ensure_ascii=False) + "\n" for i in range(n)
        ),
        encoding="utf-8",
    )
    out, html = tmp_path / "o.jsonl", tmp_path / "o.html"
    argv = [str(src), "-o", str(out), "-o", str(html), "--model", str(tiny_model_dir), "--chunk-size", "1"]
    env = {
        **os.environ,
        "DANGTOPIC_CACHE": os.environ.get("DANGTOPIC_CACHE", str(Path.home() / ".cache/dangtopic")),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dangtopic", "predict", *argv, "-q"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # As from a terminal: a shell running the tests in the background leaves SIGINT ignored, and the
        # child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-2000:]
    assert "Traceback" not in err and "--resume" in err
    assert html.read_text(encoding="utf-8").rstrip().endswith("</html>")
    done = len(_read(out))
    assert 3 <= done < n
    assert main(["predict", *argv, "--resume", "-q"]) == 0
    assert [r["id"] for r in _read(out)] == [f"r{i}" for i in range(n)]


# ---------------------------------------------------------------------- 9. progress


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, tiny_model_dir, capsys):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        (d / f"a{i}.txt").write_text(ARTICLE, encoding="utf-8")
    (d / "b.jsonl").write_text(json.dumps({"id": "j", "text": ARTICLE_2}, ensure_ascii=False) + "\n\n")
    assert _predict(d, "-o", tmp_path / "o.jsonl", "--model", tiny_model_dir, "--log-every", "2") == 0
    err = capsys.readouterr().err
    assert "loading the model" in err
    lines = [ln for ln in err.splitlines() if ln.startswith("predict: ")]
    assert [ln.split(" articles")[0] for ln in lines] == ["predict: 2/4", "predict: 4/4"]
    assert "articles/s" in lines[0] and "sentences/s" in lines[0]


def test_progress_bar_on_a_terminal_has_a_total_and_rates(tmp_path, tiny_model_dir, monkeypatch, capsys):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        (d / f"a{i}.txt").write_text(ARTICLE, encoding="utf-8")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert _predict(d, "-o", tmp_path / "o.jsonl", "--model", tiny_model_dir) == 0
    err = capsys.readouterr().err
    assert "3/3" in err and "sentences/s" in err and "articles/s" in err


# ---------------------------------------------------------------------- 11. the bare command


def test_bare_command_is_a_usage_error_with_a_user_facing_description(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: dangtopic" in err and "predict" in err
    assert "lazily" not in err and "imported" not in err
    assert main(["--help"]) == 0
    assert "lazily" not in capsys.readouterr().out
