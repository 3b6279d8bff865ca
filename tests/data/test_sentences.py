"""Sentence splitting: abbreviations, numbered documents, numbers, quotes, ellipses, list items, headings."""

from __future__ import annotations

import unicodedata

import pytest

from dangtopic.data import clean_page, example_paths, split_paragraphs, split_sentences

CASES = [
    # place and title abbreviations
    ("Ông ở TP. Hồ Chí Minh. Bà ở Q. 1, TP. HCM.", ["Ông ở TP. Hồ Chí Minh.", "Bà ở Q. 1, TP. HCM."]),
    (
        "P. Tân Định, TX. Kiến Tường, H. Củ Chi đã làm. Xong.",
        ["P. Tân Định, TX. Kiến Tường, H. Củ Chi đã làm.", "Xong."],
    ),
    (
        "ThS. Nguyễn Văn A và PGS. TS. Trần B, GS. Lê C phát biểu. Sau đó Th.S. Hoàng D nói.",
        ["ThS. Nguyễn Văn A và PGS. TS. Trần B, GS. Lê C phát biểu.", "Sau đó Th.S. Hoàng D nói."],
    ),
    (
        "PGS.TS. Nguyễn Văn A phát biểu. Sau đó PGS.TS Trần B nói.",
        ["PGS.TS. Nguyễn Văn A phát biểu.", "Sau đó PGS.TS Trần B nói."],
    ),
    (
        "Lúc 16h30. Tại hội nghị, đ/c Nguyễn Đ. Thành phát biểu.",
        ["Lúc 16h30.", "Tại hội nghị, đ/c Nguyễn Đ. Thành phát biểu."],
    ),
    (
        "Theo baolaichau.vn đưa tin, tỉnh đã làm tốt. Xong.",
        ["Theo baolaichau.vn đưa tin, tỉnh đã làm tốt.", "Xong."],
    ),
    # v.v.: inside a sentence, and ending one
    (
        "Học tập, quán triệt v.v. đều được thực hiện. Tiếp theo là kiểm tra.",
        ["Học tập, quán triệt v.v. đều được thực hiện.", "Tiếp theo là kiểm tra."],
    ),
    (
        "Học tập, quán triệt v.v. Tiếp theo là kiểm tra.",
        ["Học tập, quán triệt v.v.", "Tiếp theo là kiểm tra."],
    ),
    # numbered documents
    (
        "Thực hiện Nghị quyết 18-NQ/TW. Theo Quyết định số 123/QĐ-UBND ngày 5/6/2023, tỉnh đã làm.",
        ["Thực hiện Nghị quyết 18-NQ/TW.", "Theo Quyết định số 123/QĐ-UBND ngày 5/6/2023, tỉnh đã làm."],
    ),
    (
        "Tỉnh ủy ban hành Quyết định số 999- QĐ/TU, Kế hoạch số 57-KH/TU. Kết quả tốt.",
        ["Tỉnh ủy ban hành Quyết định số 999- QĐ/TU, Kế hoạch số 57-KH/TU.", "Kết quả tốt."],
    ),
    # decimals and thousands
    (
        "Hoàn thành xuất sắc 239 người (đạt 12,33%). Toàn tỉnh kết nạp 3.787 đảng viên, nâng tổng số lên 28.087.",
        [
            "Hoàn thành xuất sắc 239 người (đạt 12,33%).",
            "Toàn tỉnh kết nạp 3.787 đảng viên, nâng tổng số lên 28.087.",
        ],
    ),
    (
        "Tổng số 1.263 tổ chức. 4.797 đảng viên được kiểm tra.",
        ["Tổng số 1.263 tổ chức.", "4.797 đảng viên được kiểm tra."],
    ),
    ("Ngày 1.1.2020 đạt 1.500.000 đồng. Xong.", ["Ngày 1.1.2020 đạt 1.500.000 đồng.", "Xong."]),
    # quotes: the closing quote after the full stop belongs to the sentence
    (
        "Bác dạy: “Đảng mạnh là do chi bộ tốt.” Ban Thường vụ chỉ đạo.",
        ["Bác dạy: “Đảng mạnh là do chi bộ tốt.”", "Ban Thường vụ chỉ đạo."],
    ),
    ('Ông nói "Tốt lắm." Sau đó đi.', ['Ông nói "Tốt lắm."', "Sau đó đi."]),
    ("Đó là “thảm hoạ”. Ai cũng biết.", ["Đó là “thảm hoạ”.", "Ai cũng biết."]),
    ("Ông A (Bí thư Tỉnh ủy.) phát biểu. Tiếp theo.", ["Ông A (Bí thư Tỉnh ủy.) phát biểu.", "Tiếp theo."]),
    ("Ông nói: “Tốt lắm.”, rồi ra về.", ["Ông nói: “Tốt lắm.”, rồi ra về."]),
    # ellipses
    (
        "Bảo vệ chính trị nội bộ... được chú trọng. Tiếp theo là X.",
        ["Bảo vệ chính trị nội bộ... được chú trọng.", "Tiếp theo là X."],
    ),
    (
        "Quy hoạch… với gần 9.621 đối tượng. Chính nhờ đó.",
        ["Quy hoạch… với gần 9.621 đối tượng.", "Chính nhờ đó."],
    ),
    (
        "Các cán bộ đều tập trung cao độ… Nhiều người đã đến.",
        ["Các cán bộ đều tập trung cao độ…", "Nhiều người đã đến."],
    ),
    ("Kỷ luật 733 tổ chức đảng;…. Công tác tiếp dân.", ["Kỷ luật 733 tổ chức đảng;….", "Công tác tiếp dân."]),
    # list items
    ("1. Kết nạp đảng viên. 2. Kiểm tra giám sát.", ["1. Kết nạp đảng viên.", "2. Kiểm tra giám sát."]),
    ("Tổng kết: a) Kết nạp mới. b) Kiểm tra.", ["Tổng kết: a) Kết nạp mới.", "b) Kiểm tra."]),
    (
        "Kết quả: (1) giảm 138 đầu mối; (2) giảm 1.845 biên chế. Tiếp theo.",
        ["Kết quả: (1) giảm 138 đầu mối; (2) giảm 1.845 biên chế.", "Tiếp theo."],
    ),
    # other terminators, missing space, trailing text without a stop
    ("Tại sao vậy? Vì thế! Được.", ["Tại sao vậy?", "Vì thế!", "Được."]),
    (
        "Đạt 67,77% so với chỉ tiêu.Tiếp theo là kiểm tra.",
        ["Đạt 67,77% so với chỉ tiêu.", "Tiếp theo là kiểm tra."],
    ),
    ("Câu một đã xong. Câu hai chưa có dấu chấm", ["Câu một đã xong.", "Câu hai chưa có dấu chấm"]),
    # line breaks are hard boundaries
    (
        "Tiêu đề không có dấu chấm\nCâu đầu tiên của đoạn.",
        ["Tiêu đề không có dấu chấm", "Câu đầu tiên của đoạn."],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_split_sentences_cases(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "…", "."])
def test_no_empty_sentences(text):
    out = split_sentences(text)
    assert all(s.strip() for s in out)
    assert out == ([] if not text.strip() else [text.strip()])


def test_punctuation_only_fragment_joins_previous_sentence():
    assert split_sentences("Đã xong. . . Tiếp tục.") == ["Đã xong. . .", "Tiếp tục."]


def test_nfd_input_and_odd_whitespace():
    text = "Toàn tỉnh  đã kết nạp\u00a0mới 3.787 đảng viên.\u200b Cấp ủy kiểm tra 1.263 tổ chức đảng."
    nfd = unicodedata.normalize("NFD", text)
    assert (
        split_sentences(nfd)
        == split_sentences(text)
        == [
            "Toàn tỉnh đã kết nạp mới 3.787 đảng viên.",
            "Cấp ủy kiểm tra 1.263 tổ chức đảng.",
        ]
    )


def test_split_paragraphs_keeps_headings_as_own_sentence():
    lines = [
        "Kiện toàn tổ chức, nâng cao năng lực lãnh đạo",
        "Những năm qua, việc sắp xếp được quan tâm. Hiện nay, Đảng bộ có 24 tổ chức cơ sở Đảng.",
        "TP. Hồ Chí Minh: Kết nạp 500 đảng viên mới",
        "",
        "Công tác kiểm tra, giám sát được tăng cường",
    ]
    assert split_paragraphs(lines) == [
        "Kiện toàn tổ chức, nâng cao năng lực lãnh đạo",
        "Những năm qua, việc sắp xếp được quan tâm.",
        "Hiện nay, Đảng bộ có 24 tổ chức cơ sở Đảng.",
        "TP. Hồ Chí Minh: Kết nạp 500 đảng viên mới",
        "Công tác kiểm tra, giám sát được tăng cường",
    ]


@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.name)
def test_splitting_loses_no_characters_and_never_crosses_lines(path):
    body = clean_page(path.read_text(encoding="utf-8")).body_lines
    for line in body:
        sents = split_sentences(line)
        assert "".join(sents).replace(" ", "") == line.replace(" ", "")
    sents = split_paragraphs(body)
    assert len(sents) > len(body)
    assert all(s and s == s.strip() for s in sents)
    # no sentence is a bare list marker, a lone quote, or starts with a closing quote or a lowercase letter
    for s in sents:
        assert s[0] not in "”’)]"
        first = next(ch for ch in s if ch.isalnum())
        assert not first.islower(), s


