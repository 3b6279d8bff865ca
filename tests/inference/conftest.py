"""Inference test helpers; the tiny models (`tiny_tagger`, `tiny_summarizer`, `tiny_model_dir`) live in
tests/conftest.py."""

from __future__ import annotations

import pytest
from inference_texts import ARTICLE, ARTICLE_2  # noqa: F401  (re-exported for tests)


@pytest.fixture()
def pipe(tiny_tagger, tiny_summarizer):
    from dangtopic.inference.pipeline import Pipeline

    return Pipeline(tiny_tagger, tiny_summarizer)
