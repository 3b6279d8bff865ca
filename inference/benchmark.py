"""`dangtopic benchmark`: tagging sentences/s and full-pipeline ms/article on this machine.

`--soak N` instead measures the memory of `dangtopic predict` over N articles (see `dangtopic.inference.soak`);
`--engine ray` the articles/s of `dangtopic predict --engine ray` with 1 and 2 actors beside the local engine.

Compares the fp32 tagger with the fast paths (`--fast`: int8, bf16, the distilled student) and prints the
micro-F1 each gets on the held-out hand-labelled test articles (test part of `data/labels/split_v2.json`,
each read whole, as the pipeline reads articles) with their agreement, so the speed gain is never reported
without its accuracy cost; `--write-card` puts the tables into the model cards. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="model folder with tagger/ and summarizer/ (default: shipped)"
    )
    parser.add_argument(
        "--sentences", type=int, default=2000, help="sentences to tag per timing run (default 2000)"
    )
    parser.add_argument(
        "--articles",
        default=None,
        help="folder (or files/globs) of articles for the pipeline timing (default: ../shared/seeds if present)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (default 2, the target machine)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timing runs; the median is reported (default 3)"
    )
    parser.add_argument(
        "--labels", nargs="*", default=None, help="hand-label JSONL files (default: the shared round-2 + v1)"
    )
    parser.add_argument(
        "--fast-methods",
        default="int8,bf16,distilled",
        help="comma-separated fast paths to compare with fp32 (int8, bf16, distilled = the shipped student "
        "tagger; empty = fp32 only)",
    )
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--write-card",
        action="store_true",
        help="put the tables in the model cards (README.md) of the tagger, the student and the summariser",
    )
    engine = parser.add_argument_group(
        "engines (articles/s of the local engine and of Ray actors; needs the `distributed` extra)"
    )
    engine.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="ray: instead of the tagger benchmark, time the full pipeline on the local engine and on Ray "
        "with each --actors count, the CPUs shared evenly between the actors",
    )
    engine.add_argument("--actors", default="1,2", help="comma-separated actor counts to time")
    engine.add_argument(
        "--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else a new local Ray)"
    )
    engine.add_argument(
        "--engine-articles",
        type=int,
        default=64,
        metavar="N",
        help="articles per run, cycled from --articles (else ../shared/seeds, else the bundled examples)",
    )
    engine.add_argument("--chunk-size", type=int, default=8, help="articles per batch (per actor call)")
    soak = parser.add_argument_group(
        "soak (memory of `dangtopic predict` over many articles, measured from outside the process)"
    )
    soak.add_argument(
        "--soak",
        type=int,
        nargs="?",
        const=100_000,
        default=None,
        metavar="N",
        help="run the soak instead of the speed benchmark: N generated articles (default 100000)",
    )
    soak.add_argument(
        "--soak-model",
        choices=["tiny", "default"],
        default="tiny",
        help="tiny: a tiny random model built on the fly, same code path (default); default: the shipped "
        "model (~1-2 articles/s on 2 cores: use a small N). --model overrides both",
    )
    soak.add_argument("--soak-input", default=None, help="use this JSONL instead of generating N articles")
    soak.add_argument("--soak-csv", action="store_true", help="also write (and check) the CSV output")
    soak.add_argument("--soak-interval", type=float, default=1.0, help="seconds between RSS samples")
    soak.add_argument("--soak-seed", type=int, default=0, help="seed of the generated articles")
    soak.add_argument(
        "--soak-dir", default=None, help="keep the input, model and outputs here (default: a temp dir)"
    )
    soak.add_argument("--soak-samples", default=None, help="write the RSS samples to this CSV")


def _labelled_test(paths: list[str] | None):
    """The held-out test articles as (all sentences, article lengths, labelled mask, gold of the labelled
    ones, every labelled text), or None when the hand labels are absent."""
    from dangtopic.data.labels import (
        apply_split,
        labelled_articles,
        labels_to_vector,
        load_hand_labels,
        load_split,
        vnds_full_text,
    )

    try:
        items = load_hand_labels(paths)
    except FileNotFoundError:
        return None
    _, _, test = apply_split(items, load_split())
    try:
        full = vnds_full_text({it.article_id for it in test})
    except FileNotFoundError:
        full = {}  # without the corpus, excerpts are read as their labelled sentences only
    arts = labelled_articles(test, full)
    texts = [s for a in arts for s in a.sentences]
    mask = np.array([lab is not None for a in arts for lab in a.labels])
    gold = np.array([labels_to_vector(lab) for a in arts for lab in a.labels if lab is not None], dtype=int)
    return texts, [len(a.sentences) for a in arts], mask, gold, [it.text for it in items]


def _speed_sentences(n: int, labelled: list[str] | None) -> list[str]:
    """N real sentences: the hand-labelled ones (cycled), else VNDS test sentences."""
    pool = list(labelled or [])
    if not pool:
        try:
            from dangtopic.data.vnds import iter_vnds

            for art in iter_vnds("test"):
                pool.extend(art.sentences)
                if len(pool) >= n:
                    break
        except Exception:
            pool = []
    if not pool:
        raise SystemExit("no sentences to benchmark on: hand labels and VNDS are both missing")
    return [pool[i % len(pool)] for i in range(n)]


def _time(fn, repeat: int) -> tuple[float, float, Any]:
    """Median wall seconds, median CPU seconds (all threads of this process) and the last result.

    CPU seconds stay meaningful when other jobs share the machine; wall seconds are what a user waits.
    """
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def _micro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average="micro", zero_division=0))


def _multi_hot(preds, labels) -> np.ndarray:
    return np.array([[lab in p.labels for lab in labels] for p in preds], dtype=int).reshape(-1, len(labels))


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from dangtopic.models.tagger import SentenceTagger

    if args.threads:
        torch.set_num_threads(args.threads)
    from dangtopic.inference.pipeline import model_dirs

    root = Path(args.model) if args.model else None
    tagger = SentenceTagger.from_pretrained(model_dirs(root)[0], device="cpu")
    labels = list(tagger.labels)
    lab = _labelled_test(args.labels)
    sentences = _speed_sentences(args.sentences, lab[-1] if lab else None)
    from dangtopic.inference.speed import make_fast, native_bf16

    variants: dict[str, Any] = {"fp32": tagger}
    for method in _fast_methods(args):
        if method == "distilled":
            # The student tagger shipped beside the full one (`--fast distilled`), bf16 where native.
            sdir = model_dirs(root, "distilled")[0]
            if not sdir.is_dir():
                print(f"no distilled tagger at {sdir}; skipping it", file=sys.stderr)
                continue
            student = SentenceTagger.from_pretrained(sdir, device="cpu")
            variants[method] = make_fast(student, "bf16") if native_bf16() else student
        else:
            variants[method] = make_fast(copy.deepcopy(tagger), method)
    res: dict[str, Any] = {
        "threads": torch.get_num_threads(),
        "native_bf16": native_bf16(),
        # Other jobs on the machine skew every number: record how busy it was.
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "cpu_count": os.cpu_count(),
        "batch_size": args.batch_size,
        "sentences": len(sentences),
        "mean_chars": float(np.mean([len(s) for s in sentences])),
        "tagging": {},
    }
    for name, tg in variants.items():
        tg.predict_proba(sentences[: args.batch_size], batch_size=args.batch_size)  # warm-up
        secs, cpu, _ = _time(
            lambda tg=tg: tg.predict_proba(sentences, batch_size=args.batch_size), args.repeat
        )
        entry: dict[str, Any] = {
            "sentences_per_s": len(sentences) / secs,
            "seconds": secs,
            "cpu_seconds": cpu,
            "sentences_per_cpu_s": len(sentences) / cpu,
        }
        if lab:
            texts, lengths, mask, gold, _ = lab
            probs = tg.proba_articles(texts, lengths, batch_size=args.batch_size)[mask]
            entry["micro_f1"] = _micro_f1(gold, _multi_hot(tg.decide(probs), labels))
            entry["_probs"] = probs
        res["tagging"][name] = entry
    res["agreement"] = {}
    if lab:
        p32 = res["tagging"]["fp32"]["_probs"]
        y32 = _multi_hot(tagger.decide(p32), labels)
        for name in variants:
            if name == "fp32":
                continue
            pfast = res["tagging"][name]["_probs"]
            yfast = _multi_hot(variants[name].decide(pfast), labels)
            res["agreement"][name] = {
                "test_sentences": len(lab[0]),
                "same_label_set": float(np.mean((y32 == yfast).all(axis=1))),
                "same_decision": float(np.mean(y32 == yfast)),
                "max_abs_score_diff": float(np.abs(p32 - pfast).max()),
                "micro_f1_change": res["tagging"][name]["micro_f1"] - res["tagging"]["fp32"]["micro_f1"],
            }
    for entry in res["tagging"].values():
        entry.pop("_probs", None)
    res["pipeline"] = _pipeline_timing(args, root, variants)
    return res


def _article_inputs(args: argparse.Namespace) -> list[str] | None:
    """The articles to time the pipeline on: --articles, else ../shared/seeds; None when neither is there."""
    if args.articles:
        return [args.articles]
    from dangtopic.data.paths import shared_path

    seeds = shared_path("seeds")
    return [str(seeds)] if seeds.is_dir() else None


def _engine_records(args: argparse.Namespace) -> list[Any]:
    """`--engine-articles` records cycled from the benchmark articles (or the bundled examples), ids unique."""
    from dataclasses import replace

    from dangtopic.data.readers import iter_records

    inputs = _article_inputs(args) or [str(Path(__file__).resolve().parent.parent / "data" / "examples")]
    pool = [r for r in iter_records(inputs) if r.ok]
    if not pool:
        raise ValueError(f"no readable articles in {', '.join(inputs)}")
    return [
        replace(pool[i % len(pool)], id=f"{pool[i % len(pool)].id}#{i}") for i in range(args.engine_articles)
    ]


def _pipeline_timing(args, root: Path | None, variants: dict[str, Any]) -> dict[str, Any]:
    """ms/article of ingestion + tagging + summary over the benchmark articles, per tagger variant."""
    from dangtopic.data.readers import iter_records

    inputs = _article_inputs(args)
    if inputs is None:
        return {"skipped": "no --articles given and ../shared/seeds not found"}
    texts = [r.text for r in iter_records(inputs) if not r.error and r.text]
    if not texts:
        return {"skipped": f"no readable articles in {inputs}"}
    try:
        from dangtopic.inference.pipeline import model_dirs
        from dangtopic.models.summarizer import ExtractiveSummarizer

        summarizer = ExtractiveSummarizer.from_pretrained(model_dirs(root)[1])
    except (OSError, ValueError) as e:
        return {"skipped": f"no summarizer: {e}"}
    from dangtopic.inference.pipeline import Pipeline
    from dangtopic.inference.speed import bf16_summarizer, native_bf16

    out: dict[str, Any] = {"articles": len(texts), "inputs": inputs}
    reference: list[Any] = []
    # The reference row encodes each article twice (tagger, then summariser); the others share the
    # tagger's pass with the summariser where `Pipeline.shared_layers` allows it.
    runs = [("separate", "fp32", False)] + [(name, name, True) for name in variants]
    for row, name, share in runs:
        tg = variants[name]
        # The bf16 path also runs the summariser's sentence encoder in bf16, as `--fast bf16` does.
        bf16 = name == "bf16" or (name == "distilled" and native_bf16())
        summ = bf16_summarizer(copy.deepcopy(summarizer)) if bf16 else summarizer
        pipe = Pipeline(tg, summ, batch_size=args.batch_size, topic_summaries=False, share_encoder=share)
        pipe(texts[:1])  # warm-up
        secs, cpu, results = _time(lambda pipe=pipe: pipe(texts), args.repeat)
        entry = {
            "shared_layers": pipe.shared_layers(),
            "ms_per_article": 1000 * secs / len(texts),
            "cpu_ms_per_article": 1000 * cpu / len(texts),
            "sentences_per_article": float(np.mean([len(r.sentences) for r in results])),
        }
        reference = reference or results
        if results is not reference:
            pairs = list(zip(reference, results, strict=True))
            entry["same_summary"] = float(np.mean([a.summary == b.summary for a, b in pairs]))
            sents = [(a, b) for x, y in pairs for a, b in zip(x.sentences, y.sentences, strict=True)]
            entry["same_sentence_labels"] = float(np.mean([a.labels == b.labels for a, b in sents]))
        out[row] = entry
    return out


def format_results(res: dict[str, Any], command: str) -> str:
    """The tables of one run in markdown: printed, and the "Speed" section of the model cards."""
    from dangtopic.models.cpu import cpu_name

    load = res["load_average_1min"]
    lines = [
        "## Speed",
        "",
        f"Measured by `{command}` on {time.strftime('%Y-%m-%d')}: {cpu_name()}, {res['cpu_count']} CPUs, "
        f"{res['threads']} torch threads, native bf16: {'yes' if res['native_bf16'] else 'no'}, load average "
        f"{'n/a' if load is None else f'{load:.2f}'} at start (wall-clock numbers mean something only on an "
        f"idle machine), {res['sentences']} sentences (mean {res['mean_chars']:.0f} chars), batches of "
        f"{res['batch_size']}. `fp32`, `int8` and `bf16` run the full tagger, `distilled` the 4-layer student "
        "(`tagger-fast/`). Speed-up from CPU time (steadier than wall time on a shared machine); micro-F1 on "
        "the held-out hand-labelled test sentences, read in their articles (split_v2 test).",
        "",
        "| tagger | sentences/s | sent/CPU-s | speed-up | micro-F1 | ΔF1 vs fp32 | same labels | max abs Δp |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = res["tagging"]["fp32"]["sentences_per_cpu_s"]
    for name, e in res["tagging"].items():
        f1 = f"{e['micro_f1']:.4f}" if "micro_f1" in e else "n/a"
        vs = " | | "  # the reference row, or no hand labels to compare on
        if a := res["agreement"].get(name):
            vs = f"{a['micro_f1_change']:+.4f} | {100 * a['same_label_set']:.1f}% | {a['max_abs_score_diff']:.3f}"
        lines.append(
            f"| {name} | {e['sentences_per_s']:.1f} | {e['sentences_per_cpu_s']:.1f} | "
            f"{e['sentences_per_cpu_s'] / base:.2f}x | {f1} | {vs} |"
        )
    p = res.get("pipeline", {})
    if "skipped" in p:
        return "\n".join([*lines, "", f"Pipeline: skipped ({p['skipped']})."]) + "\n"
    lines += [
        "",
        f"Full pipeline (ingest, tag in context, summarise) over {p['articles']} articles; `separate` encodes each "
        "article twice (tagger, then summariser), the other rows share the tagger's pass where they can.",
        "",
        "| pipeline | ms/article | CPU-ms/article | sentences/article | encoder passes | same summary | same labels |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in p.items():
        if isinstance(e, dict):
            passes = f"1 (shares {e['shared_layers']} layers)" if e.get("shared_layers") else "2"
            same = " | ".join(
                f"{100 * e[k]:.1f}%" if k in e else "reference"
                for k in ("same_summary", "same_sentence_labels")
            )
            lines.append(
                f"| {name} | {e['ms_per_article']:.0f} | {e['cpu_ms_per_article']:.0f} | "
                f"{e['sentences_per_article']:.1f} | {passes} | {same} |"
            )
    return "\n".join(lines) + "\n"


def _write_cards(args: argparse.Namespace, text: str) -> list[Path]:
    """Save `text` as the speed section of the tagger's, the student's and the summariser's cards."""
    from dangtopic.inference.pipeline import model_dirs
    from dangtopic.models.saving import SPEED_FILE, write_card

    root = Path(args.model) if args.model else None
    written = []
    for folder in (*model_dirs(root), model_dirs(root, "distilled")[0]):
        if (folder / "README.md").is_file():
            (folder / SPEED_FILE).write_text(text, encoding="utf-8")
            written.append(write_card(folder))
    return written


