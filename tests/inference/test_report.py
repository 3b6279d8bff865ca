import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dangtopic import LABELS
from dangtopic.cli import main
from dangtopic.inference.report import PALETTE, HtmlReportWriter, render_report

SCORES = {"membership": 0.91, "inspection": 0.12, "restructuring": 0.05, "training": 0.66}


def _record(i: int, labels_per_sentence: list[list[str]], title: str | None = None) -> dict:
    sents = []
    for k, labs in enumerate(labels_per_sentence):
        sents.append(
            {
                "index": k,
                "text": f'Câu {k} của bài {i}: kết nạp <b>đảng viên</b> & "kiểm tra".',
                "labels": labs,
                "scores": {lab: (0.9 if lab in labs else 0.1) for lab in LABELS},
            }
        )
    return {
        "id": f"bai-{i}",
        "title": title or f"Bài số {i} <script>alert(1)</script>",
        "source": f"/data/bai_{i}.txt",
        "sentences": sents,
        "summary": {"text": sents[0]["text"], "sentence_indices": [0], "warnings": []},
        "topic_counts": {lab: sum(lab in s for s in labels_per_sentence) for lab in LABELS},
        "topic_summaries": {},
        "removed": ["Trang chủ | Liên hệ"],
        "warnings": [],
    }


RECORDS = [
    _record(1, [["membership"], ["membership", "training"], [], ["inspection"]]),
    _record(2, [["restructuring"], ["restructuring"], ["training"]]),
    {"id": "hong", "source": "/data/hong.txt", "title": None, "error": "empty file"},
    _record(3, [[], []]),
]


