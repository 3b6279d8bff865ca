"""Self-contained HTML report of predictions: `dangtopic report predictions.jsonl -o report.html`.

One file, inline CSS, no scripts or external assets, so it opens offline and can be mailed around; it
fits a 360 px phone screen. Per article: topic bars, the summary, the text with every sentence in its
topic colours. The corpus overview and the failed inputs are written last, from small aggregates, and
moved above the articles by CSS (`order`), so the report streams: articles are written as they arrive.

`dangtopic report` exits 0, 1 when some lines of its input are not prediction records (each is listed in
the report as a failed input and named on stderr), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from html import escape
from pathlib import Path
from typing import Any

from dangtopic import LABELS, __version__
from dangtopic.data.sentences import is_heading
from dangtopic.inference.writers import TextWriter, output_format, record_labels, record_problem

# Light fill for highlighted text, strong colour for bars and chips (colour-blind friendly hues).
PALETTE = {
    "membership": ("#fbd3c4", "#d9541e"),
    "inspection": ("#cfe0f7", "#2866b8"),
    "restructuring": ("#f6e6a8", "#b58a00"),
    "training": ("#cdebd0", "#2e8b3e"),
}
_EXTRA = [("#e6d5f2", "#7b3fa6"), ("#d3eeee", "#1f8a8a"), ("#f2d5e4", "#b03c7a"), ("#e2e2e2", "#555555")]
DESCRIPTIONS = {
    "membership": "đảng viên — phát triển, quản lý, đánh giá đảng viên",
    "inspection": "kiểm tra, giám sát, kỷ luật",
    "restructuring": "sắp xếp, tinh gọn tổ chức bộ máy, biên chế",
    "training": "đào tạo, bồi dưỡng cán bộ, đảng viên",
}
TOP_K = 10
MAX_ERRORS_LISTED = 200
MAX_PROBLEMS_SHOWN = 20  # malformed input lines named on stderr by `dangtopic report`
# An article counts as being about a topic when at least this share of its sentences carry it ("main topic
# in"): counting the articles with any tagged sentence read 100% for every topic, as Party-building
# articles mention each topic somewhere.
MAIN_TOPIC_SHARE = 0.25
STRIPE = 7  # px, width of each colour's stripe on a sentence with several topics

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1d2330;font:15px/1.55 "Noto Sans","DejaVu Sans","Segoe UI",Arial,sans-serif}
.page{display:flex;flex-direction:column;max-width:1080px;margin:0 auto;padding:24px 20px 48px}
.top{order:0}.overview,.failed{order:1}.article{order:2}.foot{order:3}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:0 0 6px;line-height:1.35}
h3{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:#5b6475;margin:18px 0 8px}
.sub{color:#5b6475;font-size:13px;overflow-wrap:anywhere}
h1,h2,li{overflow-wrap:anywhere}
.legend{display:flex;flex-wrap:wrap;gap:8px 18px;margin:14px 0 6px;padding:10px 14px;background:#fff;
  border:1px solid #e1e4ea;border-radius:8px}
.legend span.item{display:inline-flex;align-items:center;gap:6px;font-size:13px}
.sw{display:inline-block;width:14px;height:14px;border-radius:3px;border:2px solid}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:10px;padding:18px 22px;margin:14px 0;
  box-shadow:0 1px 2px rgba(20,30,50,.04)}
.overview .grid{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.stat{background:#f7f8fa;border-radius:8px;padding:10px 12px}.stat b{display:block;font-size:22px}
.stat span{color:#5b6475;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13.5px;table-layout:fixed}
.dist th:first-child{width:34%}.dist .num{display:block;text-align:left;width:auto}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:middle}
th{color:#5b6475;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;width:1%}
.bar{height:12px;background:#eef0f3;border-radius:6px;overflow:hidden;min-width:0}
.bar i{display:block;height:100%;border-radius:6px}
.ranks{display:grid;grid-template-columns:repeat(2,1fr);gap:8px 20px}
.ranks ol{margin:0;padding-left:22px;font-size:13.5px}.ranks li{margin:2px 0}
.ranks a{color:#1d2330;text-decoration:none;border-bottom:1px dotted #9aa3b2}
.ranks .n{color:#5b6475;font-variant-numeric:tabular-nums}
.article header{display:flex;justify-content:space-between;gap:24px;align-items:flex-start}
.article header .bars{flex:0 0 280px}
.bars table{table-layout:auto}.bars table td{padding:2px 6px;border:0}
.bars table td.lab{font-size:12px;color:#3d4556;width:1%;white-space:nowrap}
.summary{background:#f7f8fa;border-left:4px solid #1d2330;border-radius:6px;padding:10px 14px;margin:12px 0}
.summary .k{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:#5b6475;font-weight:700}
.tsum{margin:6px 0;font-size:13.5px}.tsum b{font-size:12px}
.text{margin-top:10px;line-height:1.9;overflow-wrap:anywhere}
.text .subhead{font-weight:700;margin:14px 0 4px;line-height:1.5}
.s{border-radius:3px;padding:1px 2px;-webkit-box-decoration-break:clone;box-decoration-break:clone}
.s.sum{outline:1.5px solid #1d2330;outline-offset:0}
.chip{display:inline-block;font-size:9.5px;font-weight:700;color:#fff;border-radius:3px;padding:0 3px;
  margin-left:2px;vertical-align:2px;line-height:14px}
.warn{color:#8a5a00;font-size:12.5px;margin:6px 0 0}
details{margin-top:10px;font-size:13px;color:#5b6475}details summary{cursor:pointer}
details ul{margin:6px 0;padding-left:20px}.why{color:#8a92a3;font-style:italic}
.failed{border-left:4px solid #c0392b}.err{color:#c0392b}
.foot{color:#8a92a3;font-size:12px;text-align:center;margin-top:18px}
@media (max-width:760px){.overview .grid{grid-template-columns:repeat(2,1fr)}.ranks{grid-template-columns:1fr}
 .article header{flex-direction:column}.article header .bars{flex:none;width:100%}}
@media (max-width:480px){.page{padding:12px 8px 32px}.card{padding:14px 12px}th,td{padding:5px 4px}}
"""


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def label_colours(labels: Sequence[str]) -> dict[str, tuple[str, str]]:
    extra = itertools.cycle(_EXTRA)
    return {lab: PALETTE.get(lab) or next(extra) for lab in labels}