def test_quote_split_keeps_quotation_marks_with_their_sentences():
    line = (
        "Thấm nhuần lời dạy của Bác: “Đảng mạnh là do chi bộ tốt. Chi bộ tốt là do các ĐV đều tốt”, "
        "Ban Thường vụ Thị ủy tập trung chỉ đạo."
    )
    assert split_sentences(line) == [
        "Thấm nhuần lời dạy của Bác: “Đảng mạnh là do chi bộ tốt.",
        "Chi bộ tốt là do các ĐV đều tốt”, Ban Thường vụ Thị ủy tập trung chỉ đạo.",
    ]


def test_one_heading_test_and_one_set_of_sentence_ends():
    from dangtopic.data.sentences import is_heading
    from dangtopic.data.text import ends_like_sentence

    assert ends_like_sentence("Đã kết nạp 12 đảng viên.”") and ends_like_sentence("Vì sao?)")
    assert not ends_like_sentence("Kiện toàn tổ chức cơ sở đảng")
    assert is_heading("Kiện toàn tổ chức cơ sở đảng") and not is_heading("Kiện toàn tổ chức cơ sở đảng.")
    # A quotation or a colon ends prose, not a heading; a long unpunctuated line is not a heading either.
    assert not is_heading("Ông nói: “Sẽ làm ngay”") and not is_heading("Các nhiệm vụ:")
    long_line = " ".join(["từ"] * 20)
    assert not is_heading(long_line) and is_heading(long_line, max_words=31)
    # A heading line stays one sentence when paragraphs are split; a prose line is split.
    assert split_paragraphs(["Kiện toàn tổ chức", "Câu một. Câu hai."]) == [
        "Kiện toàn tổ chức",
        "Câu một.",
        "Câu hai.",
    ]
