import json
from pathlib import Path

import numpy as np
import pytest
from tagger_data import SENTS, write_labelled_articles

from dangtopic.models.config import ConfigError, load_config
from dangtopic.models.tagger import SentenceTagger
from dangtopic.training import evaluate_tagger
from dangtopic.training.metrics import multilabel_report, tune_thresholds
from dangtopic.training.train_tagger import TrainTaggerConfig, train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tiny_data(tmp_path):
    return write_labelled_articles(tmp_path)


def test_shipped_config_loads_and_validates():
    cfg = load_config(TrainTaggerConfig, REPO / "configs" / "tagger.yaml")
    assert cfg.model.labels == ["membership", "inspection", "restructuring", "training"]
    assert cfg.optim.head_lr > cfg.optim.encoder_lr
    with pytest.raises(ConfigError, match="unknown"):
        load_config(TrainTaggerConfig, REPO / "configs" / "tagger.yaml", {"optim.lr": 1})
    with pytest.raises(ConfigError):
        load_config(TrainTaggerConfig, REPO / "configs" / "tagger.yaml", {"optim.epochs": "many"})


def test_train_save_load_evaluate(tiny_data, tiny_encoder_path, tmp_path, capsys):
    labels, split_file = tiny_data
    cfg = load_config(
        TrainTaggerConfig,
        REPO / "configs" / "tagger.yaml",
        {
            "model.encoder.name": str(tiny_encoder_path),
            "data.hand_labels": [str(labels)],
            "data.split_file": str(split_file),
            "data.extra_labels": [],
            "model.lora.layers_from": 0,
            "optim.epochs": 2,
            "optim.batch_size": 4,
            "log_every": 1,
        },
    )
    tagger, log = train(cfg)
    # stage 1 reads the 12 sentences of the two train articles alone, 4 a step, for 2 epochs
    assert log["steps"] == 6 and log["best_stage"] in (1, 2) and log["best_epoch"]
    assert log["dev_micro_f1_sentences_alone"] is not None
    assert [h["stage"] for h in log["history"]] == [1, 1] + [2] * cfg.optim.context_epochs
    assert set(tagger.config.thresholds) == set(cfg.model.labels)
    out = tagger.save_pretrained(tmp_path / "model")
    loaded = SentenceTagger.from_pretrained(out)
    texts = [s for s, _ in SENTS]
    np.testing.assert_allclose(loaded.predict_proba(texts), tagger.predict_proba(texts), atol=1e-5)
    np.testing.assert_allclose(
        loaded.predict_proba(texts, groups=[0] * 6), tagger.predict_proba(texts, groups=[0] * 6), atol=1e-5
    )
    assert json.loads((out / "config.json").read_text())["metrics"]["training"]["steps"] == 6

    res = evaluate_tagger.evaluate(
        str(out), [str(labels)], str(split_file), [], [], str(tmp_path / "none.jsonl")
    )
    systems = res["results"]["vnds-test"]
    assert {
        "fine-tuned tagger",
        "same tagger, sentences alone",
        "keyword rules",
        "TF-IDF + LR",
        "frozen e5 + LR",
    } <= set(systems)
    assert res["sizes"]["vnds-test"] == len(SENTS) and res["articles"]["vnds-test"] == 1
    text = evaluate_tagger.render(res)
    assert "micro-F1" in text and "gain over keyword rules" in text and "article context adds" in text
    card = evaluate_tagger.render_card(res, "dangtopic evaluate-tagger")
    assert "## Evaluation" in card and tagger.fingerprint in card
    import yaml

    meta = yaml.safe_load(card.split("---")[1])
    assert meta["language"] == ["vi"] and meta["pipeline_tag"] == "text-classification"
    results = meta["model-index"][0]["results"]
    assert any(
        r["dataset"]["name"] == "vnds-test" and r["metrics"][0]["name"] == "micro-F1 (fine-tuned tagger)"
        for r in results
    )


