"""ml.core.promotion: the gate (the sex-only table, the 12-number table, the champion), when a
champion's recorded figures compare honestly, and the holdout lines a report shows."""

from __future__ import annotations

import pytest

from ml.core.promotion import comparable_champion, gate, holdout_lines, recorded_holdout

TABLE = {"log_loss": 0.43, "brier": 0.135, "accuracy": 0.78, "roc_auc": 0.86}


def test_a_challenger_within_tolerance_of_the_champion_is_promoted() -> None:
    decision = gate({"log_loss": 0.415}, {"log_loss": 0.41}, "V1", 0.5, TABLE)
    assert decision.promote and "promoted" in decision.reason and "0.415" in decision.reason
    assert "12-number table 0.430" in decision.reason
    assert decision.to_dict()["table"] == TABLE


def test_a_clearly_worse_challenger_keeps_the_champion() -> None:
    decision = gate({"log_loss": 0.42}, {"log_loss": 0.40}, "V2", 0.5, TABLE)
    assert not decision.promote
    assert decision.reason == "kept V2: log loss 0.420 vs 0.400 (worse by more than 0.01)"


@pytest.mark.parametrize(("champion", "version"), [(None, None), ({"log_loss": 0.6}, "V3")])
def test_the_challenger_must_beat_the_12_number_table(
    champion: dict[str, float] | None, version: str | None
) -> None:
    """Even with no champion, or a champion far worse: losing to 12 numbers is not a model."""
    decision = gate({"log_loss": 0.44}, champion, version, 0.5, TABLE)
    assert not decision.promote
    assert decision.reason.endswith("log loss 0.440 does not beat the 12-number table 0.430")
    assert not gate({"log_loss": 0.52}, None, None, 0.5, TABLE).promote  # nor the sex-only table
    assert gate({"log_loss": 0.42}, None, None, 0.5, TABLE).promote


def test_an_incomparable_champion_is_said_so() -> None:
    decision = gate(
        {"log_loss": 0.40}, None, "V4", 0.5, TABLE, incomparable="its holdout figures are on other passengers"
    )
    assert decision.promote
    assert decision.reason == (
        "promoted: log loss 0.400 beats the 12-number table 0.430; V4 cannot be compared"
        " (its holdout figures are on other passengers)"
    )


def test_only_figures_on_the_same_holdout_rows_compare() -> None:
    metrics = {
        "holdout_log_loss": 0.41,
        "holdout_brier": 0.12,
        "holdout_table_log_loss": 0.43,
        "cv_log_loss": 0.4,
    }
    assert recorded_holdout(metrics) == {"log_loss": 0.41, "brier": 0.12}  # not the table's, not CV's
    same = {"holdout_fingerprint": "sha256:h", "n_holdout": 182}
    kwargs = {"holdout_fingerprint": "sha256:h", "current_data_fingerprint": "sha256:d", "n_holdout": 182}
    assert comparable_champion(metrics, same, "sha256:other", **kwargs)[0] == {
        "log_loss": 0.41,
        "brier": 0.12,
    }
    # A version from before issue 10 recorded another kind of holdout fingerprint, but the same data
    # and the same holdout size mean the same rows (the holdout is a hash of who each passenger is).
    old = {"holdout_fingerprint": "sha256:indexes", "n_holdout": 182}
    assert comparable_champion(metrics, old, "sha256:d", **kwargs)[0] is not None
    figures, why = comparable_champion(metrics, old, "sha256:other", **kwargs)
    assert figures is None and why == "its holdout figures are on other passengers"
    figures, why = comparable_champion({"cv_log_loss": 0.4}, same, "sha256:d", **kwargs)
    assert figures is None and why == "it recorded no holdout figures"


def test_holdout_lines_put_the_table_beside_champion_and_challenger() -> None:
    decision = {"challenger": {"log_loss": 0.39, "brier": 0.12}, "champion": None, "table": TABLE}
    lines = holdout_lines(decision, "V3 new", "V2 now")
    assert lines[0].split() == ["V3", "new", "V2", "now", "table"]
    assert lines[1].split() == ["log", "loss", "0.390", "—", "0.430"]
    assert lines[3].split() == ["accuracy", "—", "—", "0.780"]
    assert len({len(line) for line in lines}) == 1  # fixed width
