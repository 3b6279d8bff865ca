"""Strip page furniture from scraped Vietnamese news pages, keeping the title and every body line.

The rules look at one line at a time (what it says, how long it is, whether it ends like a sentence)
and at its position (before the title, after the comment/share block, trailing the last paragraph).
Every dropped line is reported in `CleanResult.removed` with a reason; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dangtopic.data.text import CLOSERS, SENTENCE_END, ends_like_sentence, normalize_text

# Reasons, kept short and stable: tests and the per-seed report key on them.
R_HEADER = "header before title"
R_DATELINE = "dateline"
R_MENU = "menu / navigation"
R_CONTACT = "hotline / contact"
R_WIDGET = "share / comment / rating widget"
R_COUNTER = "counter"
R_CAPTION = "photo caption"
R_BYLINE = "byline"
R_TRAILING = "trailing byline / caption"
R_TAIL = "page tail after widget"
R_DUPLICATE = "duplicate"
R_TITLE = "title"
R_SOURCE = "source prefix"
R_MEDIA = "media placeholder"


@dataclass
class CleanResult:
    """Title, the kept body lines in page order, and every removed line (with `reasons[i]` for `removed[i]`)."""

    title: str
    body_lines: list[str]
    removed: list[str]
    reasons: list[str] = field(default_factory=list)

    def removed_with_reasons(self) -> list[tuple[str, str]]:
        return list(zip(self.removed, self.reasons, strict=True))


# --------------------------------------------------------------------------- line features

_LETTER = re.compile(r"[^\W\d_]")


def _n_words(line: str) -> int:
    return len(line.split())


# --------------------------------------------------------------------------- pattern rules

_WEEKDAY = r"(?:thứ\s*(?:hai|ba|tư|năm|sáu|bảy|bẩy|[2-7])|chủ\s*nhật|t[2-7]|cn)"
_DATE = re.compile(r"\b\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*(?:19|20)?\d{2}\b")
_DATE_PIECES = [
    re.compile(_DATE.pattern),
    re.compile(r"\b\d{1,2}\s*[:hg]\s*\d{2}(?:\s*[:']\s*\d{2})?\s*(?:am|pm|sa|ch)?", re.I),
    re.compile(_WEEKDAY, re.I),
    re.compile(r"\(?\[?\s*(?:gmt|utc|ict)\s*(?:[+-]\s*\d{1,2}(?::?\d{2})?)?\s*\]?\)?", re.I),
    re.compile(
        r"\b(?:cập\s*nhật|đăng|ngày\s*đăng|ngày\s*cập\s*nhật|ngày\s*xuất\s*bản|xuất\s*bản|thời\s*gian"
        r"|lúc|ngày|giờ|tháng|năm|updated?|posted|published|lượt\s*xem|lượt\s*đọc|views?)\b",
        re.I,
    ),
    re.compile(r"[\d.,:;|/\-–—'’\s\[\]()]+"),
]


def _is_dateline(line: str) -> bool:
    """A short line that is only a date/time stamp (plus weekday, labels, time zone, view counts)."""
    if len(line) > 90 or not _DATE.search(line):
        return False
    rest = line
    for pat in _DATE_PIECES:
        rest = pat.sub(" ", rest)
    return not rest.strip()


_CONTACT = re.compile(
    r"^(?:hotline|đường\s*dây\s*nóng|điện\s*thoại|đt|tel|fax|e-?mail|liên\s*hệ(?:\s*quảng\s*cáo)?)\s*:", re.I
)
_MENU_SEP = re.compile(r"\s+[|•·»›>]\s+|\s*\|\s*")
_LANGS = {
    "tiếng việt", "english", "français", "francais", "中文", "русский", "español", "deutsch", "日本語",
    "한국어", "lao", "ພາສາລາວ", "khmer", "vi", "en", "vn",
}  # fmt: skip

# Whole-line labels of page widgets. The `_TAIL_STARTERS` subset opens the block after the article
# (comments, sharing, related links, polls): everything after it is page tail.
_TAIL_STARTERS = {
    "bình luận", "các bình luận", "viết bình luận", "viết bình luận mới", "gửi bình luận", "bình luận của bạn",
    "ý kiến bạn đọc", "ý kiến của bạn", "gửi ý kiến", "gửi ý kiến của bạn", "ý kiến", "phản hồi", "góp ý",
    "hiện tại chưa có bình luận", "chưa có bình luận", "chưa có bình luận nào", "hãy là người đầu tiên bình luận",
    "chia sẻ", "chia sẻ bài viết", "chia sẻ bài", "share", "chia sẻ facebook",
    "tin liên quan", "bài liên quan", "bài viết liên quan", "tin bài liên quan", "tin cùng chuyên mục",
    "bài cùng chuyên mục", "tin cùng loại", "các tin khác", "các tin đã đưa", "các bài viết khác", "tin khác",
    "bài viết khác", "chuyên mục khác", "tin mới", "tin mới nhất", "tin mới hơn", "tin cũ hơn", "tin đọc nhiều",
    "đọc nhiều", "đọc nhiều nhất", "xem nhiều", "xem nhiều nhất", "tin nổi bật", "có thể bạn quan tâm",
    "bạn có thể quan tâm", "thăm dò ý kiến", "từ khóa", "từ khoá", "tags", "tag", "đánh giá bài viết",
    "click để đánh giá bài viết",
}  # fmt: skip
_WIDGET_LABELS = _TAIL_STARTERS | {
    "in bài viết", "in bài", "bản in", "in trang", "gửi email", "gửi bài viết", "lưu bài viết", "lưu tin",
    "quay lại", "trở về", "trở lại", "về đầu trang", "đầu trang", "lên đầu trang", "xem thêm", "đọc thêm",
    "xem tiếp", "tweet", "like", "thích", "facebook", "zalo", "twitter", "email", "print", "cỡ chữ",
    "font size", "nghe đọc bài", "nghe bài viết", "đặt làm trang chủ", "quảng cáo", "advertisement", "rss",
    "theo dõi chúng tôi trên", "tải ứng dụng", "trang chủ",
}  # fmt: skip
_TAIL_PREFIX = re.compile(r"^(?:từ\s*khóa|từ\s*khoá|tags?|tin\s*liên\s*quan|bài\s*liên\s*quan)\s*:", re.I)
_WIDGET_PATTERNS = [
    re.compile(r"tổng\s*số\s*điểm\s*của\s*bài\s*viết", re.I),
    re.compile(r"^xếp\s*hạng\s*:?\s*[\d.,]+|[\d.,]+\s*(?:phiếu\s*bầu|lượt\s*đánh\s*giá)\s*$", re.I),
    re.compile(
        r"^(?:bấm|nhấn|nhấp|click)\s+(?:vào\s+)?(?:đây|để|here)\b|\b(?:bấm|nhấn|nhấp|click)\s+vào\s+đây\b",
        re.I,
    ),
    re.compile(r"^(?:lượt\s*xem|lượt\s*đọc|số\s*lần\s*đọc|lượt\s*thích|views?)\s*:?\s*[\d.,]+$", re.I),
    re.compile(
        r"^[\d.,]+\s*(?:lượt\s*xem|lượt\s*đọc|lượt\s*thích|bình\s*luận|views?|comments?|likes?)$", re.I
    ),
]
_SOCIAL_WORDS = re.compile(
    r"^(?=.*[^\W\d_])(?:(?:facebook|zalo|twitter|email|e-mail|in|like|share|tweet|chia\s*sẻ|thích|bình\s*luận|lượt\s*xem"
    r"|copy\s*link|sao\s*chép\s*liên\s*kết|[\d.,]+)\s*[|/·•,]?\s*){2,}$",
    re.I,
)
_COUNTER = re.compile(r"^[\d\s.,:|/+\-]+$")
_MEDIA = re.compile(
    r"^[\[(]?\s*(?:ảnh|hình|hình\s*ảnh|image|photo|video|clip|infographic)(?:\s*minh\s*(?:họa|hoạ))?\s*[\])]?$",
    re.I,
)

_CREDIT_START = re.compile(
    r"^(?:ảnh|ảnh\s*minh\s*họa|ảnh\s*minh\s*hoạ|nguồn\s*ảnh|ảnh\s*tư\s*liệu|ảnh\s*chụp\s*màn\s*hình)\s*:"
    r"|^(?:video|clip|đồ\s*họa|đồ\s*hoạ|infographic|thiết\s*kế)\s*:(?:\s*\S+){1,6}$",  # "Clip: <headline>" is a title
    re.I,
)
_CREDIT_INLINE = re.compile(
    r"(?:^|[\s.(\-–])ảnh\s*(?:minh\s*họa|minh\s*hoạ|tư\s*liệu)?\s*:\s*[^.!?]{1,80}\)?\s*$"
    r"|\((?:ảnh|nguồn\s*ảnh)\s*(?:minh\s*họa|minh\s*hoạ|tư\s*liệu)?\s*:[^)]*\)"
    r"|[\s(\-–]ảnh\s*minh\s*(?:họa|hoạ)\)?\s*\.?$",
    re.I,
)
# Photo captions name who stands where: "(thứ 2, trái qua)", "(thứ hai từ phải sang)", "(giữa)", "(bìa trái)".
_CAPTION_POSITION = re.compile(
    r"\((?:[^()]{0,40}[,\s])?(?:thứ\s*(?:\d|hai|ba|tư|năm|sáu|bảy|nhất)[^()]{0,20}(?:trái|phải)"
    r"|(?:từ\s*)?(?:trái|phải)\s*(?:qua|sang)(?:\s*(?:trái|phải))?|(?:đứng|ngồi|bìa)?\s*(?:giữa|trái|phải)"
    r"|(?:đứng|ngồi)\s*giữa)\)",
    re.I,
)
_BYLINE = re.compile(
    r"^(?:bài\s*(?:và|,|&|-)?\s*ảnh|bài|tin\s*(?:và|,|&)?\s*ảnh|tin|tin\s*,?\s*bài|bài\s*viết|tác\s*giả"
    r"|tác\s*giả\s*bài\s*viết|nhóm\s*phóng\s*viên|nhóm\s*pv|phóng\s*viên|pv|ctv|cộng\s*tác\s*viên|người\s*viết"
    r"|nguồn|nguồn\s*tin|biên\s*tập|btv|thực\s*hiện|tổng\s*hợp|lược\s*dịch|dịch)\s*:\s*\S.{0,80}$",
    re.I,
)
# "(BLC) - ", "(Dân trí) – ", "(Chinhphu.vn) - ", "TTO - ", "VOV.VN - " at the start of the lead paragraph:
# up to three words in brackets, or one all-capitals token, then a dash.
_SOURCE_PREFIX = re.compile(
    r"^(?:\((?=[^()]{1,30}\))[^()\s]*(?:\s[^()\s]+){0,2}\)|[A-ZĐ][A-ZĐ0-9.]{1,14}(?:\.(?:VN|vn|COM|com))?)"
    r"\s*[-–—]\s+(?=\S)"
)


def _is_menu(line: str) -> bool:
    """Several short items separated by `|`, `•`, `»`, `>`: navigation, language switch, breadcrumbs."""
    if len(line) > 300 or not any(sep in line for sep in "|•·»›>"):
        return False
    parts = [p.strip() for p in _MENU_SEP.split(line) if p.strip()]
    if len(parts) < 2:
        return False
    if any(ends_like_sentence(p) and _n_words(p) > 3 for p in parts):
        return False
    return all(_n_words(p) <= 6 for p in parts)


_MAX_LABEL = 120


def _label(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip(" :.-–—|»›>•·()[]\t")).lower()


def line_furniture(line: str) -> str | None:
    """Reason why a single line is page furniture regardless of its position, else None."""
    if len(line) <= _MAX_LABEL:  # widget labels are short; skip the work for paragraphs
        label = _label(line)
        if not label:
            return None
        if label in _WIDGET_LABELS or _SOCIAL_WORDS.match(label):
            return R_WIDGET
        if label in _LANGS:
            return R_MENU
    if _CONTACT.match(line):
        return R_CONTACT
    if _is_dateline(line):
        return R_DATELINE
    if _COUNTER.match(line):
        return R_COUNTER
    if _MEDIA.match(line):
        return R_MEDIA
    if _TAIL_PREFIX.match(line) and len(line) <= 300:
        return R_WIDGET
    if len(line) <= 200 and any(p.search(line) for p in _WIDGET_PATTERNS):
        return R_WIDGET
    if _BYLINE.match(line) and not ends_like_sentence(line.rstrip(".")):
        return R_BYLINE
    if len(line) <= 300 and (_CREDIT_START.match(line) or _CREDIT_INLINE.search(line)):
        return R_CAPTION
    if len(line) <= 300 and _CAPTION_POSITION.search(line) and _n_words(line) <= 45:
        return R_CAPTION
    if _is_menu(line):
        return R_MENU
    return None


def _is_tail_starter(line: str) -> bool:
    return (len(line) <= _MAX_LABEL and _label(line) in _TAIL_STARTERS) or bool(_TAIL_PREFIX.match(line))


def _title_like(line: str) -> bool:
    """Heading shape: 3-40 words, starts with a capital, digit or quote, no trailing full stop or comma."""
    n = _n_words(line)
    if not 3 <= n <= 40 or len(line) > 250:
        return False
    first = _LETTER.search(line)
    if not first or not (first[0].isupper() or line[0].isdigit() or line[0] in "“\"‘'"):
        return False
    end = line.rstrip(CLOSERS + " ")
    if end.endswith((",", ";", ":")):
        return False
    # a full stop ends a sentence, not a headline, unless it is "..." or a name initial ("Cao Mỹ D.")
    return not end.endswith(".") or end.endswith("...") or re.search(r"\s[A-ZĐ]\.$", end) is not None


def _body_like(line: str) -> bool:
    """A paragraph of running text: a sentence of 8+ words, or a long line."""
    return (ends_like_sentence(line) and _n_words(line) >= 8) or len(line) >= 200


_QUOTE_STRIP = "“”\"'‘’«» "


# --------------------------------------------------------------------------- the cleaner

_MAX_HEADER_LINES = 15
_MAX_TRAILING_NOTES = 3


def clean_page(text: str, title: str | None = None) -> CleanResult:
    """Split a scraped page into title, body lines and removed furniture.

    `text` is normalised first (NFC, whitespace), so NFC and NFD input give identical results.
    With `title` given (e.g. from a JSONL field) no line is taken as the title; a line equal to it is removed.
    """
    lines = [ln for ln in normalize_text(text).split("\n") if ln]
    n = len(lines)
    reason: list[str | None] = [line_furniture(ln) for ln in lines]
    stripped_prefix: dict[int, str] = {}
    title_index = -1  # the line returned as `title` (not reported as removed)

    # 1. Title and the header zone (site name, menus, ads, dates) before it.
    header = range(min(n, _MAX_HEADER_LINES))
    if title is not None:
        title = normalize_text(title).replace("\n", " ").strip()
        pick = next((i for i in header if lines[i] == title), None)
    else:
        cands: list[int] = []  # title-like lines of the header zone, which ends at the first paragraph
        for i in header:
            if reason[i] is None and _title_like(lines[i]):
                cands.append(i)
            elif reason[i] is None and _body_like(lines[i]):
                break
        pick = next((i for i in cands if _n_words(lines[i]) >= 6), cands[0] if cands else None)
        title = "" if pick is None else lines[pick]
        title_index = -1 if pick is None else pick
    start = 0 if pick is None else pick + 1
    if pick is not None:
        reason[pick] = R_TITLE
        for j in range(pick):
            reason[j] = reason[j] or R_HEADER

    # 2. Page tail: from the first comment/share/related/poll label that follows the article body.
    body_chars = [0 if reason[i] else len(lines[i]) for i in range(n)]
    seen_body = False
    for i in range(start, n):
        seen_body = seen_body or (reason[i] is None and _body_like(lines[i]))
        if seen_body and _is_tail_starter(lines[i]) and sum(body_chars[start:i]) >= sum(body_chars[i + 1 :]):
            reason[i] = reason[i] or R_WIDGET
            for j in range(i + 1, n):
                reason[j] = reason[j] or R_TAIL
            break

    # 3. Trailing bylines / attributions after the last paragraph.
    kept = [i for i in range(start, n) if reason[i] is None]
    for i in reversed(kept[-_MAX_TRAILING_NOTES:]):
        # author names, pull-quote attributions, "Theo ..." sources: short and not a sentence
        note = not ends_like_sentence(lines[i]) and _n_words(lines[i]) <= 12 and len(lines[i]) <= 90
        if not note or i == kept[0]:
            break
        reason[i] = R_TRAILING

    # 4. Duplicates (repeated lines, pull quotes repeating body text) and the agency prefix of the lead.
    seen_text: list[str] = [title] if title else []
    first_body = True
    for i in range(start, n):
        if reason[i] is not None:
            continue
        line = lines[i]
        core = line.strip(_QUOTE_STRIP).rstrip(SENTENCE_END + _QUOTE_STRIP)
        if line in seen_text or (len(core) >= 40 and any(core in s for s in seen_text)):
            reason[i] = R_DUPLICATE
            continue
        if first_body:
            first_body = False
            if m := _SOURCE_PREFIX.match(line):
                stripped_prefix[i] = m[0].rstrip()
                lines[i] = line[m.end() :]
        seen_text.append(lines[i])

    if title_index >= 0 and all(r is not None for r in reason):
        # The detected "title" is the only text on the page (a one-line input): it is the body.
        reason[title_index] = None
        title_index, title = -1, ""

    dropped: list[tuple[str, str]] = []  # (line, reason) in page order
    for i in range(n):
        if i in stripped_prefix:
            dropped.append((stripped_prefix[i], R_SOURCE))
        if (why := reason[i]) is not None and i != title_index:
            dropped.append((lines[i], why))
    body = [line for line, why in zip(lines, reason, strict=True) if why is None]
    return CleanResult(title or "", body, [line for line, _ in dropped], [why for _, why in dropped])


def main(argv: list[str] | None = None) -> int:
    """`python -m dangtopic.data.clean FILE...`: show what the cleaner removes from each page and why."""
    import argparse
    from collections import defaultdict
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m dangtopic.data.clean", description=main.__doc__)
    ap.add_argument("files", nargs="+", type=Path, help="raw page .txt files (UTF-8)")
    ap.add_argument("--markdown", action="store_true", help="one markdown table row per file")
    args = ap.parse_args(argv)

    def short(line: str, n: int = 48) -> str:
        return (line if len(line) <= n else line[: n - 1] + "…").replace("|", "\\|")

    if args.markdown:
        print("| file | detected title | kept body lines | removed lines (by reason) |")
        print("| --- | --- | --- | --- |")
    for path in args.files:
        r = clean_page(path.read_text(encoding="utf-8"))
        if args.markdown:
            groups: dict[str, list[str]] = defaultdict(list)
            for line, why in r.removed_with_reasons():
                groups[why].append(f"“{short(line)}”")
            removed = "<br>".join(f"**{why}**: {'; '.join(lines)}" for why, lines in groups.items())
            print(f"| {path.name} | {short(r.title, 60)} | {len(r.body_lines)} | {removed} |")
            continue
        print(
            f"== {path.name}: title {r.title!r}; {len(r.body_lines)} body lines kept, {len(r.removed)} removed"
        )
        for line, why in r.removed_with_reasons():
            print(f"   - [{why}] {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
