"""Batch inference: `dangtopic predict INPUT... -o OUTPUT [-o OUTPUT2 ...]`.

Every input record yields exactly one output record, in input order: a result, or `{"id", "source",
"title", "error"}`, whose id and reason are also printed (the first 20, then a count). Outputs are written
as records arrive, flushed per record (Parquet per row group), so memory stays flat however many records.

Inputs and outputs are checked before the model loads: a missing input, an output that is also an input
or cannot be written, or an existing output without `--overwrite` or `--resume` stops the run with
nothing written. `--resume` skips the ids already in the JSONL output (its crash-truncated last line cut
first) and appends; other outputs are rebuilt. Ctrl-C and SIGTERM stop cleanly (outputs closed,
resumable). Exit code: 0 if every record succeeded, 1 if any failed, 2 for a usage, input, output or
model-loading error or a failed write, 130 when interrupted by Ctrl-C (SIGINT), 143 by SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dangtopic.data import readers
from dangtopic.data.readers import DISTRIBUTED_INSTALL
from dangtopic.inference.batch import PIPELINE_OPTIONS, BatchPredictor, ingest_record, predict_items
from dangtopic.inference.writers import ResumeState, iter_jsonl, open_writer, output_format, scan_for_resume


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files, folders, globs, .jsonl, .csv or .parquet"
    )
    parser.add_argument(
        "-o",
        "--output",
        action="append",
        required=True,
        metavar="OUTPUT",
        help="output file, format by extension: .jsonl (one record per article), .csv (one row per "
        "sentence), .html (report), .parquet (one row per article, the record as JSON); repeat for several",
    )
    parser.add_argument(
        "--model", help="model folder with tagger/ and summarizer/ (default: the shipped models)"
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the models run"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=32,
        help="articles tagged together; bounds memory, larger chunks pad less",
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        default=0,
        help="worker processes that clean and sentence-split articles while the main process runs the "
        "models; 0 = do it in the main process. Helps when the models run on a GPU or on many cores; on a "
        "2-core CPU the default is as fast",
    )
    parser.add_argument("--text-field", default="text", help="JSONL/CSV column holding the article text")
    parser.add_argument("--id-field", default="id", help="JSONL/CSV column holding the article id")
    parser.add_argument("--title-field", default="title", help="JSONL/CSV column holding the title")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: skip the ids already in the .jsonl output, append to it and "
        "rebuild the other outputs",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (without it they are refused)"
    )
    parser.add_argument(
        "--topic-summaries", action="store_true", help="also summarise each topic's sentences"
    )
    parser.add_argument(
        "--max-sentences", type=int, help="summary length cap in sentences (default: the model's)"
    )
    parser.add_argument("--max-words", type=int, help="summary length cap in words (default: the model's)")
    parser.add_argument(
        "--fast",
        nargs="?",
        const="auto",
        choices=["auto", "int8", "bf16", "distilled", "off"],
        help="faster CPU tagger: `int8` (the full tagger quantised, about 1.2x at -0.01 micro-F1), `bf16`, "
        "`distilled` (the 4-layer student tagger, about 3x at -0.05), `auto` (bf16 on CPUs with native "
        "bf16, else the student, else int8); `dangtopic benchmark` prints the speed and micro-F1 cost of "
        "each (default: bf16 on CPUs with native bf16 units, else off; `off`: float32 everywhere)",
    )
    parser.add_argument("--title", help="heading of the HTML report (default: dangtopic report)")
    parser.add_argument(
        "--report-max-articles",
        type=int,
        default=REPORT_MAX_ARTICLES,
        metavar="N",
        help="the HTML report shows the first N articles in full (0 = all); its overview and failed-input "
        "list cover every record. Memory stays flat either way, but a report of every article of a large "
        "batch is too big for a browser",
    )
    parser.add_argument(
        "--log-every",
        type=int,
        default=LOG_EVERY,
        metavar="N",
        help="when stderr is not a terminal, log progress every N articles instead of drawing a bar",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or progress lines")
    ray = parser.add_argument_group(
        "engine", f"run the models in Ray actors, here or on a Ray cluster (needs {DISTRIBUTED_INSTALL})"
    )
    ray.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (and --num-workers); ray: a pool of Ray actors, each loading the model once",
    )
    ray.add_argument(
        "--address",
        help="Ray cluster: auto (the one running here), ray://HOST:10001 (Ray Client), or a GCS address "
        "(default: $RAY_ADDRESS, else a new Ray instance on this machine); the model folder must exist on "
        "every node",
    )
    ray.add_argument("--actors", type=int, metavar="N", help="actors (default: as many as the CPUs hold)")
    ray.add_argument(
        "--cpus-per-actor", type=float, metavar="C", help="CPUs (torch threads) per actor (default: 1)"
    )
    ray.add_argument("--gpus-per-actor", type=float, metavar="G", help="GPUs per actor (default: 0)")


# Articles rendered in full in an HTML output of `predict`: ~15 kB each (25 sentences), so ~15 MB of HTML.
REPORT_MAX_ARTICLES = 1000
LOG_EVERY = 500
# Failed records printed one by one on stderr; past this only counted (every reason is in the outputs).
MAX_FAILURES_SHOWN = 20
# The least value of each numeric option.
MINIMUMS = {"batch_size": 1, "chunk_size": 1, "log_every": 1, "report_max_articles": 0, "num_workers": 0}
# Options of the Ray engine only (None when not given).
RAY_OPTIONS = ("address", "actors", "cpus_per_actor", "gpus_per_actor")


def _bounded_map(fn, items: Iterable[Any], executor, ahead: int) -> Iterator[Any]:
    """Ordered `executor.map` that keeps at most `ahead` items in flight (flat memory on huge inputs)."""
    pending: deque = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def quiet_libraries() -> None:
    """Keep stderr for our progress bar and errors: no per-model "Loading weights" bars or deprecations."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers(\.|$)")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch(\.|$)")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class UsageError(Exception):
    """A problem found before any work starts: printed as one line, exit code 2."""