def _command() -> str:
    args = sys.argv[1:] if sys.argv[1:2] == ["benchmark"] else ["benchmark"]
    return "dangtopic " + " ".join(shlex.quote(a) for a in args)


def _usage_problem(args: argparse.Namespace, soak_mode: bool) -> str | None:
    if soak_mode:
        if args.soak < 1 and not args.soak_input:
            return "--soak needs N >= 1 (or --soak-input)"
        if args.soak_interval <= 0:
            return "--soak-interval must be > 0"
    elif args.sentences < 1 or args.repeat < 1:
        return "--sentences and --repeat must be >= 1"
    if args.engine == "ray":
        try:
            if min(_actor_counts(args)) < 1 or args.engine_articles < 1 or args.chunk_size < 1:
                return "--actors, --engine-articles and --chunk-size must be >= 1"
        except ValueError:
            return f"--actors must be comma-separated numbers, got {args.actors!r}"
    if args.batch_size < 1:
        return "--batch-size must be >= 1"
    from dangtopic.inference.speed import FAST_METHODS

    if unknown := set(_fast_methods(args)) - {*FAST_METHODS, "distilled"}:
        return f"--fast-methods takes int8, bf16 and distilled, not {', '.join(sorted(unknown))}"
    if args.write_card and (soak_mode or args.engine == "ray"):
        return "--write-card writes the tagging and pipeline tables: not with --soak or --engine ray"
    return None


