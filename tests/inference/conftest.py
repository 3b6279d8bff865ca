"""Tiny models and article texts shared by the inference tests."""

from __future__ import annotations

import pytest
from inference_texts import ARTICLE, ARTICLE_2  # noqa: F401  (re-exported for tests)


@pytest.fixture(scope="session")
def tiny_tagger(tiny_encoder_path):
    import torch

    from dangtopic.models.tagger import SentenceTagger

    torch.manual_seed(0)
    t = SentenceTagger.create(encoder=str(tiny_encoder_path))
    # A random but confident head so that labels vary across sentences.
    with torch.no_grad():
        for name, p in t.encoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
        t.head[1].weight.normal_(0, 1.0)
    return t.eval()


@pytest.fixture(scope="session")
def tiny_summarizer(tiny_encoder_path):
    import torch

    from dangtopic.models.summarizer import ExtractiveSummarizer

    torch.manual_seed(0)
    return ExtractiveSummarizer.create(encoder=str(tiny_encoder_path))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tagger, tiny_summarizer):
    """A model folder (tagger/ + summarizer/) loadable by `Pipeline.from_pretrained` and `--model`."""
    root = tmp_path_factory.mktemp("tiny_model")
    tiny_tagger.save_pretrained(root / "tagger")
    tiny_summarizer.save_pretrained(root / "summarizer")
    return root


@pytest.fixture()
def pipe(tiny_tagger, tiny_summarizer):
    from dangtopic.inference.pipeline import Pipeline

    return Pipeline(tiny_tagger, tiny_summarizer)
