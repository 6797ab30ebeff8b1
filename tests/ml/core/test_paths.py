"""Grouping rows by tree path: the same probabilities as `predict_proba`, bit for bit, from far
fewer booster rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ml.core.features import columns_from_frame
from ml.core.model import SurvivalModel
from ml.core.paths import PathGroups
from ml.io.data import load_csv
from tests.support.models import fitted_model


def varied_passengers(rows: int, seed: int) -> pd.DataFrame:
    """Shipped passengers resampled, with ages and fares jittered so nearly every row differs;
    some values missing, some on split values exactly."""
    shipped = load_csv()
    rng = np.random.default_rng(seed)
    frame = shipped.iloc[rng.integers(0, len(shipped), rows)].reset_index(drop=True)
    frame["age"] = np.clip(np.round(frame["age"] + rng.normal(0, 5, rows), 2), 0.5, 80)
    frame["fare"] = np.round(frame["fare"] * rng.uniform(0.5, 1.5, rows), 3)
    frame.loc[rng.random(rows) < 0.1, "fare"] = np.nan
    return frame


def test_split_points_are_the_boosters_own_thresholds() -> None:
    model = fitted_model()
    trees = json.loads(model.booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    expected: dict[int, set[float]] = {}
    for tree in trees:
        for left, feature, value in zip(
            tree["left_children"], tree["split_indices"], tree["split_conditions"], strict=True
        ):
            if left != -1:
                expected.setdefault(feature, set()).add(float(np.float32(value)))
    points = model.prepare()._explainer.split_points()  # type: ignore[union-attr]
    assert {f: set(v.tolist()) for f, v in points.items()} == expected


def test_grouped_probabilities_equal_predict_proba_bit_for_bit() -> None:
    model = fitted_model()
    columns = columns_from_frame(varied_passengers(30_000, seed=3))
    matrix = model.spec.transform(columns)
    first, _ = model.path_groups.group(matrix)  # type: ignore[union-attr]
    assert len(first) < len(matrix) / 3  # far fewer rows reach the booster
    assert len(np.unique(matrix, axis=0)) > 0.9 * len(matrix)  # though the rows are nearly all distinct
    np.testing.assert_array_equal(model.predict_proba_grouped(columns), model.predict_proba(columns))


def test_rows_on_either_side_of_a_split_value_are_never_grouped() -> None:
    model = fitted_model()
    groups = model.path_groups
    assert groups is not None
    feature, cuts = next(iter(groups.cuts.items()))
    value = cuts[len(cuts) // 2]
    matrix = np.zeros((3, len(model.spec.feature_names)), dtype=np.float32)
    matrix[:, feature] = [np.nextafter(value, np.float32(-np.inf)), value, np.nan]
    _, inverse = groups.group(matrix)
    assert len(set(inverse.tolist())) == 3


def test_a_booster_too_rich_to_key_is_scored_row_by_row() -> None:
    points = {f: np.arange(2_000, dtype=np.float32) for f in range(8)}  # (2000 * 3 + 2) ** 8 > 2 ** 62
    assert PathGroups.from_split_points(points, 8) is None
    assert PathGroups.from_split_points({9: np.ones(1, np.float32)}, 8) is None  # not a column


def test_a_model_without_groups_still_predicts() -> None:
    model = SurvivalModel(fitted_model().booster.copy(), fitted_model().spec)
    model.__dict__["path_groups"] = None  # as for a booster treeshap does not read
    columns = columns_from_frame(varied_passengers(100, seed=4))
    np.testing.assert_array_equal(model.predict_proba_grouped(columns), model.predict_proba(columns))
