"""The weak-label builder on a tiny in-memory corpus (no ../shared needed) and its config validation."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dangtopic import LABELS
from dangtopic.data.labels import LabelledSentence, sentence_key
from dangtopic.models.config import ConfigError, load_config
from dangtopic.training import weak_supervision as ws
from dangtopic.training.weak_supervision import (
    DEFAULT_CONFIG,
    HandData,
    SelectConfig,
    Selector,
    WeakLabelsConfig,
    build_weak_labels,
    format_report,
    save_dataset,
)

PARTY = [
    "Đảng bộ huyện đã kết nạp mới 120 đảng viên, nâng tổng số lên 3.000 đảng viên",
    "Ủy ban kiểm tra Huyện ủy thi hành kỷ luật khiển trách hai đảng viên vi phạm",
    "Huyện thực hiện sắp xếp tổ chức bộ máy tinh gọn, giảm 5 đầu mối và tinh giản 20 biên chế",
    "Huyện ủy cử 30 cán bộ đi học trung cấp lý luận chính trị và mở lớp bồi dưỡng nghiệp vụ",
    "Ngày hội văn hóa thu hút đông đảo người dân tham gia",
    "Thời tiết thuận lợi giúp nông dân thu hoạch lúa sớm",
]


def _record(aid: str, title: str, body: list[str], abstract: str = "") -> dict:
    # VNDS raw format: word-segmented with underscores, paragraphs of sentences.
    seg = [s.replace("Đảng bộ", "Đảng_bộ").replace("đảng viên", "đảng_viên") + " ." for s in body]
    return {"id": aid, "title": title, "abstract": abstract or body[0] + " .", "paragraphs": [seg]}


def _corpus():
    train = []
    for a in range(12):
        body = [f"{s} số {a}" for s in PARTY]
        train.append(_record(f"train/{a:06d}", f"Kết quả công tác xây dựng Đảng số {a}", body))
    # Not Party-related: must not be selected.
    train.append(
        _record("train/000100", "Giá lúa tăng", ["Giá lúa tăng mạnh trong tuần qua", "Nông dân phấn khởi"])
    )
    # A near-duplicate of a held-out (val) article: same title -> whole article dropped.
    train.append(_record("train/000200", "Bài trùng với tập kiểm định", [f"{s} trùng" for s in PARTY]))
    # A hand-labelled dev article: never in the weak set.
    train.append(_record("train/000300", "Bài đánh giá", [f"{s} đánh giá" for s in PARTY]))
    heldout = [
        _record("val/000001", "Bài trùng với tập kiểm định", ["Một câu khác hẳn"]),
        # This exact sentence also occurs in train/000003 and must be dropped there.
        _record("val/000002", "Tin khác", [f"{PARTY[0]} số 3"], abstract="Tóm tắt riêng của tin khác ."),
    ]
    return train, heldout


def _hand() -> HandData:
    def item(aid, k, text, labels):
        return LabelledSentence(f"{aid}#{k}", aid, k, text, labels)

    train = []
    for a in range(6):
        aid = f"train/90000{a}"
        train += [
            item(aid, 0, f"Chi bộ kết nạp {a + 2} đảng viên mới trong quý", ["membership"]),
            item(aid, 1, f"Ủy ban kiểm tra kỷ luật cảnh cáo {a + 1} đảng viên", ["inspection"]),
            item(aid, 2, f"Sáp nhập {a + 2} phòng, giảm đầu mối và biên chế", ["restructuring"]),
            item(aid, 3, f"Mở {a + 1} lớp bồi dưỡng lý luận chính trị cho cán bộ", ["training"]),
            item(aid, 4, f"Học tập nghị quyết được tổ chức nghiêm túc lần {a}", []),
            item(aid, 5, f"Tình hình kinh tế xã hội phát triển ổn định năm {a}", []),
        ]
    dev = [
        item("train/000300", k, f"{s} đánh giá", labs)
        for k, (s, labs) in enumerate(
            zip(PARTY, [["membership"], ["inspection"], ["restructuring"], ["training"], [], []], strict=True)
        )
    ]
    train.append(item("train/999999", 0, f"{PARTY[4]} số 5", []))
    seeds = [item("seed/x", 0, "Thời tiết thuận lợi giúp nông dân thu hoạch lúa sớm số 7", [])]
    return HandData(train=train, dev=dev, test=[], extra=[], seeds=seeds)


def _cfg(**kw) -> WeakLabelsConfig:
    base = {
        "extra_labels": [],
        "seed_labels": [],
        "max_per_label": 100,
        "negatives_ratio": 1.0,
        "min_chars": 10,
        "select": SelectConfig(min_distinct=2),
    }
    base.update(kw)
    return WeakLabelsConfig(**base)


def test_build_weak_labels_end_to_end(tmp_path):
    train, heldout = _corpus()
    rows, report = build_weak_labels(train, heldout, _hand(), _cfg())
    c = report["corpus"]
    assert c["articles_scanned"] == 15
    assert c["articles_selected"] == 14  # the rice-price article is not Party-related
    assert c["articles_dropped_heldout_duplicate"] == 1 and c["articles_dropped_hand_eval"] == 1
    # The sentence copied into val/000002 (as abstract and body of train/000003) and the seed sentence.
    assert c["sentences_dropped_heldout"] == 3
    assert c["sentences_dropped_gold"] == 1  # a hand-labelled TRAIN sentence: its gold label wins
    ids = {r["article_id"] for r in rows}
    assert not ids & {"train/000100", "train/000200", "train/000300"}
    keys = {sentence_key(r["text"]) for r in rows}
    assert sentence_key(f"{PARTY[0]} số 3") not in keys
    assert sentence_key("Thời tiết thuận lợi giúp nông dân thu hoạch lúa sớm số 7") not in keys
    pos = [r for r in rows if r["kind"] == "positive"]
    neg = [r for r in rows if r["kind"] == "negative"]
    assert pos and neg and len(neg) <= len(pos)
    by_label = {lab: [r for r in pos if lab in r["labels"]] for lab in LABELS}
    assert all(by_label[lab] for lab in LABELS), {k: len(v) for k, v in by_label.items()}
    assert all("kết nạp" in r["text"] for r in by_label["membership"])
    for r in pos:
        assert max(r["probs"]) >= 0.8 and len(r["probs"]) == len(LABELS)
    for r in neg:
        assert r["labels"] == [] and max(r["probs"]) <= 0.1
    assert len({r["id"] for r in rows}) == len(rows)
    # LF table and the dev evaluation are in the report.
    assert {r["lf"] for r in report["lf"]["train"]} >= {
        "mem_admit",
        "insp_body",
        "restr_staff",
        "train_foster",
    }
    assert report["eval"]["dev"]["weak@0.5"]["membership"]["support"] == 1
    text = format_report(report)
    assert "mem_admit" in text and "keyword baseline" in text and "rows_positive" in text
    # Deterministic for a seed.
    rows2, _ = build_weak_labels(*_corpus(), _hand(), _cfg())
    assert rows2 == rows
    # The cap per label is honoured.
    capped, _ = build_weak_labels(*_corpus(), _hand(), _cfg(max_per_label=2))
    for lab in LABELS:
        assert sum(lab in r["labels"] and r["kind"] == "positive" for r in capped) <= 2 * len(LABELS)


def test_save_dataset_round_trip(tmp_path):
    from datasets import load_from_disk

    rows, _ = build_weak_labels(*_corpus(), _hand(), _cfg())
    out = tmp_path / "weak"
    save_dataset(rows, out)
    save_dataset(rows, out)  # overwriting works
    ds = load_from_disk(str(out))
    assert len(ds) == len(rows) and set(ds.column_names) >= {"text", "labels", "probs", "kind"}
    assert ds[0]["text"] == rows[0]["text"]


def test_selector_counts_distinct_cues():
    sel = Selector(SelectConfig(cues=["đảng viên", "chi bộ", "ủy ban kiểm tra"], min_distinct=2))
    assert sel({"title": "Chi_bộ họp", "abstract": "", "paragraphs": [["Kết nạp đảng_viên ."]]})
    assert sel({"title": "Uỷ_ban Kiểm_tra", "abstract": "đảng_viên", "paragraphs": []})
    assert not sel({"title": "đảng viên đảng viên", "abstract": "", "paragraphs": []})


def _yaml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "text, msg",
    [
        ("pos_threshold: 0.1\nneg_threshold: 0.2\n", "neg_threshold"),
        ("max_per_label: 0\n", "max_per_label"),
        ("negatives_ratio: -1\n", "negatives_ratio"),
        ("select:\n  min_distinct: 0\n", "min_distinct"),
        ("select:\n  cues: []\n", "cues"),
        ("select:\n  min_distinct: 1\n  cues: ['(unclosed']\n", "bad pattern"),
        ("heldout_splits: [train]\n", "heldout_splits"),
        ("pos_threshold: high\n", "pos_threshold"),
        ("no_such_option: 1\n", "unknown"),
        ("min_chars: 50\nmax_chars: 10\n", "min_chars"),
    ],
)
def test_config_validation_errors(tmp_path, text, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config(WeakLabelsConfig, _yaml(tmp_path, text))


def test_default_config_loads_and_overrides():
    cfg = load_config(WeakLabelsConfig, DEFAULT_CONFIG, {"limit": 5, "select.min_distinct": 3})
    assert cfg.limit == 5 and cfg.select.min_distinct == 3 and cfg.pos_threshold == 0.8
    assert "đảng viên" in cfg.select.cues


def test_run_refuses_output_inside_repo_and_bad_config(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    ws.add_arguments(parser)
    args = parser.parse_args(["--out", str(ws.REPO_ROOT / "data" / "weak_tmp")])
    assert ws.run(args) == 2
    assert "inside the repository" in capsys.readouterr().err
    args = parser.parse_args(["--config", str(_yaml(tmp_path, "max_per_label: 0\n"))])
    assert ws.run(args) == 2
