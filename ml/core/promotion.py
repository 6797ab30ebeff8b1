"""The promotion gate: does a retrained challenger replace the champion? Pure: metrics in, decision out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml.core.metrics import evaluate
from ml.core.table import TARGET

PRIMARY_METRIC = "log_loss"
# Retraining the same recipe with another seed moves holdout log loss by ~0.01: within that, the
# challenger counts as "not worse".
TOLERANCE = 0.01


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger: dict[str, float]
    champion: dict[str, float] | None
    champion_version: str | None
    baseline_log_loss: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "challenger": self.challenger,
            "champion": self.champion,
            "champion_version": self.champion_version,
            "baseline_log_loss": self.baseline_log_loss,
        }


def sex_only_baseline(train_frame: Any, holdout: Any) -> float:
    """Log loss on the holdout of 'women survive at the women's rate, men at the men's': the floor."""
    rates = train_frame.groupby("sex")[TARGET].mean()
    p = holdout["sex"].map(rates).fillna(train_frame[TARGET].mean()).to_numpy(dtype=float)
    return evaluate(holdout[TARGET].to_numpy(), p)[PRIMARY_METRIC]


def gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: str | None,
    baseline: float,
    tolerance: float = TOLERANCE,
) -> Decision:
    """Promote when the challenger beats the sex-only floor and is not worse than the champion."""
    c = challenger[PRIMARY_METRIC]
    if c >= baseline:
        reason = (
            f"kept {champion_version}: log loss {c:.3f} does not beat the sex-only baseline {baseline:.3f}"
        )
        return Decision(False, reason, challenger, champion, champion_version, baseline)
    if champion is None:
        return Decision(
            True, f"promoted: no current default (log loss {c:.3f})", challenger, None, None, baseline
        )
    k = champion[PRIMARY_METRIC]
    if c <= k + tolerance:
        reason = f"promoted: log loss {c:.3f} vs {k:.3f} for {champion_version} (tolerance {tolerance})"
        return Decision(True, reason, challenger, champion, champion_version, baseline)
    reason = f"kept {champion_version}: log loss {c:.3f} vs {k:.3f} (worse by more than {tolerance})"
    return Decision(False, reason, challenger, champion, champion_version, baseline)
