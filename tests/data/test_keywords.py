"""The keyword baseline and its text folding."""

from __future__ import annotations

import pytest

from dangtopic.data.keywords import fold, keyword_labels

# The guidelines' worked examples: (sentence, gold labels, keyword labels where a plain keyword exists).
WORKED = [
    ("Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.", {"membership"}, set()),
    (
        "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
        {"inspection"},
        {"inspection"},
    ),
    (
        "Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.",
        {"restructuring"},
        {"restructuring"},
    ),
    (
        "Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.",
        {"training"},
        {"training"},
    ),
    (
        "Công tác đánh giá phân loại tổ chức cơ sở đảng và đảng viên ngày càng đi vào chiều sâu.",
        {"membership"},
        set(),
    ),
    ("Việc quán triệt, học tập các nghị quyết của Đảng được chú trọng đổi mới.", set(), set()),
    (
        "Thực hiện chuyển giao 20 chi, đảng bộ cơ sở và 421 đảng viên các chi bộ ngân hàng thương mại.",
        {"restructuring", "membership"},
        set(),
    ),
    ("Chỉ số năng lực cạnh tranh cấp tỉnh (PCI) năm 2022 xếp thứ 43/63.", set(), set()),
]


@pytest.mark.parametrize("text, gold, keywords", WORKED)
def test_worked_examples(text, gold, keywords):
    assert set(keyword_labels(text)) == keywords
    assert set(keyword_labels(text)) <= gold  # the baseline may miss, but not invent, on these


def test_fold_unifies_spelling_case_and_abbreviations():
    assert fold("UỶ BAN KIỂM TRA Tỉnh Uỷ") == fold("ủy ban kiểm tra tỉnh ủy")
    assert "đảng viên" in fold("Kết nạp 379 ĐV mới") and "lý luận chính trị" in fold("học LLCT")
    assert fold("Ủy ban\u00a0kiểm\u200b tra") == "ủy ban kiểm tra"
    assert (
        keyword_labels("UBKT Tỉnh Uỷ họp.")
        == keyword_labels("Ủy ban kiểm tra tỉnh ủy họp.")
        == ["inspection"]
    )


def test_word_boundaries():
    assert keyword_labels("Chủ tịch huyện bị kỷ luật khiển trách.") == ["inspection"]
    assert keyword_labels("Xyủy ban kiểm trax") == []