class _Checker(HTMLParser):
    """Collects tags, checks nesting of the elements we open, and grabs hover titles."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.titles, self.tags, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "span" and "title" in a and "s" in (a.get("class") or "").split():
            self.titles.append(a["title"])
        for k in ("src", "href"):
            if k in a and not a[k].startswith("#"):
                self.errors.append(f"external reference {a[k]}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_report_structure_and_escaping(tmp_path):
    out = tmp_path / "r.html"
    w = render_report(RECORDS, out, title="Báo cáo <thử>")
    html = out.read_text(encoding="utf-8")
    assert (w.n_articles, w.n_failed, w.n_sentences) == (3, 1, 9)
    chk = _Checker()
    chk.feed(html)
    assert not chk.errors, chk.errors[:5]
    assert chk.stack == []
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>đảng viên</b>" not in html and "&lt;b&gt;đảng viên&lt;/b&gt;" in html
    assert "Báo cáo &lt;thử&gt;" in html
    assert "script" not in {t for t in chk.tags} and "link" not in chk.tags
    # Every sentence is highlighted with its scores on hover.
    assert len(chk.titles) == 9
    assert any(t.startswith("#1 [membership, training]") and "membership 0.90" in t for t in chk.titles)
    # The multi-label sentence shows both colours (stripes), single-label sentences their own.
    m, t = PALETTE["membership"][0], PALETTE["training"][0]
    assert f"repeating-linear-gradient(135deg,{m} 0px 7px,{t} 7px 14px)" in html
    assert f"background:{PALETTE['inspection'][0]}" in html
    # Corpus overview with per-topic rankings linking to the article sections.
    assert "Corpus overview" in html and "Failed inputs (1)" in html and "empty file" in html
    assert 'href="#a1"' in html and 'id="a1"' in html
    ranks = html.split("Articles ranked by each topic")[1]
    restr = ranks.split(">restructuring</h3>")[1].split("</ol>")[0]
    assert "Bài số 2" in restr and "Bài số 1" not in restr
    assert "2 sent. (67%)" in restr


def test_overview_counts_articles_per_topic(tmp_path):
    out = tmp_path / "r.html"
    render_report(RECORDS, out)
    html = out.read_text(encoding="utf-8")
    overview = html.split("Topic distribution")[1].split("Articles ranked")[0]
    rows = {lab: overview.split(f"<b>{lab}</b>")[1].split("</tr>")[0] for lab in LABELS}
    assert "2 (67%)" in rows["training"]  # articles 1 and 2 of 3
    assert "1 (33%)" in rows["inspection"]
    assert "3 (33.3%)" in rows["membership"] or "2 (22.2%)" in rows["membership"]


def test_main_topic_column_tells_topics_apart(tmp_path):
    """Issue 12: "articles with the topic" read 100% for every topic, since each article mentions each.
    The column now counts articles where at least a quarter of the sentences carry the topic."""
    recs = []
    for i, topic in enumerate(LABELS):  # 8 sentences: 5 on the article's main topic, one on each other
        others = [[lab] for lab in LABELS if lab != topic]
        recs.append(_record(i, [[topic]] * 5 + others, title=f"Bài {topic}"))
    recs.append(_record(9, [["membership"], ["membership"], ["training"], []], title="Bài hai chủ đề"))
    out = tmp_path / "r.html"
    render_report(recs, out)
    overview = out.read_text(encoding="utf-8").split("Topic distribution")[1].split("Articles ranked")[0]
    assert "main topic in" in overview
    rows = {lab: overview.split(f"<b>{lab}</b>")[1].split("</tr>")[0] for lab in LABELS}
    assert "2 (40%)" in rows["membership"] and "1 (20%)" in rows["inspection"]
    assert "2 (40%)" in rows["training"] and "1 (20%)" in rows["restructuring"]


def test_report_cli_names_malformed_records_and_still_writes_the_report(tmp_path, capsys):
    """Issue 12: malformed prediction records crashed `dangtopic report` with a traceback."""
    bad_sentence = {**RECORDS[0], "id": "bad-sentences", "sentences": "not a list"}
    bad_scores = json.loads(json.dumps(RECORDS[1]))
    bad_scores["id"] = "bad-scores"
    bad_scores["sentences"][0]["scores"]["membership"] = "high"
    lines = [
        json.dumps(RECORDS[0], ensure_ascii=False),
        "[1, 2, 3]",
        '{"id": "cut", "sente',
        json.dumps(bad_sentence, ensure_ascii=False),
        "42",
        json.dumps(bad_scores, ensure_ascii=False),
        json.dumps({**RECORDS[1], "topic_counts": ["membership"]}, ensure_ascii=False),
        json.dumps(RECORDS[2], ensure_ascii=False),
    ]
    src = tmp_path / "p.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "r.html"
    assert main(["report", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    named = [ln for ln in err.splitlines() if ln.startswith("not a prediction record: ")]
    assert [ln.split(":")[2] for ln in named] == ["2", "3", "4", "5", "6", "7"]
    assert "1 articles, 7 failed" in err
    html = out.read_text(encoding="utf-8")
    assert html.rstrip().endswith("</html>") and "Failed inputs (7)" in html
    assert "bad-scores" in html and "scores" in html


def test_max_articles_keeps_overview_complete(tmp_path):
    out = tmp_path / "r.html"
    w = HtmlReportWriter(out, max_articles=1)
    for r in RECORDS:
        w.write(r)
    w.close()
    html = out.read_text(encoding="utf-8")
    assert html.count('class="card article"') == 1
    assert "Showing the first 1 of 3 articles" in html


def test_report_cli_from_jsonl(tmp_path, capsys):
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    out = tmp_path / "r.html"
    assert main(["report", str(src), "-o", str(out)]) == 0
    assert "3 articles, 1 failed, 9 sentences" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8").count('class="card article"') == 3
    assert main(["report", str(src), "-o", str(tmp_path / "r.csv")]) == 2
    assert main(["report", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2


# ---------------------------------------------------------------------- real browser


def _decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of an 8-bit non-interlaced RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        (length,), ctype = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, colour, _, _, interlace = hdr
    assert depth == 8 and colour in (2, 6) and interlace == 0, hdr
    ch = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), w * ch
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - ch] if x >= ch else 0
            b, c = prev[x], (prev[x - ch] if x >= ch else 0)
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, ch, bytes(out)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2000) -> None:
    exe = _chromium()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


LONG_ID = "bai-" + "x" * 150
PHONE_RECORDS = [
    *RECORDS[:2],
    {
        **_record(4, [[], ["inspection"], ["training"]]),
        "id": LONG_ID,
        "source": "/data/" + "thu_muc_rat_dai/" * 12 + "bai.txt",
        "title": None,
    },
    {"id": "hong-" + "y" * 150, "source": "/data/hong.txt", "title": None, "error": "empty file"},
]
PHONE_RECORDS[2]["sentences"][0]["text"] = "Kiện toàn tổ chức bộ máy"  # a sub-heading: no final punctuation

# Runs inside the report (a copy made by the test; the report itself has no scripts) and hands the
# layout to the harness page, whose DOM --dump-dom prints.
_PROBE = """<script>
const box = e => { if (!e) return null; const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
const sub = document.querySelector('.subhead');
const g = {scrollWidth: document.documentElement.scrollWidth, width: innerWidth,
  failed: box(document.querySelector('.failed')), article: box(document.querySelector('.article')),
  subhead: box(sub), afterSubhead: box(sub && sub.nextElementSibling), text: box(sub && sub.parentElement),
  multi: box(document.querySelector('.s[title^="#1 [membership, training]"]'))};
parent.document.getElementById('out').textContent = JSON.stringify(g);
</script>"""


def _in_chromium(
    report: Path, tmp_path: Path, width: int, height: int, css: str = "", png: Path | None = None
):
    """Layout of `report` at `width` CSS px, and optionally a screenshot. Chromium's window is at least 500 px
    wide, so narrower widths are an iframe of that width (srcdoc: same origin, its media queries apply)."""
    from html import escape

    doc = report.read_text(encoding="utf-8").replace("</head>", f"<style>{css}</style></head>")
    doc = doc.replace("</body>", _PROBE + "</body>")
    harness = tmp_path / f"harness{width}.html"
    harness.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;display:block;'
        f'width:{width}px;height:{height}px" srcdoc="{escape(doc, quote=True)}"></iframe>'
        '<pre id="out"></pre></body></html>',
        encoding="utf-8",
    )
    args = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--window-size={max(width, 500)},{height}",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as profile:
        args.append(f"--user-data-dir={profile}")
        url = harness.resolve().as_uri()
        dom = subprocess.run(args + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        if png is not None:
            subprocess.run(args + [f"--screenshot={png}", url], check=True, capture_output=True, timeout=120)
    found = re.search(r'<pre id="out">([^<]+)</pre>', dom)
    assert found, dom[-2000:]
    return json.loads(found[1].replace("&quot;", '"'))


@pytest.mark.skipif(_chromium() is None, reason="no chromium/chrome installed")
@pytest.mark.parametrize("width", [360, 420, 1280])
def test_report_layout_on_phone_and_desktop_in_headless_chromium(tmp_path, width):
    """Issue 12: no sideways scrolling with long ids and paths, failed inputs above the articles,
    sub-headings on their own line, and a two-topic sentence showing both topic colours."""
    out = tmp_path / "r.html"
    render_report(PHONE_RECORDS, out)
    g = _in_chromium(out, tmp_path, width, 1200)
    assert g["width"] == width
    assert g["scrollWidth"] <= width, f"the page scrolls sideways: {g['scrollWidth']} px wide at {width} px"
    assert g["failed"][3] <= g["article"][1], "failed inputs are listed before the articles"
    sub, after, text = g["subhead"], g["afterSubhead"], g["text"]
    assert after[1] >= sub[3] - 1 and after[0] <= text[0] + 4, (
        "the sentence after a sub-heading starts a new line"
    )
    # The article alone, for a screenshot small enough to decode: pixels inside the two-topic sentence.
    png = tmp_path / f"r{width}.png"
    g = _in_chromium(out, tmp_path, width, 700, css=".top,.overview,.failed{display:none}", png=png)
    w, h, ch, px = _decode_png(png.read_bytes())
    left, top, right, bottom = (round(v) for v in g["multi"])
    assert 0 <= left < right <= w and 0 <= top < bottom <= h, g["multi"]
    inside = {
        px[(y * w + x) * ch : (y * w + x) * ch + 3] for y in range(top, bottom) for x in range(left, right)
    }
    for lab in ("membership", "training"):
        assert bytes.fromhex(PALETTE[lab][0][1:]) in inside, f"{lab} colour missing from a two-topic sentence"
