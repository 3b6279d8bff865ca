"""The user-facing pipeline: raw article text → cleaned sentences → topic tags → summaries.

>>> from dangtopic import Pipeline
>>> pipe = Pipeline.from_pretrained()
>>> result = pipe(article_text)            # ArticleResult
>>> results = pipe([text1, text2])         # list in, list out
>>> pipe.tag_sentences("Một câu.")         # SentenceResult
>>> pipe.summarize(article_text, topic="inspection")
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dangtopic.data.article import Article
from dangtopic.data.text import normalize_sentence
from dangtopic.models.summarizer import ExtractiveSummarizer, Summary
from dangtopic.models.tagger import DEFAULT_TAGGER_DIR, SentenceTagger

logger = logging.getLogger(__name__)

__all__ = ["ArticleResult", "Pipeline", "SentenceResult", "Summary"]

# The distilled student tagger (first layers of the base only) lives beside `tagger/` under this name.
FAST_TAGGER = "tagger-fast"

# Tokens kept free in each window for the special tokens and tokenizer drift between a word tokenised
# alone and in context.
_WINDOW_MARGIN = 4


@dataclass
class SentenceResult:
    """One sentence with its topic labels (above threshold) and the probability of every label."""

    text: str
    labels: list[str]
    scores: dict[str, float]
    index: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "index": self.index,
            "text": self.text,
            "labels": list(self.labels),
            "scores": {k: float(v) for k, v in self.scores.items()},
        }
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SentenceResult:
        return cls(
            text=d["text"],
            labels=list(d.get("labels", [])),
            scores={k: float(v) for k, v in d.get("scores", {}).items()},
            index=int(d.get("index", 0)),
            warnings=list(d.get("warnings", [])),
        )


@dataclass
class ArticleResult:
    """Everything the pipeline says about one article. `to_dict`/`from_dict` round-trip through JSON."""

    id: str
    title: str
    sentences: list[SentenceResult]
    summary: Summary
    topic_counts: dict[str, int]
    topic_summaries: dict[str, Summary] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def labels(self) -> list[str]:
        """Topics with at least one sentence, in label order."""
        return [lab for lab, n in self.topic_counts.items() if n > 0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "sentences": [s.to_dict() for s in self.sentences],
            "summary": self.summary.to_dict(),
            "topic_counts": dict(self.topic_counts),
            "topic_summaries": {k: v.to_dict() for k, v in self.topic_summaries.items()},
            "removed": list(self.removed),
            "warnings": list(self.warnings),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArticleResult:
        if "error" in d and "sentences" not in d:
            raise ValueError(f"record {d.get('id')!r} is an error record: {d['error']}")
        return cls(
            id=str(d["id"]),
            title=d.get("title") or "",
            sentences=[SentenceResult.from_dict(s) for s in d.get("sentences", [])],
            summary=Summary.from_dict(d["summary"]),
            topic_counts={k: int(v) for k, v in d.get("topic_counts", {}).items()},
            topic_summaries={k: Summary.from_dict(v) for k, v in (d.get("topic_summaries") or {}).items()},
            removed=list(d.get("removed", [])),
            warnings=list(d.get("warnings", [])),
            source=d.get("source"),
            meta=dict(d.get("meta") or {}),
        )

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> ArticleResult:
        return cls.from_dict(json.loads(text))


def _resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in {"cpu", "cuda"} and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device != "cpu" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use --device cpu or auto")
    return device


def _resolve_model_dir(path: str | Path) -> Path:
    """A local folder, or a hub repo id downloaded once (fails clearly when the hub is unreachable)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise NotADirectoryError(f"{p} is a file; expected a folder with tagger/ and summarizer/")
    if str(path).count("/") != 1 or str(path).startswith((".", "/", "~")):
        raise FileNotFoundError(f"no model folder at {p}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(path)))
    except Exception as e:
        raise FileNotFoundError(
            f"{path!r} is neither a local folder nor a downloadable hub model: {e}"
        ) from e


def model_dirs(path: str | Path | None = None, fast: bool | str = False) -> tuple[Path, Path]:
    """The (tagger, summariser) folders that `Pipeline.from_pretrained(path, fast=fast)` loads.

    `path` None → the shipped defaults; `fast="distilled"` → the student `tagger-fast/` beside `tagger/`.
    """
    from dangtopic.models.summarizer import DEFAULT_SUMMARIZER_DIR

    tagger_name = FAST_TAGGER if fast == "distilled" else "tagger"
    if path is None:
        return DEFAULT_TAGGER_DIR.parent / tagger_name, DEFAULT_SUMMARIZER_DIR
    root = _resolve_model_dir(path)
    return root / tagger_name, root / "summarizer"


FAST_CHOICES = ("bf16", "int8", "distilled")


def resolve_fast(fast: bool | str | None, path: str | Path | None = None, device: str = "cpu") -> str | None:
    """The path `Pipeline.from_pretrained(path, fast=fast)` takes on this machine (see there): None
    (float32), "bf16", "int8" or "distilled"."""
    from dangtopic.inference import speed

    if fast is None:
        # bf16 costs about 0.002 micro-F1 and, with native units, halves the time: the default there
        return "bf16" if device == "cpu" and speed.native_bf16() else None
    if fast is False or fast == "off":
        return None
    if fast is True or fast == "auto":
        if speed.native_bf16():
            return "bf16"
        # `dangtopic benchmark` on a 2-core AVX2 CPU: the student runs 2.9x fp32 (-0.053 micro-F1), int8
        # only 1.2x (-0.009): asked for speed, take the student
        return "distilled" if model_dirs(path, "distilled")[0].is_dir() else "int8"
    if fast not in FAST_CHOICES:
        raise ValueError(f"fast method must be one of {('auto', 'off', *FAST_CHOICES)}, got {fast!r}")
    return fast


def _folder(override: str | Path | None, default: Path, what: str) -> Path:
    folder = Path(override) if override is not None else default
    if not folder.is_dir():
        raise FileNotFoundError(f"no {what} folder at {folder}")
    return folder


class Pipeline:
    """Ingestion + sentence tagging + extractive summarisation, batched across articles."""

    def __init__(
        self,
        tagger: SentenceTagger,
        summarizer: ExtractiveSummarizer,
        *,
        batch_size: int = 64,
        topic_summaries: bool = True,
        max_sentences: int | None = None,
        max_words: int | None = None,
        share_encoder: bool = True,
    ):
        self.tagger = tagger
        self.summarizer = summarizer
        self.batch_size = int(batch_size)
        self.topic_summaries = topic_summaries
        self.max_sentences = max_sentences
        self.max_words = max_words
        # Let the summariser read the tagger's lower layers instead of encoding each article again, when
        # both stand on the same base and those layers are the base's own (`shared_layers`).
        self.share_encoder = share_encoder
        self.fast: str | bool = False

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        device: str | None = None,
        *,
        tagger: SentenceTagger | str | Path | None = None,
        summarizer: ExtractiveSummarizer | str | Path | None = None,
        fast: bool | str | None = None,
        **kwargs,
    ) -> Pipeline:
        """Load the shipped default (None), a folder holding `tagger/` and `summarizer/`, or a hub name.

        `tagger=`/`summarizer=` override one part (a loaded object or a path).

        `fast` picks a faster CPU path; `dangtopic benchmark` prints the speed and micro-F1 cost of each:
        - None (default): "bf16" on a CPU with native bf16 units (AMX / AVX512-BF16), else none;
        - False: none, float32 throughout;
        - `True` / "auto": "bf16" on CPUs with native bf16 units, else "distilled" when the student is
          there (2.9x fp32 speed against int8's 1.2x, at -0.05 micro-F1 against -0.01), else "int8";
        - "bf16" / "int8": the full tagger in bfloat16 / dynamically quantised int8;
        - "distilled": the 4-layer student tagger (`tagger-fast/` beside `tagger/`, shipped with the
          default), in bf16 where native: about 3x faster than bf16 and a little less accurate.
        """
        device = _resolve_device(device)
        method = resolve_fast(fast, path, device)
        student = method == "distilled"
        tdir, sdir = model_dirs(path, method)
        if not isinstance(tagger, SentenceTagger):
            what = "distilled tagger (fast='distilled')" if student else "tagger"
            tagger = SentenceTagger.from_pretrained(_folder(tagger, tdir, what), device=device)
        if not isinstance(summarizer, ExtractiveSummarizer):
            summarizer = ExtractiveSummarizer.from_pretrained(_folder(summarizer, sdir, "summarizer"))
        summarizer.to(device)
        pipe = cls(tagger, summarizer, **kwargs)
        from dangtopic.inference import speed

        if student:
            # the student is never quantised: int8 costs it more accuracy than it saves time
            if speed.native_bf16():
                pipe.make_fast("bf16")
            pipe.fast = "distilled+bf16" if pipe.fast else "distilled"
        elif method:
            pipe.make_fast(method)
        return pipe

    def save_pretrained(self, path: str | Path) -> Path:
        """Write `tagger/` and `summarizer/` under `path` (loadable by `from_pretrained(path)`)."""
        if self.fast:
            raise ValueError("save the models before make_fast(): the fast path is applied at load time")
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self.tagger.save_pretrained(root / "tagger")
        self.summarizer.save_pretrained(root / "summarizer")
        return root

    def make_fast(self, method: str) -> Pipeline:
        """Switch the loaded models to a fast CPU path in place: `int8` quantises the tagger's encoder;
        `bf16` runs the tagger and the summariser's sentence encoder in bfloat16."""
        from dangtopic.inference.speed import bf16_summarizer, make_fast

        make_fast(self.tagger, method)
        if method == "bf16" and isinstance(self.summarizer, ExtractiveSummarizer):
            bf16_summarizer(self.summarizer)
        self.fast = method
        return self

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.tagger.labels)

    def shared_layers(self) -> int | None:
        """How many of the tagger's encoder layers the summariser can read instead of its own encoder
        (its depth), or None when the summariser must encode articles itself.

        The summariser is a frozen copy of the base's first k layers. The tagger's first k layers are the
        same weights when its LoRA adapts only higher layers and it is not quantised; with the same input
        conventions (prefix, segmentation, pooling, `max_length`) one pass over an article serves both.
        """
        t, s = self.tagger, self.summarizer
        if not (self.share_encoder and isinstance(t, SentenceTagger) and isinstance(s, ExtractiveSummarizer)):
            return None
        te, se = t.config.encoder, s.config.encoder
        k = s.encoder.config.num_hidden_layers
        if any(getattr(te, f) != getattr(se, f) for f in ("prefix", "word_segment", "pooling", "max_length")):
            return None
        return k if t.fingerprint == s.fingerprint and k <= t.base_layers() else None

    # ------------------------------------------------------------------ ingestion
    @staticmethod
    def ingest(item: str | Article, id: str | None = None, title: str | None = None) -> Article:
        """Raw text (boilerplate and all) → cleaned Article; Articles pass through unchanged."""
        if isinstance(item, Article):
            return item
        if not isinstance(item, str):
            raise TypeError(f"expected article text (str) or Article, got {type(item).__name__}")
        from dangtopic.data.ingest import article_from_text

        given = {"id": id, "title": title}
        return article_from_text(item, **{k: v for k, v in given.items() if v is not None})

    # ------------------------------------------------------------------ tagging
    def _windows(self, texts: list[str]) -> tuple[list[str], list[int], set[int]]:
        """Split sentences longer than the encoder window into overlapping word windows.

        Returns (pieces, owner index of each piece, indices of split sentences). The tagger works per
        sentence, so only run-on "sentences" (tables, lists without full stops) ever need this.
        """
        if not isinstance(self.tagger, SentenceTagger) or not texts:  # other taggers window for themselves
            return list(texts), list(range(len(texts))), set()
        tok, spec = self.tagger.tokenizer, self.tagger.config.encoder
        max_len = int(spec.max_length)
        prepared = self.tagger.encoder.prepare(texts)
        lengths = [
            len(ids)
            for ids in tok(prepared, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        ]
        long = [i for i, n in enumerate(lengths) if n > max_len]
        if not long:
            return list(texts), list(range(len(texts))), set()
        prefix_len = len(tok(spec.prefix, add_special_tokens=False)["input_ids"]) if spec.prefix else 0
        budget = max(8, max_len - 2 - prefix_len - _WINDOW_MARGIN)
        pieces: list[str] = []
        owners: list[int] = []
        long_set = set(long)
        for i, text in enumerate(texts):
            if i not in long_set:
                pieces.append(text)
                owners.append(i)
                continue
            words = normalize_sentence(text).split(" ")
            counts = [len(ids) for ids in tok(words, add_special_tokens=False)["input_ids"]]
            for w in _pack_windows(counts, budget):
                pieces.append(" ".join(words[w[0] : w[1]]))
                owners.append(i)
        return pieces, owners, long_set

    def _tag(self, texts: list[str], groups: list[int] | None = None, tap: int | None = None):
        """Tag sentences; over-long ones are windowed and their scores max-pooled.

        `groups` (article of each sentence) lets taggers trained with article context see it. Returns the
        SentenceResults and, with `tap`, each sentence's vector after `tap` encoder layers (the first
        window's for a windowed sentence), else None.
        """
        if not texts:
            return [], None
        pieces, owners, split = self._windows(texts)
        piece_groups = [groups[o] for o in owners] if groups is not None else None
        vectors = None
        if tap is None:
            probs = self.tagger.predict_proba(pieces, batch_size=self.batch_size, groups=piece_groups)
        else:
            probs, vectors = self.tagger.predict_proba(pieces, self.batch_size, piece_groups, tap=tap)
        if split:
            pooled = np.full((len(texts), probs.shape[1]), -np.inf, dtype=np.float32)
            np.maximum.at(pooled, np.asarray(owners), probs)
            probs = pooled
            if vectors is not None:
                first = {o: j for j, o in reversed(list(enumerate(owners)))}
                vectors = vectors[[first[i] for i in range(len(texts))]]
        preds = self.tagger.decide(probs)
        n_windows = np.bincount(np.asarray(owners), minlength=len(texts))
        out = [
            SentenceResult(text, list(p.labels), dict(p.scores), i)
            for i, (text, p) in enumerate(zip(texts, preds, strict=True))
        ]
        for i in split:
            out[i].warnings.append(
                f"sentence longer than the encoder window ({self.tagger.config.encoder.max_length} tokens):"
                f" tagged in {int(n_windows[i])} overlapping windows, scores max-pooled"
            )
        return out, vectors

    def _tag_articles(self, articles: Sequence[Article], tap: int | None = None):
        """Tag the body sentences of each article, read in their article (title first), in one batch.

        Returns the SentenceResults of each article and, with `tap` (see `_tag`), each article's
        `(title vector or None, sentence vectors)` for the summariser, else None."""
        flat: list[str] = []
        groups: list[int] = []
        keep: list[bool] = []
        for i, art in enumerate(articles):
            title = [art.title] if art.title and art.sentences else []
            for k, text in enumerate(title + list(art.sentences)):
                flat.append(text)
                groups.append(i)
                keep.append(k >= len(title))
        results, vectors = self._tag(flat, groups, tap)
        tagged = [s for s, k in zip(results, keep, strict=True) if k]
        out, pos = [], 0
        for art in articles:
            sents = tagged[pos : pos + len(art.sentences)]
            pos += len(art.sentences)
            for j, s in enumerate(sents):
                s.index = j
            out.append(sents)
        return out, None if vectors is None else _split_vectors(vectors, articles)

    def _summary_vectors(self, articles: Sequence[Article], tagged) -> list[tuple[Any, Any] | None]:
        """Each article's (title vector or None, sentence vectors) from the summariser's own encoder, in one
        batch: its summary and its per-topic summaries all reuse them. Only the sentences the summariser
        can read are encoded: the first `max_article_sentences`, and the tagged ones when `tagged` (the
        SentenceResults of each article) is given for topic summaries; the other rows stay zero.
        None for other summariser types."""
        if not isinstance(self.summarizer, ExtractiveSummarizer):
            return [None] * len(articles)
        keep: list[list[int]] = []
        texts: list[str] = []
        for i, art in enumerate(articles):
            rows = set(self.summarizer.leading_rows([normalize_sentence(t) for t in art.sentences]))
            keep.append(sorted(rows | ({s.index for s in tagged[i] if s.labels} if tagged else set())))
            if art.sentences:
                texts += ([art.title] if art.title else []) + [art.sentences[j] for j in keep[-1]]
        return _split_vectors(self.summarizer.embed(texts), articles, keep)

    @staticmethod
    def _sentence_list(sentences: str | Sequence[str]) -> tuple[bool, list[str]]:
        single = isinstance(sentences, str)
        items = [sentences] if single else list(sentences)
        for i, s in enumerate(items):
            if not isinstance(s, str):
                raise TypeError(f"sentence {i} is {type(s).__name__}, expected str")
        return single, [normalize_sentence(s) for s in items]

    def tag_sentences(self, sentences: str | Sequence[str]) -> SentenceResult | list[SentenceResult]:
        """Tag one sentence (→ SentenceResult) or a list (→ list, `.index` = position in the list),
        each judged alone; use `tag_article` for the sentences of one article."""
        single, items = self._sentence_list(sentences)
        results, _ = self._tag(items)
        return results[0] if single else results

    def tag_article(self, sentences: Sequence[str]) -> list[SentenceResult]:
        """Tag one article given as its sentences in order (sentence 0 = the title), each read in its
        article as annotators read it."""
        if isinstance(sentences, str):
            raise TypeError("tag_article takes the article's sentences as a list; pipe(text) takes raw text")
        _, items = self._sentence_list(sentences)
        return self._tag(items, [0] * len(items))[0]

    # ------------------------------------------------------------------ summarising
    def _summarize(
        self, article: Article, vectors=None, candidates: list[int] | None = None, what: str = "article"
    ) -> Summary:
        """One summary; `vectors` = the article's (title vector, sentence vectors) when already encoded."""
        if not article.sentences:
            return Summary(text="", sentence_indices=[], warnings=["empty article: nothing to summarise"])
        if candidates is not None and not candidates:
            return Summary(text="", sentence_indices=[], warnings=[f"no sentence tagged {what}"])
        extra: dict[str, Any] = {}
        paragraphs = article.paragraphs
        if paragraphs and _accepts_keyword(self.summarizer.summarize, "paragraphs"):
            # the page layout lets the summariser keep unmarked photo captions out
            extra["paragraphs"] = paragraphs
        if vectors is not None:
            extra["title_embedding"], extra["embeddings"] = vectors
        return self.summarizer.summarize(
            article.sentences,
            title=article.title or "",
            candidates=candidates,
            max_sentences=self.max_sentences,
            max_words=self.max_words,
            **extra,
        )

    def summarize(self, article: str | Article, topic: str | None = None) -> Summary:
        """Summary of an article; with `topic`, built only from sentences tagged with that topic."""
        if topic is not None and topic not in self.labels:
            raise ValueError(f"unknown topic {topic!r}; choose from {', '.join(self.labels)}")
        art = self.ingest(article)
        if topic is None:
            return self._summarize(art)
        (tags,), vectors = self._tag_articles([art], self.shared_layers())
        candidates = [s.index for s in tags if topic in s.labels]
        return self._summarize(art, vectors[0] if vectors else None, candidates, what=topic)

    # ------------------------------------------------------------------ articles
    def process(
        self, articles: Sequence[Article], topic_summaries: bool | None = None
    ) -> list[ArticleResult]:
        """Tag and summarise cleaned Articles; all their sentences are tagged in one batched pass, each
        read in its article. When the encoder is shared (`shared_layers`) that pass also gives the
        summariser its sentence vectors."""
        topic_summaries = self.topic_summaries if topic_summaries is None else topic_summaries
        tagged, vectors = self._tag_articles(articles, self.shared_layers())
        if vectors is None:
            vectors = self._summary_vectors(articles, tagged if topic_summaries else None)
        summ = self.summarizer
        cap = summ.config.max_article_sentences if isinstance(summ, ExtractiveSummarizer) else None
        results = []
        for art, sents, vecs in zip(articles, tagged, vectors, strict=True):
            counts = {lab: sum(lab in s.labels for s in sents) for lab in self.labels}
            warnings = [w for w in art.meta.get("warnings", []) if isinstance(w, str)]
            if not sents:
                warnings.append("empty article: no sentences left after cleaning")
            if cap is not None and len(sents) > cap:
                warnings.append(
                    f"long article: all {len(sents)} sentences are tagged, but the summary is chosen from the "
                    f"first {cap} (summariser limit)"
                )
            n_split = sum(bool(s.warnings) for s in sents)
            if n_split:
                warnings.append(f"{n_split} over-long sentence(s) tagged in windows (scores max-pooled)")
            summary = self._summarize(art, vecs)
            topics: dict[str, Summary] = {}
            if topic_summaries:
                for lab in self.labels:
                    candidates = [s.index for s in sents if lab in s.labels]
                    topics[lab] = self._summarize(art, vecs, candidates, what=lab)
            results.append(
                ArticleResult(
                    id=str(art.id),
                    title=art.title or "",
                    sentences=sents,
                    summary=summary,
                    topic_counts=counts,
                    topic_summaries=topics,
                    removed=list(art.removed),
                    warnings=warnings + list(summary.warnings),
                    source=art.source,
                    meta={k: v for k, v in art.meta.items() if k != "warnings"},
                )
            )
        return results

    def iter_process(
        self, articles: Iterable[Article], chunk_size: int = 32, topic_summaries: bool | None = None
    ) -> Iterator[ArticleResult]:
        """Stream results for an iterable of Articles, `chunk_size` articles at a time (flat memory)."""
        chunk: list[Article] = []
        for art in articles:
            chunk.append(art)
            if len(chunk) >= chunk_size:
                yield from self.process(chunk, topic_summaries)
                chunk = []
        if chunk:
            yield from self.process(chunk, topic_summaries)

    def __call__(
        self, articles: str | Article | Sequence[str | Article], topic_summaries: bool | None = None
    ) -> ArticleResult | list[ArticleResult]:
        """One article (raw text or Article) → ArticleResult; a list → a list, batched inside."""
        single = isinstance(articles, str | Article)
        items = [articles] if single else list(articles)
        arts = [self.ingest(item, id=str(i)) for i, item in enumerate(items)]
        results = self.process(arts, topic_summaries)
        return results[0] if single else results


def _split_vectors(vectors, articles: Sequence[Article], rows=None) -> list[tuple[Any, Any] | None]:
    """Cut vectors of consecutive articles (title first when there is one and the article has sentences)
    into each article's (title vector or None, sentence vectors); None for an article without sentences.
    `rows` (the sentence indices encoded, per article) when not every sentence was: the others get zeros."""
    out: list[tuple[Any, Any] | None] = []
    pos = 0
    for i, art in enumerate(articles):
        if not art.sentences:
            out.append(None)
            continue
        title = None
        if art.title:
            title, pos = vectors[pos], pos + 1
        n = len(art.sentences) if rows is None else len(rows[i])
        sents, pos = vectors[pos : pos + n], pos + n
        if rows is not None:
            full = sents.new_zeros((len(art.sentences), sents.shape[1]))
            full[rows[i]] = sents
            sents = full
        out.append((title, sents))
    return out


def _accepts_keyword(fn, name: str) -> bool:
    """Whether callable `fn` takes keyword `name` (custom duck-typed summarisers may not)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _pack_windows(counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Greedy word windows of at most `budget` tokens, each overlapping the previous by about a quarter."""
    n = len(counts)
    windows: list[tuple[int, int]] = []
    start = 0
    while start < n:
        end, used = start, 0
        while end < n and (used + counts[end] <= budget or end == start):
            used += counts[end]
            end += 1
        windows.append((start, end))
        if end >= n:
            break
        # Step back so about a quarter of the window is shared with the next one.
        back, overlap = end, 0
        while back - 1 > start and overlap + counts[back - 1] <= budget // 4:
            back -= 1
            overlap += counts[back]
        start = back
    return windows
