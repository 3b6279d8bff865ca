"""Saved model folders: recorded weight hashes and NaN/inf weights are checked at load (issue 12, item 7)."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from dangtopic.models.saving import check_finite, verify_weights, weight_hashes
from dangtopic.models.summarizer import ExtractiveSummarizer
from dangtopic.models.tagger import SentenceTagger

LOADERS = {"tagger": SentenceTagger.from_pretrained, "summarizer": ExtractiveSummarizer.from_pretrained}


@pytest.fixture()
def model_copy(tiny_model_dir, tmp_path):
    root = tmp_path / "model"
    shutil.copytree(tiny_model_dir, root)
    return root


def _poison(path, value: float) -> None:
    state = load_file(str(path))
    name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[name] = state[name].clone()
    state[name].view(-1)[0] = value
    save_file(state, str(path))


def _config(folder) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def _write_config(folder, meta: dict) -> None:
    (folder / "config.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize("kind", ["tagger", "summarizer"])
def test_saving_records_a_sha256_per_weight_file(model_copy, kind):
    folder = model_copy / kind
    recorded = _config(folder)["weights_sha256"]
    assert "head.safetensors" in recorded
    if kind == "tagger":
        assert "adapter/adapter_model.safetensors" in recorded
    assert recorded == weight_hashes(folder)


@pytest.mark.parametrize("kind", ["tagger", "summarizer"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_weights_are_refused_at_load(model_copy, kind, value):
    """Regression: NaN weights loaded silently and wrote NaN (invalid JSON) for every input."""
    folder = model_copy / kind
    _poison(folder / "head.safetensors", value)
    meta = _config(folder)
    meta["weights_sha256"] = weight_hashes(folder)  # re-saved with the bad weights: hashes match
    _write_config(folder, meta)
    with pytest.raises(ValueError, match="NaN or infinite"):
        LOADERS[kind](folder)
    del meta["weights_sha256"]  # an older folder without hashes is checked too
    _write_config(folder, meta)
    with pytest.raises(ValueError, match="NaN or infinite"):
        LOADERS[kind](folder)


def test_nan_in_the_lora_adapter_is_refused(model_copy):
    folder = model_copy / "tagger"
    _poison(folder / "adapter" / "adapter_model.safetensors", float("nan"))
    meta = _config(folder)
    del meta["weights_sha256"]
    _write_config(folder, meta)
    with pytest.raises(ValueError, match="adapter_model.safetensors.*NaN"):
        SentenceTagger.from_pretrained(folder)


@pytest.mark.parametrize("kind", ["tagger", "summarizer"])
def test_changed_or_missing_weight_files_fail_the_hash_check(model_copy, kind):
    folder = model_copy / kind
    head = folder / "head.safetensors"
    state = load_file(str(head))
    name = next(iter(state))
    state[name] = state[name] + 0.01  # finite, plausible, but not what was saved
    save_file(state, str(head))
    with pytest.raises(ValueError, match="does not match the sha256"):
        LOADERS[kind](folder)
    head.unlink()
    with pytest.raises(ValueError, match="missing"):
        LOADERS[kind](folder)


@pytest.mark.parametrize("kind", ["tagger", "summarizer"])
def test_a_folder_without_recorded_hashes_still_loads(model_copy, kind):
    folder = model_copy / kind
    meta = _config(folder)
    del meta["weights_sha256"]
    _write_config(folder, meta)
    assert LOADERS[kind](folder) is not None


def test_check_finite_and_verify_weights_directly(tmp_path):
    check_finite({"w": torch.ones(3), "ids": torch.arange(3)}, "here")
    with pytest.raises(ValueError, match="here: weight 'w'"):
        check_finite({"w": torch.tensor([1.0, float("-inf")])}, "here")
    save_file({"w": torch.ones(2)}, str(tmp_path / "head.safetensors"))
    verify_weights(tmp_path, {})
    (tmp_path / "head.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        verify_weights(tmp_path, {})


def test_predict_refuses_a_nan_model_before_writing(model_copy, tmp_path, capsys):
    from dangtopic.cli import main

    _poison(model_copy / "summarizer" / "head.safetensors", float("nan"))
    meta = _config(model_copy / "summarizer")
    meta["weights_sha256"] = weight_hashes(model_copy / "summarizer")
    _write_config(model_copy / "summarizer", meta)
    src = tmp_path / "a.txt"
    src.write_text(
        "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.", encoding="utf-8"
    )
    out = tmp_path / "o.jsonl"
    assert main(["predict", str(src), "-o", str(out), "--model", str(model_copy), "-q"]) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite" in err and "Traceback" not in err
    assert not out.exists()
