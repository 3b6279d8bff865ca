import json
import unicodedata

import numpy as np
import pytest

from dangtopic import LABELS
from dangtopic.models.config import ConfigError, from_dict
from dangtopic.models.tagger import SentenceTagger, TaggerConfig, TagPrediction
from dangtopic.models.tiny import make_tiny_tagger


@pytest.fixture(scope="module")
def tagger(tiny_encoder_path):
    # Its own instance (thresholds are changed) with a stronger head so round trips test real values.
    t = make_tiny_tagger(tiny_encoder_path, head_std=2.0)
    t.config.thresholds = {"membership": 0.3, "inspection": 0.6, "restructuring": 0.5, "training": 0.45}
    return t


def test_predict_shapes(tagger):
    one = tagger.predict("Kết nạp đảng viên mới.")
    assert isinstance(one, TagPrediction)
    assert list(one.scores) == list(LABELS)
    many = tagger.predict(["Kết nạp đảng viên mới.", "Giảm 138 đầu mối.", "Tập huấn nghiệp vụ."])
    assert isinstance(many, list) and len(many) == 3
    assert tagger.predict([]) == []
    with pytest.raises(TypeError):
        tagger.predict(["ok", None])


def test_labels_follow_thresholds_and_label_order(tagger):
    probs = np.array([[0.31, 0.59, 0.5, 0.9], [0.29, 0.61, 0.49, 0.0]], dtype=np.float32)
    a, b = tagger.decide(probs)
    assert a.labels == ["membership", "restructuring", "training"]
    assert b.labels == ["inspection"]


def test_batching_and_order_do_not_change_scores(tagger):
    texts = [
        "Kết nạp đảng viên mới tại chi bộ thôn.",
        "Giảm.",
        "Ủy ban kiểm tra thi hành kỷ luật cảnh cáo 3 đảng viên.",
    ]
    p1 = tagger.predict_proba(texts, batch_size=1)
    p3 = tagger.predict_proba(texts[::-1], batch_size=3)[::-1]
    np.testing.assert_allclose(p1, p3, atol=1e-5)


def test_nfc_nfd_and_whitespace_give_identical_scores(tagger):
    s = "Cấp ủy kiểm tra, giám sát   việc thực hiện nghị quyết."
    nfd = unicodedata.normalize("NFD", s).replace(" ", " \t ")
    np.testing.assert_allclose(tagger.predict_proba([s]), tagger.predict_proba([nfd]), atol=1e-6)


def test_save_and_load_round_trip(tagger, tmp_path):
    out = tagger.save_pretrained(tmp_path / "tagger")
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "sentence-tagger"
    assert meta["labels"] == list(LABELS)
    assert meta["thresholds"]["inspection"] == 0.6
    assert meta["base_fingerprint"] == tagger.fingerprint
    assert (out / "README.md").exists() and (out / "head.safetensors").exists()
    assert not (out / "model.safetensors").exists()  # never a copy of the base encoder
    loaded = SentenceTagger.from_pretrained(out)
    texts = ["Kết nạp 20 đảng viên.", "Sáp nhập hai phòng ban, tinh giản biên chế."]
    np.testing.assert_allclose(loaded.predict_proba(texts), tagger.predict_proba(texts), atol=1e-5)
    assert [p.labels for p in loaded.predict(texts)] == [p.labels for p in tagger.predict(texts)]


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        SentenceTagger.from_pretrained(tmp_path / "nothing")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text(json.dumps({"kind": "extractive-summarizer"}))
    with pytest.raises(ValueError, match="not a sentence-tagger"):
        SentenceTagger.from_pretrained(tmp_path / "x")


def test_other_base_encoder_warns_at_the_callers_line(tagger, tmp_path):
    out = tagger.save_pretrained(tmp_path / "tagger")
    meta = json.loads((out / "config.json").read_text())
    meta["base_fingerprint"] = "sha256:another-encoder"
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="differs from the one this tagger was trained on") as rec:
        SentenceTagger.from_pretrained(out)
    assert [w.filename for w in rec if "differs" in str(w.message)] == [__file__]


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown"):
        from_dict(TaggerConfig, {"labelz": ["a"]})
    with pytest.raises(ConfigError):
        from_dict(TaggerConfig, {"thresholds": {"membership": 1.5}})
    with pytest.raises(ConfigError):
        from_dict(TaggerConfig, {"lora": {"r": "eight"}})
    cfg = from_dict(TaggerConfig, {"encoder": {"name": "x", "max_length": 64}, "lora": {"r": 4}})
    assert cfg.encoder.max_length == 64 and cfg.lora.r == 4


def test_override_parsing_reads_numbers():
    from dangtopic.models.config import parse_override

    assert parse_override("optim.encoder_lr=1e-3") == ("optim.encoder_lr", 1e-3)
    assert parse_override("optim.epochs=3") == ("optim.epochs", 3)
    assert parse_override("data.extra_labels=[]") == ("data.extra_labels", [])
    assert parse_override("model.encoder.name=vinai/phobert-base") == (
        "model.encoder.name",
        "vinai/phobert-base",
    )


def test_rule_and_context_features(tiny_encoder_path, tmp_path):
    from dangtopic.data.weak import lf_names

    t = SentenceTagger.create(encoder=str(tiny_encoder_path), rule_features=True, context_features=True)
    n_lf = len(lf_names())
    texts = ["Kết nạp 20 đảng viên mới.", "Hội nghị diễn ra sáng nay.", "Chỉ số PCI tăng."]
    alone = t.features(texts)
    grouped = t.features(texts, groups=["a", "a", "b"])
    assert alone.shape == grouped.shape == (3, n_lf + 4)
    mem = n_lf + 0  # the membership context column
    assert alone[0, mem] == 1 and alone[1, mem] == 0
    assert grouped[0, mem] == grouped[1, mem] == 0.5 and grouped[2, mem] == 0
    probs_alone = t.predict_proba(texts)
    probs_grouped = t.predict_proba(texts, groups=["a", "a", "b"])
    assert probs_alone.shape == (3, 4) and not np.allclose(probs_alone[1], probs_grouped[1])
    out = t.save_pretrained(tmp_path / "m")
    assert json.loads((out / "config.json").read_text())["rule_features"] == lf_names()
    loaded = SentenceTagger.from_pretrained(out)
    np.testing.assert_allclose(loaded.predict_proba(texts, groups=["a", "a", "b"]), probs_grouped, atol=1e-5)
    with pytest.raises(ValueError):
        t.features(texts, groups=["a"])
