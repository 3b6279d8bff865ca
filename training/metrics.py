"""Multi-label metrics and threshold tuning shared by tagger training and evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Per-label precision/recall/F1/support plus micro and macro F1 (scikit-learn)."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0, labels=list(range(len(labels)))
    )
    out = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(labels)
    }
    out["micro_f1"] = float(f1_score(y_true, y_pred, average="micro", zero_division=0))
    out["macro_f1"] = float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    return out


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray, grid: Sequence[float] | None = None) -> np.ndarray:
    """Per-label threshold maximising F1 on (dev) data; ties go to the threshold nearest 0.5."""
    grid = np.asarray(grid if grid is not None else np.round(np.arange(0.05, 0.951, 0.025), 3))
    best = np.full(probs.shape[1], 0.5, dtype=np.float32)
    for j in range(probs.shape[1]):
        t = y_true[:, j].astype(bool)
        if not t.any():
            continue
        scores = []
        for g in grid:
            pred = probs[:, j] >= g
            tp = np.sum(pred & t)  # F1 = 2tp / (2tp + fp + fn), where tp + fp + fn = |pred or t|
            scores.append(0.0 if tp == 0 else 2 * tp / (tp + np.sum(pred | t)))
        scores = np.asarray(scores)
        cands = grid[scores >= scores.max() - 1e-9]
        best[j] = float(cands[np.argmin(np.abs(cands - 0.5))])
    return best


def format_report(rows: dict[str, dict], labels: Sequence[str]) -> str:
    """A fixed-width table: one row per system, P/R/F1 per label, micro and macro F1."""
    head = (
        f"{'system':<28}" + "".join(f"{lab[:13]:>15}" for lab in labels) + f"{'micro-F1':>10}{'macro-F1':>10}"
    )
    sub = f"{'':<28}" + "".join(f"{'P/R/F1':>15}" for _ in labels)
    lines = [head, sub, "-" * len(head)]
    for name, rep in rows.items():
        cells = "".join(
            f"{rep[lab]['precision']:.2f}/{rep[lab]['recall']:.2f}/{rep[lab]['f1']:.2f}".rjust(15)
            for lab in labels
        )
        lines.append(f"{name:<28}{cells}{rep['micro_f1']:>10.3f}{rep['macro_f1']:>10.3f}")
    return "\n".join(lines)
