"""ml.core.evaluation: the figures of a nested cross-validation, computed from crafted predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.core.evaluation import REFERENCE, NestedCV, markdown, outer_splits, summarise
from ml.core.metrics import evaluate


def _crafted() -> NestedCV:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 120)
    splits = outer_splits(y, folds=4, repeats=2, seed=5)
    result = NestedCV(y=y, splits=splits, folds=4, repeats=2)
    result.predictions[REFERENCE] = rng.uniform(0.2, 0.8, (2, len(y)))
    result.predictions["sharper"] = np.where(
        y == 1, rng.uniform(0.5, 0.9, (2, len(y))), rng.uniform(0.1, 0.5, (2, len(y)))
    )
    return result


def test_paired_differences_are_per_fold_and_their_standard_errors() -> None:
    result = _crafted()
    rows = {row.name: row for row in summarise(result)}
    assert rows[REFERENCE].versus_reference == {}
    per_fold = np.array(
        [
            evaluate(result.y[test], result.predictions["sharper"][j // 4, test])["log_loss"]
            - evaluate(result.y[test], result.predictions[REFERENCE][j // 4, test])["log_loss"]
            for j, (_, test) in enumerate(result.splits)
        ]
    )
    d = rows["sharper"].versus_reference["log_loss"]
    assert d.mean == pytest.approx(per_fold.mean()) and d.folds == 8 and d.wins == int((per_fold < 0).sum())
    assert d.se == pytest.approx(per_fold.std(ddof=1) / math.sqrt(8))
    ratio = np.mean([len(test) / len(train) for train, test in result.splits])
    assert d.corrected_se == pytest.approx(per_fold.std(ddof=1) * math.sqrt(1 / 8 + ratio))
    assert d.corrected_se > d.se
    log_loss = rows["sharper"].metrics["log_loss"]
    folds = [
        evaluate(result.y[t], result.predictions["sharper"][j // 4, t])["log_loss"]
        for j, (_, t) in enumerate(result.splits)
    ]
    assert log_loss.mean == pytest.approx(np.mean(folds)) and log_loss.se == pytest.approx(
        np.std(folds, ddof=1) / math.sqrt(8)
    )


def test_the_markdown_table_has_a_row_per_model() -> None:
    text = markdown(summarise(_crafted()))
    lines = text.splitlines()
    assert lines[0].startswith("| model | accuracy | ROC AUC | Brier | log loss | ECE |")
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| {REFERENCE}", "| sharper"]
    assert lines[3].count("±") == 7 and "/8" in lines[3]


def test_group_splits_keep_a_group_on_one_side() -> None:
    y = np.array([0, 1] * 30)
    groups = np.repeat(np.arange(20), 3)
    for train, test in outer_splits(y, folds=3, repeats=2, seed=1, groups=groups):
        assert not set(groups[train]) & set(groups[test])
