"""Syllable-level ROUGE, the greedy oracle and LEAD."""

from __future__ import annotations

import unicodedata

import pytest

from dangtopic.data.rouge import (
    RougeAccumulator,
    SyllableTokenizer,
    greedy_oracle,
    lead,
    make_scorer,
    rouge_corpus,
    syllables,
)


def test_tokenizer_keeps_vietnamese_syllables():
    assert SyllableTokenizer().tokenize("Đà Nẵng") == ["đà", "nẵng"]
    assert syllables("TP. Hồ Chí Minh, ngày 25/2: “Kết nạp” 3.787 đảng viên!") == [
        "tp",
        "hồ",
        "chí",
        "minh",
        "ngày",
        "25",
        "2",
        "kết",
        "nạp",
        "3",
        "787",
        "đảng",
        "viên",
    ]
    # VNDS word-segmentation underscores are separators, not letters.
    assert syllables("Đà_Nẵng") == ["đà", "nẵng"]


def test_tokenizer_is_nfc_nfd_invariant():
    text = "Nghị quyết của Tỉnh ủy về công tác xây dựng Đảng"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert syllables(nfd) == syllables(text)


def test_default_tokenizer_shreds_vietnamese_and_syllable_does_not():
    # Two different place names share their ASCII leftovers, so the default tokenizer calls them equal.
    ref, pred = "Đà Nẵng", "Đồ Nưng"
    default = make_scorer("default").score(ref, pred)["rouge1"].fmeasure
    syllable = make_scorer("syllable").score(ref, pred)["rouge1"].fmeasure
    assert default == pytest.approx(1.0)
    assert syllable == 0.0
    with pytest.raises(ValueError):
        make_scorer("nltk")


def test_rouge_corpus_means_and_identity():
    refs = ["Kết nạp 30 đảng viên mới", "Kiểm tra tổ chức đảng"]
    r = rouge_corpus(refs, refs)
    assert r["rouge1"]["f"] == pytest.approx(1.0) and r["rougeL"]["f"] == pytest.approx(1.0)
    half = rouge_corpus(["Kết nạp 30 đảng viên mới", "hoàn toàn khác"], refs)
    assert half["rouge1"]["f"] == pytest.approx(0.5)
    acc = RougeAccumulator()
    f = acc.add("đảng viên", "kết nạp đảng viên")
    assert f["rouge1"] == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    with pytest.raises(ValueError):
        rouge_corpus(["a"], [])


def test_greedy_oracle_picks_matching_sentences_in_order():
    sents = [
        "Thời tiết hôm nay đẹp.",
        "Tỉnh ủy kết nạp 300 đảng viên mới trong năm.",
        "Người dân đi chợ đông vui.",
        "Ủy ban kiểm tra xử lý 12 tổ chức đảng vi phạm.",
    ]
    ref = "Ủy ban kiểm tra xử lý 12 tổ chức đảng; tỉnh ủy kết nạp 300 đảng viên mới."
    assert greedy_oracle(sents, ref) == [1, 3]
    assert greedy_oracle(sents, ref, max_sentences=1) in ([1], [3])
    assert greedy_oracle(sents, "") == []
    assert greedy_oracle([], ref) == []
    # Stops when no sentence improves the score: the unrelated ones are never added.
    assert 0 not in greedy_oracle(sents, ref) and 2 not in greedy_oracle(sents, ref)


def test_lead_skips_empty_sentences():
    assert lead(["a", "", "b", "c"], 2) == [0, 2]
    assert lead(["a"], 3) == [0]
    with pytest.raises(ValueError):
        lead(["a"], 0)
