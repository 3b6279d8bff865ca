"""Batches of records through the pipeline, for the local engine and for Ray, Spark or pandas jobs.

`BatchPredictor` is the building block for a job runner you already have: it holds only model paths and
options (picklable), loads the `Pipeline` on its first call (once per Ray actor or Spark worker) and maps
a table of articles to a table of results, one row per input row (`RESULT_COLUMNS`), error rows kept:

>>> ds.map_batches(BatchPredictor, fn_constructor_kwargs={"text_field": "content"},
...                batch_format="pyarrow", batch_size=32, compute=ray.data.ActorPoolStrategy(size=4))

Nothing here imports torch, pyarrow or pandas until a batch needs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dangtopic.data.readers import InputRecord, record_from_row
from dangtopic.inference.writers import RESULT_COLUMNS, result_row, result_schema

__all__ = ["BatchPredictor", "error_record", "ingest_record", "predict_items"]
# The BatchPredictor options that are `Pipeline.from_pretrained`'s.
PIPELINE_OPTIONS = ("device", "fast", "batch_size", "topic_summaries", "max_sentences", "max_words")


def error_record(rec: Any, reason: str) -> dict[str, Any]:
    """The output record of an input (InputRecord or Article) that got no result."""
    return {"id": str(rec.id), "source": rec.source, "title": rec.title, "error": reason}


def ingest_record(rec: Any) -> Any:
    """InputRecord → Article, or an error record. Runs in worker processes: never raises."""
    if rec.error:
        return error_record(rec, rec.error)
    try:
        from dangtopic.data.ingest import article_from_record

        art = article_from_record(rec)
    except Exception as e:  # a bad record must not stop the batch
        return error_record(rec, f"ingestion failed: {type(e).__name__}: {e}")
    if not art.sentences:
        removed = f"{len(art.removed)} line(s) removed as page furniture"
        return error_record(rec, f"no article text left after cleaning ({removed})")
    return art


def predict_items(pipe: Any, items: Sequence[Any]) -> list[dict[str, Any]]:
    """One record per item, in order: the Articles tagged together, error records passed through. An
    Article that breaks the batch is isolated: the others still get their results, it gets an error."""
    arts = [it for it in items if not isinstance(it, dict)]
    results: dict[int, dict[str, Any]] = {}
    try:
        results = {id(art): res.to_dict() for art, res in zip(arts, pipe.process(arts), strict=True)}
    except Exception:
        for art in arts:
            try:
                results[id(art)] = pipe.process([art])[0].to_dict()
            except Exception as e:
                results[id(art)] = error_record(art, f"model failed: {type(e).__name__}: {e}")
    return [it if isinstance(it, dict) else results[id(it)] for it in items]


def _batch_rows(table: Any) -> tuple[list[dict[str, Any]], str]:
    """The rows of a pyarrow Table, pandas DataFrame or mapping of columns, and which of the three it was."""
    if isinstance(table, Mapping):
        columns = {str(k): list(v) for k, v in table.items()}
        n = len(next(iter(columns.values()), []))
        return [{k: v[i] for k, v in columns.items()} for i in range(n)], "dict"
    if hasattr(table, "iloc"):  # pandas
        import pyarrow as pa

        # Through Arrow, so a missing value is None, as in the other two kinds, not NaN.
        return pa.Table.from_pandas(table, preserve_index=False).to_pylist(), "pandas"
    if hasattr(table, "to_pylist"):
        return table.to_pylist(), "pyarrow"
    raise TypeError(
        f"expected a pyarrow Table, pandas DataFrame or dict of columns, got {type(table).__name__}"
    )


class BatchPredictor:
    """Pipeline over tables: `predict_batch(table) -> table`, one output row per input row.

    Input columns: `text_field` (required), `id_field` and `title_field` (optional), any others go to the
    record's `meta`. Output columns: `RESULT_COLUMNS` of `dangtopic.inference.writers`, `record` holding the
    whole `ArticleResult.to_dict()` or error record as JSON. A malformed row (no text, empty, not
    Vietnamese...) becomes an error row; a row the model fails on too. The output is a pyarrow Table,
    pandas DataFrame, or dict of lists, like the input.

    `model`, `device`, `fast`, `batch_size` (sentences per forward pass), `topic_summaries`,
    `max_sentences` and `max_words` are those of `Pipeline.from_pretrained`; `chunk_size` articles are
    tagged together; `threads` sets torch's threads in this process (None: torch's default).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        fast: bool | str | None = None,
        batch_size: int = 64,
        chunk_size: int = 32,
        topic_summaries: bool = False,
        max_sentences: int | None = None,
        max_words: int | None = None,
        text_field: str = "text",
        id_field: str = "id",
        title_field: str = "title",
        threads: int | None = None,
    ):
        self.model = str(model) if model is not None else None
        self.device, self.fast, self.threads = device, fast, threads
        self.batch_size, self.chunk_size = batch_size, chunk_size
        self.topic_summaries, self.max_sentences, self.max_words = topic_summaries, max_sentences, max_words
        self.fields = (text_field, id_field, title_field)
        self._pipe: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # Shipped to workers as its options: each worker loads its own pipeline.
        return {**self.__dict__, "_pipe": None}

    @property
    def pipeline(self) -> Any:
        """The Pipeline, loaded on first use."""
        if self._pipe is None:
            from dangtopic.inference.predict import quiet_libraries

            quiet_libraries()
            if self.threads:
                import torch

                torch.set_num_threads(self.threads)
            from dangtopic.inference.pipeline import Pipeline

            options = {name: getattr(self, name) for name in PIPELINE_OPTIONS}
            self._pipe = Pipeline.from_pretrained(self.model, **options)
        return self._pipe

    def predict_records(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Output records (result or error dicts, as `dangtopic predict` writes them) of input rows."""
        items: list[Any] = []
        for i, row in enumerate(rows):
            try:
                rec = record_from_row(row, *self.fields)
            except Exception as e:  # a row no reader would produce: report it, keep its place
                rid = str(row.get(self.fields[1]) or i)
                rec = InputRecord(id=rid, source=rid, error=f"unreadable row: {type(e).__name__}: {e}")
            items.append(ingest_record(rec))
        out: list[dict[str, Any]] = []
        for start in range(0, len(items), self.chunk_size):
            chunk = items[start : start + self.chunk_size]
            # A chunk of errors only is passed through without loading the model.
            out += chunk if all(isinstance(x, dict) for x in chunk) else predict_items(self.pipeline, chunk)
        return out

    def predict_batch(self, table: Any) -> Any:
        """A table of articles → the same kind of table of `RESULT_COLUMNS`, row for row."""
        rows, kind = _batch_rows(table)
        out = [result_row(r) for r in self.predict_records(rows)]
        if kind == "dict":
            return {c: [r[c] for r in out] for c in RESULT_COLUMNS}
        import pyarrow as pa

        result = pa.Table.from_pylist(out, schema=result_schema())
        return result.to_pandas() if kind == "pandas" else result

    __call__ = predict_batch
