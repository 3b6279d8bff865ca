"""Extractive summariser: selection rules, contract of summarize/predict, save/load with the tiny encoder."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from dangtopic.data.article import Article
from dangtopic.models.config import ConfigError
from dangtopic.models.summarizer import (
    ExtractiveSummarizer,
    Summary,
    select_sentences,
    textrank_scores,
)
from dangtopic.models.tiny import TINY_SENTENCES

# The sentences the tiny encoder's tokenizer was trained on (minus the keyword line).
SENTS = TINY_SENTENCES[:6]


@pytest.fixture(scope="module")
def tiny_summ(tiny_encoder_path):
    import torch

    torch.manual_seed(0)
    return ExtractiveSummarizer.create(str(tiny_encoder_path), hidden_size=16, context_heads=2)


# ------------------------------------------------------------------ selection rules (no model)


def test_selection_respects_sentence_budget_and_article_order():
    scores = [0.1, 0.9, 0.2, 0.8, 0.7, 0.05]
    idx, warns = select_sentences(
        scores, SENTS, list(range(6)), max_sentences=2, max_words=None, redundancy="none"
    )
    assert idx == [1, 3] and warns == []
    idx, _ = select_sentences(
        scores, SENTS, list(range(6)), max_sentences=3, max_words=None, redundancy="none"
    )
    assert idx == [1, 3, 4]


def test_word_budget_skips_long_sentences_and_warns_when_nothing_fits():
    words = [len(s.split()) for s in SENTS]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    budget = words[0] + words[2]
    idx, warns = select_sentences(
        scores, SENTS, list(range(6)), max_sentences=3, max_words=budget, redundancy="none"
    )
    assert sum(words[i] for i in idx) <= budget and 0 in idx and warns == []
    idx, warns = select_sentences(
        scores, SENTS, list(range(6)), max_sentences=3, max_words=5, redundancy="none"
    )
    assert idx == [0] and "exceeds max_words=5" in warns[0]


def test_trigram_blocking_drops_near_repeats():
    sents = [
        "Tỉnh ủy kết nạp 300 đảng viên mới trong năm.",
        "Trong năm, tỉnh ủy kết nạp 300 đảng viên mới.",
        "Ủy ban kiểm tra xử lý 12 tổ chức đảng.",
    ]
    scores = [0.9, 0.85, 0.3]
    assert select_sentences(scores, sents, [0, 1, 2], 2, None, redundancy="none")[0] == [0, 1]
    assert select_sentences(scores, sents, [0, 1, 2], 2, None, redundancy="trigram")[0] == [0, 2]


def test_mmr_prefers_diverse_sentences():
    emb = np.array([[1.0, 0.0, 0.0], [0.99, 0.05, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    scores = [0.9, 0.88, 0.6, 0.1]
    sents = SENTS[:4]
    assert select_sentences(scores, sents, [0, 1, 2, 3], 2, None, redundancy="none")[0] == [0, 1]
    assert select_sentences(
        scores, sents, [0, 1, 2, 3], 2, None, redundancy="mmr", mmr_lambda=0.5, embeddings=emb
    )[0] == [0, 2]
    with pytest.raises(ValueError):
        select_sentences(scores, sents, [0], 2, None, redundancy="mmr")


def test_selection_only_from_allowed():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    idx, _ = select_sentences(scores, SENTS, [5, 2], max_sentences=3, max_words=None, redundancy="none")
    assert idx == [2, 5]
    assert select_sentences(scores, SENTS, [], 3, None)[0] == []


def test_textrank_ranks_the_central_sentence_first():
    emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    r = textrank_scores(emb)
    assert r.sum() == pytest.approx(1.0)
    assert set(np.argsort(-r)[:2]) == {1, 2}
    assert textrank_scores(np.zeros((0, 2))).shape == (0,)


def test_summary_round_trip():
    s = Summary("a b", [0, 2], ["w"])
    assert Summary.from_dict(json.loads(json.dumps(s.to_dict()))) == s


# ------------------------------------------------------------------ the model contract (tiny encoder)


def test_empty_article(tiny_summ):
    assert tiny_summ.summarize([]) == Summary("", [], ["empty article"])
    assert tiny_summ.summarize(["", "   "], title="x") == Summary("", [], ["empty article"])
    assert tiny_summ.predict(Article("a", "t", [])) == Summary("", [], ["empty article"])


def test_summarize_budget_order_and_text(tiny_summ):
    out = tiny_summ.summarize(SENTS, title="Kết quả công tác xây dựng Đảng", max_sentences=2)
    assert 1 <= len(out.sentence_indices) <= 2
    assert out.sentence_indices == sorted(out.sentence_indices)
    assert out.text == " ".join(SENTS[i] for i in out.sentence_indices)
    assert len(out.text.split()) <= tiny_summ.config.max_words
    one = tiny_summ.summarize(SENTS, max_sentences=1, max_words=20)
    assert len(one.sentence_indices) == 1 and len(one.text.split()) <= 20
    with pytest.raises(ValueError):
        tiny_summ.summarize(SENTS, max_sentences=0)


def test_candidates_restrict_selection(tiny_summ):
    for cands in ([4], [1, 5], [0, 2, 3]):
        out = tiny_summ.summarize(SENTS, candidates=cands, max_sentences=3)
        assert out.sentence_indices and set(out.sentence_indices) <= set(cands)
    out = tiny_summ.summarize(SENTS, candidates=[])
    assert out.text == "" and out.sentence_indices == [] and out.warnings == ["no candidate sentences"]
    out = tiny_summ.summarize(SENTS, candidates=[2, 99])
    assert out.sentence_indices == [2] and "99" in out.warnings[0]


def test_nfd_and_nfc_input_give_identical_summaries(tiny_summ):
    nfd = [unicodedata.normalize("NFD", s).replace(" ", "  ") for s in SENTS]
    title = "Công tác xây dựng Đảng"
    a = tiny_summ.summarize(SENTS, title=title)
    b = tiny_summ.summarize(nfd, title=unicodedata.normalize("NFD", title))
    assert a == b
    assert unicodedata.is_normalized("NFC", b.text)


def test_predict_batches_match_single_calls_and_report_bad_records(tiny_summ):
    arts = [Article("a", "Kết nạp đảng viên", SENTS), Article("b", "", SENTS[2:5]), Article("c", "x", [])]
    batch = tiny_summ.predict(arts + [42])
    assert batch[:3] == [tiny_summ.summarize(a.sentences, a.title) for a in arts]
    assert batch[3].text == "" and batch[3].warnings[0].startswith("error: TypeError")
    assert isinstance(tiny_summ.predict(arts[0]), Summary)


def test_save_load_round_trip(tiny_summ, tmp_path):
    folder = tiny_summ.save_pretrained(tmp_path / "summ")
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "extractive-summarizer" and meta["base_fingerprint"] == tiny_summ.fingerprint
    assert meta["config"]["encoder"]["name"] == tiny_summ.config.encoder.name
    assert (folder / "head.safetensors").stat().st_size < 10_000_000
    assert not list(folder.glob("model.safetensors")), "the base encoder must not be copied"
    loaded = ExtractiveSummarizer.from_pretrained(folder)
    assert loaded.config == tiny_summ.config
    for k in (1, 2, 3):
        assert loaded.summarize(SENTS, "t", max_sentences=k) == tiny_summ.summarize(
            SENTS, "t", max_sentences=k
        )
    with pytest.raises(FileNotFoundError):
        ExtractiveSummarizer.from_pretrained(tmp_path / "nowhere")


def test_config_is_validated(tiny_encoder_path):
    with pytest.raises(ConfigError, match="redundancy"):
        ExtractiveSummarizer.create(str(tiny_encoder_path), redundancy="bogus")
    with pytest.raises(ConfigError, match="unknown"):
        ExtractiveSummarizer.create(str(tiny_encoder_path), max_sentence=2)


def test_mmr_model_runs(tiny_encoder_path):
    summ = ExtractiveSummarizer.create(
        str(tiny_encoder_path),
        hidden_size=16,
        context_heads=2,
        redundancy="mmr",
        context_layers=0,
        use_features=False,
    )
    out = summ.summarize(SENTS, max_sentences=2)
    assert len(out.sentence_indices) == 2


@pytest.mark.slow
def test_shipped_default_summarises_a_vnds_article():
    from dangtopic.models.summarizer import default_model_exists

    if not default_model_exists():
        pytest.skip("no shipped default summarizer")
    summ = ExtractiveSummarizer.from_pretrained()
    out = summ.summarize(SENTS, title="Kết quả công tác xây dựng Đảng năm 2022")
    assert out.sentence_indices and len(out.text.split()) <= summ.config.max_words


def test_headings_are_not_selected_unless_nothing_else(tiny_summ):
    from dangtopic.models.summarizer import is_heading

    assert is_heading("Kiện toàn tổ chức, nâng cao năng lực lãnh đạo")
    assert not is_heading(SENTS[0]) and not is_heading("Ông cho biết: “Sẽ làm ngay”")
    sents = ["Kiện toàn tổ chức bộ máy", *SENTS[:3]]
    for _ in range(3):
        out = tiny_summ.summarize(sents, max_sentences=3, max_words=200)
        assert 0 not in out.sentence_indices
    assert tiny_summ.summarize(sents, candidates=[0]).sentence_indices == [0]


# ------------------------------------------------------------------ captions and dtype

CAPTION_ARTICLE = [
    "Sau 10 năm thực hiện Nghị quyết Trung ương 5, hệ thống chính trị ở cơ sở có nhiều chuyển biến.",
    "Trước hết cần củng cố các thôn bản chưa có chi bộ.",
    "Ban Thường vụ đã ban hành Nghị quyết về công tác kết nạp đảng viên.",
    "Buổi họp bất thường của Đảng bộ xã Khun Há, huyện Tam Đường.",  # photo caption, paragraph 2
    "Các cấp uỷ đảng từ huyện đến cơ sở đã xây dựng kế hoạch thực hiện.",
    "Từ khi chia tách đến nay đã kết nạp được 5.903 đảng viên.",
]
CAPTION_PARAS = [0, 1, 1, 2, 3, 3]


def test_captions_are_never_selected_when_paragraphs_are_known(tiny_summ):
    everything = {"max_sentences": 6, "max_words": 1000}
    assert tiny_summ.config.skip_captions
    out = tiny_summ.summarize(CAPTION_ARTICLE, "t", paragraphs=CAPTION_PARAS, **everything)
    assert 3 not in out.sentence_indices and len(out.sentence_indices) >= 3
    # the same article without layout, or with the rule off, may pick it: the rule is what keeps it out
    tiny_summ.config.skip_captions = False
    try:
        off = tiny_summ.summarize(CAPTION_ARTICLE, "t", paragraphs=CAPTION_PARAS, **everything)
    finally:
        tiny_summ.config.skip_captions = True
    assert 3 in off.sentence_indices
    assert 3 in tiny_summ.summarize(CAPTION_ARTICLE, "t", **everything).sentence_indices
    # a caption-only candidate set gives an empty summary that says why
    only = tiny_summ.summarize(CAPTION_ARTICLE, candidates=[3], paragraphs=CAPTION_PARAS)
    assert only.text == "" and "photo caption" in only.warnings[0]
    with pytest.raises(ValueError, match="paragraph ids"):
        tiny_summ.summarize(CAPTION_ARTICLE, paragraphs=CAPTION_PARAS[:-1])


def test_predict_uses_article_paragraphs(tiny_summ):
    art = Article("a", "t", CAPTION_ARTICLE, paragraphs=CAPTION_PARAS)
    bad = Article("b", "t", CAPTION_ARTICLE, paragraphs=[0, 1])
    got = tiny_summ.predict([art, bad])
    assert got[0] == tiny_summ.summarize(CAPTION_ARTICLE, "t", paragraphs=CAPTION_PARAS)
    assert got[1].warnings[0].startswith("error: ValueError")


def test_saved_config_without_new_keys_still_loads(tiny_summ, tmp_path):
    folder = tiny_summ.save_pretrained(tmp_path / "old")
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    for key in ("skip_captions", "dtype"):
        del meta["config"][key]
    (folder / "config.json").write_text(json.dumps(meta), encoding="utf-8")
    loaded = ExtractiveSummarizer.from_pretrained(folder)
    assert loaded.config.skip_captions is True and loaded.config.dtype == "auto"


def test_dtype_setting(tiny_encoder_path, tmp_path, monkeypatch):
    import torch

    from dangtopic.models import summarizer as mod

    monkeypatch.setattr(mod, "native_bf16", lambda: True)
    assert mod.resolve_dtype("auto") == torch.bfloat16
    monkeypatch.setattr(mod, "native_bf16", lambda: False)
    assert mod.resolve_dtype("auto") == torch.float32
    with pytest.raises(ValueError):
        mod.resolve_dtype("float16")
    with pytest.raises(ConfigError, match="dtype"):
        ExtractiveSummarizer.create(str(tiny_encoder_path), dtype="float16")

    torch.manual_seed(0)
    fp32 = ExtractiveSummarizer.create(str(tiny_encoder_path), hidden_size=16, context_heads=2)
    assert fp32.encoder_dtype == "float32"  # auto on a CPU without bf16 units
    folder = fp32.save_pretrained(tmp_path / "m")
    bf16 = ExtractiveSummarizer.from_pretrained(folder, dtype="bfloat16")
    assert bf16.encoder_dtype == "bfloat16" and bf16.config.dtype == "bfloat16"
    emb = bf16.embed(SENTS)
    assert emb.dtype == torch.float32 and emb.shape == fp32.embed(SENTS).shape
    assert torch.nn.functional.cosine_similarity(emb, fp32.embed(SENTS)).min() > 0.99
    out = bf16.summarize(SENTS, "t")
    assert out.sentence_indices and out.text == " ".join(SENTS[i] for i in out.sentence_indices)
    with pytest.raises(ValueError, match="reload"):
        bf16.set_dtype("float32")
    fp32.set_dtype("bfloat16")
    assert fp32.encoder_dtype == "bfloat16"
    assert ExtractiveSummarizer.from_pretrained(folder, dtype="float32").encoder_dtype == "float32"
