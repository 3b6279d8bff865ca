"""Soak benchmark: memory of `dangtopic predict` over a large JSONL, measured from outside the process.

`dangtopic benchmark --soak 100000` writes N varied synthetic articles (~1% deliberately bad), runs the
real `dangtopic predict` over them in a subprocess, samples its resident memory about once a second and
prints its peak RSS, RSS growth per 10k articles, articles/s, and records in vs records out.
`--soak-model tiny` builds a tiny random model with the same classes and code path (the real one runs
~1-2 articles/s on a 2-core CPU).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import itertools
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dangtopic.data.paths import shared_path
from dangtopic.inference.writers import is_error, iter_jsonl

# One record in BAD_EVERY is deliberately bad, cycling through these kinds; each must become an error record.
BAD_EVERY = 97
BAD_KINDS = ("empty", "blank", "not_string", "malformed_json", "missing_text", "not_vietnamese")
_ENGLISH = (
    "The provincial committee held its annual meeting to review the work of the past year and to set "
    "targets for the next term. Delegates discussed membership, inspection and training programmes."
)


# --------------------------------------------------------------------------- synthetic input


@dataclass
class _Source:
    header: list[str]  # leading short paragraphs (page furniture, date, title), kept in place
    body: list[str]  # paragraphs that get shuffled and subsampled
    title: str


def soak_sources(seeds_dir: str | Path | None = None) -> list[_Source]:
    """Articles to vary: the bundled data/examples, plus `seeds_dir` (default ../shared/seeds) if present."""
    files = sorted((Path(__file__).resolve().parents[1] / "data" / "examples").glob("*.txt"))
    seeds = Path(seeds_dir) if seeds_dir else shared_path("seeds")
    if seeds.is_dir():
        files += sorted(seeds.glob("*.txt"))
    out = []
    for path in files:
        paras = [p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if p.strip()]
        k = next((i for i, p in enumerate(paras) if len(p) >= 120), len(paras))
        header, body = paras[:k], paras[k:]
        if len(body) < 2:
            continue
        title = max(header, key=len) if header else body[0][:80]
        out.append(_Source(header, body, title))
    if not out:
        raise FileNotFoundError("no example articles found for the soak input (data/examples is missing)")
    return out


# The fields beside "id" of each bad kind but malformed_json, a line cut short as a crashed scraper writes.
_BAD_FIELDS = {
    "empty": {"text": ""},
    "blank": {"text": " \n\t\u00a0 "},
    "not_string": {"text": 12345},
    "missing_text": {"body": "Văn bản nằm ở trường khác."},
    "not_vietnamese": {"text": _ENGLISH},
}


def _bad_line(kind: str, rid: str) -> str:
    if kind == "malformed_json":
        return '{"id": "' + rid + '", "text": "Đảng bộ tỉnh kết nạp'
    return json.dumps({"id": rid, **_BAD_FIELDS[kind]}, ensure_ascii=False)


def _odd_whitespace(text: str, rng: random.Random) -> str:
    text = text.replace("\n", "\r\n")
    words = text.split(" ")
    seps = [rng.choice([" ", " ", "  ", "\u00a0", "\t"]) for _ in words[1:]]
    return "".join(w + s for w, s in zip(words, seps + [""], strict=True))


def generate_soak_jsonl(
    path: str | Path, n: int, sources: list[_Source] | None = None, seed: int = 0
) -> dict[str, Any]:
    """Stream `n` JSONL records to `path`, one line at a time; returns what was planted in them."""
    sources = sources or soak_sources()
    rng = random.Random(seed)
    plan: dict[str, Any] = {"records": n, "bad": Counter(), "nfd": 0, "odd_whitespace": 0, "duplicate_ids": 0}
    prev_id = None
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i in range(n):
            rid = f"soak-{i:06d}"
            if i % BAD_EVERY == 13:
                kind = BAD_KINDS[(i // BAD_EVERY) % len(BAD_KINDS)]
                plan["bad"][kind] += 1
                f.write(_bad_line(kind, rid) + "\n")
                continue
            src = sources[rng.randrange(len(sources))]
            body = src.body[:]
            rng.shuffle(body)
            body = body[: rng.randint(max(2, len(body) // 2), len(body))]
            text = "\n\n".join(src.header + body)
            if i % 10 == 3:
                text = unicodedata.normalize("NFD", text)
                plan["nfd"] += 1
            elif i % 10 == 7:
                text = _odd_whitespace(text, rng)
                plan["odd_whitespace"] += 1
            if i % 500 == 250 and prev_id is not None:
                rid = prev_id  # the reader renames it `~2`: still one output record
                plan["duplicate_ids"] += 1
            rec: dict[str, Any] = {"id": rid, "text": text, "url": f"https://example.vn/bai-viet/{i}"}
            if rng.random() < 0.7:
                rec["title"] = src.title
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            prev_id = rid
    plan["bad"] = dict(plan["bad"])
    plan["planned_errors"] = sum(plan["bad"].values())
    return plan


# --------------------------------------------------------------------------- measuring


def proc_memory_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, VmHWM) of a process in MiB from /proc, or None when it is gone or not on Linux."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return None


def _line_counts(path: Path) -> Iterator[int]:
    """The complete lines so far, at each `next`, of a file another process appends to (reads what is new)."""
    offset = lines = 0
    while True:
        with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
            f.seek(offset)
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                offset += len(chunk)
        yield lines


@dataclass
class Measured:
    returncode: int
    wall_s: float
    peak_rss_mb: float | None
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, records out, RSS MB)


def run_measured(
    cmd: list[str], out_jsonl: Path, env: dict[str, str], log: Path, interval: float = 1.0
) -> Measured:
    """Run `cmd`, sampling its RSS and the records in `out_jsonl` every `interval` s; peak RSS from wait4."""
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        counts = _line_counts(out_jsonl)
        samples: list[tuple[float, int, float]] = []
        t0 = time.perf_counter()
        peak_hwm = None
        try:
            while True:
                # wait4, not Popen.poll: it also returns the child's own peak RSS (ru_maxrss).
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                mem = proc_memory_mb(proc.pid)
                done = next(counts)
                if mem is not None:
                    samples.append((time.perf_counter() - t0, done, mem[0]))
                    peak_hwm = mem[1]
                time.sleep(interval)
        except BaseException:  # Ctrl-C or a sampling error: never leave predict running on its own
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Measured(proc.returncode, wall, peak or peak_hwm, samples)


def memory_growth(samples: list[tuple[float, int, float]], n: int) -> dict[str, Any]:
    """RSS after the first ~1% of records vs at the last sample, and the growth per 10k records."""
    start = max(1, math.ceil(0.01 * n))
    after = [s for s in samples if s[1] >= start]
    out: dict[str, Any] = {"start_records": start}
    if not after:
        return out
    t1, d1, r1 = after[0]
    t2, d2, r2 = after[-1]
    out.update(at_start={"records": d1, "rss_mb": r1, "seconds": t1}, at_end={"records": d2, "rss_mb": r2})
    out["end_seconds"] = t2
    if d2 > d1:
        out["growth_mb_per_10k"] = (r2 - r1) / (d2 - d1) * 10_000
        out["articles_per_s_steady"] = (d2 - d1) / (t2 - t1) if t2 > t1 else None
    if len(after) >= 3 and len({s[1] for s in after}) > 1:
        fit = statistics.linear_regression([s[1] for s in after], [s[2] for s in after])
        out["slope_mb_per_10k"] = fit.slope * 1e4
        out["fit_samples"] = len(after)
    out["max_rss_after_start_mb"] = max(s[2] for s in after)
    # The allocator warms up over the first few thousand records; growth after 10% is the steady trend.
    late = [s for s in after if s[1] >= 0.1 * n]
    if len(late) >= 2 and late[-1][1] > late[0][1]:
        out["at_10pct"] = {"records": late[0][1], "rss_mb": late[0][2]}
        out["growth_after_10pct_mb_per_10k"] = (late[-1][2] - late[0][2]) / (late[-1][1] - late[0][1]) * 1e4
    return out


# --------------------------------------------------------------------------- checking outputs


def _input_lines(path: Path) -> Iterator[int]:
    """Line numbers of the non-blank lines of a JSONL input (gzipped or not): one input record each."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield lineno


