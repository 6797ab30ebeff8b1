"""Evaluation metrics for probabilistic classifiers, all 'higher is better' except losses and ECE."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

METRIC_NAMES = ("accuracy", "roc_auc", "brier", "log_loss", "ece")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean predicted| over equal-width probability bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(float(y[mask].mean()) - float(p[mask].mean()))
    return float(total / len(y))


def evaluate(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """All metrics for true labels `y` (0/1) and survival probabilities `p`."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    return {
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
        "roc_auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
    }


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {name: float(np.mean([r[name] for r in rows])) for name in rows[0]}


def reliability_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """The reliability diagram's points: per equal-width probability bin (the bins of
    `expected_calibration_error`) holding any prediction, the mean predicted probability, the
    observed survival rate and how many predictions fell in it."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    points = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            points.append(
                {
                    "low": round(float(edges[b]), 4),
                    "high": round(float(edges[b + 1]), 4),
                    "predicted": round(float(p[mask].mean()), 5),
                    "observed": round(float(y[mask].mean()), 5),
                    "count": int(mask.sum()),
                }
            )
    return points
