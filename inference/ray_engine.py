"""The Ray engine of `dangtopic predict --engine ray` and `dangtopic benchmark --engine ray`.

The driver reads the inputs with the package reader (one reader for the whole corpus, so ids are unique
as in the local engine) and hands them to Ray Data window by window; a pool of actors runs
`BatchPredictor` on them. Results come back in input order, written by the local engine's writers.
Needs the `distributed` extra; nothing imports this module unless the Ray engine is asked for.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from dangtopic.data.readers import DISTRIBUTED_INSTALL
from dangtopic.inference.batch import BatchPredictor
from dangtopic.inference.predict import local_results

# The columns of `InputRecord.to_row`: what the driver ships to the actors.
INPUT_COLUMNS = ("id", "source", "text", "title", "error", "meta")


def require_ray() -> None:
    """Raise ImportError with the install line when ray (with Ray Data) or pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError(f"the Ray engine needs ray[data] and pyarrow: {DISTRIBUTED_INSTALL}") from None


@contextmanager
def ray_session(address: str | None = None, worker_niceness: int | None = None) -> Iterator[None]:
    """Ray connected: the running session if any, else `address` (auto, ray://...), else RAY_ADDRESS, else
    a new local instance, whose workers run at `worker_niceness` if given (Ray's default is 15: they yield
    the CPU to every other process). Shuts down only what it started."""
    require_ray()
    import ray

    started = not ray.is_initialized()
    if started:
        if worker_niceness is not None:  # read by the raylet that ray.init starts
            os.environ["RAY_worker_niceness"] = str(worker_niceness)
        # No dashboard: a batch job does not need it, and it costs a process and a port.
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def check_model(model: str | None, fast: bool | str = False) -> list[str]:
    """The tagger's labels, from the model's config files: checks the model without loading its weights."""
    from dangtopic.inference.pipeline import model_dirs
    from dangtopic.models.saving import read_saved_config
    from dangtopic.models.summarizer import KIND as SUMMARIZER
    from dangtopic.models.tagger import KIND as TAGGER

    tagger_dir, summarizer_dir = model_dirs(model, fast)
    read_saved_config(summarizer_dir, SUMMARIZER, "summarizer")
    return list(read_saved_config(tagger_dir, TAGGER, "tagger")["labels"])


def pool_size(actors: int | None, cpus_per_actor: float, gpus_per_actor: float) -> int:
    """`actors`, or as many actors as the cluster's CPUs (and GPUs) hold."""
    if actors:
        return actors
    import ray

    res = ray.cluster_resources()
    fit = res.get("CPU", 1) // cpus_per_actor
    if gpus_per_actor:
        fit = min(fit, res.get("GPU", 0) // gpus_per_actor)
    return max(1, int(fit))


def _input_windows(
    records: Iterable[Any], chunk_size: int, window: int
) -> Iterator[tuple[list[Any], list[str]]]:
    """Windows of at most `window` records, each as Arrow tables of `chunk_size` rows (one Ray block, one
    batch each) and the ids in input order: the driver holds one window, never the whole corpus."""
    import pyarrow as pa

    schema = pa.schema([(c, pa.string()) for c in INPUT_COLUMNS])
    records = iter(records)
    while batch := list(itertools.islice(records, window)):
        chunks = (batch[i : i + chunk_size] for i in range(0, len(batch), chunk_size))
        tables = [pa.Table.from_pylist([r.to_row() for r in chunk], schema=schema) for chunk in chunks]
        yield tables, [str(r.id) for r in batch]


def ray_predict(
    records: Iterable[Any],
    predictor: dict[str, Any],
    *,
    address: str | None = None,
    actors: int | None = None,
    cpus_per_actor: float = 1,
    gpus_per_actor: float = 0,
    chunk_size: int = 32,
    chunks_per_actor: int = 64,
) -> Iterator[dict[str, Any]]:
    """The output records of `records` (InputRecords) in input order, one each, computed by
    `BatchPredictor(**predictor)` in a pool of `actors` Ray actors (default: as many as fit). The input
    streams through in windows of `chunks_per_actor` chunks per actor, each window one Ray dataset with
    its own actor pool: the driver's memory stays flat however long the input, and a model load per
    actor per window (seconds) is small beside the window's work (minutes at 64 chunks each)."""
    require_ray()
    records = iter(records)
    first = next(records, None)
    if first is None:
        return
    with ray_session(address):
        import ray
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # output in input order, streamed
        # The caller shows its own progress and the failed records: no bars or per-dataset log lines.
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "bars disabled": we know
        pool = pool_size(actors, cpus_per_actor, gpus_per_actor)
        window = pool * chunks_per_actor * chunk_size
        for tables, ids in _input_windows(itertools.chain([first], records), chunk_size, window):
            ds = ray.data.from_arrow(tables).map_batches(
                BatchPredictor,
                fn_constructor_kwargs={"threads": max(1, round(cpus_per_actor)), **predictor},
                batch_size=chunk_size,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=min(pool, len(tables))),  # no idle actors
                num_cpus=cpus_per_actor,
                num_gpus=gpus_per_actor or None,
                udf_modifying_row_count=False,
            )
            del tables  # Ray holds them now
            try:
                for want, row in zip(ids, ds.iter_rows(), strict=True):
                    record = json.loads(row["record"])
                    if record["id"] != want:  # never expected: preserve_order keeps the input order
                        raise RuntimeError(f"Ray returned record {record['id']!r} where {want!r} was due")
                    yield record
            except ray.exceptions.RayError as e:
                lines = [x for x in str(e).splitlines() if x.strip()]
                raise RuntimeError(f"the Ray job failed: {lines[-1] if lines else type(e).__name__}") from e


