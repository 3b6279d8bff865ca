"""dangtopic: topic tagging and summarisation of Vietnamese Party-building news.

>>> from dangtopic import Pipeline
>>> pipe = Pipeline.from_pretrained()
>>> result = pipe(article_text)
"""

from __future__ import annotations

__version__ = "0.1.0"

LABELS: tuple[str, ...] = ("membership", "inspection", "restructuring", "training")

__all__ = ["LABELS", "Pipeline", "ArticleResult", "Summary", "SentenceResult", "__version__"]


def __getattr__(name: str):
    # Lazy so that `import dangtopic` (and the CLI) stays cheap: torch loads only when a model is used.
    if name in {"Pipeline", "ArticleResult", "Summary", "SentenceResult"}:
        from dangtopic.inference import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'dangtopic' has no attribute {name!r}")
