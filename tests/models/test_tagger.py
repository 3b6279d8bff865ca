import json
import unicodedata

import numpy as np
import pytest
import torch

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


def test_a_fully_fine_tuned_tagger_reloads_its_own_encoder(tiny_encoder_path, tmp_path):
    import torch

    from dangtopic.models.tagger import TaggerConfig

    cfg = TaggerConfig()
    cfg.lora.r = 0  # full fine-tuning: the encoder's own weights change, and are saved
    t = SentenceTagger.create(encoder=str(tiny_encoder_path), config=cfg).eval()
    with torch.no_grad():
        for p in t.encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    out = t.save_pretrained(tmp_path / "full")
    assert (out / "encoder").is_dir()
    loaded = SentenceTagger.from_pretrained(out)
    texts = ["Kết nạp 20 đảng viên.", "Sáp nhập hai phòng ban, tinh giản biên chế."]
    np.testing.assert_allclose(loaded.predict_proba(texts), t.predict_proba(texts), atol=1e-5)
    base = SentenceTagger.create(encoder=str(tiny_encoder_path), config=cfg).eval()
    assert not np.allclose(base.embed(texts).numpy(), loaded.embed(texts).numpy(), atol=1e-3)


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


ARTICLE = [
    "Tiêu đề về công tác kiểm tra",
    "Kết nạp 20 đảng viên mới.",
    "Hội nghị diễn ra sáng nay.",
    "Chỉ số PCI tăng.",
]


def test_an_untrained_contextualiser_is_the_identity(tiny_encoder_path):
    """Training starts from the sentence-level tagger: a fresh contextualiser changes no score."""
    t = SentenceTagger.create(encoder=str(tiny_encoder_path))
    assert t.context is not None and t.config.context.layers == 2
    np.testing.assert_allclose(t.proba_articles(ARTICLE, [4]), t.proba_articles(ARTICLE, [0] * 4), atol=1e-6)
    with torch.no_grad():
        direct = torch.sigmoid(t.head(t.embed(ARTICLE))).numpy()
    np.testing.assert_allclose(t.proba_articles(ARTICLE, [4]), direct, atol=1e-6)


def test_each_sentence_is_read_in_its_article(tiny_encoder_path, tmp_path):
    from dangtopic.models.tiny import make_tiny_tagger

    t = make_tiny_tagger(tiny_encoder_path)  # contextualiser with random (non-identity) weights
    in_article = t.proba_articles(ARTICLE, [len(ARTICLE)])
    alone = t.proba_articles(ARTICLE, [0] * len(ARTICLE))
    np.testing.assert_allclose(alone, t.predict_proba(ARTICLE), atol=1e-6)  # no groups: each alone
    np.testing.assert_allclose(in_article, t.predict_proba(ARTICLE, groups=["a"] * 4), atol=1e-6)
    assert not np.allclose(in_article, alone)
    # a sentence's score depends on its neighbours and on where it stands
    other = t.proba_articles([ARTICLE[0], ARTICLE[1], "Thời tiết hôm nay đẹp.", ARTICLE[3]], [4])
    assert not np.allclose(other[1], in_article[1])
    moved = t.proba_articles([ARTICLE[1], ARTICLE[0], ARTICLE[2], ARTICLE[3]], [4])
    assert not np.allclose(moved[0], in_article[1])
    # articles batched together are read separately, even when their sentences interleave
    mixed = t.predict_proba(
        [ARTICLE[0], ARTICLE[1], ARTICLE[0], ARTICLE[2], ARTICLE[1], ARTICLE[3]], groups=[1, 1, 2, 1, 2, 1]
    )
    np.testing.assert_allclose(mixed[[0, 1, 3, 5]], in_article, atol=1e-5)
    np.testing.assert_allclose(mixed[[2, 4]], t.proba_articles(ARTICLE[:2], [2]), atol=1e-5)
    preds = t.predict_article(ARTICLE)
    assert [p.scores for p in preds] == [p.scores for p in t.predict_articles([ARTICLE, ARTICLE[:1]])[0]]
    with pytest.raises(ValueError, match="add up"):
        t.proba_articles(ARTICLE, [3])
    with pytest.raises(TypeError):
        t.predict_articles(ARTICLE)
    loaded = SentenceTagger.from_pretrained(t.save_pretrained(tmp_path / "m"))
    np.testing.assert_allclose(loaded.proba_articles(ARTICLE, [4]), in_article, atol=1e-5)


def test_without_context_layers_the_article_changes_nothing(tiny_encoder_path):
    from dangtopic.models.tagger import ContextSpec, TaggerConfig

    cfg = TaggerConfig(context=ContextSpec(layers=0))
    t = SentenceTagger.create(encoder=str(tiny_encoder_path), config=cfg)
    assert t.context is None
    np.testing.assert_allclose(t.proba_articles(ARTICLE, [4]), t.proba_articles(ARTICLE, [0] * 4), atol=1e-6)


def test_a_head_file_that_does_not_fit_its_config_is_refused(tiny_encoder_path, tmp_path):
    from dangtopic.models.tagger import ContextSpec, TaggerConfig

    out = SentenceTagger.create(
        encoder=str(tiny_encoder_path), config=TaggerConfig(context=ContextSpec(layers=0))
    )
    out = out.save_pretrained(tmp_path / "m")
    meta = json.loads((out / "config.json").read_text())
    meta["config"]["context"]["layers"] = 1  # config says "contextualiser", the weights have none
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not fit"):
        SentenceTagger.from_pretrained(out)
