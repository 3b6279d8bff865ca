"""`dangtopic predict --engine ray` and the batch predictor on a real local Ray (2 CPUs, no network):
records in = records out, identical to the local engine, error records kept."""

import json
import re
from pathlib import Path

import pytest
from inference_texts import ARTICLE, ENGLISH
from record_checks import assert_same_records

from dangtopic.cli import main

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.slow  # starts Ray and its actors: seconds each

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray instance for the module; the engine reuses a running Ray and leaves it running."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture()
def corpus(inputs, tmp_path) -> tuple[list[str], int, int]:
    """The bundled examples, the good and bad inputs of the local tests, and a Parquet file with
    malformed rows: (inputs, records, failures)."""
    folder, n, n_failed = inputs
    feed = tmp_path / "feed.parquet"
    pq.write_table(pa.table({"id": ["p1", "p2", "p3", "p4"], "text": [ARTICLE, None, "", ENGLISH]}), feed)
    return [str(EXAMPLES), str(folder), str(feed)], n + 2 + 4, n_failed + 3


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_ray_engine_gives_the_local_records(corpus, tmp_path, tiny_model_dir, capsys):
    inputs, n, n_failed = corpus
    local, out = tmp_path / "local.jsonl", tmp_path / "ray"
    model = ["--model", str(tiny_model_dir), "--chunk-size", "3"]
    assert main(["predict", *inputs, "-o", str(local), *model, "-q"]) == 1
    capsys.readouterr()
    outputs = [str(out / f"o.{ext}") for ext in ("jsonl", "parquet", "csv", "html")]
    argv = ["predict", *inputs, *sum((["-o", o] for o in outputs), []), *model]
    assert main([*argv, "--engine", "ray", "--actors", "2", "--cpus-per-actor", "1", "-q"]) == 1
    err = capsys.readouterr().err
    want = _read(local)
    got = _read(out / "o.jsonl")
    assert len(got) == n and sum(bool(r.get("error")) for r in got) == n_failed
    assert_same_records(got, want)  # same order (input order), same labels and summaries
    # Failures are reported on the terminal as by the local engine.
    assert len(re.findall(r"^failed: ", err, re.M)) == n_failed
    assert re.search(rf"^{n} articles, {n_failed} failed, ", err, re.M)
    table = pq.read_table(out / "o.parquet")
    assert [json.loads(r)["id"] for r in table.column("record").to_pylist()] == [r["id"] for r in want]
    assert (out / "o.csv").stat().st_size and "</html>" in (out / "o.html").read_text(encoding="utf-8")


def test_ray_engine_streams_the_input_in_windows(corpus, tiny_model_dir):
    """Windows of 2 records (1 actor x 1 chunk x 2 rows): many Ray datasets, one output stream, the records
    of one dataset over the whole input."""
    from dangtopic.data.readers import iter_records
    from dangtopic.inference import ray_engine

    inputs, n, _ = corpus
    opts = {"model": str(tiny_model_dir), "device": "cpu"}
    whole = list(
        ray_engine.ray_predict(iter_records(inputs), opts, actors=1, chunk_size=2, chunks_per_actor=n)
    )
    windows = list(ray_engine._input_windows(iter_records(inputs), chunk_size=2, window=2))
    assert len(windows) == (n + 1) // 2 and [len(ids) for _, ids in windows][:-1] == [2] * (n // 2)
    streamed = list(
        ray_engine.ray_predict(iter_records(inputs), opts, actors=1, chunk_size=2, chunks_per_actor=1)
    )
    assert len(streamed) == n
    assert_same_records(streamed, whole)


def test_ray_engine_resumes_an_interrupted_run(inputs, tmp_path, tiny_model_dir):
    folder, n, _ = inputs
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    model = ["--model", str(tiny_model_dir), "-q"]
    main(["predict", str(folder), "-o", str(full), *model])
    part.write_text("".join(full.read_text(encoding="utf-8").splitlines(keepends=True)[:4]), encoding="utf-8")
    assert main(["predict", str(folder), "-o", str(part), *model, "--engine", "ray", "--resume"]) == 1
    assert_same_records(_read(part), _read(full))


def test_a_model_the_actors_cannot_load_stops_before_writing(tmp_path, capsys):
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    argv = ["predict", str(src), "-o", str(out), "--model", str(tmp_path), "--engine", "ray", "-q"]
    assert main(argv) == 2
    assert "cannot load the model" in capsys.readouterr().err and not out.exists()


def test_readme_ray_data_example(tiny_model_dir):
    """The README's Ray Data example: a user's own dataset through the batch predictor."""
    import ray.data

    from dangtopic.inference import BatchPredictor

    ds = ray.data.from_items([{"id": f"a{i}", "text": t} for i, t in enumerate([ARTICLE, "", ENGLISH] * 2)])
    results = ds.map_batches(
        BatchPredictor,
        fn_constructor_kwargs={"model": str(tiny_model_dir)},
        batch_format="pyarrow",
        batch_size=2,
        compute=ray.data.ActorPoolStrategy(size=1),
        num_cpus=1,
    )
    rows = sorted(results.take_all(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [f"a{i}" for i in range(6)]
    assert [r["error"] is None for r in rows] == [True, False, False] * 2
    assert all(json.loads(r["record"])["id"] == r["id"] for r in rows)


def test_benchmark_engine_ray(tiny_model_dir, capsys):
    argv = ["benchmark", "--engine", "ray", "--model", str(tiny_model_dir), "--engine-articles", "6"]
    assert main([*argv, "--actors", "1,2", "--chunk-size", "2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^local\s+-\s+1\s+\d+\.\d\d", out, re.M), out
    for actors, cpus in ((1, 2), (2, 1)):
        assert re.search(rf"^ray\s+{actors}\s+{cpus}\s+\d+\.\d\d\s.*\s100%\s+100%$", out, re.M), out
