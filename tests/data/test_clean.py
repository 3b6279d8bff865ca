"""Page cleaning: furniture removed with a reason, every body line kept, NFC/NFD-independent."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from dangtopic.data import article_from_text, clean_page, example_paths, normalize_text
from dangtopic.data.clean import (
    R_BYLINE,
    R_CAPTION,
    R_DATELINE,
    R_DUPLICATE,
    R_HEADER,
    R_MENU,
    R_SOURCE,
    R_TAIL,
    R_TITLE,
    R_TRAILING,
    R_WIDGET,
)

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
EXAMPLES = {p.name: p for p in example_paths()}
EX_002 = "dang_uy_khoi_co_quan_danh_gia_phan_loai_dang_vien.txt"
EX_003 = "kien_tuong_dang_bo_hoan_thanh_xuat_sac_nhiem_vu.txt"

# For every seed page: its title and the complete list of lines the cleaner must drop. Everything
# else (each body paragraph, each in-body subheading) must come out as a body line, in order.
EXPECTED = {
    "000_c4ef2da0e35499bc.txt": (
        "Nâng cao chất lượng các tổ chức Đảng: Những kết quả nổi bật đầu nhiệm kỳ đến nay",
        [
            "16/08/2019 06:06",
            "Quang cảnh Hội nghị quán triệt Chỉ thị 35-CT/TW ngày 30/5/2019 của Bộ Chính trị. Ảnh: MT",
            "Trần Hà",
            "Chuyên mục khác",
        ],
    ),
    "001_19eae44a8c5a00be.txt": (
        "Công tác xây dựng Đảng của Bình Phước đạt nhiều kết quả quan trọng",
        [
            "Thứ năm - 18/04/2024 17:59 1.241 0",
            "Tác giả bài viết: Kinh Bắc",
            "Tổng số điểm của bài viết là: 5 trong 1 đánh giá",
            "Xếp hạng: 5 - 1 phiếu bầu",
            "Click để đánh giá bài viết",
            "Ý kiến bạn đọc",
            "Bạn đã không sử dụng Site, Bấm vào đây để duy trì trạng thái đăng nhập. Thời gian chờ: 60 giây",
        ],
    ),
    "002_8c95d464295f9bb9.txt": (
        "Đảng Bộ Khối các cơ quan tỉnh chú trọng đánh giá phân loại tổ chức đảng, đảng viên",
        [
            "HOTLINE: 0834 244 333 | THƯ VIỆN | ĐẶT LÀM TRANG CHỦ",
            "quà tặng doanh nghiệp",
            "Cập nhật ngày: 09/10/2018 | 16:34 GMT+7",
            "9 tháng năm 2018, công tác củng cố, kiện toàn các tổ chức cơ sở đảng được cấp ủy chú trọng thực hiện, "
            "kịp thời. (Ảnh: Cụm 1, Đảng ủy Khối CCQ tỉnh giao ban tình hình hoạt động 9 tháng năm 2018)",
            "Bài, ảnh: Hoàng Hoài",
            "781",
            "Viết bình luận mới",
            "Thăm dò ý kiến",
            "Một thời gian dài, tình trạng sạt lở do khai thác cát dọc sông Krông Nô, huyện Krông Nô, tỉnh Đắk Nông "
            "đã ảnh hưởng lớn đến đời sống sản xuất người dân. Trong khi đó, việc xử lý, khắc phục còn chưa triệt "
            "để. Theo bạn đâu là nguyên nhân dẫn đến tình trạng trên?",
        ],
    ),
    "003_ca2614989598072c.txt": (
        "Thị xã Kiến Tường: Đảng bộ nhiều năm liền hoàn thành xuất sắc nhiệm vụ",
        [
            "Tiếng Việt | English",
            "05/08/2020 - 12:00",
            "Bí thư Thị ủy Kiến Tường - Nguyễn Minh Lâm (thứ 2, trái qua) nhận Bằng khen Đảng bộ hoàn thành xuất "
            "sắc nhiệm vụ năm 2019",
            # a pull quote repeating the quotation of an earlier paragraph, and its attribution
            "Trong tổ chức thực hiện nghị quyết, cấp ủy các cấp trên địa bàn thị xã đã chọn được khâu đột phá, "
            "những nội dung trọng tâm, trọng điểm. Nhiều nghị quyết, chỉ thị, kế hoạch của Thị ủy, Ban Thường vụ "
            "Thị ủy đã ban hành và lãnh đạo thực hiện tốt, tạo sự chuyển biến mạnh mẽ về công tác xây dựng Đảng "
            "trong nhiệm kỳ qua”.",
            "Trưởng ban Tổ chức Thị ủy - Phạm Tùng Chiến",
            "Kỳ Nam",
            "Chia sẻ bài viết",
        ],
    ),
    "004_3bcdd5070cf3a4a1.txt": (
        "Lai Châu: Chú trọng nâng cao chất lượng hệ thống chính trị ở cơ sở",
        [
            "Thứ tư, 24/04/2024, 23:04 [GMT+7]",
            "Thứ hai, 27/08/2012 - 16:29'",
            "(BLC) -",
            "Anh Nhi",
            "Bình luận",
            "Hiện tại chưa có bình luận",
            "Viết bình luận",
            "Đăng kiểm xe cơ giới: Khâu quan trọng để đảm bảo an toàn",
            "Đến Trung tâm Đăng kiểm xe cơ giới (Sở Giao thông Vận tải) vào ngày thứ 2 đầu tuần, chúng tôi thấy "
            "lượng xe đến đăng kiểm lớn, gần kín sân trung tâm. Các cán bộ nơi đây ai nấy đều tập trung cao độ...",
            "Trở về từ lầm lỡ",
            "Những người đã một thời sa chân vào vũng lầy của thuốc phiện, ma túy mà rút chân lên được đã là đáng "
            "khâm phục. Nhưng có người còn tiếp tục vươn lên, trở thành điển hình, là đảng viên, bí thư chi...",
        ],
    ),
}
# Seeds 002 and 003 ship as the package examples, so their tests never need ../shared.
SEED_OF_EXAMPLE = {EX_002: "002_8c95d464295f9bb9.txt", EX_003: "003_ca2614989598072c.txt"}


def _page(seed: str) -> str:
    for ex, name in SEED_OF_EXAMPLE.items():
        if name == seed:
            return EXAMPLES[ex].read_text(encoding="utf-8")
    path = SEEDS / seed
    if not path.is_file():
        pytest.skip(f"seed page not available: {path}")
    return path.read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [ln for ln in normalize_text(text).split("\n") if ln]


def test_examples_are_copies_of_two_seeds():
    assert set(EXAMPLES) == {EX_002, EX_003}
    for ex, seed in SEED_OF_EXAMPLE.items():
        if (SEEDS / seed).is_file():
            assert EXAMPLES[ex].read_bytes() == (SEEDS / seed).read_bytes()


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_seed_title_and_exact_removals(seed):
    title, furniture = EXPECTED[seed]
    r = clean_page(_page(seed))
    assert r.title == title
    assert r.removed == furniture
    assert len(r.reasons) == len(r.removed) and all(r.reasons)


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_seed_keeps_every_body_line(seed):
    title, furniture = EXPECTED[seed]
    page = _page(seed)
    r = clean_page(page)
    expected_body = []
    for ln in _lines(page):
        if ln == title or ln in furniture:
            continue
        prefix = next((f for f in furniture if ln.startswith(f + " ")), None)
        expected_body.append(ln[len(prefix) :].strip() if prefix else ln)
    assert r.body_lines == expected_body
    assert len(expected_body) >= 10


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_removed_and_kept_account_for_every_input_line(seed):
    page = _page(seed)
    r = clean_page(page)
    body = list(r.body_lines)
    removed = list(r.removed)
    for ln in _lines(page):
        if ln == r.title:
            continue
        if ln in body:
            body.remove(ln)
        elif ln in removed:
            removed.remove(ln)
        else:  # a lead paragraph whose agency prefix was cut off
            kept = next(b for b in body if ln.endswith(b))
            prefix = ln[: -len(kept)].strip()
            assert prefix in removed
            body.remove(kept)
            removed.remove(prefix)
    assert body == [] and removed == []


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_nfd_input_gives_identical_article(seed):
    page = _page(seed)
    nfd = unicodedata.normalize("NFD", page).replace("\n", "\r\n")
    assert nfd != page
    a = article_from_text(page, id="x")
    b = article_from_text(nfd, id="x")
    assert a.to_dict() == b.to_dict()
    assert all(unicodedata.is_normalized("NFC", s) for s in a.sentences)


def test_seed_specific_furniture_and_subheadings():
    r2 = clean_page(_page("002_8c95d464295f9bb9.txt"))
    assert any(x.startswith("HOTLINE") for x in r2.removed)
    assert "Viết bình luận mới" in r2.removed
    r3 = clean_page(_page("003_ca2614989598072c.txt"))
    assert "Tiếng Việt | English" in r3.removed
    assert "Chia sẻ bài viết" in r3.removed
    for heading in (
        "Kiện toàn tổ chức, nâng cao năng lực lãnh đạo",
        "Chú trọng công tác xây dựng đảng về đạo đức",
        "Việc tổ chức học tập nghị quyết, chỉ thị của Đảng được thực hiện nghiêm túc",
    ):
        assert heading in r3.body_lines


def test_seed_reasons_explain_each_removal():
    r = clean_page(_page("004_3bcdd5070cf3a4a1.txt"))
    why = dict(r.removed_with_reasons())
    assert why["Thứ hai, 27/08/2012 - 16:29'"] == R_DATELINE
    assert why["(BLC) -"] == R_SOURCE
    assert why["Anh Nhi"] == R_TRAILING
    assert why["Bình luận"] == R_WIDGET
    assert why["Trở về từ lầm lỡ"] == R_TAIL
    assert r.body_lines[0].startswith("Sau 10 năm thực hiện Nghị quyết Trung ương 5")
    r3 = clean_page(_page("003_ca2614989598072c.txt"))
    why3 = dict(r3.removed_with_reasons())
    assert why3["Tiếng Việt | English"] == R_MENU
    assert R_DUPLICATE in why3.values() and R_CAPTION in why3.values()
    r2 = clean_page(_page("002_8c95d464295f9bb9.txt"))
    why2 = dict(r2.removed_with_reasons())
    assert why2["quà tặng doanh nghiệp"] == R_HEADER
    assert why2["Bài, ảnh: Hoàng Hoài"] == R_BYLINE


# --------------------------------------------------------------------------- generic rules on unseen layouts

OTHER_SITE = """Trang chủ » Xây dựng Đảng » Tổ chức
Cập nhật lúc 08:30, ngày 12/3/2023
Lượt xem: 1.234
Huyện Mường Tè kết nạp 120 đảng viên mới trong quý I
(ĐCSVN) - Trong quý I, Đảng bộ huyện Mường Tè đã kết nạp 120 đảng viên mới, vượt 20% chỉ tiêu đề ra.
Ảnh minh họa
Tạo nguồn từ quần chúng ưu tú
Huyện ủy chỉ đạo các chi bộ rà soát, lập danh sách quần chúng ưu tú để bồi dưỡng, giới thiệu kết nạp. Nhiều bản trước đây chưa có đảng viên nay đã thành lập chi bộ.
Bí thư Huyện ủy cho biết huyện sẽ tiếp tục bình luận, đánh giá kết quả này tại hội nghị tháng 6.
Đồng chí Lò Văn A (đứng giữa) trao quyết định kết nạp đảng viên.
Theo Báo Lai Châu
Từ khóa: kết nạp đảng viên, Mường Tè
Tin liên quan
Lai Châu tổ chức hội nghị tổng kết công tác xây dựng Đảng năm 2022
Tỉnh ủy Lai Châu triển khai nhiệm vụ năm 2023 với nhiều giải pháp mới
"""


def test_other_site_layout():
    r = clean_page(OTHER_SITE)
    why = dict(r.removed_with_reasons())
    assert r.title == "Huyện Mường Tè kết nạp 120 đảng viên mới trong quý I"
    assert why["Trang chủ » Xây dựng Đảng » Tổ chức"] in (R_MENU, R_HEADER)
    assert why["Cập nhật lúc 08:30, ngày 12/3/2023"] == R_DATELINE
    assert why["(ĐCSVN) -"] == R_SOURCE
    assert why["Ảnh minh họa"] != R_TAIL
    assert why["Đồng chí Lò Văn A (đứng giữa) trao quyết định kết nạp đảng viên."] == R_CAPTION
    assert why["Theo Báo Lai Châu"] == R_TRAILING
    assert why["Tin liên quan"] == R_WIDGET
    assert why["Tỉnh ủy Lai Châu triển khai nhiệm vụ năm 2023 với nhiều giải pháp mới"] == R_TAIL
    assert r.body_lines == [
        "Trong quý I, Đảng bộ huyện Mường Tè đã kết nạp 120 đảng viên mới, vượt 20% chỉ tiêu đề ra.",
        "Tạo nguồn từ quần chúng ưu tú",
        "Huyện ủy chỉ đạo các chi bộ rà soát, lập danh sách quần chúng ưu tú để bồi dưỡng, giới thiệu kết nạp. "
        "Nhiều bản trước đây chưa có đảng viên nay đã thành lập chi bộ.",
        "Bí thư Huyện ủy cho biết huyện sẽ tiếp tục bình luận, đánh giá kết quả này tại hội nghị tháng 6.",
    ]


@pytest.mark.parametrize(
    ("lead", "prefix"),
    [
        ("(Dân trí) - Sáng 5/3, Tỉnh ủy tổ chức hội nghị.", "(Dân trí) -"),
        ("(Chinhphu.vn) – Sáng 5/3, Tỉnh ủy tổ chức hội nghị.", "(Chinhphu.vn) –"),
        ("TTO - Sáng 5/3, Tỉnh ủy tổ chức hội nghị.", "TTO -"),
        ("VOV.VN - Sáng 5/3, Tỉnh ủy tổ chức hội nghị.", "VOV.VN -"),
        ("Ông Nguyễn Văn A - Bí thư Tỉnh ủy chủ trì hội nghị.", None),
        ("(1) Kết nạp đảng viên mới - một nhiệm vụ quan trọng.", None),
    ],
)
def test_agency_prefix_of_the_lead(lead, prefix):
    r = clean_page(
        "Tỉnh ủy tổng kết công tác xây dựng Đảng năm 2023\n" + lead + "\nĐoạn hai của bài viết này."
    )
    if prefix is None:
        assert r.removed == [] and r.body_lines[0] == lead
    else:
        assert r.removed == [prefix] and r.reasons == [R_SOURCE]
        assert r.body_lines[0] == "Sáng 5/3, Tỉnh ủy tổ chức hội nghị."


def test_widget_label_before_the_body_does_not_cut_the_article():
    page = "Bình luận\nTỉnh ủy tổng kết công tác kiểm tra, giám sát năm 2023\n" + "\n".join(
        f"Đoạn {i}: Ủy ban Kiểm tra Tỉnh ủy đã kiểm tra {i} tổ chức đảng và nhiều đảng viên trong năm."
        for i in range(5)
    )
    r = clean_page(page)
    assert r.title == "Tỉnh ủy tổng kết công tác kiểm tra, giám sát năm 2023"
    assert len(r.body_lines) == 5 and r.removed == ["Bình luận"]


def test_widget_label_mid_article_only_drops_itself_when_more_article_follows():
    para = "Ban Thường vụ Tỉnh ủy đã chỉ đạo các cấp ủy kiện toàn tổ chức bộ máy, tinh giản biên chế theo Nghị quyết 18-NQ/TW."
    page = "\n".join(
        [
            "Tinh gọn bộ máy ở tỉnh miền núi phía Bắc",
            para,
            "Tin liên quan",
            para + " 2",
            para + " 3",
            para + " 4",
        ]
    )
    r = clean_page(page)
    assert r.removed == ["Tin liên quan"]
    assert len(r.body_lines) == 4


def test_given_title_replaces_detection():
    page = "Một tiêu đề khác trên trang web này\nĐảng bộ tỉnh kết nạp 500 đảng viên mới trong năm nay và đạt chỉ tiêu."
    r = clean_page(page, title="Tiêu đề từ trường JSON của bản ghi")
    assert r.title == "Tiêu đề từ trường JSON của bản ghi"
    assert r.body_lines == page.split("\n")
    r2 = clean_page(page, title="Một tiêu đề khác trên trang web này")
    assert r2.removed == ["Một tiêu đề khác trên trang web này"] and r2.reasons == [R_TITLE]


def test_body_sentences_mentioning_widgets_or_dates_are_kept():
    lines = [
        "Hội nghị tổng kết công tác xây dựng Đảng năm 2023 của tỉnh",
        "Ngày 12/3/2023, Tỉnh ủy tổ chức hội nghị với 92/97 số phiếu bầu tán thành nghị quyết.",
        "Đại biểu đã bình luận, chia sẻ kinh nghiệm và đánh giá bài viết tham luận của các huyện.",
        "Xếp hạng thi đua năm 2023, tỉnh đứng thứ 5 trong khu vực.",
        "Ông nói: “Phải nhấn mạnh để mọi người cùng hiểu rõ trách nhiệm”.",
    ]
    r = clean_page("\n".join(lines))
    assert r.title == lines[0]
    assert r.body_lines == lines[1:] and r.removed == []


def test_single_line_input_is_body_not_title():
    r = clean_page("Kết nạp đảng viên mới ở các thôn bản\n16/08/2019 06:06")
    assert r.title == "" and r.body_lines == ["Kết nạp đảng viên mới ở các thôn bản"]
    assert r.removed == ["16/08/2019 06:06"]


def test_empty_and_furniture_only_pages():
    assert clean_page("") == clean_page("\n \n")
    r = clean_page("Tiếng Việt | English\n16/08/2019 06:06\nChia sẻ bài viết\n781")
    assert r.body_lines == [] and r.title == ""
    assert len(r.removed) == 4


def test_article_from_text_sentences_and_meta():
    a = article_from_text(EXAMPLES[EX_002].read_text(encoding="utf-8"), id="ex2", source="example")
    assert a.id == "ex2" and a.source == "example"
    assert a.title.startswith("Đảng Bộ Khối các cơ quan tỉnh")
    assert (
        "Công tác xét, kết nạp đảng viên mới được chú trọng nhằm bảo đảm cơ cấu về số lượng và chất lượng."
        in a.sentences
    )
    assert a.meta["removed_reasons"][0] and len(a.meta["removed_reasons"]) == len(a.removed)
    assert not any("bình luận" in s.lower() for s in a.sentences)