# ---------------------------------------------------------------------- benchmark --engine ray


def benchmark_engines(
    records: list[Any],
    model: str | None,
    *,
    actor_counts: Iterable[int] = (1, 2),
    address: str | None = None,
    chunk_size: int = 8,
    batch_size: int = 64,
    threads: int = 2,
) -> dict[str, Any]:
    """Articles/s of the local engine and of the Ray engine with each of `actor_counts` actors over
    `records`, the CPUs shared evenly between the actors; with how often each agrees with the local one.
    A Ray started here runs its workers at the local engine's priority (niceness 0, not Ray's 15), so that
    on a busy machine both compete alike for the CPU."""
    opts = {"model": model, "batch_size": batch_size, "device": "cpu"}
    print(f"local engine, {threads} threads…", file=sys.stderr, flush=True)

    def local_run() -> Iterator[dict[str, Any]]:
        # The model loads inside the timing, as it does in each Ray actor.
        pipe = BatchPredictor(**opts, threads=threads).pipeline
        yield from local_results(pipe, records, chunk_size=chunk_size, num_workers=0)

    local = _timed(local_run(), engine="local", actors=None, cpus_per_actor=threads)
    res: dict[str, Any] = {
        "articles": len(records),
        "chunk_size": chunk_size,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "runs": [local],
    }
    with ray_session(address, worker_niceness=0):
        import ray

        cpus = res["cluster_cpus"] = ray.cluster_resources().get("CPU", 1)
        for n in actor_counts:
            per = max(1.0, cpus // n)
            print(f"Ray, {n} actor(s) of {per:.0f} CPU(s)…", file=sys.stderr, flush=True)
            results = ray_predict(records, opts, actors=n, cpus_per_actor=per, chunk_size=chunk_size)
            run = _timed(results, engine="ray", actors=n, cpus_per_actor=per)
            run.update(_agreement(local["records"], run["records"]))
            res["runs"].append(run)
    for run in res["runs"]:
        run.pop("records")
    return res


def _timed(results: Iterator[dict[str, Any]], **run: Any) -> dict[str, Any]:
    """`run` with what draining `results` took: records, seconds to the first one (start-up) and the last."""
    t0 = time.perf_counter()
    records, first = [], None
    for rec in results:
        records.append(rec)
        first = first or time.perf_counter()
    end = time.perf_counter()
    return {
        "records": records,
        "seconds": end - t0,
        "first_record_seconds": (first or end) - t0,
        "articles_per_s": len(records) / max(end - t0, 1e-9),
        **run,
    }


def _agreement(reference: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, float]:
    """Share of articles whose sentence labels, and whose summary, are those of `reference`."""

    keys = {
        "labels": lambda r: r.get("error") or [s["labels"] for s in r["sentences"]],
        "summary": lambda r: r.get("error") or r["summary"]["sentence_indices"],
    }
    pairs = list(zip(reference, records, strict=True))
    n = max(len(pairs), 1)
    return {f"same_{part}": sum(key(a) == key(b) for a, b in pairs) / n for part, key in keys.items()}


def format_engines(res: dict[str, Any]) -> str:
    load = res["load_average_1min"]
    lines = [
        f"{res['articles']} articles, {res['chunk_size']} per batch; Ray cluster of {res['cluster_cpus']:.0f} "
        "CPUs, shared evenly between the actors; load average at start "
        + (f"{load:.2f}" if load is not None else "n/a"),
        "",
        f"{'engine':<8}{'actors':>7}{'CPUs each':>10}{'articles/s':>12}{'first after':>13}{'seconds':>9}"
        f"{'same labels':>13}{'same summary':>14}",
    ]
    for r in res["runs"]:
        same = (
            f"{100 * r['same_labels']:>12.0f}%{100 * r['same_summary']:>13.0f}%"
            if "same_labels" in r
            else f"{'(reference)':>13}{'':>14}"
        )
        lines.append(
            f"{r['engine']:<8}{r['actors'] or '-':>7}{r['cpus_per_actor']:>10.0f}{r['articles_per_s']:>12.2f}"
            f"{r['first_record_seconds']:>12.1f}s{r['seconds']:>8.1f}s{same}"
        )
    lines += [
        "",
        "articles/s: end to end, model loads included (Ray: in every actor, once Ray runs); first after: "
        "start-up and first batch; same: articles whose sentence labels / summary equal the local engine's",
    ]
    return "\n".join(lines)
