"""Comparing output records of two engines or batchings."""

import pytest


def _without_scores(record: dict) -> tuple[dict, list[dict]]:
    sentences = record.get("sentences", [])
    return {**record, "sentences": [{k: v for k, v in s.items() if k != "scores"} for s in sentences]}, [
        s["scores"] for s in sentences
    ]


def assert_same_records(got: list[dict], want: list[dict], tol: float = 1e-4) -> None:
    """Equal records, scores within `tol`: other batchings pad sentences otherwise (float noise); labels,
    summaries, ids, errors and everything else must be identical."""
    assert [r["id"] for r in got] == [r["id"] for r in want]
    for a, b in zip(got, want, strict=True):
        (ra, sa), (rb, sb) = _without_scores(a), _without_scores(b)
        assert ra == rb
        for x, y in zip(sa, sb, strict=True):
            assert x == pytest.approx(y, abs=tol)
