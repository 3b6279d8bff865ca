import json
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
    # The multi-label sentence shows both colours, single-label sentences their own.
    assert (
        f"linear-gradient(to bottom,{PALETTE['membership'][0]} 0% 50%,{PALETTE['training'][0]} 50% 100%)"
        in html
    )
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


@pytest.mark.skipif(_chromium() is None, reason="no chromium/chrome installed")
def test_report_renders_in_headless_chromium(tmp_path):
    out = tmp_path / "r.html"
    render_report(RECORDS, out)
    png = tmp_path / "r.png"
    screenshot(out, png, 1000, 1400)
    w, h, ch, px = _decode_png(png.read_bytes())
    assert (w, h) == (1000, 1400)
    pixels = {px[i : i + 3] for i in range(0, len(px), ch * 7)}  # subsample
    assert len(pixels) > 50, "the page rendered (not a blank screenshot)"
    # Topic highlight and bar colours are on screen.
    for lab in ("membership", "training", "restructuring"):
        for colour in PALETTE[lab]:
            rgb = bytes.fromhex(colour[1:])
            assert any(px[i : i + 3] == rgb for i in range(0, len(px), ch)), (lab, colour)
