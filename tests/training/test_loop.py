"""The trainers under accelerate on CPU (training/loop.py): precision and device, gradient accumulation,
checkpoint/resume, bf16 autocast, and the CLI under `accelerate launch`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open
from tagger_data import write_labelled_articles
from test_summarizer_training import CONFIG as SUMMARIZER_YAML
from test_summarizer_training import write_fake_vnds

from dangtopic.models.config import ConfigError, load_config, to_dict
from dangtopic.training import train_summarizer, train_tagger
from dangtopic.training.loop import AccelerateConfig, RunCheckpoint, make_accelerator, resolve_precision
from dangtopic.training.train_summarizer import TrainSummarizerConfig
from dangtopic.training.train_tagger import TrainTaggerConfig

TAGGER_YAML = Path(__file__).resolve().parents[2] / "configs" / "tagger.yaml"


def tagger_config(encoder: Path, folder: Path, overrides: dict) -> TrainTaggerConfig:
    """The shipped tagger recipe on the tiny encoder and four tiny labelled articles in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    labels, split = write_labelled_articles(folder)
    base = {
        "model.encoder.name": str(encoder),
        "data.hand_labels": [str(labels)],
        "data.split_file": str(split),
        "data.extra_labels": [],
        "model.lora.layers_from": 1,  # the cached-frozen-layers path
        "output_dir": str(folder / "run"),
    }
    return load_config(TrainTaggerConfig, TAGGER_YAML, {**base, **overrides})


def summarizer_config(encoder: Path, folder: Path, overrides: dict) -> TrainSummarizerConfig:
    base = {
        "model.encoder.name": str(encoder),
        "model.encoder.prefix": "",
        "model.hidden_size": 16,
        "model.context_heads": 2,
        "data.vnds_dir": str(write_fake_vnds(folder / "vnds")),
        "data.train_articles": 20,
        "data.val_articles": 5,
        "data.dedup_min_syllables": 4,
        "length.tune": False,
        "feature_cache": str(folder / "cache"),
    }
    return load_config(TrainSummarizerConfig, SUMMARIZER_YAML, {**base, **overrides})


class _Stop(Exception):
    """Stands for a run killed right after writing a checkpoint."""


def timeless(history: list[dict]) -> list[dict]:
    """A run's history without the wall-clock seconds of its epochs."""
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history]


def stop_after_checkpoint(monkeypatch, step: int) -> None:
    save = RunCheckpoint.save

    def save_then_stop(self, state):
        save(self, state)
        if state.step == step:
            raise _Stop

    monkeypatch.setattr(RunCheckpoint, "save", save_then_stop)


def test_precision_device_and_options_are_checked():
    assert resolve_precision("auto", "cuda") == "bf16"
    assert resolve_precision("auto", "cpu") == "no"  # bf16 autocast backward is slow on CPU
    assert resolve_precision("bf16", "cpu") == "bf16"
    cfg = load_config(TrainTaggerConfig, TAGGER_YAML, {"accelerate.grad_accum_steps": 4})
    assert cfg.accelerate == AccelerateConfig(grad_accum_steps=4) and cfg.device == "auto"
    for bad in (
        {"accelerate.mixed_precision": "fp16"},
        {"accelerate.grad_accum_steps": 0},
        {"device": "tpu"},
    ):
        with pytest.raises(ConfigError):
            load_config(TrainTaggerConfig, TAGGER_YAML, bad)
    with pytest.raises(ConfigError, match="checkpoint_every"):
        load_config(TrainSummarizerConfig, SUMMARIZER_YAML, {"accelerate.checkpoint_every": -1})


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error of a machine without a GPU")
def test_device_cuda_without_a_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="no GPU"):
        make_accelerator("cuda", AccelerateConfig())


def test_tagger_gradient_accumulation_equals_the_larger_batch(tiny_encoder_path, tmp_path):
    """Two accumulated batches of 3 sentences make the optimizer step of one batch of 6 (dropout off)."""
    encoder = shutil.copytree(tiny_encoder_path, tmp_path / "encoder")
    bert = json.loads((encoder / "config.json").read_text())
    bert.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (encoder / "config.json").write_text(json.dumps(bert))
    common = {
        "model.lora.dropout": 0.0,
        "model.head_dropout": 0.0,
        "model.lora.layers_from": 0,
        "optim.epochs": 2,
        "optim.context_epochs": 0,
    }
    whole, whole_log = train_tagger.train(tagger_config(encoder, tmp_path, {**common, "optim.batch_size": 6}))
    accumulated, log = train_tagger.train(
        tagger_config(encoder, tmp_path, {**common, "optim.batch_size": 3, "accelerate.grad_accum_steps": 2})
    )
    assert log["steps"] == whole_log["steps"] == 4  # 12 sentences, 6 an optimizer step, 2 epochs
    assert timeless(log["history"]) == timeless(whole_log["history"])
    trained = [k for k in whole.state_dict() if "lora_" in k or k.startswith("head.")]
    for k in trained:
        torch.testing.assert_close(accumulated.state_dict()[k], whole.state_dict()[k], rtol=0, atol=1e-5)


