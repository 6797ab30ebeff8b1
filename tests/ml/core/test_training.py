"""ml.core.training: the recipe's quality on the shipped data, determinism, the frozen holdout, the
search criterion and the recorded metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import ml.core.training as training
from ml.core.features import columns_from_frame, columns_from_passengers
from ml.core.metrics import METRIC_NAMES
from ml.core.table import fingerprint
from ml.core.training import (
    DEFAULT_PARAMS,
    TrainConfig,
    TrainingResult,
    holdout_mask,
    search,
    train,
)
from ml.io.data import load_csv
from ml.jobs.retrain import STEPS as RUN_STEPS
from tests.support.models import FAST_CONFIG

TINY_SEARCH = dataclasses.replace(FAST_CONFIG, candidates=3, search_folds=3)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_csv()


@pytest.fixture(scope="module")
def fast(frame: pd.DataFrame) -> TrainingResult:
    return train(frame, FAST_CONFIG)


# ---------------------------------------------------------------------------------------------
# Quality of the full default recipe


@pytest.fixture(scope="module")
def default_result(frame: pd.DataFrame) -> TrainingResult:
    return train(frame, TrainConfig())


def test_default_recipe_meets_the_quality_targets(default_result: TrainingResult) -> None:
    """Issue 2's targets, on the shipped 891 rows with the default TrainConfig (seed 42, 3x5-fold).

    Measured: accuracy 0.837, ROC AUC 0.880, Brier 0.120, ECE 0.033. Other seeds land either side
    of the accuracy target (0.832-0.843 over seeds 1-4); the README gives the spread."""
    result = default_result
    cv = result.cv_metrics
    assert result.info["cv"] == "3x5-fold stratified"
    failures = []
    if not cv["accuracy"] >= 0.835:
        failures.append(f"accuracy {cv['accuracy']:.4f} < 0.835")
    if not cv["roc_auc"] >= 0.875:
        failures.append(f"roc_auc {cv['roc_auc']:.4f} < 0.875")
    if not cv["brier"] <= 0.125:
        failures.append(f"brier {cv['brier']:.4f} > 0.125")
    if not cv["ece"] <= 0.04:
        failures.append(f"ece {cv['ece']:.4f} > 0.04")
    assert not failures, "; ".join(failures)


def test_the_default_model_does_not_carry_one_classs_families_over_to_another(
    default_result: TrainingResult,
) -> None:
    """Every 2nd-class child in the data survived, and 3rd class's large families nearly all died.
    A boy of 8 with his parents and two sisters must not inherit the second from the first."""
    from ml.core.passenger import Passenger

    def chance(pclass: int) -> float:
        boy = Passenger.create(pclass=pclass, sex="male", age=8, sibsp=2, parch=2, title="Master")
        return float(default_result.model.predict_proba(columns_from_passengers([boy]))[0])

    assert chance(2) > 0.6 and chance(3) < 0.2


def test_fast_recipe_is_in_a_sane_range(fast: TrainingResult) -> None:
    """Not the targets: a floor that catches a broken pipeline (leaks would show as too good)."""
    cv = fast.cv_metrics
    assert 0.78 <= cv["accuracy"] <= 0.9
    assert 0.83 <= cv["roc_auc"] <= 0.93
    assert cv["brier"] <= 0.15 and cv["ece"] <= 0.08
    assert 0.75 <= fast.holdout_metrics["accuracy"] <= 0.92


# ---------------------------------------------------------------------------------------------
# Determinism


def test_training_is_deterministic(frame: pd.DataFrame, fast: TrainingResult) -> None:
    again = train(frame, FAST_CONFIG)
    assert again.metrics() == fast.metrics()
    assert again.params == fast.params
    assert again.search == fast.search
    assert (again.data_fingerprint, again.holdout_fingerprint) == (
        fast.data_fingerprint,
        fast.holdout_fingerprint,
    )
    np.testing.assert_array_equal(again.model.predict_frame(frame), fast.model.predict_frame(frame))
    assert again.model.spec == fast.model.spec


def test_row_order_does_not_change_the_holdout(frame: pd.DataFrame) -> None:
    shuffled = frame.sample(frac=1.0, random_state=11)
    mask = pd.Series(holdout_mask(frame), index=frame.index)
    np.testing.assert_array_equal(holdout_mask(shuffled), mask.loc[shuffled.index].to_numpy())


# ---------------------------------------------------------------------------------------------
# The frozen holdout


def test_holdout_is_stable_and_about_a_fifth(frame: pd.DataFrame, fast: TrainingResult) -> None:
    mask = holdout_mask(frame)
    assert mask.dtype == bool and len(mask) == len(frame)
    np.testing.assert_array_equal(mask, holdout_mask(frame.copy()))
    assert 0.15 <= mask.mean() <= 0.25
    assert fast.n_holdout == mask.sum() and fast.n_train == (~mask).sum() and fast.n_rows == 891
    # Both outcomes are on both sides.
    assert set(frame.loc[mask, "survived"]) == {0, 1}


def test_holdout_membership_survives_new_rows(frame: pd.DataFrame) -> None:
    extra = frame.iloc[:50].assign(name=lambda f: f["name"] + " Jr", ticket="NEW")
    grown = pd.concat([frame, extra], ignore_index=True)
    np.testing.assert_array_equal(holdout_mask(grown)[: len(frame)], holdout_mask(frame))


def test_holdout_without_names_uses_the_attributes(frame: pd.DataFrame) -> None:
    anonymous = frame.drop(columns=["name", "ticket"])
    mask = holdout_mask(anonymous)
    np.testing.assert_array_equal(mask, holdout_mask(anonymous.sample(frac=1.0, random_state=5).sort_index()))
    assert 0.15 <= mask.mean() <= 0.25
    assert holdout_mask(anonymous, buckets=2).mean() == pytest.approx(0.5, abs=0.08)


# ---------------------------------------------------------------------------------------------
# Search


def test_search_scores_every_candidate_out_of_fold_and_blends_them(frame: pd.DataFrame) -> None:
    columns, y = columns_from_frame(frame), frame["survived"].to_numpy()
    found = search(columns, y, TINY_SEARCH)
    assert found.candidates[0] == DEFAULT_PARAMS and len(found.table) == 3
    assert len({tuple(sorted(params.items())) for params in found.candidates}) == 3  # distinct
    assert found.oof.shape == (3, TINY_SEARCH.search_repeats, len(y))
    assert ((found.oof > 0) & (found.oof < 1)).all()  # every row was predicted once per repeat
    for row, params in zip(found.table, found.candidates, strict=True):
        assert row["params"] == params and set(METRIC_NAMES) <= set(row)
    weights = training.select_blend(found.oof, y, TINY_SEARCH.blend_rounds)
    assert [row["weight"] for row in found.table] == [weights.get(c, 0.0) for c in range(3)]
    assert found.blend.members == tuple((weights[c], found.candidates[c]) for c in sorted(weights))
    assert sum(weight for weight, _ in found.blend.members) == pytest.approx(1.0)


def _oof(*probabilities: list[float]) -> np.ndarray:
    """Crafted out-of-fold probabilities: one candidate per argument, one repeat."""
    return np.array([[p] for p in probabilities], dtype=float)


def test_blend_selection_prefers_log_loss_over_accuracy() -> None:
    """An overconfident candidate that gets more rows right still loses on log loss."""
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    cautious = [0.7, 0.7, 0.7, 0.45, 0.3, 0.3, 0.3, 0.55]  # 6 of 8 right, never far off
    bold = [0.99, 0.99, 0.99, 0.99, 0.01, 0.01, 0.01, 0.99]  # 7 of 8 right, one badly wrong
    assert training.select_blend(_oof(bold, cautious), y, rounds=1) == {1: 1.0}


def test_blend_selection_keeps_a_lone_winner() -> None:
    y = np.array([1, 0, 1, 0, 1, 0])
    good = [0.8, 0.2, 0.8, 0.2, 0.8, 0.2]
    poor = [0.6, 0.4, 0.4, 0.6, 0.6, 0.4]
    assert training.select_blend(_oof(poor, good), y, rounds=10) == {1: 1.0}


def test_blend_selection_mixes_candidates_whose_errors_differ() -> None:
    """Two candidates wrong on different rows: their mean log-odds beats either alone."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    truth = np.where(y == 1, 1.0, -1.0)
    a = 1 / (1 + np.exp(-(truth + rng.normal(0, 1.5, 400))))
    b = 1 / (1 + np.exp(-(truth + rng.normal(0, 1.5, 400))))
    oof = _oof(list(a), list(b))
    weights = training.select_blend(oof, y, rounds=10)
    assert set(weights) == {0, 1} and sum(weights.values()) == pytest.approx(1.0)
    blended = training._mean_log_loss(y, sum(w * training._logit(oof[c]) for c, w in weights.items()))
    assert blended < min(training._mean_log_loss(y, training._logit(oof[c])) for c in (0, 1))


