"""Distilling a smaller tagger (first k encoder layers) from a saved teacher tagger."""

import json
from pathlib import Path

import numpy as np
import pytest
from tagger_data import SENTS as TAGGER_SENTS

from dangtopic.models.config import ConfigError, load_config
from dangtopic.models.tagger import SentenceTagger
from dangtopic.training.train_tagger import Doc, TrainTaggerConfig, teacher_targets, train

REPO = Path(__file__).resolve().parents[2]

SENTS = TAGGER_SENTS[:5]  # one article of each label and one of none


@pytest.fixture()
def distill_data(tmp_path, tiny_tagger):
    labels = tmp_path / "labels.jsonl"
    split = {"train": [], "dev": [], "test": []}
    with labels.open("w", encoding="utf-8") as f:
        for a, part in enumerate(["train", "dev", "test"]):
            aid = f"tiny/{a:06d}"  # not a VNDS id: no corpus context is looked up
            split[part].append(aid)
            for k, (text, labs) in enumerate(SENTS):
                row = {"id": f"{aid}#{k}", "text": text, "labels": labs}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps(split))
    teacher = tmp_path / "teacher"
    tiny_tagger.save_pretrained(teacher)
    return labels, split_file, teacher


def test_teacher_targets_replace_every_target_without_gold(distill_data, tiny_tagger):
    *_, teacher = distill_data
    labels = list(tiny_tagger.config.labels)
    texts = [s for s, _ in SENTS[:3]]
    # an article whose middle sentence is context only (weight 0), and a lone gold sentence
    article = Doc(
        "a", texts, np.array([[1, 0, 0, 0]] * 3, dtype=np.float32), np.array([1, 0, 1], np.float32), "hand"
    )
    lone = Doc(
        "x", [SENTS[3][0]], np.array([[0, 0, 0, 1]], np.float32), np.ones(1, np.float32), "x", alone=True
    )
    # Reversed label order: the teacher's columns must be mapped by name, not position.
    n = teacher_targets(str(teacher), [article, lone], labels[::-1], weight=2.0, dtype="float32")
    assert n == 1
    np.testing.assert_array_equal(lone.targets, [[0, 0, 0, 1]])  # gold stays gold
    in_article = tiny_tagger.proba_articles(texts, [3])[:, ::-1]
    np.testing.assert_allclose(article.targets[1], in_article[1], atol=1e-5)  # read in its article
    np.testing.assert_array_equal(article.targets[[0, 2]], [[1, 0, 0, 0]] * 2)  # gold stays gold
    np.testing.assert_array_equal(article.weights, [1, 2, 1])
    with pytest.raises(ValueError, match="no"):
        teacher_targets(str(teacher), [lone], ["membership", "elections"], weight=1.0, dtype="float32")


def test_distilled_student_keeps_first_layers_and_round_trips(distill_data, tiny_encoder_path, tmp_path):
    labels, split_file, teacher = distill_data
    cfg = load_config(
        TrainTaggerConfig,
        REPO / "configs" / "tagger_fast.yaml",
        {
            "model.encoder.name": str(tiny_encoder_path),
            "model.num_layers": 1,
            "data.hand_labels": [str(labels)],
            "data.split_file": str(split_file),
            "data.extra_labels": [],
            "data.teacher": str(teacher),
            "data.teacher_dtype": "float32",
            "optim.epochs": 1,
            "optim.batch_size": 4,
        },
    )
    student, log = train(cfg)
    assert len(student.encoder.model.base_model.model.encoder.layer) == 1
    assert log["train_sentences"] == len(SENTS)
    out = student.save_pretrained(tmp_path / "student")
    assert json.loads((out / "config.json").read_text())["config"]["num_layers"] == 1
    loaded = SentenceTagger.from_pretrained(out)
    assert len(loaded.encoder.model.encoder.layer) == 1
    texts = [s for s, _ in SENTS]
    np.testing.assert_allclose(loaded.predict_proba(texts), student.predict_proba(texts), atol=1e-5)


def test_fast_config_validates():
    cfg = load_config(TrainTaggerConfig, REPO / "configs" / "tagger_fast.yaml")
    assert cfg.model.num_layers and cfg.model.num_layers < 12 and cfg.data.teacher
    with pytest.raises(ConfigError, match="num_layers"):
        load_config(TrainTaggerConfig, REPO / "configs" / "tagger_fast.yaml", {"model.num_layers": 0})
