"""The one training skeleton of both trainers: seeding, the learning-rate schedule, and `fit` (epochs of
optimizer steps, evaluation after each epoch, the best state kept, early stopping, checkpoint/resume).

Runs under HF accelerate (`accelerate launch -m dangtopic.cli train-tagger …`, or plain `dangtopic
train-tagger` for one process). On one CPU process accelerate wraps nothing and the loop runs in fp32: a
seeded run gives the same results as the plain PyTorch loop did. `accelerate` is imported only to train.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
# A model card gives the GPU training time of a model trained on a GPU, and says this of one trained on CPU.
GPU_TIME_NOT_MEASURED = "GPU training time: not measured (no GPU on the machine that trained it)"


@dataclass
class AccelerateConfig:
    """How a trainer runs under accelerate; `accelerate launch` chooses the processes and GPUs."""

    # auto: bf16 autocast on a GPU, fp32 on CPU (where bf16 backward is slow); no: fp32; bf16: autocast anywhere
    mixed_precision: str = "auto"
    grad_accum_steps: int = 1  # batches per optimizer step
    # Optimizer steps between checkpoints in <output_dir>/checkpoint (0 = none); `--resume-from` continues there.
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("auto", "no", "bf16"):
            raise ValueError(f"mixed_precision must be auto, no or bf16, got {self.mixed_precision!r}")
        if self.grad_accum_steps < 1 or self.checkpoint_every < 0:
            raise ValueError("grad_accum_steps must be >= 1 and checkpoint_every >= 0")


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")


def add_arguments(parser, default_config: Path | None = None) -> None:
    """The flags of every training command: `--config`, `--output-dir`, `--set KEY=VALUE`, `--resume-from`."""
    parser.add_argument(
        "--config",
        required=default_config is None,
        default=str(default_config) if default_config else None,
        help="YAML training config (only what differs from the defaults)",
    )
    parser.add_argument("--output-dir", help="where to save the trained model (overrides the config)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.epochs=2 (repeatable)",
    )
    parser.add_argument(
        "--resume-from",
        metavar="DIR",
        help="continue an interrupted run, with its config, from its checkpoint folder "
        "(<output_dir>/checkpoint, written every accelerate.checkpoint_every optimizer steps)",
    )


def config_from_args(cls, args):
    """The training config `cls` of a command line: its `--config`, `--set` overrides and `--output-dir`."""
    from dangtopic.models.config import load_config, parse_override

    overrides = dict(parse_override(s) for s in args.set)
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    return load_config(cls, args.config, overrides)


def is_main_process() -> bool:
    """Whether this process reports and saves the model (one of several under `accelerate launch`)."""
    from accelerate import PartialState

    return PartialState().is_main_process


def resolve_precision(setting: str, device_type: str) -> str:
    """accelerate's `mixed_precision` for a config's setting on a device type."""
    if setting != "auto":
        return setting
    return "bf16" if device_type == "cuda" else "no"


def make_accelerator(device: str, cfg: AccelerateConfig, unused_parameters: bool = False):
    """The Accelerator of a run: `device: auto` takes the GPU accelerate gives this process, if any.
    `unused_parameters`: some trainable parameters may sit out a forward pass (DDP must not wait for them)."""
    import torch
    from accelerate import Accelerator, PartialState
    from accelerate.utils import DistributedDataParallelKwargs, parse_flag_from_env

    # CPU as the config or `accelerate launch --cpu` asks, or for want of a GPU: accelerate must be told, for
    # several launched CPU processes to form a (gloo) group instead of each training alone.
    cpu = device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)  # the process's device, needed to resolve `auto` precision
    if device == "cuda" and state.device.type != "cuda":
        raise RuntimeError("device is cuda but no GPU is visible: use device auto or cpu")
    accelerator = Accelerator(
        cpu=cpu,
        mixed_precision=resolve_precision(cfg.mixed_precision, state.device.type),
        gradient_accumulation_steps=cfg.grad_accum_steps,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=unused_parameters)],
    )
    accelerator.register_save_state_pre_hook(_trainable_only)
    if not accelerator.is_main_process:
        logging.getLogger("dangtopic").setLevel(logging.WARNING)  # one progress log: the main process's
    return accelerator


def _trainable_only(models, weights, _output_dir) -> None:
    """save_state hook: a checkpoint keeps the trainable weights, not the frozen base encoder (~470 MB for e5),
    which a resumed run rebuilds from its source."""
    for model, state in zip(models, weights, strict=True):
        trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        for name in set(state) - trainable:
            del state[name]


def optimizer_steps(accelerator, n_batches: int, epochs: int = 1, max_steps: int = 0) -> int:
    """Optimizer steps one process takes in `epochs` of `n_batches` batches, at most `max_steps` (if > 0)."""
    per_process = math.ceil(n_batches / accelerator.num_processes)
    steps = math.ceil(per_process / accelerator.gradient_accumulation_steps) * epochs
    return min(steps, max_steps) if max_steps else steps


def _single(items: list) -> Any:
    return items[0]


class RunCheckpoint:
    """Checkpoints of a run in `<output_dir>/checkpoint`, and resuming from one. accelerate saves the
    trainable weights, optimizer, scheduler and every process's RNG states; `progress` is the `FitState`."""

    def __init__(self, accelerator, cfg, output_dir: str | Path, resume_from: str | Path | None = None):
        from dangtopic.models.config import to_dict

        self.accelerator = accelerator
        self.folder = Path(output_dir) / "checkpoint"
        self.every = cfg.accelerate.checkpoint_every
        self.resume_from = resume_from
        # What a resumed run must share with the one it continues (the output folder may move).
        self.config = {**to_dict(cfg), "output_dir": None, "processes": accelerator.num_processes}
        self.progress: dict[str, Any] = {}
        accelerator.register_for_checkpointing(self)

    def state_dict(self) -> dict[str, Any]:
        return {"config": self.config, "progress": self.progress}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state["config"]
        differ = sorted(k for k in self.config.keys() | saved.keys() if self.config.get(k) != saved.get(k))
        if differ:
            raise ValueError(
                f"the checkpoint is of a run with other {', '.join(differ)}: resume with its config"
            )
        self.progress = state["progress"]

    def resume(self) -> dict[str, Any]:
        """Load `resume_from` into the prepared model, optimizer and scheduler; returns its progress or {}."""
        if self.resume_from is None:
            return {}
        # strict=False: the checkpoint holds only the trainable weights
        self.accelerator.load_state(str(self.resume_from), strict=False)
        return self.progress

    def save(self, state: FitState) -> None:
        """Checkpoint the run if due after step `state.step` (on every process: each saves its RNG states)."""
        if self.every and state.step % self.every == 0:
            self.progress = asdict(state)
            self.accelerator.save_state(str(self.folder))

    def finish(self) -> None:
        """The run is complete: its checkpoint goes (the model saved there hashes each file in its folder)."""
        self.accelerator.wait_for_everyone()
        if self.every and self.accelerator.is_main_process:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_run(cfg, unused_parameters: bool = False):
    """Seed Python, NumPy and torch (one CPU process then repeats a run bit for bit), set the torch threads,
    and return the run's Accelerator (see `make_accelerator`)."""
    import numpy as np
    import torch

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return make_accelerator(cfg.device, cfg.accelerate, unused_parameters)


