"""The keyword baseline: the guidelines' plain cue phrases per label, as `dangtopic evaluate-tagger` scores it.

Matching runs on `fold(text)`: NFC, common abbreviations expanded (ĐV, UBKT, LLCT …), lower-cased, and
old/new tone placement unified (`uỷ`/`ủy`, `hoà`/`hòa`); every phrase is anchored on word boundaries.
"""

from __future__ import annotations

import re

from dangtopic import LABELS
from dangtopic.data.labels import canonical_tones
from dangtopic.data.text import normalize_sentence

# Case-sensitive abbreviations expanded before lower-casing, so "379 ĐV" counts as "379 đảng viên".
_ABBREVIATIONS = {
    "ĐV": "đảng viên",
    "UBKT": "ủy ban kiểm tra",
    "LLCT": "lý luận chính trị",
    "LLCTHC": "lý luận chính trị",
    "LLCT-HC": "lý luận chính trị",
    "TCCSĐ": "tổ chức cơ sở đảng",
    "PCTN": "phòng, chống tham nhũng",
    "PCTNTC": "phòng, chống tham nhũng, tiêu cực",
    "QCƯT": "quần chúng ưu tú",
    "HVCTQG": "học viện chính trị quốc gia",
}
_ABBR_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, _ABBREVIATIONS), key=len, reverse=True)) + r")(?!\w)"
)


def fold(text: str) -> str:
    """The matching form of a sentence: normalised, abbreviations expanded, lower-cased, tones unified."""
    s = _ABBR_RE.sub(lambda m: _ABBREVIATIONS[m.group(0)], normalize_sentence(text))
    return canonical_tones(s).lower()


def _compile(pattern: str) -> re.Pattern:
    # Phrases go through the same tone fold as the text, so either tone style may be used.
    return re.compile(rf"(?<!\w)(?:{canonical_tones(pattern)})(?!\w)")


KEYWORDS: dict[str, list[str]] = {
    "membership": [
        "kết nạp đảng viên",
        "kết nạp đảng",
        "kết nạp vào đảng",
        "quần chúng ưu tú",
        "phát triển đảng viên",
        "chuyển sinh hoạt đảng",
        "đảng viên dự bị",
        "phân loại đảng viên",
        "xếp loại đảng viên",
        "tổng số đảng viên",
        "huy hiệu đảng",
        "thẻ đảng",
        "quản lý đảng viên",
    ],
    "inspection": [
        "ủy ban kiểm tra",
        "kiểm tra, giám sát",
        "kiểm tra",
        "giám sát",
        "kỷ luật",
        "khiển trách",
        "cảnh cáo",
        "cách chức",
        "khai trừ",
        "thanh tra",
        "kiểm toán",
        "tố cáo",
        "khiếu nại",
        "tham nhũng",
    ],
    "restructuring": [
        "sắp xếp tổ chức bộ máy",
        "sắp xếp bộ máy",
        "tinh gọn",
        "sáp nhập",
        "hợp nhất",
        "giải thể",
        "giảm đầu mối",
        "tinh giản biên chế",
        "biên chế",
        "kiện toàn tổ chức",
        "vị trí việc làm",
        "18-nq/tw",
        "19-nq/tw",
        "39-nq/tw",
    ],
    "training": [
        "đào tạo",
        "bồi dưỡng",
        "lý luận chính trị",
        "tập huấn",
        "lớp nhận thức về đảng",
        "cử đi học",
    ],
}
_KEYWORD_RE = {
    lab: _compile("|".join(re.escape(k.lower()) for k in words)) for lab, words in KEYWORDS.items()
}


def keyword_labels(text: str) -> list[str]:
    """Baseline: every label one of whose plain cue phrases occurs in the sentence (no negatives, no weights)."""
    f = fold(text)
    return [lab for lab in LABELS if _KEYWORD_RE[lab].search(f)]
