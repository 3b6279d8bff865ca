"""Helpers shared by the models' `from_pretrained`/`save_pretrained`: a saved folder's config.json and the
integrity of its weights (sha256 recorded at save time, no NaN/inf)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any


def read_saved_config(folder: str | Path, kind: str, what: str) -> dict[str, Any]:
    """The parsed `config.json` of a saved model folder, checked to hold a model of `kind`.

    `what` names the model in the error ("tagger", "summarizer"). Raises FileNotFoundError when the
    folder has no config.json, ValueError when it holds another kind of model.
    """
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no {what} at {folder} (missing config.json)")
    meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        found = meta.get("kind") if isinstance(meta, dict) else None
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise ValueError(f"{folder} holds a {found!r}, not {article} {kind}")
    return meta


def warn_fingerprint_mismatch(meta: dict[str, Any], fingerprint: str, what: str, outputs: str) -> None:
    """Warn when the base encoder differs from the one the saved model was trained on.

    `what` is the model ("tagger"), `outputs` what may suffer ("predictions", "scores").
    """
    expected = meta.get("base_fingerprint")
    if expected and expected != fingerprint:
        warnings.warn(
            f"base encoder fingerprint {fingerprint} differs from the one this {what} was trained on "
            f"({expected}); {outputs} may be off",
            stacklevel=3,
        )


# Weight files whose sha256 a saved folder records, relative to the folder (LoRA adapters sit in adapter/).
WEIGHT_PATTERNS = ("*.safetensors", "*/*.safetensors", "*.bin", "*/*.bin")


def weight_hashes(folder: str | Path) -> dict[str, str]:
    """sha256 of every weight file under a saved model folder, keyed by its path relative to the folder."""
    from dangtopic.models.encoder import sha256_file

    folder = Path(folder)
    files = sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()})
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}


def check_finite(state_dict: dict[str, Any], where: str) -> None:
    """Refuse weights holding NaN or infinity: they would write NaN scores (invalid JSON) for every input."""
    import torch

    for name, tensor in state_dict.items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{where}: weight {name!r} holds NaN or infinite values; the model is broken")


def verify_weights(folder: str | Path, meta: dict[str, Any]) -> None:
    """Check the weight files of a saved folder against the sha256 its config.json records, and that
    every safetensors file holds finite numbers. A folder saved before hashes were recorded is only
    checked for finite weights."""
    from safetensors.torch import load_file

    folder = Path(folder)
    recorded = meta.get("weights_sha256")
    if recorded is not None:
        actual = weight_hashes(folder)
        for name, digest in recorded.items():
            if name not in actual:
                raise ValueError(f"{folder}: weight file {name} is missing")
            if actual[name] != digest:
                raise ValueError(
                    f"{folder}: {name} does not match the sha256 recorded when the model was saved "
                    "(corrupted or edited)"
                )
    for path in sorted({p for pattern in WEIGHT_PATTERNS[:2] for p in folder.glob(pattern)}):
        try:
            state = load_file(str(path))
        except Exception as e:  # safetensors raises its own error type for a damaged file
            raise ValueError(f"{path}: not a readable safetensors file ({e})") from None
        check_finite(state, str(path))


def render_card(
    body: str,
    *,
    model_name: str,
    base_model: str,
    pipeline_tag: str,
    tags: list[str],
    datasets: list[str],
    results: list[dict],
) -> str:
    """A model folder's README.md: Hugging Face card metadata (written by `huggingface_hub.ModelCard`) above
    `body`. `results` are dicts of `dataset`, `metric` (e.g. "f1"), `name` and `value`."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    data = ModelCardData(
        model_name=model_name,
        language=["vi"],
        license="apache-2.0",
        library_name="dangtopic",
        pipeline_tag=pipeline_tag,
        tags=tags,
        base_model="intfloat/multilingual-e5-small" if "e5-small" in base_model else base_model,
        datasets=datasets,
        metrics=sorted({r["metric"] for r in results}) or None,
        eval_results=[
            EvalResult(
                task_type=pipeline_tag,
                dataset_type=r["dataset"],
                dataset_name=r["dataset"],
                metric_type=r["metric"],
                metric_name=r["name"],
                metric_value=r["value"],
            )
            for r in results
        ]
        or None,
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))
