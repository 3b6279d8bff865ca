"""End-to-end training of the summariser on a tiny synthetic VNDS with the tiny encoder."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
import yaml

from dangtopic.data.vnds import iter_vnds
from dangtopic.models.config import ConfigError, load_config
from dangtopic.models.summarizer import ExtractiveSummarizer
from dangtopic.training.train_summarizer import (
    TrainSummarizerConfig,
    dedup_index,
    is_near_duplicate,
    train,
)

WORDS = (
    "đảng viên chi bộ kiểm tra tỉnh ủy cán bộ huyện xã kết nạp học tập nghị quyết "
    "sắp xếp bộ máy biên chế đào tạo bồi dưỡng hội nghị đồng chí năm nay"
).split()
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "summarizer.yaml"


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + " ."


def _record(split: str, i: int, rng: random.Random, body: list[str] | None = None) -> dict:
    body = body or [_sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(4, 8))]
    # The abstract paraphrases the second sentence, so the oracle has a clear target.
    abstract = body[1].replace(" .", "") + " , " + rng.choice(WORDS) + " ."
    return {
        "id": f"{split}/{i:06d}",
        "title": _sentence(rng, 5).rstrip(" ."),
        "abstract": abstract,
        "paragraphs": [body[:2], body[2:]],
    }


def write_fake_vnds(root: Path, n_train: int = 24, n_val: int = 6, n_test: int = 6) -> Path:
    """VNDS-shaped jsonl.gz files; the last train article copies test article 0 (a cross-split duplicate)."""
    rng = random.Random(0)
    records = {
        s: [_record(s, i, rng) for i in range(n)]
        for s, n in (("train", n_train), ("val", n_val), ("test", n_test))
    }
    dup = dict(records["test"][0], id=f"train/{n_train:06d}")
    records["train"].append(dup)
    root.mkdir(parents=True, exist_ok=True)
    for split, recs in records.items():
        with gzip.open(root / f"vnds_{split}.jsonl.gz", "wt", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return root


@pytest.fixture()
def fake_vnds(tmp_path) -> Path:
    return write_fake_vnds(tmp_path / "vnds")


def test_shipped_yaml_is_valid_and_typo_rejected(tmp_path):
    cfg = load_config(TrainSummarizerConfig, CONFIG)
    assert cfg.model.encoder.prefix == "passage: "
    assert 1 <= cfg.model.max_sentences <= 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.read_text(encoding="utf-8").replace("max_sentences: 3", "max_sentencse: 3"))
    with pytest.raises(ConfigError, match="max_sentencse"):
        load_config(TrainSummarizerConfig, bad)
    with pytest.raises(ConfigError):
        load_config(TrainSummarizerConfig, CONFIG, {"model.redundancy": "bogus"})


def test_dedup_flags_cross_split_copy(fake_vnds):
    index = dedup_index(str(fake_vnds), ("val", "test"), min_syllables=4)
    train = list(iter_vnds("train", root=fake_vnds))
    flagged = [a.id for a in train if is_near_duplicate(a, index, 0.3, 4)]
    assert flagged == [train[-1].id]


def test_train_end_to_end_saves_loadable_model(fake_vnds, tiny_encoder_path, tmp_path):
    overrides = {
        "model.encoder.name": str(tiny_encoder_path),
        "model.encoder.prefix": "",
        "model.hidden_size": 16,
        "model.context_heads": 2,
        "data.vnds_dir": str(fake_vnds),
        "data.train_articles": 20,
        "data.val_articles": 5,
        "data.dedup_min_syllables": 4,
        "optim.epochs": 2,
        "optim.batch_size": 4,
        "length.max_sentences": [1, 2],
        "length.max_words": [20],
        "length.redundancy": ["trigram"],
        "feature_cache": str(tmp_path / "cache"),
        "threads": 0,
    }
    cfg = load_config(TrainSummarizerConfig, CONFIG, overrides)
    out = tmp_path / "model"
    summ = train(cfg, out)
    meta = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "extractive-summarizer"
    data = meta["training"]["data"]
    assert data["train_dup_heldout"] == 1 and data["train_used"] == 20
    assert len(meta["training"]["epochs"]) == 2
    assert set(meta["metrics"]["val"]) == {"rouge1", "rouge2", "rougeL", "mean"}
    assert summ.config.max_words == 20 and summ.config.max_sentences in (1, 2)
    assert list((tmp_path / "cache").glob("train-*.npz")), "embeddings should be cached"
    loaded = ExtractiveSummarizer.from_pretrained(out)
    art = next(iter_vnds("test", root=fake_vnds))
    a, b = summ.summarize(art.sentences, art.title), loaded.summarize(art.sentences, art.title)
    assert a == b and a.sentence_indices
    # A second run reuses the cached embeddings and gives the same result.
    again = train(cfg, tmp_path / "model2")
    assert again.summarize(art.sentences, art.title) == a


def test_evaluate_prints_all_systems_and_writes_card(fake_vnds, tiny_encoder_path, tmp_path):
    from dangtopic.training.evaluate_summarizer import (
        evaluate,
        format_table,
        model_card,
        seeds_markdown,
        summarize_seeds,
    )

    summ = ExtractiveSummarizer.create(str(tiny_encoder_path), hidden_size=16, context_heads=2)
    result = evaluate(summ, "test", limit=4, vnds_dir=str(fake_vnds), textrank=False, log_every=0)
    assert result["articles"] == 4 and result["model_ms_median"] > 0
    systems = result["systems"]
    assert set(systems) == {"LEAD-1", "LEAD-2", "LEAD-3", "Oracle", "Model"}
    # The oracle is an upper bound of every extractive system on R-1 (syllable level).
    assert all(systems["Oracle"]["syllable"]["rouge1"] >= s["syllable"]["rouge1"] for s in systems.values())
    assert {"syllable", "default", "mean_words"} <= set(systems["Model"])
    table = format_table(result, "dangtopic evaluate-summarizer --limit 4")
    assert "| LEAD-3 |" in table and "--limit 4" in table and "Targets:" in table
    card = model_card(summ, result, "cmd")
    assert "\n# dangtopic extractive summarizer" in card and "| Oracle |" in card
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["pipeline_tag"] == "summarization" and meta["language"] == ["vi"]
    rouge = {m["name"]: m["value"] for r in meta["model-index"][0]["results"] for m in r["metrics"]}
    assert rouge["ROUGE-1 (syllable F1 x 100)"] == systems["Model"]["syllable"]["rouge1"]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text(
        "Kết nạp đảng viên mới\n\nTrang chủ | Tin tức\n\n"
        "Năm 2023, toàn tỉnh kết nạp 3.787 đảng viên. Công tác kiểm tra được tăng cường.\n",
        encoding="utf-8",
    )
    res = summarize_seeds(summ, seeds)
    assert len(res) == 1 and res[0][2].text
    assert "## a.txt" in seeds_markdown(res, "cmd")


def test_soft_and_mixed_targets():
    import numpy as np

    from dangtopic.training.train_summarizer import Doc, _batch, sentence_rouge

    sents = ["Kết nạp 300 đảng viên mới.", "Trời mưa to.", "Kết nạp đảng viên."]
    soft = sentence_rouge(sents, "Tỉnh kết nạp 300 đảng viên mới")
    assert soft[0] == 1.0 and soft[1] == 0.0 and 0 < soft[2] < 1
    doc = Doc("x", "", sents, "", labels=[2], soft=soft, emb=np.zeros((3, 4), np.float16), title_emb=None)
    for kind, expected in (("oracle", [0, 0, 1]), ("soft", soft), ("mix", [0.5, 0, (1 + soft[2]) / 2])):
        target = _batch([doc], None, 0.0, kind)[3][0].tolist()
        assert target == pytest.approx(expected), kind