def test_threshold_tuning_and_report():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    p = np.array([[0.9, 0.1], [0.35, 0.2], [0.2, 0.7], [0.3, 0.6]])
    thr = tune_thresholds(y, p)
    assert 0.3 < thr[0] <= 0.35  # catches the 0.35 positive, rejects the 0.3 negative
    assert 0.6 < thr[1] <= 0.7
    rep = multilabel_report(y, p >= thr, ["a", "b"])
    assert rep["a"]["f1"] == 1.0 and rep["micro_f1"] == 1.0


def test_cached_frozen_layers_training(tiny_data, tiny_encoder_path):
    """LoRA on the top layer only: training runs from cached lower-layer states and still learns."""
    labels, split_file = tiny_data
    cfg = load_config(
        TrainTaggerConfig,
        REPO / "configs" / "tagger.yaml",
        {
            "model.encoder.name": str(tiny_encoder_path),
            "model.lora.layers_from": 1,
            "data.hand_labels": [str(labels)],
            "data.split_file": str(split_file),
            "data.extra_labels": [],
            "optim.epochs": 3,
            "optim.batch_size": 6,
            "optim.encoder_lr": 1e-2,
            "optim.head_lr": 5e-2,
        },
    )
    tagger, log = train(cfg)
    trainable = [n for n, p in tagger.encoder.named_parameters() if "lora_" in n]
    assert trainable and all(".layer.1." in n for n in trainable)
    assert log["steps"] == 6  # 12 lone sentences, 6 a step, 3 epochs
    texts = [s for s, _ in SENTS]
    y = np.array([[lab in labs for lab in cfg.model.labels] for _, labs in SENTS])
    probs = tagger.predict_proba(texts)
    # After a few steps at a high LR the positives must outscore the negatives on the training sentences.
    assert probs[y == 1].mean() > probs[y == 0].mean()


def test_hand_docs_read_excerpts_in_their_vnds_article(tmp_path):
    """Excerpt articles get back their context from VNDS (unlabelled, weight 0); source weights touch only
    the train part."""
    import gzip

    from dangtopic.training.train_tagger import TaggerDataConfig, load_hand_docs

    vnds = tmp_path / "vnds"
    vnds.mkdir()
    record = {
        "id": "train/000123",
        "title": "Kiểm_tra Sở Y_tế",
        "abstract": "Đoàn kiểm_tra làm_việc tại sở .",
        "paragraphs": [["Câu thân một .", "Tổng số tiền sai_phạm là 12 tỷ đồng ."], ["Câu cuối ."]],
    }
    with gzip.open(vnds / "vnds_train.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    rows = [
        {
            "id": "train/000123#1",
            "text": "Đoàn kiểm tra làm việc tại sở.",
            "labels": ["inspection"],
            "source": "round2-excerpt",
        },
        {
            "id": "train/000123#3",
            "text": "Tổng số tiền sai phạm là 12 tỷ đồng.",
            "labels": ["inspection"],
            "source": "round2-excerpt",
        },
        {"id": "tiny/000009#0", "text": "Một câu khác.", "labels": [], "source": "shared-hand"},
    ]
    labels_file = tmp_path / "l.jsonl"
    labels_file.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["train/000123"], "dev": ["tiny/000009"], "test": []}))
    cfg = TaggerDataConfig(
        hand_labels=[str(labels_file)],
        split_file=str(split),
        vnds_dir=str(vnds),
        source_weights={"round2-excerpt": 0.5, "shared-hand": 0.0},
    )
    parts = load_hand_docs(cfg, ["membership", "inspection", "restructuring", "training"])
    (doc,) = parts["train"]
    assert doc.texts == [
        "Kiểm tra Sở Y tế",
        "Đoàn kiểm tra làm việc tại sở.",
        "Câu thân một.",
        "Tổng số tiền sai phạm là 12 tỷ đồng.",
        "Câu cuối.",
    ]
    np.testing.assert_array_equal(doc.weights, [0, 0.5, 0, 0.5, 0])
    assert doc.length == 5 and doc.targets[3, 1] == 1 and doc.targets[2].sum() == 0
    # dev keeps weight 1 although its source is weighted 0 for training
    (dev,) = parts["dev"]
    np.testing.assert_array_equal(dev.weights, [1])
