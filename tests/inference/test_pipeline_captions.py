"""The pipeline hands the page layout (Article.paragraphs) to summarisers that take it, and only to those."""

from __future__ import annotations

import numpy as np

from dangtopic import LABELS
from dangtopic.data.article import Article
from dangtopic.inference.pipeline import Pipeline, Summary


class _Tagger:
    labels = LABELS

    def predict_proba(self, texts, batch_size=64, groups=None):
        return np.full((len(texts), len(LABELS)), 0.1, dtype=np.float32)

    def decide(self, probs):
        from dangtopic.models.tagger import TagPrediction

        return [TagPrediction(labels=[], scores=dict.fromkeys(LABELS, 0.1)) for _ in probs]


class _LayoutSummarizer:
    def __init__(self):
        self.seen = []

    def summarize(
        self, sentences, title="", candidates=None, max_sentences=None, max_words=None, paragraphs=None
    ):
        self.seen.append(paragraphs)
        return Summary(sentences[0], [0], [])


class _OldSummarizer:
    def summarize(self, sentences, title="", candidates=None, max_sentences=None, max_words=None):
        return Summary(sentences[0], [0], [])


ART = Article("a", "t", ["Câu một.", "Câu hai.", "Câu ba."], paragraphs=[0, 0, 1])


def test_paragraphs_reach_a_summarizer_that_takes_them():
    summ = _LayoutSummarizer()
    Pipeline(_Tagger(), summ, topic_summaries=False).process([ART, Article("b", "t", ["Câu."])])
    assert summ.seen == [[0, 0, 1], None]


def test_summarizer_without_the_keyword_still_works():
    res = Pipeline(_Tagger(), _OldSummarizer(), topic_summaries=False).process([ART])
    assert res[0].summary.text == "Câu một."