def _reason(e: BaseException) -> str:
    """One line for an exception: its message, with the type when the message alone is unclear."""
    text = (getattr(e, "strerror", None) if isinstance(e, OSError) else None) or str(e) or type(e).__name__
    text = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return text if isinstance(e, OSError | ValueError) else f"{type(e).__name__}: {text}"


def _file_key(path: Path) -> tuple[int, int] | Path:
    try:
        st = path.stat()
        return (st.st_dev, st.st_ino)  # catches hard links and symlinks too
    except OSError:
        return path.resolve()


def check_inputs(specs: list[Any], text_field: str) -> None:
    """Every input names something, and a CSV or Parquet named on the command line has the text column."""
    problems = [f"{spec.arg}: {spec.problem}" for spec in specs if spec.problem]
    tables = readers.CSV_SUFFIXES + readers.PARQUET_SUFFIXES
    for spec in specs:
        if len(spec.files) == 1 and spec.files[0][1] is None and spec.arg.lower().endswith(tables):
            columns = readers.input_columns(spec.files[0][0])
            if columns is not None and text_field not in columns:
                problems.append(
                    f"{spec.arg}: no column {text_field!r} (columns: {', '.join(columns[:12])}); "
                    "choose one with --text-field"
                )
    if problems:
        raise UsageError("\n".join(f"error: {p}" for p in problems))


