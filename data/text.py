"""Text normalisation shared by every reader and model."""

from __future__ import annotations

import re
import unicodedata

# Characters a reader does not see but a tokenizer does: every format character (Unicode Cf: zero-width
# spaces and joiners, bidi marks and isolates, invisible operators, soft hyphen, BOM, tags), the rest of
# Default_Ignorable_Code_Point (combining grapheme joiner, variation selectors, Hangul fillers, Mongolian
# free variation selectors) and C0/C1 controls that are not line breaks. Left in, one of them inside a
# word splits it into other pieces and changes the labels (issue 12). Listed, not derived from
# `unicodedata` at import (a 0.1 s scan); tests/data/test_text.py checks the list against it.
_IGNORABLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
    "\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Everything `str.splitlines` breaks on (vertical tab, form feed, NEL, U+2028 LINE / U+2029 PARAGRAPH
# SEPARATOR...) is a line break, and every space separator (Unicode Zs) or tab a space.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile("[\t \xa0\u1680\u2000-\u200a\u202f\u205f\u3000]+")


# The one set of sentence-ending punctuation, and the quotes and brackets that may close a sentence after it.
SENTENCE_END = ".!?…"
CLOSERS = "\"'”’»)]}"


def ends_like_sentence(line: str) -> bool:
    """True when the line ends with sentence punctuation (closing quotes and brackets ignored)."""
    return line.rstrip(CLOSERS + " ").endswith(tuple(SENTENCE_END))


def normalize_text(text: str) -> str:
    """Drop invisible characters, NFC-normalise, unify line breaks and fold runs of spaces (keeps newlines).

    Invisible characters go first so that a mark separated from its letter by one still composes.
    """
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", _IGNORABLE.sub("", text)))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def normalize_sentence(text: str) -> str:
    """Normalise one sentence to a single line."""
    return _SPACES.sub(" ", normalize_text(text).replace("\n", " ")).strip()


_NO_SPACE_BEFORE = re.compile(r"\s+([,.;:!?%)\]}…”’])")
_NO_SPACE_AFTER = re.compile(r"([(\[{“‘])\s+")
_QUOTES = re.compile(r'"\s*(.*?)\s*"')


def detokenize_vnds(text: str) -> str:
    """Undo VNDS word segmentation and punctuation spacing: `Đà_Nẵng` → `Đà Nẵng`, `25/2 ,` → `25/2,`."""
    text = text.replace("_", " ")
    text = _NO_SPACE_BEFORE.sub(r"\1", text)
    text = _NO_SPACE_AFTER.sub(r"\1", text)
    text = _QUOTES.sub(r'"\1"', text)
    return normalize_sentence(text)


# --------------------------------------------------------------------------- language check

# Frequent Vietnamese syllables (VNDS news text, minus one-letter tokens and English look-alikes).
_COMMON_SYLLABLES = frozenset(
    """
    và của người có công đã là được cho với trong không bị một tại các khi để đến về anh hiện này quan
    việc đó ra đối điều vụ vào ngày sự ông sau làm những trên nhân nhiều theo định đồng tin cũng tượng
    tra hành nhà nhận từ cơ tôi biết cùng án nam lại đi năm tỉnh gia đang con hình văn diễn xã nguyễn
    mình thành như thông huyện phạm nhưng báo bộ đầu cô thể thì số thanh trước viên cáo thời nên sĩ xe
    phải trường đưa tiền bình vi còn sẽ chị chức tài lý hợp tình tuổi hà chỉ việt trình đây qua bà động
    đình tiếp phát ảnh thị bắt sinh vì minh hàng tội luật rất chính nói ca liên mới phòng giữ mà thấy nữ
    dân sát phim thi lên đường quốc yêu năng thu hai nghệ phương cả hậu giả cảnh đại trung tố mặt gây
    nạn vẫn bản sản hơn cuộc tục nội xử xác em hoàng tâm lực trang kết điểm lời thân thương cảm khác
    thực nhất lượng nhiên xuất chia dụng khai triệu thế rõ khoảng trú gái điện vũ hoa tổ khiến vợ tuý
    lần vị bạn cấp quyết đơn chủ địa ngọc tuy bất pháp đánh cao quận chưa quá hội lúc tháng tử sơn hồ
    gian rằng đạo tự cách ngoài nguyên tác dương nhạc tổng xét bệnh nhau quy giải bảo hay xảy sẻ nhóm
    sống phường rồi chuyện lê thường sáng nước đẹp học chồng giao trần khán danh tiếng tiến bên mẹ hải
    nghiệp bán chúng trọng vừa mang viện ban toà sở tới giám mỹ cầu tham tên phần nghi hoà đề thêm giang
    tay tập từng nay bằng bỏ quả linh thái toàn tính long trở giá sơ cháu gần máy lấy hoá can chương
    khởi ngay giới bàn kiểm vậy hát xem mạng tìm mua dùng nào quyền phúc mọi bé thủ khách chung hoàn
    chuyển hương đều trả chạy đức khu phong sử diện trái hại họ chí chất quang sư trưởng muốn hồng trai
    vật truyền lớn phục dự hưng trẻ gì luận chiều tạm phạt cần phụ tuấn thẩm chứng ngờ thức kinh ăn vai
    hiệu tế truy nhiệm biệt tỷ tân đổi nếu cứu chiếc đàn dù ninh trị lập phiên bố nơi cố đăng ai gặp cá
    tư tích
    """.split()
)
# The seven extra Vietnamese letters and every toned vowel. French or Spanish share a few of them, which is
# why `is_vietnamese` also asks for frequent Vietnamese syllables.
_VI_LETTERS = frozenset("ăâđêôơưáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")
_WORD = re.compile(r"[^\W\d_]+")


def vietnamese_stats(text: str, max_chars: int = 4000) -> tuple[int, float, float]:
    """(number of words, share of words with Vietnamese letters, share of frequent Vietnamese syllables)."""
    words = _WORD.findall(normalize_text(text[:max_chars]).lower())
    if not words:
        return 0, 0.0, 0.0
    marked = sum(1 for w in words if not _VI_LETTERS.isdisjoint(w))
    common = sum(1 for w in words if w in _COMMON_SYLLABLES)
    return len(words), marked / len(words), common / len(words)


def is_vietnamese(text: str) -> bool:
    """Cheap check: enough words with Vietnamese letters and enough frequent Vietnamese syllables.

    In 3,000 VNDS articles at least 60% of words carry these letters and at least 39% are frequent syllables;
    English, French, Spanish or Chinese text scores near zero on one of the two. Text typed without
    diacritics is rejected too (the models need them).
    """
    n, marked, common = vietnamese_stats(text)
    if n < 8:  # a heading or a one-liner: any Vietnamese letter and one frequent syllable will do
        return marked > 0 and common > 0
    return marked >= 0.3 and common >= 0.25