def _fast_methods(args: argparse.Namespace) -> list[str]:
    return [m.strip() for m in args.fast_methods.split(",") if m.strip()]


def _actor_counts(args: argparse.Namespace) -> list[int]:
    return [int(n) for n in args.actors.split(",") if n.strip()] or [1]


def _engines(args: argparse.Namespace) -> dict[str, Any]:
    from dangtopic.inference.ray_engine import benchmark_engines, require_ray

    require_ray()
    return benchmark_engines(
        _engine_records(args),
        args.model,
        actor_counts=_actor_counts(args),
        address=args.address,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        threads=args.threads,
    )


def run(args: argparse.Namespace) -> int:
    from dangtopic.inference.predict import quiet_libraries
    from dangtopic.inference.soak import format_soak, soak, soak_ok

    soak_mode = args.soak is not None or bool(args.soak_input)
    if soak_mode and args.soak is None:
        args.soak = 0
    if problem := _usage_problem(args, soak_mode):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    quiet_libraries()
    engines = args.engine == "ray" and not soak_mode
    try:
        res = soak(args) if soak_mode else _engines(args) if engines else benchmark(args)
    except (OSError, ValueError, ImportError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if engines:
        from dangtopic.inference.ray_engine import format_engines

        print(format_engines(res))
    elif soak_mode:
        print(format_soak(res))
    else:
        tables = format_results(res, _command())
        print(tables)
        if args.write_card:  # `_usage_problem` refuses it with --soak and --engine ray
            for readme in _write_cards(args, tables):
                print(f"wrote the speed tables into {readme}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    # The soak fails when a record was lost, duplicated, reordered, or predict crashed.
    return (0 if soak_ok(res) else 1) if soak_mode else 0