def test_blend_selection_breaks_ties_toward_the_defaults() -> None:
    y = np.array([1, 0, 1, 0])
    same = [0.7, 0.3, 0.7, 0.3]
    assert training.select_blend(_oof(same, same, same), y, rounds=5) == {0: 1.0}


def test_a_blend_model_averages_its_members_log_odds(frame: pd.DataFrame) -> None:
    columns, y = columns_from_frame(frame), frame["survived"].to_numpy()
    first, second = DEFAULT_PARAMS, {**DEFAULT_PARAMS, "max_depth": 3, "eta": 0.05}
    blend = training.Blend(((0.75, first), (0.25, second)))
    model = training.fit_model(columns, y, blend, seed=3, nthread=1)
    members = [training.fit_model(columns, y, params, seed=3, nthread=1) for params in (first, second)]
    expected = 0.75 * members[0].margin(columns) + 0.25 * members[1].margin(columns)
    np.testing.assert_allclose(model.margin(columns), expected, atol=1e-5)
    assert model.params == {"blend": [{"weight": 0.75, **first}, {"weight": 0.25, **second}]}


def test_candidates_are_seeded() -> None:
    config = TrainConfig(candidates=8)
    first = training._candidates(config)
    assert first == training._candidates(config) and len(first) == 8
    assert first[0] == DEFAULT_PARAMS
    assert training._candidates(dataclasses.replace(config, seed=7)) != first


