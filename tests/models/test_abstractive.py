"""Abstractive option: a tiny random T5 built offline, and the unsupported-number check."""

from __future__ import annotations

import pytest

from dangtopic.data.article import Article
from dangtopic.models.abstractive import (
    AbstractiveConfig,
    AbstractiveSummarizer,
    number_values,
    unsupported_numbers,
)
from dangtopic.models.config import ConfigError

TEXTS = [
    "Toàn tỉnh kết nạp 3.787 đảng viên , tăng 1,5 % so với năm 2022 .",
    "Kiểm tra 1.263 tổ chức đảng và 4.797 đảng viên .",
    "Giảm 138 đầu mối và 1.845 biên chế .",
]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors, trainers
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tok = Tokenizer(Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=120, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(TEXTS * 5, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = T5Config(
        vocab_size=tok.get_vocab_size(),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    path = tmp_path_factory.mktemp("tiny_t5")
    T5ForConditionalGeneration(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_number_values_conventions():
    assert number_values("1.000") == {"1000", "1"}
    assert number_values("1,5") == {"1.5"}
    assert number_values("1.5%") == {"1.5"}
    assert "3787" in number_values("3.787") and "3787" in number_values("3,787")
    assert number_values("2022") == {"2022"}


def test_unsupported_numbers_normalises_forms():
    article = "Kết nạp 3.787 đảng viên, tăng 1,5 % so với năm 2022; 1.000 người dự."
    assert unsupported_numbers("Kết nạp 3787 đảng viên, tăng 1.5%.", article) == []
    assert unsupported_numbers("Có 1,000 người dự năm 2022.", article) == []
    assert unsupported_numbers("Tăng 15% với 3.788 đảng viên, tăng 15 %.", article) == ["15%", "3.788"]
    assert unsupported_numbers("Không có số nào.", article) == []
    art = Article(id="a", title="Năm 2023", sentences=["Có 12 chi bộ."])
    assert unsupported_numbers("Năm 2023 có 12 chi bộ, 13 đảng viên.", art) == ["13"]


def test_config_validation():
    with pytest.raises(ConfigError):
        AbstractiveSummarizer.from_pretrained(None, model="x", num_beams=0)
    assert AbstractiveConfig(model="x").generation_kwargs()["no_repeat_ngram_size"] == 3


def test_tiny_t5_generates_with_explicit_settings(tiny_t5, tmp_path, monkeypatch):
    summ = AbstractiveSummarizer.from_pretrained(
        tiny_t5, num_beams=2, max_new_tokens=6, no_repeat_ngram_size=2, length_penalty=0.8
    )
    seen = {}
    real = summ.model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(summ.model, "generate", spy)
    out = summ.summarize(TEXTS, title="Kết nạp đảng viên")
    assert isinstance(out.text, str) and out.sentence_indices == []
    assert seen["num_beams"] == 2 and seen["max_new_tokens"] == 6 and seen["no_repeat_ngram_size"] == 2
    assert seen["length_penalty"] == 0.8 and seen["do_sample"] is False
    assert len(summ.tokenizer(out.text)["input_ids"]) <= 6 + 1
    assert summ.summarize(["", "  "]).warnings == ["empty article"]
    # Batched predict, with a bad record reported rather than raised; saved folder round-trips.
    arts = [Article("a", "t", TEXTS), Article("b", "", []), "not an article"]
    res = summ.predict(arts)
    assert [r.warnings[:1] for r in res[1:]] == [["empty article"], ["error: expected an Article, got str"]]
    folder = summ.save_pretrained(tmp_path / "abs")
    again = AbstractiveSummarizer.from_pretrained(folder)
    assert again.config.num_beams == 2 and again.config.max_new_tokens == 6


def test_invented_numbers_are_flagged(tiny_t5, monkeypatch):
    summ = AbstractiveSummarizer.from_pretrained(tiny_t5, max_new_tokens=4)
    monkeypatch.setattr(summ, "_generate", lambda sources: ["Kết nạp 3787 đảng viên, kiểm tra 99 tổ chức."])
    out = summ.summarize(TEXTS)
    assert out.warnings == ["numbers not in the article: 99"]
    monkeypatch.setattr(summ, "_generate", lambda sources: ["Giảm 1.845 biên chế, tăng 1.5%."])
    assert summ.summarize(TEXTS).warnings == []