def _reason(msg: str) -> str:
    """An error message without its per-record details, so reasons can be counted."""
    return re.sub(r"^line \d+: ", "", str(msg)).split(" (")[0]


def check_outputs(inp: Path, out_jsonl: Path, out_csv: Path | None = None) -> dict[str, Any]:
    """Stream input and output side by side: counts, error reasons, and one output per input line in order."""
    res: dict[str, Any] = {"records_in": 0, "records_out": 0, "errors": 0, "reasons": Counter()}
    in_order = True
    for lineno, rec in itertools.zip_longest(_input_lines(inp), iter_jsonl(out_jsonl)):
        res["records_in"] += lineno is not None
        res["records_out"] += rec is not None
        if lineno is None or rec is None:
            in_order = False
            continue
        if is_error(rec):
            res["errors"] += 1
            res["reasons"][_reason(rec["error"])] += 1
        in_order = in_order and str(rec.get("source", "")).rpartition(":")[2] == str(lineno)
    res["in_order"] = in_order
    res["reasons"] = dict(res["reasons"].most_common())
    if out_csv is None:
        return res
    rows = ids = err_rows = 0
    last = None
    with open(out_csv, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            rows += 1
            err_rows += bool(row["error"])
            # Rows of one article are consecutive: count articles without holding their ids.
            ids += row["id"] != last
            last = row["id"]
    res["csv"] = {"rows": rows, "articles": ids, "error_rows": err_rows}
    return res


# --------------------------------------------------------------------------- the benchmark


def soak(args) -> dict[str, Any]:
    """Generate (or take) the input, build or pick the model, run predict measured, check the outputs."""
    if getattr(args, "soak_dir", None):
        Path(args.soak_dir).mkdir(parents=True, exist_ok=True)
        return _soak_in(args, Path(args.soak_dir))
    with tempfile.TemporaryDirectory(prefix="dangtopic-soak-") as tmp:
        return _soak_in(args, Path(tmp))


def _soak_in(args, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"threads": args.threads, "interval_s": args.soak_interval}
    if args.soak_input:
        inp = Path(args.soak_input)
        if not inp.is_file():
            raise FileNotFoundError(f"--soak-input {inp}: no such file")
        res["input"] = {"path": str(inp), "generated": False}
    else:
        inp = work / "soak.jsonl"
        t = time.perf_counter()
        plan = generate_soak_jsonl(inp, args.soak, seed=args.soak_seed)
        res["input"] = {"path": str(inp), "generated": True, **plan, "seconds": time.perf_counter() - t}
    res["input"]["mb"] = inp.stat().st_size / 2**20

    if args.model:
        model, desc = Path(args.model), f"model folder {args.model}"
    elif args.soak_model == "tiny":
        from dangtopic.models.tiny import make_tiny_model_dir

        # A tokenizer trained on the source articles keeps words about as whole as the real one does, so
        # sentences are windowed about as often as with the real model.
        texts = [p for src in soak_sources() for p in src.header + src.body]
        model = make_tiny_model_dir(work / "tiny_model", seed=args.soak_seed, texts=texts, vocab_size=4000)
        desc = (
            "TINY random model (2-layer 32-wide BERT, random tagger head, untrained summariser; same classes, "
            "files and predict code path as the shipped model, labels meaningless)"
        )
    else:
        model, desc = None, "shipped default model (models/default: e5-small tagger + summariser)"
    res["model"] = {"kind": "custom" if args.model else args.soak_model, "description": desc}

    out_jsonl = work / "predictions.jsonl"
    out_csv = work / "predictions.csv" if args.soak_csv else None
    cmd = [sys.executable, "-m", "dangtopic", "predict", str(inp), "-o", str(out_jsonl)]
    if out_csv is not None:
        cmd += ["-o", str(out_csv)]
    if model is not None:
        cmd += ["--model", str(model)]
    cmd += ["--device", "cpu", "--batch-size", str(args.batch_size), "--overwrite", "-q"]
    res["command"] = " ".join(cmd)
    env = dict(os.environ)
    if args.threads:
        # torch reads these at start-up; predict has no thread option of its own.
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    m = run_measured(cmd, out_jsonl, env, work / "predict.log", interval=args.soak_interval)
    log = (work / "predict.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    res["predict"] = {"returncode": m.returncode, "wall_s": m.wall_s, "last_log_line": log[-1] if log else ""}
    res["predict"]["log_tail"] = log[-5:]
    res["peak_rss_mb"] = m.peak_rss_mb
    res["samples"] = len(m.samples)
    res["checks"] = check_outputs(inp, out_jsonl, out_csv)
    n = res["checks"]["records_in"]
    res["articles_per_s"] = n / m.wall_s if m.wall_s else None
    res["first_record_s"] = next((s[0] for s in m.samples if s[1] > 0), None)
    res["memory"] = memory_growth(m.samples, n)
    res["output_mb"] = {"jsonl": out_jsonl.stat().st_size / 2**20 if out_jsonl.exists() else 0.0}
    if out_csv is not None and out_csv.exists():
        res["output_mb"]["csv"] = out_csv.stat().st_size / 2**20
    if getattr(args, "soak_samples", None):
        with open(args.soak_samples, "w", encoding="utf-8") as f:
            f.write("seconds,records_out,rss_mb\n")
            f.writelines(f"{t:.2f},{n},{rss:.1f}\n" for t, n, rss in m.samples)
    return res


def soak_ok(res: dict[str, Any]) -> bool:
    """Every input record has exactly one output record, in order, and predict did not crash."""
    c = res["checks"]
    ok = c["records_in"] == c["records_out"] and c["in_order"] and res["predict"]["returncode"] in (0, 1)
    planned = res["input"].get("planned_errors")
    ok = ok and (planned is None or c["errors"] == planned)
    if "csv" in c:
        ok = ok and c["csv"]["articles"] == c["records_out"] and c["csv"]["error_rows"] == c["errors"]
    return ok


def format_soak(res: dict[str, Any]) -> str:
    def mb(x: float | None) -> str:
        return f"{x:.1f} MiB" if x is not None else "n/a"

    inp, c, mem, p = res["input"], res["checks"], res["memory"], res["predict"]
    lines = [f"soak: dangtopic predict over {c['records_in']:,} records, {res['threads']} torch thread(s)"]
    lines.append(f"model: {res['model']['description']}")
    if inp["generated"]:
        bad = ", ".join(f"{k} {v}" for k, v in inp["bad"].items())
        lines.append(
            f"input: {inp['records']:,} generated records ({inp['mb']:.0f} MiB, written in {inp['seconds']:.0f} s): "
            f"{inp['nfd']:,} NFD, {inp['odd_whitespace']:,} odd whitespace, {inp['duplicate_ids']} duplicate ids, "
            f"{inp['planned_errors']} deliberately bad ({bad})"
        )
    else:
        lines.append(f"input: {inp['path']} ({inp['mb']:.0f} MiB)")
    lines.append(f"command: {res['command']}")
    lines.append(f"predict exit code {p['returncode']}; its last line: {p['last_log_line']}")
    planned = inp.get("planned_errors")
    lines.append(
        f"records in {c['records_in']:,}, records out {c['records_out']:,} "
        f"({'EQUAL' if c['records_in'] == c['records_out'] else 'DIFFERENT'}), one per input line in order: "
        f"{'yes' if c['in_order'] else 'NO'}; error records {c['errors']:,}"
        + (f" (planned {planned:,})" if planned is not None else "")
    )
    if c["reasons"]:
        lines.append("  errors: " + "; ".join(f"{k}: {v}" for k, v in c["reasons"].items()))
    if "csv" in c:
        cs = c["csv"]
        lines.append(
            f"csv: {cs['rows']:,} sentence rows, {cs['articles']:,} articles, {cs['error_rows']:,} error rows"
        )
    outs = ", ".join(f"{k} {v:.0f} MiB" for k, v in res["output_mb"].items())
    lines.append(f"outputs: {outs}")
    steady, first = mem.get("articles_per_s_steady"), res["first_record_s"]
    lines.append(
        f"time: {p['wall_s']:.1f} s wall, {res.get('articles_per_s'):.1f} articles/s overall"
        + (f", {steady:.1f} articles/s after the first 1%" if steady else "")
        + (f"; first record out after {first:.1f} s (model load)" if first else "")
    )
    lines.append(f"peak RSS (VmHWM / ru_maxrss of the predict process): {mb(res['peak_rss_mb'])}")
    if "at_start" in mem:
        s, e = mem["at_start"], mem["at_end"]
        lines.append(
            f"RSS after {s['records']:,} records (~1%): {mb(s['rss_mb'])}; at {e['records']:,} records (last "
            f"sample): {mb(e['rss_mb'])}; max after 1%: {mb(mem.get('max_rss_after_start_mb'))}"
        )
        if "growth_mb_per_10k" in mem:
            g = f"growth: {mem['growth_mb_per_10k']:+.2f} MiB per 10k articles (end vs 1%)"
            if "slope_mb_per_10k" in mem:
                g += f"; least-squares slope {mem['slope_mb_per_10k']:+.2f} MiB per 10k over {mem['fit_samples']} samples"
            lines.append(g)
        if "at_10pct" in mem:
            t = mem["at_10pct"]
            lines.append(
                f"after allocator warm-up: RSS {mb(t['rss_mb'])} at {t['records']:,} records (~10%) -> "
                f"{mb(e['rss_mb'])} at the end: {mem['growth_after_10pct_mb_per_10k']:+.2f} MiB per 10k articles"
            )
    else:
        lines.append(f"RSS samples: {res['samples']} (too few after the first 1% to measure growth)")
    lines.append("result: " + ("OK" if soak_ok(res) else "FAILED (see above)"))
    return "\n".join(lines)
