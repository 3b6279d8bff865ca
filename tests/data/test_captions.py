"""Unmarked photo captions: the layout rule, the sentence shape, and paragraph ids from ingestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dangtopic.data.article import Article
from dangtopic.data.captions import caption_like, caption_sentences, caption_shaped, group_paragraphs
from dangtopic.data.ingest import article_from_text
from dangtopic.data.sentences import split_paragraphs, split_paragraphs_with_ids

# Long body paragraphs (2+ sentences) around the candidate line.
LONG_A = [
    "Trước hết cần phải củng cố các thôn bản chưa có chi bộ, đảng viên.",
    "Ban Thường vụ đã ban hành Nghị quyết về tăng cường chỉ đạo công tác kết nạp đảng viên.",
]
LONG_B = [
    "Trên cơ sở Nghị quyết, các cấp uỷ đảng từ huyện đến cơ sở đã xây dựng kế hoạch thực hiện.",
    "Từ khi chia tách đến nay đã kết nạp được 5.903 đảng viên.",
]
LEAD = ["Sau 10 năm thực hiện Nghị quyết Trung ương 5, hệ thống chính trị đã có nhiều chuyển biến tích cực."]
CAPTION = "Chi bộ Đài TT-TH thị xã Lai Châu tổ chức Lễ kết nạp đảng viên mới."


def _layout(middle: str) -> list[list[str]]:
    return [LEAD, LONG_A, [middle], LONG_B]


@pytest.mark.parametrize(
    "sentence",
    [
        CAPTION,
        "Buổi họp bất thường của Đảng bộ xã Khun Há, huyện Tam Đường.",
        "Đồng chí Bí thư Tỉnh ủy phát biểu tại hội nghị sáng 12/5.",  # figures, but a scene cue
        "Nhiều tập thể, cá nhân được khen thưởng tại buổi lễ",  # unpunctuated label line
    ],
)
def test_caption_between_long_paragraphs_is_flagged(sentence):
    assert caption_shaped(sentence)
    assert caption_like(_layout(sentence)) == {2}


@pytest.mark.parametrize(
    "sentence",
    [
        "Toàn tỉnh kết nạp được 5.903 đảng viên mới.",  # a figure and no scene: body content
        "Tuy nhiên, công tác phát triển đảng viên mới còn chậm.",  # discourse connective
        "Đây là năm thứ năm liên tiếp Đảng bộ hoàn thành xuất sắc nhiệm vụ.",
        "Bí thư Tỉnh ủy nhấn mạnh vai trò của chi bộ.",  # reported speech
        "Ông nói: “Chi bộ phải gương mẫu.”",  # a quote
        "Kết quả cụ thể như sau:",  # introduces a list
        "Vì sao chi bộ thôn bản còn yếu?",
        " ".join(["Công tác xây dựng Đảng ở cơ sở được chú trọng"] * 3) + ".",  # 30 words: too long
    ],
)
def test_body_like_short_paragraph_is_not_flagged(sentence):
    assert not caption_shaped(sentence)
    assert caption_like(_layout(sentence)) == set()


def test_layout_conditions():
    # the lead (first paragraph) and the last paragraph are never captions
    assert caption_like([[CAPTION], LONG_A, LONG_B]) == set()
    assert caption_like([LONG_A, LONG_B, [CAPTION]]) == set()
    # a neighbour that is itself short: no isolated line, no flag
    assert caption_like([LEAD, ["Một câu ngắn."], [CAPTION], LONG_B]) == set()
    # a single long sentence counts as a long neighbour (40+ words)
    long_one = [" ".join(["cán bộ"] * 21) + "."]
    assert caption_like([LEAD, long_one, [CAPTION], long_one]) == {2}
    # a two-sentence short paragraph is not a caption
    assert caption_like([LEAD, LONG_A, [CAPTION, CAPTION], LONG_B]) == set()
    # two captions, each between long paragraphs
    assert caption_like([LEAD, LONG_A, [CAPTION], LONG_B, ["Quang cảnh buổi lễ."], LONG_A]) == {2, 4}
    assert caption_like([]) == set()


def test_caption_sentences_maps_paragraph_ids_and_checks_lengths():
    sents = [*LEAD, *LONG_A, CAPTION, *LONG_B]
    pids = [0, 1, 1, 2, 3, 3]
    assert group_paragraphs(pids) == [[0], [1, 2], [3], [4, 5]]
    assert caption_sentences(sents, pids) == {3}
    # empty sentences do not count towards the layout
    assert caption_sentences([*sents[:3], "  ", *sents[3:]], [0, 1, 1, 1, 2, 3, 3]) == {4}
    # without paragraph structure (one paragraph) nothing is a caption
    assert caption_sentences(sents, [0] * len(sents)) == set()
    with pytest.raises(ValueError, match="paragraph ids"):
        caption_sentences(sents, pids[:-1])


def test_split_paragraphs_with_ids():
    lines = ["Câu một. Câu hai.", "", "Tiêu đề phụ không chấm", "Câu ba."]
    sents, ids = split_paragraphs_with_ids(lines)
    assert sents == ["Câu một.", "Câu hai.", "Tiêu đề phụ không chấm", "Câu ba."]
    assert ids == [0, 0, 1, 2]
    assert split_paragraphs(lines) == sents


PAGE = "\n\n".join(
    [
        "Lai Châu: Chú trọng nâng cao chất lượng hệ thống chính trị ở cơ sở",
        LEAD[0],
        " ".join(LONG_A),
        CAPTION,
        " ".join(LONG_B),
    ]
)


def test_ingested_article_keeps_caption_text_and_paragraph_ids():
    a = article_from_text(PAGE)
    assert CAPTION in a.sentences  # nothing is deleted: it is still a sentence to tag
    assert len(a.paragraphs) == len(a.sentences)
    assert caption_sentences(a.sentences, a.paragraphs) == {a.sentences.index(CAPTION)}
    assert Article.from_dict(json.loads(json.dumps(a.to_dict(), ensure_ascii=False))) == a
    old = {k: v for k, v in a.to_dict().items() if k != "paragraphs"}  # saved before the field existed
    assert Article.from_dict(old).paragraphs == []


SEED_004 = sorted((Path(__file__).resolve().parents[3] / "shared" / "seeds").glob("004_*.txt"))


def test_seed_004_captions_are_found():
    if not SEED_004:
        pytest.skip("../shared/seeds not available")
    a = article_from_text(SEED_004[0].read_text(encoding="utf-8"))
    found = {a.sentences[i] for i in caption_sentences(a.sentences, a.paragraphs)}
    assert found == {
        "Buổi họp bất thường của Đảng bộ xã Khun Há, huyện Tam Đường.",
        "Chi bộ Đài TT-TH thị xã Lai Châu tổ chức Lễ kết nạp đảng viên mới.",
    }
