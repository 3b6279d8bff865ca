"""Unmarked photo captions: short one-sentence paragraphs standing alone between body paragraphs.

`data/clean.py` removes captions that carry a marker ("(Ảnh: …)", "Quang cảnh hội nghị…", "(thứ 2 từ
trái qua)"). Many scraped pages also keep the caption of each photo as a bare line between two paragraphs:
"Chi bộ Đài TT-TH thị xã Lai Châu tổ chức Lễ kết nạp đảng viên mới." Line by line such a caption cannot be
told from a short body paragraph, so nothing is deleted here: the layout rule only marks the paragraphs
that must not be picked as summary sentences (they are still tagged like any other sentence).

A paragraph is caption-like when all of these hold (conservative on purpose):
- it is one sentence, and not the first body paragraph (the lead) nor the last one;
- the paragraphs right before and after it are long (2+ sentences or 40+ words);
- the sentence has the shape of a caption: at most 20 words ending in "." / "…" with no figures (figures
  are allowed when a scene cue such as "phát biểu", "trao", "tham dự" is present), or an unpunctuated
  label line of at most 30 words;
- it does not open with a discourse connective ("Tuy nhiên", "Theo đó", "Đây là"…), quote anyone, report
  speech ("cho biết", "nhấn mạnh"), ask, exclaim or introduce a list (":").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import groupby

from dangtopic.data.text import CLOSERS

CAPTION_MAX_WORDS = 20  # a punctuated caption: one short scene description
LABEL_MAX_WORDS = 30  # an unpunctuated label line (caption or sub-heading), never a pasteable sentence
LONG_PARAGRAPH_WORDS = 40  # a neighbour this long (or of 2+ sentences) is running body text

_DIGIT = re.compile(r"\d")
_QUOTE = re.compile(r"[“”\"«»]")
# Body sentences that carry the argument open like this; captions describe a scene and never do.
_CONNECTIVE = re.compile(
    r"^(?:tuy\s+nhiên|theo\s+(?:đó|đánh\s+giá|ông|bà|đồng\s+chí|anh|chị)|do\s+(?:đó|vậy)|vì\s+(?:vậy|thế)"
    r"|như\s+vậy|nhờ\s+(?:đó|vậy)|qua\s+đó|từ\s+đó|đồng\s+thời|ngoài\s+ra|bên\s+cạnh\s+đó"
    r"|cùng\s+với\s+đó|cùng\s+đó|trong\s+đó|đây\s+là|điều\s+này|mặt\s+khác|nhìn\s+chung|tóm\s+lại"
    r"|có\s+thể|sau\s+đó|trước\s+đó|hiện\s+nay|hiện\s+tại|nhưng|song|bởi|chính\s+vì|với\s+(?:việc|những|sự)"
    r"|để|nếu|khi|mặc\s+dù|dù|tiếp\s+theo|cuối\s+cùng|trước\s+hết|thứ\s+(?:nhất|hai|ba))\b",
    re.I,
)
_REPORTED = re.compile(
    r"\b(?:cho\s+biết|nhấn\s+mạnh|khẳng\s+định|chia\s+sẻ|nhận\s+định|đánh\s+giá\s+cao|yêu\s+cầu|đề\s+nghị)\b",
    re.I,
)
# What a photo shows: a ceremony, a meeting, someone speaking or handing something over.
_SCENE = re.compile(
    r"\b(?:quang\s+cảnh|toàn\s+cảnh|phát\s+biểu|trao\s+(?:tặng|quyết\s+định|giấy|bằng|huy\s+hiệu|cờ|thưởng|quà)"
    r"|tặng\s+(?:hoa|quà)|chụp\s+ảnh|(?:các\s+)?đại\s+biểu|tham\s+dự|dự\s+(?:lễ|buổi|hội\s+nghị|đại\s+hội)"
    r"|tại\s+(?:buổi|lễ|hội\s+nghị|đại\s+hội)|buổi\s+(?:họp|lễ|làm\s+việc|gặp\s+mặt|sinh\s+hoạt|tọa\s+đàm)"
    r"|lễ\s+(?:kết\s+nạp|trao|ra\s+mắt|khai\s+mạc|kỷ\s+niệm|công\s+bố))\b",
    re.I,
)


def _words(text: str) -> int:
    return len(text.split())


def caption_shaped(sentence: str) -> bool:
    """Whether one sentence, on its own, has the shape of a photo caption (see the module docstring)."""
    s = sentence.strip()
    if not s or _QUOTE.search(s) or _CONNECTIVE.match(s) or _REPORTED.search(s):
        return False
    end = s.rstrip(CLOSERS + " ")
    n = _words(s)
    if end.endswith((":", "?", "!", ";", ",")):
        return False
    if not end.endswith((".", "…")):
        return n <= LABEL_MAX_WORDS
    return n <= CAPTION_MAX_WORDS and (not _DIGIT.search(s) or _SCENE.search(s) is not None)


def _is_long(paragraph: Sequence[str]) -> bool:
    return len(paragraph) >= 2 or sum(_words(s) for s in paragraph) >= LONG_PARAGRAPH_WORDS


def caption_like(paragraphs: Sequence[Sequence[str]]) -> set[int]:
    """Indices of paragraphs (each a list of sentences, in page order) that look like unmarked captions."""
    paras = [[s for s in p if s and s.strip()] for p in paragraphs]
    return {
        i
        for i, p in enumerate(paras[1:-1], 1)
        if len(p) == 1 and _is_long(paras[i - 1]) and _is_long(paras[i + 1]) and caption_shaped(p[0])
    }


def group_paragraphs(paragraph_ids: Sequence[int]) -> list[list[int]]:
    """Sentence indices of each paragraph: a run of equal consecutive ids is one paragraph."""
    return [list(g) for _, g in groupby(range(len(paragraph_ids)), key=paragraph_ids.__getitem__)]


def caption_sentences(sentences: Sequence[str], paragraph_ids: Sequence[int]) -> set[int]:
    """Indices of the sentences that form caption-like paragraphs.

    `paragraph_ids[i]` is the paragraph of `sentences[i]` (as in `Article.paragraphs`); empty sentences are
    ignored when judging the layout. Raises `ValueError` when the two lengths differ."""
    if len(paragraph_ids) != len(sentences):
        raise ValueError(f"{len(paragraph_ids)} paragraph ids for {len(sentences)} sentences")
    groups = [[i for i in g if sentences[i].strip()] for g in group_paragraphs(paragraph_ids)]
    groups = [g for g in groups if g]
    flagged = caption_like([[sentences[i] for i in g] for g in groups])
    return {i for k in flagged for i in groups[k]}


def main(argv: list[str] | None = None) -> int:
    """`python -m dangtopic.data.captions FILE...`: show which body paragraphs of each page look like captions."""
    import argparse
    from pathlib import Path

    from dangtopic.data.ingest import article_from_text

    ap = argparse.ArgumentParser(prog="python -m dangtopic.data.captions", description=main.__doc__)
    ap.add_argument("files", nargs="+", type=Path, help="raw page .txt files (UTF-8)")
    args = ap.parse_args(argv)
    for path in args.files:
        art = article_from_text(path.read_text(encoding="utf-8"))
        found = sorted(caption_sentences(art.sentences, art.paragraphs))
        print(f"== {path.name}: {len(art.sentences)} sentences, {len(found)} caption-like")
        for i in found:
            print(f"   [{i}] {art.sentences[i]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