# ---------------------------------------------------------------------------------------------
# What a training run records


def test_metrics_keys_and_rounding(fast: TrainingResult) -> None:
    metrics = fast.metrics()
    assert set(metrics) == {f"{side}_{name}" for side in ("cv", "holdout") for name in METRIC_NAMES}
    assert all(isinstance(value, float) and round(value, 6) == value for value in metrics.values())
    assert metrics["cv_log_loss"] == round(fast.cv_metrics["log_loss"], 6)


def test_training_result_records_its_inputs(frame: pd.DataFrame, fast: TrainingResult) -> None:
    assert fast.data_fingerprint == fingerprint(frame)
    assert fast.holdout_fingerprint.startswith("sha256:")
    chosen = [{"weight": row["weight"], **row["params"]} for row in fast.search if row["weight"] > 0]
    assert fast.params == {"blend": [{**m, "weight": round(m["weight"], 6)} for m in chosen]}
    assert fast.model.params == fast.params
    assert fast.info == {"seed": 42, "cv": "1x5-fold stratified"}
    assert fast.seconds > 0


def test_progress_reports_each_step(frame: pd.DataFrame) -> None:
    steps: list[str] = []
    train(frame, dataclasses.replace(FAST_CONFIG, candidates=1, search_folds=2, cv_folds=2), steps.append)
    assert steps == ["search", "cross-validate", "evaluate on holdout"]
    assert set(steps) <= set(RUN_STEPS)  # what a retraining run shows as its progress