def _bar(pct: float, colour: str) -> str:
    return f'<div class="bar"><i style="width:{pct:.1f}%;background:{colour}"></i></div>'


class HtmlReportWriter(TextWriter):
    """Streams a report: `write(record)` per prediction record, `close()` adds the overview."""

    def __init__(
        self,
        path: str | Path,
        labels: Sequence[str] | None = None,
        title: str | None = None,
        max_articles: int | None = None,
    ):
        super().__init__(path)
        self.labels = list(labels) if labels else None
        self.title = title or "dangtopic report"
        self.max_articles = max_articles
        self._started = False
        self._seq = self.n_articles = self.n_failed = self.n_sentences = self.n_rendered = 0
        self._errors: list[tuple[str, str, str]] = []

    def _start(self) -> None:
        if self._started:
            return
        self.labels = self.labels or list(LABELS)
        self.colours = label_colours(self.labels)
        self._swatch = {
            lab: f'<span class="sw" style="background:{light};border-color:{strong}"></span>'
            for lab, (light, strong) in self.colours.items()
        }
        self._main_in = dict.fromkeys(self.labels, 0)
        self._sentences_with = dict.fromkeys(self.labels, 0)
        self._top: dict[str, list[tuple[int, float, int, str, str]]] = {lab: [] for lab in self.labels}
        legend = "".join(
            f'<span class="item">{self._swatch[lab]}<b>{_e(lab)}</b>'
            f'<span class="sub">{_e(DESCRIPTIONS.get(lab, ""))}</span></span>'
            for lab in self.labels
        )
        self._f.write(
            '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{_e(self.title)}</title><style>{CSS}</style></head><body><div class="page">\n'
            f'<div class="top"><h1>{_e(self.title)}</h1><div class="sub">Topic tags per sentence and '
            "extractive summaries by dangtopic. Hover a sentence for its scores; outlined sentences form the "
            f'summary.</div><div class="legend">{legend}</div></div>\n'
        )
        self._started = True

    def write(self, record: dict[str, Any]) -> None:
        if not self._started:
            if self.labels is None and not record.get("error"):
                self.labels = record_labels(record)
            self._start()
        self._seq += 1
        anchor = f"a{self._seq}"
        rid = str(record.get("id", ""))
        if record.get("error"):
            self.n_failed += 1
            if len(self._errors) < MAX_ERRORS_LISTED:
                self._errors.append((rid, str(record.get("source") or ""), str(record["error"])))
            return
        self.n_articles += 1
        sents = record.get("sentences", [])
        self.n_sentences += len(sents)
        counts = {lab: int((record.get("topic_counts") or {}).get(lab, 0)) for lab in self.labels}
        title = record.get("title") or rid
        render = self.max_articles is None or self.n_rendered < self.max_articles
        for lab in self.labels:
            self._sentences_with[lab] += counts[lab]
            if counts[lab]:
                share = counts[lab] / max(1, len(sents))
                self._main_in[lab] += share >= MAIN_TOPIC_SHARE
                item = (counts[lab], share, -self._seq, anchor if render else "", title)
                heap = self._top[lab]
                if len(heap) < TOP_K:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
        if render:
            self.n_rendered += 1
            self._f.write(self._article_html(record, anchor, counts))
        self._f.flush()

    def _bars(self, counts: dict[str, int], total: int) -> str:
        rows = []
        for lab in self.labels:
            n = counts.get(lab, 0)
            pct = 100.0 * n / total if total else 0.0
            rows.append(
                f'<tr><td class="lab">{_e(lab)}</td><td>{_bar(pct, self.colours[lab][1])}</td>'
                f'<td class="num">{n}</td></tr>'
            )
        return f'<table aria-label="sentences per topic">{"".join(rows)}</table>'

    def _sentence_html(self, s: dict[str, Any], in_summary: bool) -> str:
        labs = [lab for lab in s.get("labels", []) if lab in self.colours]
        scores = s.get("scores", {})
        tip = " · ".join(f"{lab} {float(scores[lab]):.2f}" for lab in self.labels if lab in scores)
        listed = f"[{', '.join(s['labels'])}] " if s.get("labels") else ""
        tip = f"#{s.get('index', '')} {listed}{tip}"
        style = ""
        if len(labs) == 1:
            style = f' style="background:{self.colours[labs[0]][0]}"'
        elif labs:
            # Several topics: diagonal stripes of every colour, visible on each wrapped line of the sentence.
            stops = ",".join(
                f"{self.colours[lab][0]} {i * STRIPE}px {(i + 1) * STRIPE}px" for i, lab in enumerate(labs)
            )
            style = f' style="background:repeating-linear-gradient(135deg,{stops})"'
        chips = "".join(
            f'<span class="chip" style="background:{self.colours[lab][1]}">{_e(lab[:3].upper())}</span>'
            for lab in labs
        )
        cls = "s sum" if in_summary else "s"
        text = str(s.get("text", ""))
        html = f'<span class="{cls}"{style} title="{_e(tip)}">{_e(text)}</span>{chips} '
        return f'<div class="subhead">{html}</div>' if is_heading(text) else html

    def _article_html(self, record: dict[str, Any], anchor: str, counts: dict[str, int]) -> str:
        sents = record.get("sentences", [])
        summary = record.get("summary") or {}
        chosen = set(summary.get("sentence_indices", []))
        rid = str(record.get("id", ""))
        source = f" · {_e(record['source'])}" if record.get("source") else ""
        meta = f"id {_e(rid)}{source} · {len(sents)} sentences"
        bars = self._bars(counts, len(sents))
        parts = [
            f'<section class="card article" id="{anchor}"><header><div><h2>{_e(record.get("title") or rid)}</h2>'
            f'<div class="sub">{meta}</div></div><div class="bars">{bars}</div></header>',
            '<div class="summary"><div class="k">Tóm tắt · summary</div>'
            f"{_e(summary.get('text') or '—')}</div>",
        ]
        tsums = record.get("topic_summaries") or {}
        for lab in self.labels:
            ts = tsums.get(lab) or {}
            if ts.get("text"):
                parts.append(
                    f'<div class="tsum"><b style="color:{self.colours[lab][1]}">{_e(lab)}:</b> {_e(ts["text"])}</div>'
                )
        parts.append('<div class="text">')
        parts.extend(self._sentence_html(s, s.get("index") in chosen) for s in sents)
        parts.append("</div>")
        parts.extend(f'<div class="warn">⚠ {_e(w)}</div>' for w in record.get("warnings", []))
        removed = record.get("removed") or []
        if removed:
            reasons = (record.get("meta") or {}).get("removed_reasons") or []
            if len(reasons) != len(removed):
                reasons = [""] * len(removed)
            items = "".join(
                f"<li>{_e(r)}" + (f' <span class="why">({_e(why)})</span>' if why else "") + "</li>"
                for r, why in zip(removed, reasons, strict=True)
            )
            parts.append(
                f"<details><summary>{len(removed)} removed line(s) of page furniture</summary><ul>{items}</ul></details>"
            )
        parts.append("</section>\n")
        return "".join(parts)

    def _overview_html(self) -> str:
        n, ns = self.n_articles, self.n_sentences
        stats = [
            (n, "articles"),
            (self.n_failed, "failed inputs"),
            (ns, "sentences"),
            (f"{ns / n:.1f}" if n else "0", "sentences / article"),
        ]
        grid = "".join(f'<div class="stat"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in stats)
        rows = []
        for lab in self.labels:
            a, s = self._main_in[lab], self._sentences_with[lab]
            pa = 100.0 * a / n if n else 0.0
            ps = 100.0 * s / ns if ns else 0.0
            colour = self.colours[lab][1]
            rows.append(
                f"<tr><td>{self._swatch[lab]} <b>{_e(lab)}</b></td>"
                f'<td><span class="num">{a} ({pa:.0f}%)</span>{_bar(pa, colour)}</td>'
                f'<td><span class="num">{s} ({ps:.1f}%)</span>{_bar(ps, colour)}</td></tr>'
            )
        share = f"{MAIN_TOPIC_SHARE:.0%}"
        table = (
            f'<table class="dist"><tr><th>topic</th><th title="articles where at least {share} of the sentences '
            f'carry the topic">main topic in (≥ {share} of sentences)</th><th>sentences with the topic</th></tr>'
            f"{''.join(rows)}</table>"
        )
        ranks = []
        for lab in self.labels:
            items = []
            for count, share, _, anchor, title in sorted(self._top[lab], reverse=True):
                name = f'<a href="#{anchor}">{_e(title)}</a>' if anchor else _e(title)
                items.append(f'<li>{name} <span class="n">— {count} sent. ({100 * share:.0f}%)</span></li>')
            body = f"<ol>{''.join(items)}</ol>" if items else '<div class="sub">no article</div>'
            ranks.append(f'<div><h3 style="color:{self.colours[lab][1]}">{_e(lab)}</h3>{body}</div>')
        out = [
            f'<section class="card overview"><h2>Corpus overview</h2><div class="grid">{grid}</div>'
            f"<h3>Topic distribution</h3>{table}"
            f'<h3>Articles ranked by each topic (top {TOP_K})</h3><div class="ranks">{"".join(ranks)}</div>'
        ]
        if self.max_articles is not None and self.n_rendered < n:
            out.append(f'<p class="sub">Showing the first {self.n_rendered} of {n} articles in full.</p>')
        out.append("</section>\n")
        if self.n_failed:
            items = "".join(
                f"<li><b>{_e(rid)}</b>{' (' + _e(src) + ')' if src and src != rid else ''}: "
                f'<span class="err">{_e(err)}</span></li>'
                for rid, src, err in self._errors
            )
            more = self.n_failed - len(self._errors)
            tail = f'<p class="sub">… and {more} more</p>' if more > 0 else ""
            out.append(
                f'<section class="card failed"><h2>Failed inputs ({self.n_failed})</h2><ul>{items}</ul>{tail}</section>\n'
            )
        return "".join(out)

    def close(self) -> None:
        if self._f.closed:
            return
        self._start()
        foot = f'<div class="foot">dangtopic {_e(__version__)} · {time.strftime("%Y-%m-%d %H:%M")}</div>'
        self._f.write(self._overview_html() + foot + "</div></body></html>\n")
        super().close()


def render_report(records: Iterable[dict[str, Any]], path: str | Path, **options: Any) -> HtmlReportWriter:
    """Write the report of prediction records (`options` of `HtmlReportWriter`); returns the closed writer."""
    with HtmlReportWriter(path, **options) as writer:
        for rec in records:
            writer.write(rec)
    return writer


# ---------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predictions", nargs="+", help="predictions JSONL file(s) written by `dangtopic predict`"
    )
    parser.add_argument("-o", "--output", required=True, help="the HTML file to write")
    parser.add_argument("--title", help="heading of the report")
    parser.add_argument(
        "--max-articles",
        type=int,
        help="render only the first N articles in full (overview covers all)",
    )


