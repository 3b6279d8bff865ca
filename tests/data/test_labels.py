"""Hand-label loading, matching keys, the article-level split and the committed label files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dangtopic import LABELS
from dangtopic.data.labels import (
    LABELS_DIR,
    SPLIT_FILE,
    LabelledSentence,
    apply_split,
    article_groups,
    canonical_tones,
    default_labels_file,
    hand_label_files,
    labelled_articles,
    labels_to_vector,
    load_hand_labels,
    load_labelled,
    load_split,
    make_split,
    sentence_key,
    split_articles,
    split_by_article,
)


def _write(path: Path, rows: list) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
        encoding="utf-8",
    )
    return path


def test_load_labelled_parses_and_normalises(tmp_path):
    p = _write(
        tmp_path / "l.jsonl",
        [
            {"id": "train/000001#0", "text": "  Kết nạp   đảng viên ", "labels": ["training", "membership"]},
            {"id": "train/000001#3", "text": "Khác.", "labels": [], "source": "someone"},
            "",
        ],
    )
    items = load_labelled(p)
    assert [it.id for it in items] == ["train/000001#0", "train/000001#3"]
    first = items[0]
    assert (first.article_id, first.index, first.text) == ("train/000001", 0, "Kết nạp đảng viên")
    assert first.labels == ["membership", "training"]  # LABELS order
    assert first.source == "shared-hand" and items[1].source == "someone"
    assert load_labelled(p, source="x")[0].source == "x"


@pytest.mark.parametrize(
    "bad, msg",
    [
        ({"id": "a#0", "text": "x", "labels": ["politics"]}, "unknown label"),
        ({"id": "no-index", "text": "x", "labels": []}, "sentence id"),
        ({"id": "a#0", "text": "   ", "labels": []}, "empty text"),
        ({"id": "a#0", "text": "x"}, "missing field"),
        ({"id": "a#0", "text": "x", "labels": "membership"}, "list of strings"),
        ('{"id": "a#0", "text": ', "line 2"),
    ],
)
def test_load_labelled_rejects_bad_records_with_file_and_line(tmp_path, bad, msg):
    p = _write(tmp_path / "l.jsonl", [{"id": "ok#0", "text": "x", "labels": []}, bad])
    with pytest.raises(ValueError, match=msg) as e:
        load_labelled(p)
    assert f"{p}:2" in str(e.value)


def test_load_labelled_rejects_duplicate_ids_and_missing_file(tmp_path):
    row = {"id": "a#0", "text": "x", "labels": []}
    with pytest.raises(ValueError, match="duplicate"):
        load_labelled(_write(tmp_path / "d.jsonl", [row, row]))
    with pytest.raises(FileNotFoundError):
        load_labelled(tmp_path / "missing.jsonl")


def test_default_labels_file_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DANGTOPIC_LABELS", str(tmp_path))
    assert default_labels_file() == tmp_path / "sentences_labelled.jsonl"
    monkeypatch.setenv("DANGTOPIC_LABELS", str(tmp_path / "other.jsonl"))
    assert default_labels_file() == tmp_path / "other.jsonl"


def test_labels_to_vector():
    assert labels_to_vector([]) == [0, 0, 0, 0]
    assert labels_to_vector(["training", "membership"]) == [1, 0, 0, 1]
    assert labels_to_vector(LABELS) == [1, 1, 1, 1]
    with pytest.raises(ValueError):
        labels_to_vector(["politics"])


def test_canonical_tones_and_sentence_key():
    assert canonical_tones("Uỷ ban, hoà bình, khoẻ, thuỷ") == "Ủy ban, hòa bình, khỏe, thủy"
    assert canonical_tones("hoàn thành") == "hoàn thành"  # the diphthong is not word-final
    same = [
        "Uỷ ban Kiểm tra Tỉnh uỷ kỷ luật 3 đảng viên .",
        "ủy ban kiểm tra tỉnh ủy kỷ luật 3 đảng viên",
        "Uỷ_ban Kiểm_tra Tỉnh_uỷ kỷ_luật 3 đảng_viên .",
    ]
    assert len({sentence_key(s) for s in same}) == 1
    assert sentence_key(same[0]) != sentence_key("Uỷ ban Kiểm tra Tỉnh uỷ kỷ luật 4 đảng viên.")


def _synthetic(n_articles: int = 40) -> list[LabelledSentence]:
    """Articles with a few rare-label ones (membership, training), like the real hand labels."""
    items = []
    for a in range(n_articles):
        aid = f"train/{a:06d}"
        for k in range(6):
            labels = []
            if a % 9 == 0 and k < 2:
                labels = ["membership"]
            elif a % 11 == 1 and k == 0:
                labels = ["training"]
            elif a % 3 == 0:
                labels = ["inspection"]
            elif a % 4 == 0:
                labels = ["restructuring"]
            items.append(
                LabelledSentence(
                    f"{aid}#{k}", aid, k, f"Câu số {k} của bài {a} về chủ đề số {a * 7 + k}.", labels
                )
            )
    return items


def test_split_by_article_is_disjoint_deterministic_and_stratified():
    items = _synthetic()
    train, dev, test = split_by_article(items, 0.15, 0.25, seed=3)
    arts = [{it.article_id for it in part} for part in (train, dev, test)]
    assert not (arts[0] & arts[1] or arts[0] & arts[2] or arts[1] & arts[2])
    assert len(train) + len(dev) + len(test) == len(items)
    for part in (train, dev, test):
        got = Counter(lab for it in part for lab in it.labels)
        assert got["membership"] > 0 and got["training"] > 0, got
    assert split_articles(items, 0.15, 0.25, seed=3) == split_articles(items, 0.15, 0.25, seed=3)
    assert len(arts[0]) > len(arts[2]) > len(arts[1])  # roughly 60 / 25 / 15


def test_split_keeps_articles_sharing_a_sentence_together():
    items = _synthetic(12)
    shared = "Một câu dài được đăng lại nguyên văn ở hai bài báo khác nhau về công tác cán bộ."
    items.append(LabelledSentence("train/000001#9", "train/000001", 9, shared, []))
    items.append(LabelledSentence("train/000002#9", "train/000002", 9, shared, []))
    assert ["train/000001", "train/000002"] in article_groups(items)
    for seed in range(5):
        split = split_articles(items, 0.2, 0.3, seed)
        part = {aid: p for p, ids in split.items() for aid in ids}
        assert part["train/000001"] == part["train/000002"]


def test_split_rejects_bad_fractions_and_unknown_articles():
    items = _synthetic(10)
    with pytest.raises(ValueError):
        split_articles(items, 0.6, 0.5)
    with pytest.raises(ValueError, match="no split part"):
        apply_split(items, {"train": [], "dev": [], "test": []})


def test_load_split_detects_overlap(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"train": ["a"], "dev": ["a"], "test": []}))
    with pytest.raises(ValueError, match="both"):
        load_split(p)


def test_split_gives_dev_and_test_min_positives_of_every_label():
    items = _synthetic()
    totals = Counter(lab for it in items for lab in it.labels)
    plain = split_articles(items, 0.15, 0.15, seed=1)
    floor = split_articles(items, 0.15, 0.15, seed=1, min_positives=10)
    for part in ("dev", "test"):
        ids = set(floor[part])
        got = Counter(lab for it in items if it.article_id in ids for lab in it.labels)
        for lab in LABELS:
            # a label too rare to give each part min_positives gets at most a third of it
            assert got[lab] >= min(10, totals[lab] // 3) - 2, (part, lab, got, totals)
    assert plain != floor


def test_committed_split_file_is_well_formed():
    split = load_split(SPLIT_FILE)
    assert split["version"] == "v2" and set(split["fractions"]) == {"train", "dev", "test"}
    for part in ("dev", "test"):
        for lab in LABELS:
            assert split["counts"][part][lab] >= split["min_positives"] == 40


def test_committed_split_matches_shared_hand_labels():
    if not all(p.exists() for p in hand_label_files()):
        pytest.skip("shared hand labels not available")
    items = load_hand_labels()
    split = load_split()
    train, dev, test = apply_split(items, split)  # raises if an article is missing
    assert len(train) + len(dev) + len(test) == len(items)
    regenerated = make_split(
        items, split["fractions"]["dev"], split["fractions"]["test"], split["seed"], min_positives=40
    )
    assert {p: regenerated[p] for p in ("train", "dev", "test")} == {
        p: split[p] for p in ("train", "dev", "test")
    }


def test_load_hand_labels_reads_every_file_and_rejects_an_id_in_two(tmp_path):
    a = _write(tmp_path / "a.jsonl", [{"id": "train/1#0", "text": "Câu một.", "labels": [], "source": "r2"}])
    b = _write(tmp_path / "b.jsonl", [{"id": "train/2#0", "text": "Câu hai.", "labels": ["training"]}])
    items = load_hand_labels([a, b])
    assert [(it.id, it.source) for it in items] == [("train/1#0", "r2"), ("train/2#0", "shared-hand")]
    with pytest.raises(ValueError, match="in both"):
        load_hand_labels([a, a])


def _ls(aid: str, k: int, text: str, labels=(), source="round2-excerpt") -> LabelledSentence:
    return LabelledSentence(f"{aid}#{k}", aid, k, text, list(labels), source)


def test_labelled_articles_fill_excerpt_gaps_from_the_full_text():
    full = {"train/7": ["Tiêu đề.", "Câu A.", "Câu B.", "Câu C.", "Câu D.", "Câu E."]}
    # an excerpt: positions 0, 3 and 4 labelled; B, C between them and E after them are context
    items = [
        _ls("train/7", 4, "Câu D.", ["inspection"]),
        _ls("train/7", 0, "Tiêu đề."),
        _ls("train/7", 3, "Câu C."),
    ]
    (art,) = labelled_articles(items, full)
    assert art.sentences == ["Tiêu đề.", "Câu A.", "Câu B.", "Câu C.", "Câu D.", "Câu E."]
    assert art.labels == [[], None, None, [], ["inspection"], None]
    assert art.n_labelled == 3
    # without the full text an excerpt is read as its labelled sentences only
    (bare,) = labelled_articles(items)
    assert bare.sentences == ["Tiêu đề.", "Câu C.", "Câu D."]


def test_labelled_articles_anchor_on_matching_sentences_when_splits_differ():
    # annotators split "TP. HCM ..." into two sentences where the corpus has one; the gap after it must
    # still be filled with the corpus sentence that really lies there
    full = {"train/8": ["Tiêu đề.", "Ở TP. HCM có họp.", "Câu giữa.", "Câu cuối."]}
    items = [
        _ls("train/8", 0, "Tiêu đề.", source="round2-article"),
        _ls("train/8", 1, "Ở TP.", source="round2-article"),
        _ls("train/8", 2, "HCM có họp.", source="round2-article"),
        _ls("train/8", 4, "Câu cuối.", ["restructuring"], source="round2-article"),
    ]
    (art,) = labelled_articles(items, full)
    assert art.sentences == ["Tiêu đề.", "Ở TP.", "HCM có họp.", "Câu giữa.", "Câu cuối."]
    assert art.labels == [[], [], [], None, ["restructuring"]]


@pytest.mark.parametrize("name", ["seeds_labelled.jsonl", "extra_labelled.jsonl"])
def test_committed_label_files_load(name):
    items = load_labelled(LABELS_DIR / name)
    assert items and all(it.source.startswith("dangtopic-dev-llm") for it in items)
    counts = Counter(lab for it in items for lab in it.labels)
    assert counts["membership"] >= 20 and counts["training"] >= 10
    if name.startswith("seeds"):
        assert all(it.article_id.startswith("seed/") for it in items)
        assert len({it.article_id for it in items}) == 5


def test_extra_labels_avoid_hand_labelled_articles():
    if not all(p.exists() for p in hand_label_files()):
        pytest.skip("shared hand labels not available")
    hand = load_hand_labels()
    hand_articles = {it.article_id for it in hand}
    hand_keys = {sentence_key(it.text) for it in hand}
    extra = load_labelled(LABELS_DIR / "extra_labelled.jsonl")
    assert not {it.article_id for it in extra} & hand_articles
    # a few extra sentences recur in round-2 articles (republished); training drops those in dev/test
    # articles (train_tagger.train), and none is in a test article
    split = load_split()
    test_keys = {sentence_key(it.text) for it in hand if it.article_id in set(split["test"])}
    assert not {sentence_key(it.text) for it in extra} & test_keys
    assert len({sentence_key(it.text) for it in extra} & hand_keys) <= 5
    assert all(it.article_id.startswith("train/") for it in extra)
