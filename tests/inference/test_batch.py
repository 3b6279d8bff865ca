"""`BatchPredictor` without Ray: tables in, tables out, row for row, identical to the local engine."""

import json
import pickle

import pytest
from inference_texts import ARTICLE, ARTICLE_2, ENGLISH
from record_checks import assert_same_records

from dangtopic.data.readers import record_from_row
from dangtopic.inference import BatchPredictor
from dangtopic.inference.predict import local_results
from dangtopic.inference.writers import RESULT_COLUMNS

# Good rows and every kind of malformed one a table can hold.
BATCH = {
    "id": ["a", "b", "c", "d", "e", "f"],
    "text": [ARTICLE, "", None, ENGLISH, 42, ARTICLE_2],
    "url": ["u/a", None, "u/c", "u/d", "u/e", "u/f"],
}
ERRORS = {"b": "empty text", "c": "is NoneType", "d": "not Vietnamese", "e": "is int"}


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> BatchPredictor:
    return BatchPredictor(tiny_model_dir, chunk_size=2, device="cpu")


def _records(out: dict) -> list[dict]:
    return [json.loads(r) for r in out["record"]]


def test_dict_batch_row_for_row_with_error_rows(predictor, tiny_model_dir):
    out = predictor(BATCH)  # __call__: what Ray's map_batches calls
    assert list(out) == list(RESULT_COLUMNS)
    assert out["id"] == BATCH["id"]
    records = _records(out)
    for rid, rec, err in zip(out["id"], records, out["error"], strict=True):
        assert rec["id"] == rid
        if rid in ERRORS:
            assert ERRORS[rid] in err and rec["error"] == err
        else:
            assert err is None and rec["sentences"] and rec["meta"]["url"] == f"u/{rid}"
    assert out["topics"][0] == [lab for lab, n in records[0]["topic_counts"].items() if n]
    assert out["summary"][0] == records[0]["summary"]["text"]
    # The local engine gives the same records for the same rows (batched otherwise: float noise).
    rows = [dict(zip(BATCH, values, strict=True)) for values in zip(*BATCH.values(), strict=True)]
    local = list(local_results(predictor.pipeline, [record_from_row(r) for r in rows], 32, 0))
    assert_same_records(records, local)


def test_arrow_and_pandas_batches_give_their_own_kind(predictor):
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    import pandas as pd

    frame = pd.DataFrame({"id": [1, 2], "text": [ARTICLE_2, None]})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    arrow_out = predictor.predict_batch(table)
    assert isinstance(arrow_out, pa.Table) and arrow_out.column_names == list(RESULT_COLUMNS)
    assert arrow_out.column("id").to_pylist() == ["1", "2"]
    pandas_out = predictor.predict_batch(frame)
    assert isinstance(pandas_out, pd.DataFrame) and list(pandas_out["id"]) == ["1", "2"]
    assert arrow_out.column("record").to_pylist() == list(pandas_out["record"])
    assert "is NoneType" in pandas_out["error"][1]  # a missing value is None, not NaN


def test_lazy_picklable_and_no_model_for_errors_only(tiny_model_dir):
    p = BatchPredictor(tiny_model_dir)
    assert p._pipe is None  # built from paths and options only
    out = p.predict_batch({"text": ["", None]})
    assert p._pipe is None, "a batch of errors needs no model"
    assert [bool(e) for e in out["error"]] == [True, True] and out["id"] == ["", ""]
    p.predict_batch({"text": [ARTICLE]})
    assert p._pipe is not None
    clone = pickle.loads(pickle.dumps(p))
    assert clone._pipe is None and len(pickle.dumps(p)) < 2000  # ships as options, loads on its worker
    assert clone.fields == p.fields and clone.model == p.model
    with pytest.raises(TypeError, match="pyarrow Table, pandas DataFrame or dict"):
        p.predict_batch([ARTICLE])


def test_an_article_that_breaks_the_model_is_an_error_row(predictor, monkeypatch):
    pipe = predictor.pipeline
    process = pipe.process

    def fragile(arts, *args, **kwargs):
        if any(a.id == "bad" for a in arts):
            raise RuntimeError("boom")
        return process(arts, *args, **kwargs)

    monkeypatch.setattr(pipe, "process", fragile)
    out = predictor({"id": ["ok", "bad", "ok2"], "text": [ARTICLE, ARTICLE_2, ARTICLE_2]})
    assert out["error"][0] is None and out["error"][2] is None
    assert out["error"][1] == "model failed: RuntimeError: boom"


def test_numpy_columns_as_spark_and_ray_give_them(predictor):
    """Spark's predict_batch_udf and Ray's default batch format pass one numpy array per column."""
    np = pytest.importorskip("numpy")
    out = predictor.predict_batch({"id": np.array([5, 6]), "text": np.array([ARTICLE_2, ""], dtype=object)})
    assert out["id"] == ["5", "6"] and out["error"][0] is None and out["error"][1] == "empty text"
