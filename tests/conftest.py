"""Shared fixtures: tiny randomly initialised models so unit tests never touch the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangtopic.models.tiny import make_tiny_encoder, make_tiny_summarizer, make_tiny_tagger


@pytest.fixture(scope="session")
def tiny_encoder_path(tmp_path_factory) -> Path:
    """Folder of a tiny random encoder, usable wherever an encoder name or path is accepted."""
    import torch

    torch.manual_seed(0)
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"))


@pytest.fixture(scope="session")
def tiny_tagger(tiny_encoder_path):
    """A tiny tagger with a random but confident head (shared: do not mutate it in a test)."""
    return make_tiny_tagger(tiny_encoder_path)


@pytest.fixture(scope="session")
def tiny_summarizer(tiny_encoder_path):
    return make_tiny_summarizer(tiny_encoder_path)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tagger, tiny_summarizer):
    """A model folder (tagger/ + summarizer/) loadable by `Pipeline.from_pretrained` and `--model`."""
    root = tmp_path_factory.mktemp("tiny_model")
    tiny_tagger.save_pretrained(root / "tagger")
    tiny_summarizer.save_pretrained(root / "summarizer")
    return root