def test_tagger_resumes_from_its_checkpoint_to_the_same_model(tiny_encoder_path, tmp_path, monkeypatch):
    """A run stopped after a checkpoint and resumed from it ends as the run never stopped does, to the bit:
    cached frozen layers, the best-epoch choice and stage 2 included."""
    overrides = {
        "optim.epochs": 3,
        "optim.batch_size": 4,
        "optim.context_epochs": 2,
        "accelerate.checkpoint_every": 2,
    }
    reference, reference_log = train_tagger.train(tagger_config(tiny_encoder_path, tmp_path / "a", overrides))
    assert reference_log["steps"] == 9  # 12 sentences, 4 a step, 3 epochs
    assert not (tmp_path / "a" / "run" / "checkpoint").exists()  # a finished run leaves no checkpoint

    cfg = tagger_config(tiny_encoder_path, tmp_path / "b", overrides)
    checkpoint = Path(cfg.output_dir) / "checkpoint"
    with monkeypatch.context() as m:
        stop_after_checkpoint(m, 4)  # the first step of epoch 2
        with pytest.raises(_Stop):
            train_tagger.train(cfg)
    with safe_open(checkpoint / "model.safetensors", "pt") as f:
        saved = list(f.keys())
    # the trainable weights only, not the frozen encoder
    assert saved and all("lora_" in k or k.startswith(("tagger.head.", "tagger.context.")) for k in saved)
    other = tagger_config(tiny_encoder_path, tmp_path / "b", {**overrides, "optim.epochs": 4})
    with pytest.raises(ValueError, match="other optim"):
        train_tagger.train(other, resume_from=checkpoint)

    tagger, log = train_tagger.train(cfg, resume_from=checkpoint)
    assert log["steps"] == 9 and timeless(log["history"]) == timeless(reference_log["history"])
    assert log["best_stage"] == reference_log["best_stage"]
    expected = reference.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in tagger.state_dict().items())
    assert not checkpoint.exists()


def test_summarizer_accumulates_and_resumes_from_its_checkpoint(tiny_encoder_path, tmp_path, monkeypatch):
    cfg = summarizer_config(
        tiny_encoder_path,
        tmp_path,
        {
            "optim.epochs": 3,
            "optim.batch_size": 4,
            "accelerate.grad_accum_steps": 2,
            "accelerate.checkpoint_every": 2,
        },
    )
    reference = train_summarizer.train(cfg, tmp_path / "a")
    # 20 articles, 4 a batch, 2 batches an optimizer step: 3 steps an epoch (the last batch steps alone)
    assert [e["step"] for e in reference.training_info["epochs"]] == [3, 6, 9]

    with monkeypatch.context() as m:
        stop_after_checkpoint(m, 4)  # after the second batch of epoch 2
        with pytest.raises(_Stop):
            train_summarizer.train(cfg, tmp_path / "b")
    resumed = train_summarizer.train(cfg, tmp_path / "b", resume_from=tmp_path / "b" / "checkpoint")

    assert timeless(resumed.training_info["epochs"]) == timeless(reference.training_info["epochs"])
    expected = reference.scorer.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in resumed.scorer.state_dict().items())
    assert (tmp_path / "b" / "config.json").exists() and not (tmp_path / "b" / "checkpoint").exists()


def test_bf16_autocast_trains_on_cpu(tiny_encoder_path, tmp_path):
    """The GPU default precision, on CPU: both tagger stages and the summariser's scorer run under bf16
    autocast, their losses in fp32; the trained models predict in fp32 as usual."""
    tagger, log = train_tagger.train(
        tagger_config(
            tiny_encoder_path,
            tmp_path,
            {"accelerate.mixed_precision": "bf16", "optim.context_epochs": 2},
        )
    )
    assert log["steps"] > 0 and len(log["history"]) == 3 + 2
    probs = tagger.predict_proba(["Toàn tỉnh đã kết nạp mới 3.787 đảng viên."])
    assert probs.dtype == "float32" and ((probs > 0) & (probs < 1)).all()
    summ = train_summarizer.train(
        summarizer_config(
            tiny_encoder_path, tmp_path, {"optim.epochs": 1, "accelerate.mixed_precision": "bf16"}
        ),
        tmp_path / "summarizer",
    )
    assert summ.summarize(["Câu một về đảng viên .", "Câu hai về chi bộ ."]).sentence_indices