def read_records(paths: Iterable[str | Path], problems: list[str]) -> Iterator[dict[str, Any]]:
    """Records of predictions JSONL files; a line that is not one is an error record, named in `problems`."""
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                rec: Any = None
                try:
                    rec = json.loads(line)
                    why = record_problem(rec)
                except json.JSONDecodeError as e:
                    why = f"malformed JSON ({e.msg} at column {e.colno})"
                if why:
                    problems.append(f"{path}:{lineno}: {why}")
                    rid = rec.get("id") if isinstance(rec, dict) else None
                    rec = {
                        "id": str(rid) if isinstance(rid, str | int) else f"{Path(path).name}:{lineno}",
                        "source": f"{path}:{lineno}",
                        "error": f"not a prediction record: {why}",
                    }
                yield rec


def run(args: argparse.Namespace) -> int:
    try:
        if output_format(args.output) != ".html":
            raise ValueError(f"{args.output}: the report is HTML; use a .html output")
        for p in args.predictions:
            if not Path(p).is_file():
                raise ValueError(f"{p}: no such file")
            if Path(p).resolve() == Path(args.output).resolve():
                raise ValueError(f"{p} is both an input and the output")
    except ValueError as e:  # a usage error
        print(f"error: {e}", file=sys.stderr)
        return 2
    problems: list[str] = []
    try:
        records = read_records(args.predictions, problems)
        w = render_report(records, args.output, title=args.title, max_articles=args.max_articles)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    for line in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"not a prediction record: {line}", file=sys.stderr)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
    print(
        f"{args.output}: {w.n_articles} articles, {w.n_failed} failed, {w.n_sentences} sentences",
        file=sys.stderr,
    )
    return 1 if problems else 0
