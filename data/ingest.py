"""From raw page text (or a reader record) to a cleaned, sentence-split `Article`."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

from dangtopic.data.article import Article
from dangtopic.data.clean import clean_page
from dangtopic.data.readers import InputRecord
from dangtopic.data.sentences import split_paragraphs, split_paragraphs_with_ids

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def example_paths() -> list[Path]:
    """The bundled demo articles (two scraped provincial news pages, raw page text)."""
    return sorted(EXAMPLES_DIR.glob("*.txt"))


def article_from_text(
    text: str, id: str = "", source: str | None = None, title: str | None = None
) -> Article:
    """Normalise, strip page furniture, split the body into sentences.

    With `title` given (e.g. a JSONL field) it is used as is and no line of `text` is taken as the title;
    `meta["removed_reasons"]` says why each line in `removed` was dropped."""
    page = clean_page(text, title=title)  # normalises first
    sentences, paragraphs = split_paragraphs_with_ids(page.body_lines)
    return Article(
        id=id,
        title=page.title,
        sentences=sentences,
        removed=page.removed,
        source=source,
        meta={"removed_reasons": page.reasons},
        paragraphs=paragraphs,
    )


def article_from_record(rec: InputRecord) -> Article:
    """Build the `Article` of a reader record; raises `ValueError` for a record that carries an error."""
    if rec.error is not None or rec.text is None:
        raise ValueError(f"{rec.id}: {rec.error or 'no text'}")
    art = article_from_text(rec.text, id=rec.id, source=rec.source, title=rec.title)
    art.meta = {**rec.meta, **art.meta}
    return art


def _vnds_pages(n: int, split: str):
    """(page text, title, paragraphs as lists of sentences) for the first `n` VNDS articles."""
    import json

    from dangtopic.data.text import detokenize_vnds
    from dangtopic.data.vnds import iter_vnds_lines

    for line in iter_vnds_lines(split, limit=n):
        d = json.loads(line)
        title = detokenize_vnds(d.get("title", ""))
        paras = [[detokenize_vnds(s) for s in p if s.strip()] for p in d.get("paragraphs", [])]
        paras = [p for p in paras if p]
        lines = [title, detokenize_vnds(d.get("abstract", ""))] + [" ".join(p) for p in paras]
        yield "\n\n".join(lines), title, paras


def _boundaries(sents: list[str]) -> set[int]:
    """Where the sentences end, in characters other than spaces (the last end is no boundary)."""
    return set(accumulate(len(s.replace(" ", "")) for s in sents[:-1]))


def main(argv: list[str] | None = None) -> int:
    """`python -m dangtopic.data.ingest`: speed of cleaning + splitting, and checks against VNDS."""
    import argparse
    import time
    from collections import Counter

    from dangtopic.data.readers import iter_records
    from dangtopic.data.sentences import _base_tokenizer, split_sentences

    ap = argparse.ArgumentParser(prog="python -m dangtopic.data.ingest", description=main.__doc__)
    ap.add_argument(
        "inputs", nargs="*", help="pages to time (default: ../shared/seeds, else the bundled examples)"
    )
    ap.add_argument("--vnds", type=int, default=1000, help="VNDS articles to rebuild as pages (0 = skip)")
    ap.add_argument("--split", default="val", help="VNDS split")
    ap.add_argument("--repeat", type=int, default=5, help="timing repeats over the pages")
    args = ap.parse_args(argv)

    seeds = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
    inputs = args.inputs or ([str(seeds)] if seeds.is_dir() else [str(p) for p in example_paths()])
    recs = [r for r in iter_records(inputs) if r.ok]
    article_from_text(recs[0].text or "")  # warm-up (loads the base sentence tokenizer)
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        arts = [article_from_text(r.text or "", id=r.id) for r in recs]
    ms = (time.perf_counter() - t0) * 1000 / (args.repeat * len(recs))
    n_sent = sum(len(a.sentences) for a in arts)
    n_rem = sum(len(a.removed) for a in arts)
    print(
        f"pages: {len(recs)} from {inputs}: {ms:.2f} ms/article (clean + split, mean of {args.repeat} runs)"
    )
    print(f"       {n_sent} sentences kept, {n_rem} lines removed")
    if args.vnds <= 0:
        return 0

    pages = list(_vnds_pages(args.vnds, args.split))
    t0 = time.perf_counter()
    results = [clean_page(text) for text, _, _ in pages]
    t1 = time.perf_counter()
    for r in results:
        split_paragraphs(r.body_lines)
    t_clean, t_split = t1 - t0, time.perf_counter() - t1
    n = len(pages)
    print(
        f"VNDS {args.split}: {n} articles rebuilt as page text (title, abstract, one line per paragraph): "
        f"{(t_clean + t_split) * 1000 / n:.2f} ms/article ({t_clean * 1000 / n:.2f} clean + {t_split * 1000 / n:.2f} split)"
    )
    n_lines = sum(2 + len(p) for _, _, p in pages)
    reasons = Counter(why for r in results for why in r.reasons)
    title_ok = sum(r.title == title for r, (_, title, _) in zip(results, pages, strict=True))
    print(
        f"  title recovered: {title_ok}/{n}; lines removed: {sum(reasons.values())}/{n_lines}: {dict(reasons)}"
    )
    stats = {"underthesea": [0, 0, 0], "dangtopic": [0, 0, 0]}
    for _, _, paras in pages:
        for gold in paras:
            g = _boundaries(gold)
            text = " ".join(gold)
            for name, fn in (("underthesea", _base_tokenizer()), ("dangtopic", split_sentences)):
                b = _boundaries(fn(text))
                stats[name] = [x + y for x, y in zip(stats[name], (len(g & b), len(b), len(g)), strict=True)]
    for name, (tp, npred, ngold) in stats.items():
        print(
            f"  sentence boundaries vs VNDS's own segmentation, {name}: precision {tp / npred:.4f}, "
            f"recall {tp / ngold:.4f} ({npred} predicted, {ngold} in VNDS)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
