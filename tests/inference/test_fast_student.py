"""`fast="distilled"` loads the student tagger shipped beside the full one."""

import shutil

import pytest
from inference_texts import ARTICLE

from dangtopic.inference import speed
from dangtopic.inference.pipeline import FAST_TAGGER, Pipeline
from dangtopic.models.tagger import SentenceTagger
from dangtopic.models.tiny import make_tiny_tagger


@pytest.fixture()
def model_with_student(tmp_path, tiny_model_dir, tiny_encoder_path):
    root = tmp_path / "model"
    shutil.copytree(tiny_model_dir, root)
    student = make_tiny_tagger(tiny_encoder_path, seed=7)
    student.config.num_layers = 1
    student.save_pretrained(root / FAST_TAGGER)
    return root


@pytest.mark.parametrize("bf16", [True, False])
def test_distilled_uses_student(model_with_student, monkeypatch, bf16):
    import torch

    monkeypatch.setattr(speed, "native_bf16", lambda: bf16)
    full = Pipeline.from_pretrained(model_with_student, device="cpu")
    fast = Pipeline.from_pretrained(model_with_student, device="cpu", fast="distilled")
    assert len(full.tagger.encoder.model.encoder.layer) == 2
    assert len(fast.tagger.encoder.model.encoder.layer) == 1
    dtypes = {p.dtype for p in fast.tagger.encoder.parameters()}
    if bf16:
        assert fast.fast == "distilled+bf16" and dtypes == {torch.bfloat16}
    else:
        # Without native bf16 the student stays fp32: int8 would cost more accuracy than it saves.
        assert fast.fast == "distilled" and dtypes == {torch.float32}
    student = SentenceTagger.from_pretrained(model_with_student / FAST_TAGGER)
    res = fast(ARTICLE)
    sents = [s.text for s in res.sentences]
    want = [p.labels for p in student.predict_article([res.title, *sents])[1:]]  # read in the article
    got = [s.labels for s in res.sentences]
    same = sum(a == b for a, b in zip(want, got, strict=True)) / len(want)
    assert same >= (0.8 if bf16 else 1.0)


def test_precision_paths_keep_full_tagger(model_with_student, monkeypatch):
    fast = Pipeline.from_pretrained(model_with_student, device="cpu", fast="int8")
    assert fast.fast == "int8" and len(fast.tagger.encoder.model.encoder.layer) == 2
    monkeypatch.setattr(speed, "native_bf16", lambda: True)
    fast = Pipeline.from_pretrained(model_with_student, device="cpu", fast=True)
    assert fast.fast == "bf16" and len(fast.tagger.encoder.model.encoder.layer) == 2
    # without native bf16, `auto` takes the student (faster and more accurate than int8), else int8
    monkeypatch.setattr(speed, "native_bf16", lambda: False)
    assert Pipeline.from_pretrained(model_with_student, device="cpu", fast="auto").fast == "distilled"
    shutil.rmtree(model_with_student / FAST_TAGGER)
    assert Pipeline.from_pretrained(model_with_student, device="cpu", fast=True).fast == "int8"
    with pytest.raises(FileNotFoundError, match="distilled"):
        Pipeline.from_pretrained(model_with_student, device="cpu", fast="distilled")


def test_model_dirs_match_what_from_pretrained_loads(model_with_student):
    from dangtopic.inference.pipeline import model_dirs
    from dangtopic.models.summarizer import DEFAULT_SUMMARIZER_DIR
    from dangtopic.models.tagger import DEFAULT_TAGGER_DIR

    assert model_dirs() == (DEFAULT_TAGGER_DIR, DEFAULT_SUMMARIZER_DIR)
    assert model_dirs(None, "distilled")[0] == DEFAULT_TAGGER_DIR.parent / FAST_TAGGER
    assert model_dirs(model_with_student, "int8") == (
        model_with_student / "tagger",
        model_with_student / "summarizer",
    )
    tagger_dir, _ = model_dirs(model_with_student, "distilled")
    assert tagger_dir == model_with_student / FAST_TAGGER
    fast = Pipeline.from_pretrained(model_with_student, device="cpu", fast="distilled")
    # The folder model_dirs names is the one loaded: the one-layer student, not the two-layer tagger.
    assert (
        len(fast.tagger.encoder.model.encoder.layer)
        == len(SentenceTagger.from_pretrained(tagger_dir).encoder.model.encoder.layer)
        == 1
    )