def check_outputs(outputs: list[Path], specs: list[Any], overwrite: bool, resume: bool) -> None:
    """Refuse outputs that are inputs, folders, unwritable, or that exist (unless --overwrite/--resume)."""
    inputs = {_file_key(p): spec.arg for spec in specs for p in spec.paths}
    for o in outputs:
        if o.exists() and _file_key(o) in inputs:
            raise UsageError(
                f"error: {o} is also an input (from {inputs[_file_key(o)]}); write the outputs elsewhere"
            )
    existing = [str(o) for o in outputs if o.is_file() and o.stat().st_size > 0]
    if existing and not (overwrite or resume):
        raise UsageError(
            f"error: {', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; pass --overwrite "
            "to replace, or --resume to continue an interrupted run"
        )
    for o in outputs:
        if o.is_dir():
            raise UsageError(f"error: {o} is a folder; give a file name, e.g. {o / 'predictions.jsonl'}")
        try:
            o.parent.mkdir(parents=True, exist_ok=True)
            if o.exists():
                open(o, "a").close()  # opening for append changes nothing
            else:
                open(o, "x").close()
                o.unlink()
        except OSError as e:
            raise UsageError(f"error: cannot write {o}: {_reason(e)}") from None


class _Progress:
    """Counts the new records, names the first failed ones; a bar on a terminal, else a line every `every`."""

    def __init__(self, total: int | None, initial: int, quiet: bool, every: int):
        self.total, self.initial, self.every, self.quiet = total, initial, every, quiet
        self.new = self.sentences = self.failed = 0
        self.t0 = time.time()
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(
                desc="predict",
                total=total,
                initial=initial,
                unit=" articles",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def update(self, record: dict[str, Any]) -> None:
        failed = bool(record.get("error"))
        self.new += 1
        self.sentences += 0 if failed else len(record.get("sentences", []))
        self.failed += failed
        if failed and self.failed <= MAX_FAILURES_SHOWN:
            src = f" ({record['source']})" if record.get("source") not in (None, record["id"]) else ""
            self.write(f"failed: {record['id']}{src}: {record['error']}")
        elapsed = max(time.time() - self.t0, 1e-9)
        if self.bar is not None:
            fails = f", {self.failed} failed" if self.failed else ""
            self.bar.set_postfix_str(f"{self.sentences / elapsed:.0f} sentences/s{fails}", refresh=False)
            self.bar.update(1)
        elif not self.quiet and self.new % self.every == 0:
            done = self.initial + self.new
            of, pct = (f"/{self.total}", f" ({100 * done / self.total:.0f}%)") if self.total else ("", "")
            self.write(
                f"predict: {done}{of} articles{pct}, {self.new / elapsed:.1f} articles/s, "
                f"{self.sentences / elapsed:.0f} sentences/s, {self.failed} failed, {elapsed:.0f} s"
            )

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    caught: dict[str, int] = {}

    def on_sigterm(signum, frame):  # like Ctrl-C, so that both stop cleanly
        caught["signal"] = signum
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return _run(args, caught)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before any record was written, e.g. while the model loads
        print("\ninterrupted; nothing was written", file=sys.stderr)
        return 128 + caught.get("signal", signal.SIGINT)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _check_args(args: argparse.Namespace) -> None:
    for name, least in MINIMUMS.items():
        if getattr(args, name) < least:
            raise UsageError(f"error: --{name.replace('_', '-')} must be >= {least}")
    if args.resume and args.overwrite:
        raise UsageError("error: choose --resume (continue) or --overwrite (start again), not both")
    ray_only = [f"--{n.replace('_', '-')}" for n in RAY_OPTIONS if getattr(args, n) is not None]
    if args.engine == "local" and ray_only:
        raise UsageError(f"error: {', '.join(ray_only)} only apply to --engine ray")
    if args.engine == "ray" and args.num_workers:
        raise UsageError("error: --num-workers is for the local engine; Ray parallelises with --actors")
    if (args.actors is not None and args.actors < 1) or (args.cpus_per_actor or 1) <= 0:
        raise UsageError("error: --actors and --cpus-per-actor must be > 0")
    if (args.gpus_per_actor or 0) < 0:
        raise UsageError("error: --gpus-per-actor must be >= 0")


def _predictor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `BatchPredictor` (and so `Pipeline.from_pretrained`) options of the command line."""
    model = args.model
    if model is not None and Path(model).exists():
        model = str(Path(model).resolve())  # Ray workers need not share our working directory
    opts = {"model": model, **{name: getattr(args, name) for name in PIPELINE_OPTIONS}}
    opts["fast"] = False if args.fast == "off" else args.fast
    return opts


def local_results(pipe: Any, records: Iterable[Any], chunk_size: int, num_workers: int) -> Iterator[dict]:
    """The local engine: one output record per input record, in order; ingests in `num_workers` processes."""
    executor = None
    try:
        if num_workers > 0:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the parent holds torch thread pools that do not survive a fork.
            executor = ProcessPoolExecutor(num_workers, mp_context=mp.get_context("spawn"))
            items = _bounded_map(ingest_record, records, executor, ahead=max(4, 4 * chunk_size))
        else:
            items = map(ingest_record, records)
        pending, n_articles = [], 0
        for item in items:
            pending.append(item)
            n_articles += not isinstance(item, dict)
            if n_articles >= chunk_size:
                yield from predict_items(pipe, pending)
                pending, n_articles = [], 0
        yield from predict_items(pipe, pending)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def _skip_done(records: Iterable[Any], done: Counter) -> Iterator[Any]:
    """The records not already written: each id is skipped as often as `done` counts it (which shrinks)."""
    for rec in records:
        n = done.pop(str(rec.id), 0)
        if n > 1:
            done[str(rec.id)] = n - 1
        elif not n:
            yield rec


def _run(args: argparse.Namespace, caught: dict[str, int]) -> int:
    """Check the arguments, load the engine, stream every record to the writers, report."""
    t0 = time.time()
    _check_args(args)
    outputs, jsonl, specs = _plan_io(args)
    resumed = _resume_state(args, jsonl)
    opts = _predictor_options(args)
    pipe, labels = _load_engine(args, opts)
    if pipe is None and not args.quiet:
        print("starting Ray: each actor loads the model…", file=sys.stderr, flush=True)
    writers = _open_writers(args, outputs, jsonl, labels)
    total = None if args.quiet else readers.count_records(specs)
    progress = _Progress(total, resumed.records, args.quiet, args.log_every)
    # Any stop (Ctrl-C, SIGTERM, a full disk) closes the writers cleanly, so --resume can continue.
    results: Any = None
    code = 0
    try:
        if resumed.records:  # resuming: rebuild the other outputs from what the primary JSONL holds
            rebuild = [w for w, o in zip(writers, outputs, strict=True) if o != jsonl[0]]
            for rec in iter_jsonl(jsonl[0]) if rebuild else ():
                for w in rebuild:
                    w.write(rec)
        fields = {"text_field": args.text_field, "id_field": args.id_field, "title_field": args.title_field}
        records = _skip_done(readers.iter_records(specs, **fields), resumed.done)
        if pipe is None:
            from dangtopic.inference.ray_engine import ray_predict

            results = ray_predict(
                records,
                opts,
                address=args.address,
                actors=args.actors,
                cpus_per_actor=args.cpus_per_actor or 1,
                gpus_per_actor=args.gpus_per_actor or 0,
                chunk_size=args.chunk_size,
            )
        else:
            results = local_results(pipe, records, args.chunk_size, args.num_workers)
        for record in results:
            for w in writers:
                try:
                    w.write(record)
                except OSError as e:
                    raise OSError(f"cannot write {w.path}: {_reason(e)}") from e  # disk full: stop, resumable
            progress.update(record)
    except KeyboardInterrupt:
        name = "SIGTERM" if caught.get("signal") == signal.SIGTERM else "interrupted"
        print(f"\n{name}: stopped cleanly; rerun with --resume to continue", file=sys.stderr)
        code = 128 + caught.get("signal", signal.SIGINT)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"\nerror: {_reason(e)}; rerun with --resume to continue", file=sys.stderr)
        code = 2
    finally:
        if results is not None:
            results.close()  # stops worker processes or Ray
        progress.close()
        for w in writers:
            try:
                w.close()
            except OSError as e:
                print(f"error: cannot finish {w.path}: {_reason(e)}", file=sys.stderr)
                code = code or 2
    if progress.failed > MAX_FAILURES_SHOWN:
        more = progress.failed - MAX_FAILURES_SHOWN
        print(f"… and {more} more failed records; every reason is in {outputs[0]}", file=sys.stderr)
    failed = resumed.failed + progress.failed
    articles, sentences = resumed.records + progress.new, resumed.sentences + progress.sentences
    line = f"{articles} articles, {failed} failed, {sentences} sentences, {time.time() - t0:.1f} s"
    if resumed.records:
        line += f" ({resumed.records} already done before resuming)"
    print(line, file=sys.stderr)
    return code or (1 if failed else 0)


def _plan_io(args: argparse.Namespace) -> tuple[list[Path], list[Path], list[Any]]:
    """(outputs, the .jsonl ones, expanded input specs), all checked before any model loads."""
    outputs = [Path(o) for o in args.output]
    try:
        formats = [output_format(o) for o in outputs]
    except ValueError as e:
        raise UsageError(f"error: {e}") from None
    if len({o.resolve() for o in outputs}) != len(outputs):
        raise UsageError("error: the same output is given twice")
    jsonl = [o for o, f in zip(outputs, formats, strict=True) if f == ".jsonl"]
    if args.resume and not jsonl:
        raise UsageError("error: --resume needs a .jsonl output to know what is done")
    # Expanded once, up front: files created later (our own outputs) are never read as inputs.
    specs = [readers.expand_input(str(i)) for i in args.inputs]
    check_inputs(specs, args.text_field)
    check_outputs(outputs, specs, overwrite=args.overwrite, resume=args.resume)
    return outputs, jsonl, specs


def _resume_state(args: argparse.Namespace, jsonl: list[Path]) -> ResumeState:
    """With --resume: what the primary JSONL already holds (a `ResumeState`); else an empty one."""
    if not (args.resume and jsonl[0].exists()):
        return ResumeState()
    try:
        state = scan_for_resume(jsonl[0])
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"error: cannot resume from {jsonl[0]}: {e}") from None
    if state.repaired_bytes:
        print(f"{jsonl[0]}: removed a truncated last line ({state.repaired_bytes} bytes)", file=sys.stderr)
    return state


def _load_engine(args: argparse.Namespace, opts: dict[str, Any]) -> tuple[Any, list[str]]:
    """(the local pipeline, or None for Ray whose actors load their own; the labels)."""
    if args.engine == "ray":
        try:
            from dangtopic.inference.ray_engine import check_model, require_ray

            require_ray()
        except ImportError as e:
            raise UsageError(f"error: {e}") from None
    elif not args.quiet:
        print(f"loading the model from {args.model or 'the shipped defaults'}…", file=sys.stderr, flush=True)
    try:
        if args.engine == "ray":  # the model folder is checked here, only loaded in the actors
            return None, check_model(args.model, args.fast)
        pipe = BatchPredictor(**opts).pipeline
        return pipe, list(pipe.labels)
    except Exception as e:  # a broken model folder is the user's to fix, not a traceback
        where = f" from {args.model}" if args.model else ""
        raise UsageError(f"error: cannot load the model{where}: {_reason(e)}") from None


def _open_writers(args, outputs: list[Path], jsonl: list[Path], labels: list[str]) -> list[Any]:
    max_articles = args.report_max_articles or None
    writers: list[Any] = []
    try:
        for o in outputs:
            if args.resume and o in jsonl[1:]:
                o.unlink(missing_ok=True)  # secondary JSONL outputs are rebuilt, like CSV/HTML
            append = args.resume and o == jsonl[0]
            writers.append(open_writer(o, labels, append=append, title=args.title, max_articles=max_articles))
    except OSError as e:
        for w in writers:
            w.close()
        raise UsageError(f"error: cannot write {o}: {_reason(e)}") from None
    return writers
