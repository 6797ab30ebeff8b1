"""The promotion gate: does a retrained challenger replace the champion? Pure: figures in, decision out.

Every figure here is on the frozen holdout, from a model that did not learn from it: the served
model is fitted on all rows, so a version's holdout figures come from its twin fitted without the
holdout rows (versions from before issue 10 were themselves fitted without them). A champion's
recorded figures are compared only when they are on the same holdout rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ml.core.metrics import METRIC_NAMES

PRIMARY_METRIC = "log_loss"
# Retraining the same recipe with another seed moves holdout log loss by ~0.01: within that, the
# challenger counts as "not worse".
TOLERANCE = 0.01
SHOWN = (("log_loss", "log loss"), ("brier", "Brier"), ("accuracy", "accuracy"), ("roc_auc", "ROC AUC"))


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger: dict[str, float]
    champion: dict[str, float] | None  # None: no champion, or none whose figures compare honestly
    champion_version: str | None
    baseline_log_loss: float  # the sex-only table
    table: dict[str, float] = field(default_factory=dict)  # the 12-number table, same holdout

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "challenger": self.challenger,
            "champion": self.champion,
            "champion_version": self.champion_version,
            "baseline_log_loss": self.baseline_log_loss,
            "table": self.table,
        }


def recorded_holdout(metrics: Mapping[str, float]) -> dict[str, float]:
    """A version's own holdout figures from its recorded metrics (holdout_*, not the tables')."""
    return {name: metrics[f"holdout_{name}"] for name in METRIC_NAMES if f"holdout_{name}" in metrics}


def comparable_champion(
    metrics: Mapping[str, float],
    info: Mapping[str, Any],
    data_fingerprint: str,
    *,
    holdout_fingerprint: str,
    current_data_fingerprint: str,
    n_holdout: int,
) -> tuple[dict[str, float] | None, str]:
    """The champion's recorded holdout figures if they were measured on the same holdout rows as
    the challenger's (same holdout fingerprint, or the same data and holdout size), else None; and
    why, in words."""
    same_rows = info.get("holdout_fingerprint") == holdout_fingerprint or (
        data_fingerprint == current_data_fingerprint and info.get("n_holdout") == n_holdout
    )
    figures = recorded_holdout(metrics)
    if not same_rows:
        return None, "its holdout figures are on other passengers"
    if PRIMARY_METRIC not in figures:
        return None, "it recorded no holdout figures"
    return figures, "recorded on the same holdout"


def gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: str | None,
    baseline: float,
    table: dict[str, float],
    tolerance: float = TOLERANCE,
    *,
    incomparable: str = "",
) -> Decision:
    """Promote when the challenger beats the sex-only table and the 12-number table, and is not
    worse than the champion by more than `tolerance` (when the champion's figures compare)."""
    c = challenger[PRIMARY_METRIC]

    def decide(promote: bool, reason: str) -> Decision:
        return Decision(promote, reason, challenger, champion, champion_version, baseline, table)

    kept = f"kept {champion_version}" if champion_version else "not promoted"
    for name, bar in (("sex-only table", baseline), ("12-number table", table[PRIMARY_METRIC])):
        if c >= bar:
            return decide(False, f"{kept}: log loss {c:.3f} does not beat the {name} {bar:.3f}")
    beats = f"log loss {c:.3f} beats the 12-number table {table[PRIMARY_METRIC]:.3f}"
    if champion_version is None:
        return decide(True, f"promoted: no current default; {beats}")
    if champion is None:
        return decide(True, f"promoted: {beats}; {champion_version} cannot be compared ({incomparable})")
    k = champion[PRIMARY_METRIC]
    if c <= k + tolerance:
        return decide(True, f"promoted: {beats} and {k:.3f} for {champion_version} (tolerance {tolerance})")
    return decide(
        False, f"kept {champion_version}: log loss {c:.3f} vs {k:.3f} (worse by more than {tolerance})"
    )


def holdout_lines(decision: Mapping[str, Any], challenger: str, champion: str | None) -> list[str]:
    """The frozen holdout's figures as fixed-width lines: challenger, champion, 12-number table."""
    columns = [
        (challenger, decision.get("challenger") or {}),
        (champion or "—", decision.get("champion") or {}),
        ("table", decision.get("table") or {}),
    ]
    lines = [f"{'':<10}" + "".join(f"{name:>10}" for name, _ in columns)]
    for key, label in SHOWN:
        lines.append(
            f"{label:<10}"
            + "".join(f"{figures[key]:>10.3f}" if key in figures else f"{'—':>10}" for _, figures in columns)
        )
    return lines
