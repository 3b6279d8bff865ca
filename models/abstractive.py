"""Optional abstractive summariser: any Hugging Face seq2seq checkpoint (ViT5, BARTpho, mT5) by config.

Generation settings are explicit in `AbstractiveConfig`. A generated summary can invent figures, so
every number in it is checked against the article (`unsupported_numbers`) and flagged in
`Summary.warnings` when the article does not contain it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dangtopic.data.article import Article
from dangtopic.data.text import normalize_sentence, normalize_text
from dangtopic.models.config import from_dict, to_dict
from dangtopic.models.summarizer import Summary

KIND = "abstractive-summarizer"
CONFIG_FILE = "dangtopic_abstractive.json"

# A number: digits with optional `.`/`,` groups (1.000 / 1,5 / 3.787.000), an optional percent sign.
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?:\s?%)?")


@dataclass
class AbstractiveConfig:
    """Which checkpoint to run and how to decode."""

    model: str = "VietAI/vit5-base-vietnews-summarization"  # hub id or local folder
    prefix: str = ""  # e.g. "vietnews: " for ViT5 VietNews checkpoints
    word_segment: bool = False  # BARTpho-word expects underthesea word segmentation
    max_input_length: int = 1024
    num_beams: int = 4
    max_new_tokens: int = 128
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 3
    length_penalty: float = 1.0
    early_stopping: bool = True
    batch_size: int = 4
    flag_unsupported_numbers: bool = True

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model must name a seq2seq checkpoint (hub id or folder)")
        if self.num_beams < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("num_beams, max_new_tokens and batch_size must be >= 1")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError("min_new_tokens must be in [0, max_new_tokens]")
        if self.no_repeat_ngram_size < 0 or self.max_input_length < 8:
            raise ValueError("no_repeat_ngram_size must be >= 0 and max_input_length >= 8")

    def generation_kwargs(self) -> dict[str, Any]:
        return {
            "num_beams": self.num_beams,
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "length_penalty": self.length_penalty,
            "early_stopping": self.early_stopping,
            "do_sample": False,
        }


# ------------------------------------------------------------------------------------- number check


def _is_grouped(parts: list[str]) -> bool:
    """Thousands groups: every part after the first has exactly three digits."""
    return len(parts) > 1 and all(len(p) == 3 for p in parts[1:])


def _interpret(body: str, thousands: str, decimal: str) -> str | None:
    """Value of `body` under one convention (thousands/decimal separators), or None if it does not parse."""
    if body.count(decimal) > 1:
        return None
    whole, _, frac = body.partition(decimal)
    if decimal in body and thousands in frac:
        return None
    groups = whole.split(thousands)
    if len(groups) > 1 and not _is_grouped(groups):
        return None
    try:
        value = Decimal("".join(groups) + ("." + frac if frac else ""))
    except InvalidOperation:
        return None
    value = value.normalize()
    return format(value, "f")


def number_values(token: str) -> set[str]:
    """Canonical values a written number can mean (Vietnamese `1.000,5` and English `1,000.5` conventions).

    `1.000` → {1000, 1}; `1,5` → {1.5}; `1.5%` → {1.5}; `3.787` → {3787, 3.787}."""
    body = token.replace("%", "").strip()
    values = {v for v in (_interpret(body, ".", ","), _interpret(body, ",", ".")) if v is not None}
    return values or {body}


def find_numbers(text: str) -> list[str]:
    """Numbers as written in `text` (NFC, spaces before `%` folded)."""
    return [m.group(0).replace(" ", "") for m in _NUMBER.finditer(normalize_text(text))]


def unsupported_numbers(summary: str, article: str | list[str] | Article) -> list[str]:
    """Numbers of `summary` that the article does not contain (under any thousands/decimal convention).

    Returned as written in the summary, first occurrence order, without repeats."""
    if isinstance(article, Article):
        text = " ".join([article.title, *article.sentences])
    elif isinstance(article, list | tuple):
        text = " ".join(article)
    else:
        text = article
    known: set[str] = set()
    for tok in find_numbers(text):
        known |= number_values(tok)
    out: list[str] = []
    for tok in find_numbers(summary):
        if not number_values(tok) & known and tok not in out:
            out.append(tok)
    return out


# -------------------------------------------------------------------------------------------- model


class AbstractiveSummarizer:
    """Seq2seq summariser with explicit decoding settings and a number-faithfulness check."""

    def __init__(self, config: AbstractiveConfig, model, tokenizer) -> None:
        self.config = config
        self.model = model
        self.tokenizer = tokenizer
        self.model.eval()

    @classmethod
    def from_pretrained(
        cls, source: str | Path | AbstractiveConfig | None = None, **overrides
    ) -> AbstractiveSummarizer:
        """Load from a folder saved by `save_pretrained`, a checkpoint name/path, or an `AbstractiveConfig`.
        Keyword overrides are `AbstractiveConfig` fields."""
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        if isinstance(source, AbstractiveConfig):
            data = to_dict(source)
        else:
            data = to_dict(AbstractiveConfig())
            if source is not None:
                folder = Path(source)
                saved = folder / CONFIG_FILE
                if saved.exists():
                    meta = json.loads(saved.read_text(encoding="utf-8"))
                    if meta.get("kind") != KIND:
                        raise ValueError(f"{folder} holds a {meta.get('kind')!r}, not an {KIND}")
                    data = dict(meta["config"])
                data["model"] = str(source)
        data.update(overrides)
        config = from_dict(AbstractiveConfig, data)
        tokenizer = AutoTokenizer.from_pretrained(config.model)
        model = AutoModelForSeq2SeqLM.from_pretrained(config.model)
        return cls(config, model, tokenizer)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write the checkpoint, tokenizer and the decoding config."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        meta = {"kind": KIND, "config": to_dict(self.config)}
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        return folder

    def _source(self, sentences: list[str], title: str) -> str:
        text = " ".join(s for s in (normalize_sentence(x) for x in sentences) if s)
        if self.config.word_segment:
            from underthesea import word_tokenize

            text = word_tokenize(text, format="text")
        return self.config.prefix + text

    def _generate(self, sources: list[str]) -> list[str]:
        import torch

        batch = self.tokenizer(
            sources,
            truncation=True,
            max_length=self.config.max_input_length,
            padding=True,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                **self.config.generation_kwargs(),
            )
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        # Word-segmented checkpoints write `Đà_Nẵng`: undo it so outputs read like the extractive ones.
        return [normalize_sentence(t.replace("_", " ") if self.config.word_segment else t) for t in texts]

    def _check(self, text: str, sentences: list[str], title: str) -> list[str]:
        if not self.config.flag_unsupported_numbers:
            return []
        bad = unsupported_numbers(text, [title, *sentences])
        return [f"numbers not in the article: {', '.join(bad)}"] if bad else []

    def summarize(self, sentences: list[str], title: str = "") -> Summary:
        """Generate a summary of one article (`sentence_indices` stays empty: nothing is copied)."""
        if not [s for s in sentences if s and s.strip()]:
            return Summary("", [], ["empty article"])
        text = self._generate([self._source(sentences, title)])[0]
        return Summary(text, [], self._check(text, sentences, title))

    def predict(self, articles: Article | list[Article]) -> Summary | list[Summary]:
        """Summarise one Article or a list (generated in batches of `batch_size`)."""
        single = isinstance(articles, Article)
        items = [articles] if single else list(articles)
        results: list[Summary | None] = [None] * len(items)
        todo = []
        for i, a in enumerate(items):
            if not isinstance(a, Article):
                results[i] = Summary("", [], [f"error: expected an Article, got {type(a).__name__}"])
            elif not [s for s in a.sentences if s and s.strip()]:
                results[i] = Summary("", [], ["empty article"])
            else:
                todo.append(i)
        bs = self.config.batch_size
        for start in range(0, len(todo), bs):
            chunk = todo[start : start + bs]
            texts = self._generate([self._source(items[i].sentences, items[i].title) for i in chunk])
            for i, text in zip(chunk, texts, strict=True):
                results[i] = Summary(text, [], self._check(text, items[i].sentences, items[i].title))
        return results[0] if single else results  # type: ignore[return-value]


__all__ = [
    "AbstractiveConfig",
    "AbstractiveSummarizer",
    "find_numbers",
    "number_values",
    "unsupported_numbers",
]