def test_accelerate_is_imported_only_to_train():
    """The CLI and the trainer modules (which evaluate-tagger imports) load without accelerate."""
    code = (
        "import sys, dangtopic.cli\n"
        "from dangtopic.training import evaluate_tagger, train_summarizer, train_tagger\n"
        "assert 'accelerate' not in sys.modules"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def _launch(args: list[str], folder: Path) -> subprocess.CompletedProcess:
    """`accelerate launch ARGS` as a user runs it."""
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate),
        "launch",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    # HF_HOME in the test folder: no accelerate config of the user's is read
    env = {**os.environ, "HF_HOME": str(folder / "hf"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command + args, capture_output=True, text=True, env=env, timeout=900)


def test_accelerate_launch_trains_and_saves_a_tagger(tiny_encoder_path, tmp_path):
    cfg = tagger_config(tiny_encoder_path, tmp_path, {"optim.epochs": 2, "optim.batch_size": 4})
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(to_dict(cfg), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    train = ["-m", "dangtopic.cli", "train-tagger", "--config", str(config), "--output-dir", str(out)]
    run = _launch(["--cpu", "--num_processes", "1", *train], tmp_path)
    assert run.returncode == 0, run.stderr[-6000:]
    assert json.loads((out / "training_config.json").read_text())["accelerate"] == to_dict(cfg.accelerate)
    log = json.loads((out / "training_log.json").read_text())
    assert log["processes"] == 1 and log["device"] == "cpu" and log["steps"] == 6
    assert json.loads((out / "config.json").read_text())["kind"] == "sentence-tagger"


REPLICAS = """
import sys, torch
from pathlib import Path
from accelerate import PartialState
from dangtopic.models.config import load_config
from dangtopic.training import train_summarizer, train_tagger

folder = Path(sys.argv[1])
tagger, log = train_tagger.train(load_config(train_tagger.TrainTaggerConfig, folder / "tagger.yaml"))
summ = train_summarizer.train(load_config(train_summarizer.TrainSummarizerConfig, folder / "summarizer.yaml"))
state = {"tagger": tagger.state_dict(), "log": log, "scorer": summ.scorer.state_dict()}
torch.save(state, folder / f"rank{PartialState().process_index}.pt")
"""


@pytest.mark.slow
def test_two_processes_train_in_data_parallel(tiny_encoder_path, tmp_path):
    """DDP over two CPU processes (gloo), launched as on GPUs: each process takes half the batches, their
    gradients are averaged, and both end with the same model."""
    overrides = {"optim.epochs": 2, "optim.batch_size": 4, "accelerate.grad_accum_steps": 2}
    tagger = tagger_config(tiny_encoder_path, tmp_path / "t", overrides)
    (tmp_path / "tagger.yaml").write_text(yaml.safe_dump(to_dict(tagger)), encoding="utf-8")
    summarizer = summarizer_config(
        tiny_encoder_path, tmp_path / "s", {**overrides, "output_dir": str(tmp_path / "s")}
    )
    (tmp_path / "summarizer.yaml").write_text(yaml.safe_dump(to_dict(summarizer)), encoding="utf-8")
    script = tmp_path / "replicas.py"
    script.write_text(REPLICAS, encoding="utf-8")
    run = _launch(["--multi_gpu", "--num_processes", "2", str(script), str(tmp_path)], tmp_path)
    assert run.returncode == 0, run.stderr[-6000:]
    first, second = (torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in (0, 1))
    # 3 batches an epoch: 2 for each process (one repeated), 2 accumulated into an optimizer step
    assert first["log"]["processes"] == 2 and first["log"]["steps"] == 2
    for model in ("tagger", "scorer"):
        assert all(torch.equal(v, second[model][k]) for k, v in first[model].items())


def test_warmup_schedule_linear_and_cosine():
    from dangtopic.training.loop import warmup_schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    linear = warmup_schedule(opt, 10, 0.2, processes=1).lr_lambdas[0]
    assert [round(linear(s), 3) for s in (0, 1, 2, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.0]
    cosine = warmup_schedule(opt, 10, 0.1, processes=2, floor=0.05).lr_lambdas[0]  # 20 scheduler steps
    assert [round(cosine(s), 3) for s in (0, 1, 20)] == [0.5, 1.0, 0.05]


def test_fit_keeps_the_best_epoch_and_stops_early():
    import random

    from dangtopic.training.loop import fit, warmup_schedule

    torch.manual_seed(0)
    accelerator = make_accelerator("cpu", AccelerateConfig())
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt, sched = accelerator.prepare(model, opt, warmup_schedule(opt, 20, 0.1, 1))
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9])
    snapshots = []

    def evaluate():
        snapshots.append(model.weight.detach().clone())
        return next(scores), {"n": len(snapshots)}

    state = fit(
        accelerator,
        model,
        opt,
        sched,
        epochs=10,
        make_batches=lambda rng: [[0, 1, 2, 3], [4, 5, 6, 7]],
        loss_of=lambda m, idx: ((m(x[idx]) - y[idx]) ** 2).mean(),
        rng=random.Random(0),
        grad_clip=1.0,
        evaluate=evaluate,
        trainable_state=model.state_dict,
        patience=2,
    )
    # epochs 3 and 4 do not beat epoch 2: the run stops there, holding epoch 2's weights as the best
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4] and state.step == 8
    assert state.best == 0.7 and state.best_info == {"n": 2, "epoch": 2}
    torch.testing.assert_close(state.best_state["weight"], snapshots[1])
    assert not torch.equal(snapshots[1], snapshots[3])
