"""The record every downstream component consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Article:
    """A cleaned article: title, body sentences, and the page furniture removed from it.

    `paragraphs[i]` is the page paragraph of `sentences[i]` (consecutive equal ids form one paragraph);
    empty when the layout is unknown. The summariser uses it to keep unmarked photo captions out."""

    id: str
    title: str
    sentences: list[str]
    removed: list[str] = field(default_factory=list)
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    paragraphs: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        return cls(**d)
