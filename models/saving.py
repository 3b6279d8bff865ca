"""Helpers shared by the models' `from_pretrained`: reading a saved folder's config.json."""

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
