"""ml.core.interval: the likely range widens where the records hold few like the asker and where the
bootstrap members disagree, and an unknown family counts both kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from ml.core.boosters import booster_from, document, pack_members, set_trees, trees
from ml.core.features import FeatureSpec, columns_from_frame, columns_from_passengers
from ml.core.interval import KINDS, WIDEN, Z80, Uncertainty, _quantile, kind_words, kinds
from ml.core.passenger import Passenger
from ml.core.training import fit_recipe
from ml.io.data import load_csv
from tests.support.models import FAST_CONFIG


@pytest.fixture(scope="module")
def spec() -> FeatureSpec:
    return FeatureSpec.fit(columns_from_frame(load_csv()))


def _constant_members(margins: list[float], n_features: int) -> xgb.Booster:
    """Members that each predict one constant log-odds (a one-leaf tree), packed."""
    rows = np.zeros((2, n_features), dtype=np.float32)
    base = xgb.train(
        {"objective": "binary:logistic", "base_score": 0.5, "max_depth": 1},
        xgb.DMatrix(rows, label=[0, 1]),
        1,
    )
    documents = []
    for margin in margins:
        doc = document(base)
        leaf = {**trees(doc)[0]}
        leaf.update(
            left_children=[-1], right_children=[-1], parents=[2147483647], split_indices=[0],
            split_conditions=[margin], base_weights=[margin], default_left=[0], split_type=[0],
            sum_hessian=[1.0], loss_changes=[0.0],
            tree_param={**leaf["tree_param"], "num_nodes": "1"},
        )  # fmt: skip
        set_trees(doc, [leaf])
        documents.append(doc)
    return booster_from(pack_members(documents))


def test_the_range_is_the_members_spread_and_the_records_doubt(spec: FeatureSpec) -> None:
    matrix = spec.transform(columns_from_passengers([Passenger.create(pclass=3, sex="male", age=30)]))
    names = spec.feature_names
    members = _constant_members([float(m) for m in np.linspace(-1.0, 1.0, 11)], len(names))
    counts = np.full(KINDS, 100.0)
    uncertainty = Uncertainty(members, counts)
    margin = np.array([0.0])
    low, high = uncertainty.range(
        uncertainty.members_of(matrix), margin, uncertainty.like_you(kinds(matrix, names), np.array([True]))
    )
    q10, q90 = np.quantile(np.linspace(-1.0, 1.0, 11), [0.1, 0.9])
    spread = (q90 - q10) / (2 * Z80)
    half = WIDEN * Z80 * np.sqrt(spread**2 + 1 / (101 * 0.25))
    assert low[0] == pytest.approx(1 / (1 + np.exp(half))) and high[0] == pytest.approx(
        1 / (1 + np.exp(-half))
    )


def test_fewer_like_you_or_more_disagreement_is_a_wider_range(spec: FeatureSpec) -> None:
    matrix = spec.transform(columns_from_passengers([Passenger.create(pclass=1, sex="female", age=30)]))
    names = spec.feature_names
    kind = kinds(matrix, names)
    agree, disagree = (
        _constant_members(list(spread), len(names)) for spread in ([0.9, 1.0, 1.1], [-0.5, 1.0, 2.5])
    )
    widths = {}
    for label, members, n in (("many", agree, 500.0), ("few", agree, 3.0), ("split", disagree, 500.0)):
        uncertainty = Uncertainty(members, np.full(KINDS, n))
        low, high = uncertainty.range(
            uncertainty.members_of(matrix), np.array([1.0]), uncertainty.like_you(kind, np.array([True]))
        )
        assert low[0] < 1 / (1 + np.exp(-1.0)) < high[0]
        widths[label] = high[0] - low[0]
    assert widths["many"] < widths["few"] and widths["many"] < widths["split"]


@pytest.mark.parametrize("width", [1, 2, 5, 50])
def test_the_quantiles_are_numpys(width: int) -> None:
    rows = np.random.default_rng(width).normal(size=(7, width))
    for q in (0.1, 0.5, 0.9):
        np.testing.assert_allclose(_quantile(rows, q), np.quantile(rows, q, axis=1))


def test_an_unknown_family_counts_both_kinds() -> None:
    counts = np.arange(KINDS, dtype=float)
    uncertainty = Uncertainty(_constant_members([0.0], 13), counts)
    kind = np.array([10, 11])
    np.testing.assert_array_equal(uncertainty.like_you(kind, np.array([True, True])), [10, 11])
    np.testing.assert_array_equal(uncertainty.like_you(kind, np.array([False, False])), [21, 21])


def test_kinds_in_words(spec: FeatureSpec) -> None:
    people = [
        Passenger.create(pclass=3, sex="male", age=6, sibsp=0, parch=0),
        Passenger.create(pclass=1, sex="female", age=30, sibsp=1),
    ]
    kind = kinds(spec.transform(columns_from_passengers(people)), spec.feature_names)
    assert kind_words(int(kind[0])) == "3rd class, male, under 13, alone"
    assert kind_words(int(kind[1])) == "1st class, female, 13 or over, with family"
    assert kind_words(int(kind[1]), family_known=False) == "1st class, female, 13 or over"


def test_counts_come_back_from_json() -> None:
    members = _constant_members([0.0, 1.0], 13)
    uncertainty = Uncertainty(members, np.arange(KINDS, dtype=float))
    again = Uncertainty.from_json(uncertainty.to_json(), members)
    np.testing.assert_array_equal(again.kind_counts, uncertainty.kind_counts)
    assert again.widen == WIDEN
    with pytest.raises(ValueError, match="24 kind counts"):
        Uncertainty.from_json({"kind_counts": [1, 2]}, members)


def test_counts_are_training_passengers_per_kind() -> None:
    frame = load_csv()
    model = fit_recipe(
        columns_from_frame(frame), frame["survived"].to_numpy(), FAST_CONFIG, members=True
    ).model
    assert model.uncertainty is not None
    alone = (frame["sibsp"] + frame["parch"]) == 0
    boys_alone = (frame["pclass"] == 3) & (frame["sex"] == "male") & (frame["age"] < 13) & alone
    kind = kinds(
        model.spec.transform(
            columns_from_passengers([Passenger.create(pclass=3, sex="male", age=10, sibsp=0, parch=0)])
        ),
        model.spec.feature_names,
    )
    # Every 3rd-class boy under 13 travelling alone (a recorded age; unknown ages are imputed by title).
    assert model.uncertainty.kind_counts[kind[0]] >= boys_alone.sum() == 1
    assert pd.Series(model.uncertainty.kind_counts).sum() == len(frame)
