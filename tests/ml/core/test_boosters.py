"""ml.core.prior and ml.core.boosters: the 12-number table as an xgboost tree, and bootstrap members
packed into one multi-output booster."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from ml.core.boosters import (
    booster_from,
    document,
    merge_identical_trees,
    pack_members,
    set_trees,
    trees,
    with_first_tree,
)
from ml.core.features import FeatureSpec, columns_from_frame
from ml.core.prior import CELLS, Table, cells, matrix_cells, table_tree
from ml.core.training import TrainConfig, choose, fit_document
from ml.core.treeshap import TreeExplainer
from ml.io.data import load_csv


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    frame = load_csv()
    columns = columns_from_frame(frame)
    spec = FeatureSpec.fit(columns)
    return spec.transform(columns), frame["survived"].to_numpy(), spec.feature_names


def test_cells_are_sex_class_and_child() -> None:
    got = cells(np.array([0, 0, 1, 1]), np.array([1, 3, 2, 3]), np.array([40.0, 5.0, 12.9, 13.0]))
    assert list(got) == [0, 5, 6 + 2 + 1, 6 + 4]


def test_the_table_tree_predicts_each_cells_smoothed_rate(
    data: tuple[np.ndarray, np.ndarray, tuple[str, ...]],
) -> None:
    matrix, y, names = data
    table = Table.fit(matrix_cells(matrix, names), y)
    assert table.passengers.sum() == len(y) and (table.passengers > 0).all()
    # One booster holding only the table's tree: its margin is the cell's Laplace log-odds.
    empty = xgb.train({"objective": "binary:logistic", "base_score": 0.5}, xgb.DMatrix(matrix, label=y), 0)
    booster = booster_from(with_first_tree(document(empty), table_tree(table, names)))
    margin = booster.inplace_predict(matrix, predict_type="margin")
    cell = matrix_cells(matrix, names)
    np.testing.assert_allclose(margin, table.log_odds[cell], atol=1e-6)
    rates = (table.survivors + 1) / (table.passengers + 2)
    np.testing.assert_allclose(table.probability, rates)
    # Path-dependent TreeSHAP weighs the cells by their passengers: the bias is the mean margin.
    explainer = TreeExplainer.from_booster(booster)
    assert explainer.bias == pytest.approx(float(np.mean(table.log_odds[cell])), abs=1e-3)
    for row in matrix[:50]:
        assert explainer.contributions(row).sum() == pytest.approx(
            float(booster.inplace_predict(row[None, :], predict_type="margin")[0]), abs=1e-5
        )


def test_an_empty_cell_is_even_odds() -> None:
    table = Table.fit(np.array([0, 0, 1]), np.array([1, 1, 0]))
    assert table.passengers.shape == (CELLS,) and table.log_odds[5] == 0.0  # (0 + 1) / (0 + 2)


def test_a_first_tree_needs_a_zero_base_margin(data: tuple[np.ndarray, np.ndarray, tuple[str, ...]]) -> None:
    matrix, y, names = data
    booster = xgb.train({"objective": "binary:logistic", "base_score": 0.3}, xgb.DMatrix(matrix, label=y), 1)
    with pytest.raises(ValueError, match=r"base score 0\.5"):
        with_first_tree(document(booster), table_tree(Table.fit(matrix_cells(matrix, names), y), names))


def test_packed_members_give_each_members_margin_in_one_call(
    data: tuple[np.ndarray, np.ndarray, tuple[str, ...]],
) -> None:
    matrix, y, names = data
    config = TrainConfig(grid=((2, 3.0),), inner_folds=3, max_rounds=40)
    choice = choose(matrix, y, names, config)
    rng = np.random.default_rng(0)
    documents = []
    for _ in range(6):
        rows = rng.integers(0, len(y), len(y))
        documents.append(fit_document(matrix[rows], y[rows], names, config, choice))
    separate = np.stack(
        [booster_from(d).inplace_predict(matrix, predict_type="margin") for d in documents], axis=1
    )
    packed = booster_from(pack_members(documents))
    np.testing.assert_allclose(packed.inplace_predict(matrix, predict_type="margin"), separate, atol=1e-5)
    # Merging a member's trees of the same shape loses nothing and saves trees.
    assert len(trees(pack_members(documents))) < sum(len(trees(d)) for d in documents)


def test_merging_identical_trees_keeps_the_predictions(
    data: tuple[np.ndarray, np.ndarray, tuple[str, ...]],
) -> None:
    matrix, y, _ = data
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 1, "base_score": 0.5}, xgb.DMatrix(matrix, label=y), 60
    )
    doc = document(booster)
    merged = merge_identical_trees(trees(doc))
    assert len(merged) < 60
    set_trees(doc, merged)
    np.testing.assert_allclose(
        booster_from(doc).inplace_predict(matrix, predict_type="margin"),
        booster.inplace_predict(matrix, predict_type="margin"),
        atol=1e-5,
    )


def test_nothing_to_pack_is_refused() -> None:
    with pytest.raises(ValueError, match="no members"):
        pack_members([])
