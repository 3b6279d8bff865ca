"""Batch inference: `dangtopic predict INPUT... -o OUTPUT [-o OUTPUT2 ...]`.

Inputs are files, folders, globs, JSONL or CSV (see `dangtopic.data.readers`). Every input record
yields exactly one output record, in input order: a result, or `{"id", "source", "title", "error"}`.
Outputs are chosen by extension (.jsonl, .csv, .html) and written incrementally, flushed per record;
memory stays flat however many records (`dangtopic benchmark --soak` measures it), and the HTML report
shows the first `--report-max-articles` (1000) articles in full, its overview covering all of them.
`--resume` continues an interrupted run from its JSONL output: the ids already written are skipped
(a crash-truncated last line is cut first) and new records are appended; CSV/HTML outputs are rebuilt
from the JSONL records plus the new ones. Exit code: 0 if every record succeeded, 1 if any failed,
2 for a usage or model-loading error.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders, globs, .jsonl or .csv")
    parser.add_argument(
        "-o",
        "--output",
        action="append",
        required=True,
        metavar="OUTPUT",
        help="output file, format by extension: .jsonl (one record per article), .csv (one row per "
        "sentence), .html (report); repeat for several",
    )
    parser.add_argument(
        "--model", default=None, help="model folder with tagger/ and summarizer/ (default: shipped)"
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the models run"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass (default 64)")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=32,
        help="articles tagged together; bounds memory, larger chunks pad less (default 32)",
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        default=0,
        help="worker processes that clean and sentence-split articles while the main process runs the "
        "models; 0 = do it in the main process (default). Helps when the models run on a GPU or on many "
        "cores; on a 2-core CPU the default is as fast",
    )
    parser.add_argument("--text-field", default="text", help="JSONL/CSV column holding the article text")
    parser.add_argument("--id-field", default="id", help="JSONL/CSV column holding the article id")
    parser.add_argument("--title-field", default="title", help="JSONL/CSV column holding the title")
    parser.add_argument(
        "--resume", action="store_true", help="skip ids already in the .jsonl output and append"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing .jsonl output")
    parser.add_argument(
        "--topic-summaries", action="store_true", help="also summarise each topic's sentences"
    )
    parser.add_argument("--max-sentences", type=int, default=None, help="summary length cap in sentences")
    parser.add_argument("--max-words", type=int, default=None, help="summary length cap in words")
    parser.add_argument(
        "--fast",
        nargs="?",
        const="auto",
        default=None,
        choices=["auto", "int8", "bf16", "distilled"],
        help="faster CPU tagger: int8 quantisation or bf16 (auto: bf16 on CPUs with native bf16, else "
        "int8), or `distilled`, the 4-layer student tagger (about 3x faster again, a little less "
        "accurate); `dangtopic benchmark` prints the speed and micro-F1 cost of each",
    )
    parser.add_argument("--title", default=None, help="heading of the HTML report")
    parser.add_argument(
        "--report-max-articles",
        type=int,
        default=REPORT_MAX_ARTICLES,
        metavar="N",
        help=f"the HTML report shows the first N articles in full (default {REPORT_MAX_ARTICLES}; 0 = all); "
        "its overview and failed-input list cover every record. Memory stays flat either way, but a report "
        "of every article of a large batch is too big for a browser",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


# Articles rendered in full in an HTML output of `predict`: ~15 kB each (25 sentences), so ~15 MB of HTML.
REPORT_MAX_ARTICLES = 1000


def _error_record(rec: Any, reason: str) -> dict[str, Any]:
    return {"id": str(rec.id), "source": rec.source, "title": rec.title, "error": reason}


def ingest_record(rec: Any) -> Any:
    """InputRecord → Article, or an error record. Runs in worker processes: never raises."""
    if rec.error:
        return _error_record(rec, rec.error)
    try:
        from dangtopic.data.ingest import article_from_record

        art = article_from_record(rec)
    except Exception as e:  # a bad record must not stop the batch
        return _error_record(rec, f"ingestion failed: {type(e).__name__}: {e}")
    if not art.sentences:
        n = len(art.removed)
        return _error_record(
            rec, f"no article text left after cleaning ({n} line(s) removed as page furniture)"
        )
    return art


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
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers is a hard dependency
        pass


class _Stats:
    def __init__(self) -> None:
        self.records = 0
        self.failed = 0
        self.sentences = 0
        self.resumed = 0


def run(args: argparse.Namespace) -> int:
    from dangtopic.inference.writers import is_error, iter_jsonl, open_writer, output_format, scan_for_resume

    t0 = time.time()
    outputs = [Path(o) for o in args.output]
    try:
        formats = [output_format(o) for o in outputs]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len({o.resolve() for o in outputs}) != len(outputs):
        print("error: the same output is given twice", file=sys.stderr)
        return 2
    for name in ("batch_size", "chunk_size"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be >= 1", file=sys.stderr)
            return 2
    if args.report_max_articles < 0:
        print("error: --report-max-articles must be >= 0", file=sys.stderr)
        return 2
    if args.num_workers < 0:
        print("error: --num-workers must be >= 0", file=sys.stderr)
        return 2
    jsonl = [o for o, f in zip(outputs, formats, strict=True) if f == ".jsonl"]
    if args.resume and not jsonl:
        print("error: --resume needs a .jsonl output to know what is done", file=sys.stderr)
        return 2
    if not args.resume and not args.overwrite:
        for o in jsonl:
            if o.exists() and o.stat().st_size > 0:
                print(
                    f"error: {o} exists; pass --resume to continue it or --overwrite to replace it",
                    file=sys.stderr,
                )
                return 2

    stats = _Stats()
    done: Counter = Counter()
    if args.resume and jsonl[0].exists():
        try:
            state = scan_for_resume(jsonl[0])
        except (ValueError, UnicodeDecodeError) as e:
            print(f"error: cannot resume from {jsonl[0]}: {e}", file=sys.stderr)
            return 2
        for extra in jsonl[1:]:
            # Secondary JSONL outputs are rebuilt from the primary one, like CSV/HTML.
            extra.unlink(missing_ok=True)
        done = state.done
        stats.records, stats.failed, stats.sentences = state.records, state.failed, state.sentences
        stats.resumed = state.records
        if state.repaired_bytes:
            print(
                f"{jsonl[0]}: removed a truncated last line ({state.repaired_bytes} bytes)", file=sys.stderr
            )

    quiet_libraries()
    try:
        from dangtopic.inference.pipeline import Pipeline

        pipe = Pipeline.from_pretrained(
            args.model,
            device=args.device,
            fast=args.fast or False,
            batch_size=args.batch_size,
            topic_summaries=args.topic_summaries,
            max_sentences=args.max_sentences,
            max_words=args.max_words,
        )
    except (OSError, ValueError) as e:
        print(f"error: cannot load the model: {e}", file=sys.stderr)
        return 2

    labels = list(pipe.labels)
    writers = []
    for o in outputs:
        primary = bool(jsonl) and o == jsonl[0]
        writers.append(
            open_writer(
                o,
                labels=labels,
                append=args.resume and primary,
                title=args.title,
                max_articles=args.report_max_articles or None,
            )
        )
    # Rebuild secondary outputs from what the primary JSONL already holds.
    if stats.resumed:
        rebuild = [w for w, o in zip(writers, outputs, strict=True) if o != jsonl[0]]
        if rebuild:
            for rec in iter_jsonl(jsonl[0]):
                for w in rebuild:
                    w.write(rec)

    from tqdm.auto import tqdm

    bar = tqdm(
        desc="predict",
        unit=" articles",
        file=sys.stderr,
        disable=args.quiet or None,
        initial=stats.resumed,
        dynamic_ncols=True,
    )

    def emit(record: dict[str, Any]) -> None:
        for w in writers:
            w.write(record)
        stats.records += 1
        if is_error(record):
            stats.failed += 1
        else:
            stats.sentences += len(record.get("sentences", []))
        bar.update(1)
        if stats.failed:
            bar.set_postfix(failed=stats.failed, refresh=False)

    def flush(pending: list[Any]) -> None:
        """Tag the pending Articles together, then emit everything pending in input order."""
        arts = [p for p in pending if not isinstance(p, dict)]
        results: dict[int, dict[str, Any]] = {}
        try:
            for art, res in zip(arts, pipe.process(arts), strict=True):
                results[id(art)] = res.to_dict()
        except Exception:
            # Isolate the article that breaks the batch; the others still get results.
            for art in arts:
                try:
                    results[id(art)] = pipe.process([art])[0].to_dict()
                except Exception as e:
                    results[id(art)] = {
                        "id": str(art.id),
                        "source": art.source,
                        "title": art.title,
                        "error": f"model failed: {type(e).__name__}: {e}",
                    }
        for p in pending:
            emit(p if isinstance(p, dict) else results[id(p)])
        pending.clear()

    out_paths = {o.resolve() for o in outputs}
    warned: set[str] = set()

    def todo(records: Iterable[Any]) -> Iterator[Any]:
        for rec in records:
            # Our own outputs sitting in an input folder are not articles (and would grow while we read).
            src = Path(re.sub(r":\d+$", "", str(rec.source)))
            if src.resolve() in out_paths:
                if str(src) not in warned:
                    warned.add(str(src))
                    print(f"skipping {src}: it is an output of this run", file=sys.stderr)
                continue
            key = str(rec.id)
            if key in done:
                done[key] -= 1
                if not done[key]:
                    del done[key]  # the resume set shrinks as the already-done records go by
                continue
            yield rec

    executor = None
    code = 0
    try:
        from dangtopic.data.readers import iter_records

        records = todo(
            iter_records(
                [str(i) for i in args.inputs],
                text_field=args.text_field,
                id_field=args.id_field,
                title_field=args.title_field,
            )
        )
        if args.num_workers > 0:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the parent holds torch thread pools that do not survive a fork.
            executor = ProcessPoolExecutor(args.num_workers, mp_context=mp.get_context("spawn"))
            items = _bounded_map(ingest_record, records, executor, ahead=max(4, 4 * args.chunk_size))
        else:
            items = (ingest_record(r) for r in records)
        pending: list[Any] = []
        n_articles = 0
        for item in items:
            pending.append(item)
            if not isinstance(item, dict):
                n_articles += 1
            if n_articles >= args.chunk_size:
                flush(pending)
                n_articles = 0
        flush(pending)
    except KeyboardInterrupt:
        print("\ninterrupted; rerun with --resume to continue", file=sys.stderr)
        code = 130
    except (OSError, ValueError) as e:
        print(f"\nerror: {e}", file=sys.stderr)
        code = 2
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
        bar.close()
        for w in writers:
            w.close()

    elapsed = time.time() - t0
    line = f"{stats.records} articles, {stats.failed} failed, {stats.sentences} sentences, {elapsed:.1f} s"
    if stats.resumed:
        line += f" ({stats.resumed} already done before resuming)"
    print(line, file=sys.stderr)
    if code:
        return code
    return 1 if stats.failed else 0