def warmup_schedule(optim, total: int, warmup_ratio: float, processes: int, floor: float | None = None):
    """Linear warm-up over `warmup_ratio` of `total` optimizer steps, then a linear decay to 0, or with `floor`
    a cosine decay to `floor` x the peak. accelerate steps a prepared scheduler once per process at every
    optimizer step, hence `processes`."""
    import torch

    total *= processes
    warmup = max(1, int(total * warmup_ratio))

    def factor(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        if floor is None:
            return max(0.0, (total - s) / max(1, total - warmup))
        progress = min(1.0, (s - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optim, factor)


@dataclass
class FitState:
    """Where a run is: what `fit` returns and what a checkpoint saves for a resumed run to continue from."""

    epoch: int = 0  # the epoch under way (0-based)
    batch: int = 0  # batches of it done
    step: int = 0  # optimizer steps done
    rng: Any = None  # the batch RNG's state at the start of the epoch under way
    # training loss summed over the epoch's batches so far, and their count
    loss: tuple[float, int] = (0.0, 0)
    best: float = -math.inf  # the best evaluation score so far
    best_info: dict[str, Any] = field(default_factory=dict)
    best_state: dict[str, Any] | None = None  # trainable weights at the best evaluation (None: never beaten)
    bad: int = 0  # evaluations since the best
    history: list[dict[str, Any]] = field(default_factory=list)


def fit(
    accelerator,
    model,
    optim,
    sched,
    *,
    epochs: int,
    make_batches: Callable[[random.Random], list],
    loss_of: Callable[[Any, Any], Any],
    rng: random.Random,
    grad_clip: float,
    evaluate: Callable[[], tuple[float, dict[str, Any]]] | None = None,
    trainable_state: Callable[[], dict[str, Any]] | None = None,
    best: float = -math.inf,
    patience: int = 0,
    max_steps: int = 0,
    ckpt: RunCheckpoint | None = None,
    log_every: int = 0,
    name: str = "",
) -> FitState:
    """Train `model` for `epochs` and return the final `FitState`, the model left at its best evaluation.
    Each epoch, `make_batches(rng)` lays out its batches (drawing any randomness from `rng`, so a resumed run
    replays them); `loss_of(model, batch)` gives a batch's loss. After each epoch `evaluate()` gives (score,
    info): a score above `best` keeps `trainable_state()` (copied) as `best_state` and `info` as `best_info`;
    `patience` evaluations without one stop the run. `max_steps` caps the optimizer steps; `ckpt` checkpoints
    and resumes the run."""
    import torch
    from torch.utils.data import DataLoader

    params = [p for group in optim.param_groups for p in group["params"]]  # what the optimizer steps: clipped
    state = FitState(rng=rng.getstate(), best=best)
    if ckpt is not None:
        state = FitState(**{**asdict(state), **ckpt.resume()})  # where an interrupted run left off
    rng.setstate(state.rng)
    total = optimizer_steps(accelerator, len(make_batches(random.Random(0))), epochs, max_steps)
    t0, first = time.time(), state.step
    while state.epoch < epochs:
        t_epoch = time.time()
        model.train()
        state.rng = rng.getstate()  # a checkpoint in this epoch replays its batches from here
        # Each item is a whole batch. The loader's own generator: it draws a seed every epoch, which taken
        # from the global RNG would shift the dropout masks of a seeded run.
        loader = DataLoader(make_batches(rng), batch_size=1, collate_fn=_single, generator=torch.Generator())
        # this process's share of the epoch (as many for every process), the batches done already left out
        batches = accelerator.prepare_data_loader(loader)
        batches = accelerator.skip_first_batches(batches, state.batch) if state.batch else batches
        for done, batch in enumerate(batches, start=state.batch + 1):
            with accelerator.accumulate(model):
                loss = loss_of(model, batch)
                accelerator.backward(loss)
                # on the last batch of an accumulation (accelerate's optimizer and scheduler skip the others)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, grad_clip)
                optim.step()
                sched.step()
                optim.zero_grad(set_to_none=True)
            state.loss = (state.loss[0] + float(loss.detach()), state.loss[1] + 1)
            state.batch = done
            if not accelerator.sync_gradients:
                continue
            state.step += 1
            if log_every and (state.step % log_every == 0 or state.step == first + 1):
                per_step = (time.time() - t0) / (state.step - first)
                logger.info(
                    "%s epoch %d step %d/%d loss %.4f  %.2fs/step  eta %.1f min",
                    name,
                    state.epoch + 1,
                    state.step,
                    total,
                    loss.item(),
                    per_step,
                    per_step * (total - state.step) / 60,
                )
            if ckpt is not None:
                ckpt.save(state)
            if max_steps and state.step >= max_steps:
                break
        entry = {
            "epoch": state.epoch + 1,
            "step": state.step,
            "train_loss": round(state.loss[0] / max(state.loss[1], 1), 4),
            "seconds": round(time.time() - t_epoch, 1),
        }
        state.epoch, state.batch, state.loss = state.epoch + 1, 0, (0.0, 0)
        if evaluate is not None:
            score, info = evaluate()
            state.history.append({**entry, "score": round(score, 4)})
            logger.info("%s epoch %d: %s", name, entry["epoch"], state.history[-1])
            if score > state.best:
                state.best, state.best_info, state.bad = score, {**info, "epoch": entry["epoch"]}, 0
                state.best_state = {k: v.detach().clone() for k, v in trainable_state().items()}
            else:
                state.bad += 1
                if patience and state.bad >= patience:
                    logger.info("%s: early stop, no gain for %d evaluations", name, state.bad)
                    break
        if max_steps and state.step >= max_steps:
            break
    if state.best_state is not None:
        with torch.no_grad():
            for k, v in trainable_state().items():
                v.copy_(state.best_state[k])
    return state
