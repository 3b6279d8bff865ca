"""Article ingestion: readers, cleaning, sentence splitting, the VNDS corpus and label sets."""

from dangtopic.data.article import Article
from dangtopic.data.text import detokenize_vnds, normalize_text

__all__ = ["Article", "detokenize_vnds", "normalize_text"]
