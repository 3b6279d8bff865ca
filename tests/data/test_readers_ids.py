"""Unique ids over a long stream are kept compactly (flat-ish memory on 100k-record inputs)."""

import tracemalloc

from dangtopic.data.readers import _FingerprintSet, _Ids


def test_fingerprint_set_membership_and_growth():
    s = _FingerprintSet()
    words = [f"bai-{i}" for i in range(5000)]
    for w in words:
        s.add(w)
    s.add(words[0])  # again: no change
    assert len(s) == 5000
    assert all(w in s for w in words)
    assert not any(f"khac-{i}" in s for i in range(5000))
    assert 42 not in s and "" not in s


def test_ids_stay_unique_and_compact():
    tracemalloc.start()
    try:
        ids = _Ids()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            ids.claim(f"https://baomoi.example.vn/tin-tuc/dang-bo-ket-nap-dang-vien-{i}.html")
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # A set of these strings takes ~150 bytes an id; the fingerprint table at most 32.
    assert used < 32 * 20_000, used
    assert ids.claim("x") == "x" and ids.claim("x") == "x~2" and ids.claim("x", "y") == "y"
    assert ids.claim("x", "y") == "y~2"
