"""Nested cross-validation: a recipe against the lookup tables, on the same outer folds.

The outer loop splits the rows (repeated stratified k-fold). The recipe gets only an outer fold's
training rows and returns probabilities for its test rows: every automatic choice (imputation
medians, the table under the booster, the number and shape of the trees) is made inside that call,
so the outer figure is honest. The tables are fitted on the same training rows and scored on the
same test rows, so each fold gives a paired difference.

Figures are mean ± standard error over the outer folds (SE = sd / √J for J folds). Repeated-CV folds
share training rows, so that SE is optimistic; paired differences also get the Nadeau–Bengio
corrected SE, sd · √(1/J + n_test/n_train), the conservative yardstick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold

from ml.core.features import Columns, FeatureSpec, subset
from ml.core.metrics import evaluate, expected_calibration_error
from ml.core.passenger import CHILD_AGE
from ml.core.prior import ALPHA

FitPredict = Callable[[Columns, np.ndarray, Columns, int], np.ndarray]  # train, y, test, seed -> p
Split = tuple[np.ndarray, np.ndarray]
FOLD_METRICS = ("accuracy", "roc_auc", "brier", "log_loss")
REFERENCE = "sex × class × child"  # the 12-number table: what the recipe has to beat


# -- the lookup tables ---------------------------------------------------------------------------
def _sex(completed: Columns) -> np.ndarray:
    return np.asarray(completed["sex"] == "female", dtype=np.int64)


def _sex_class(completed: Columns) -> np.ndarray:
    return 10 * _sex(completed) + completed["pclass"].astype(np.int64)


def _sex_class_child(completed: Columns) -> np.ndarray:
    # An unknown age is the training median of the title (a "Master" is a child, anyone else not).
    return 100 * _sex(completed) + 10 * completed["pclass"].astype(np.int64) + (completed["age"] < CHILD_AGE)


TABLE_KEYS: dict[str, Callable[[Columns], np.ndarray]] = {
    "sex": _sex,
    "sex × class": _sex_class,
    REFERENCE: _sex_class_child,
}


def table_probabilities(keys_train: np.ndarray, y: np.ndarray, keys_test: np.ndarray) -> np.ndarray:
    """Laplace-smoothed survival rate of each test row's key among the training rows: (survivors +
    1) / (passengers + 2), so a key no training row has gets 1/2, as the recipe's tree 0 does."""
    out = np.empty(len(keys_test))
    for key in np.unique(keys_test):
        same = keys_train == key
        out[keys_test == key] = (y[same].sum() + ALPHA) / (same.sum() + 2 * ALPHA)
    return out


def table_fit_predict(name: str) -> FitPredict:
    """A table as a recipe: imputation learnt on the training rows, then the smoothed rates."""
    keys = TABLE_KEYS[name]

    def fit_predict(train: Columns, y: np.ndarray, test: Columns, _seed: int) -> np.ndarray:
        spec = FeatureSpec.fit(train)
        (completed_train, _), (completed_test, _) = spec.impute(train), spec.impute(test)
        return table_probabilities(keys(completed_train), y, keys(completed_test))

    return fit_predict


# -- the outer loop ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NestedCV:
    """Out-of-fold probabilities of each recipe: (repeats, rows), every row once per repeat."""

    y: np.ndarray
    splits: list[Split]
    folds: int
    repeats: int
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def outer_splits(
    y: np.ndarray, folds: int, repeats: int, seed: int, groups: np.ndarray | None = None
) -> list[Split]:
    """Repeated stratified k-fold; with `groups`, no group is on both sides of a split."""
    if groups is None:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
        return list(splitter.split(y, y))
    return [
        split
        for r in range(repeats)
        for split in StratifiedGroupKFold(folds, shuffle=True, random_state=seed + r).split(y, y, groups)
    ]


def nested_cv(
    columns: Columns,
    y: np.ndarray,
    recipes: Mapping[str, FitPredict],
    *,
    folds: int,
    repeats: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> NestedCV:
    """Every recipe (and the three tables) fitted on each outer fold's training rows and scored on
    its test rows. A recipe's own seed is `seed + fold index`."""
    splits = outer_splits(y, folds, repeats, seed, groups)
    everything = {**{name: table_fit_predict(name) for name in TABLE_KEYS}, **recipes}
    result = NestedCV(y=y, splits=splits, folds=folds, repeats=repeats)
    for name, fit_predict in everything.items():
        out = np.zeros((repeats, len(y)))
        for j, (train, test) in enumerate(splits):
            out[j // folds, test] = fit_predict(
                subset(columns, train), y[train], subset(columns, test), seed + j
            )
        result.predictions[name] = out
    return result


# -- the figures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    mean: float
    se: float


@dataclass(frozen=True)
class Difference:
    """A recipe minus the reference, fold by fold."""

    mean: float
    se: float  # naive: sd / √J
    corrected_se: float  # Nadeau–Bengio
    wins: int  # folds where the recipe's figure is lower (better, for a loss)
    folds: int


@dataclass(frozen=True)
class Row:
    name: str
    metrics: dict[str, Estimate]  # FOLD_METRICS and "ece"
    versus_reference: dict[str, Difference]  # log_loss and brier (empty for the reference itself)


def _estimate(values: np.ndarray) -> Estimate:
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return Estimate(float(values.mean()), se)


def _difference(d: np.ndarray, test_train_ratio: float) -> Difference:
    sd = float(d.std(ddof=1)) if len(d) > 1 else math.nan
    return Difference(
        mean=float(d.mean()),
        se=sd / math.sqrt(len(d)),
        corrected_se=sd * math.sqrt(1 / len(d) + test_train_ratio),
        wins=int((d < 0).sum()),
        folds=len(d),
    )


def summarise(result: NestedCV, reference: str = REFERENCE) -> list[Row]:
    """Per recipe: each metric as mean ± SE over the outer folds (ECE over each repeat's pooled
    out-of-fold predictions: a 178-row fold is too small for ten bins), and its paired differences
    from the reference on log loss and Brier."""
    y, splits = result.y, result.splits
    ratio = float(np.mean([len(test) / len(train) for train, test in splits]))
    per_fold = {
        name: [evaluate(y[test], p[j // result.folds, test]) for j, (_, test) in enumerate(splits)]
        for name, p in result.predictions.items()
    }
    rows = []
    for name, scores in per_fold.items():
        metrics = {m: _estimate(np.array([s[m] for s in scores])) for m in FOLD_METRICS}
        metrics["ece"] = _estimate(
            np.array(
                [expected_calibration_error(y, result.predictions[name][r]) for r in range(result.repeats)]
            )
        )
        versus = {}
        if name != reference and reference in per_fold:
            for m in ("log_loss", "brier"):
                d = np.array([a[m] - b[m] for a, b in zip(scores, per_fold[reference], strict=True)])
                versus[m] = _difference(d, ratio)
        rows.append(Row(name, metrics, versus))
    return rows


def markdown(rows: Sequence[Row], reference: str = REFERENCE) -> str:
    """The summary as a Markdown table (README, bench, notes)."""
    head = (
        "| model | accuracy | ROC AUC | Brier | log loss | ECE "
        f"| Δ log loss vs {reference} ± SE [corrected SE] wins | Δ Brier vs {reference} ± SE [corrected SE] wins |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [f"{row.metrics[m].mean:.3f} ± {row.metrics[m].se:.3f}" for m in (*FOLD_METRICS, "ece")]
        for m in ("log_loss", "brier"):
            d = row.versus_reference.get(m)
            cells.append(
                "" if d is None else f"{d.mean:+.4f} ± {d.se:.4f} [{d.corrected_se:.4f}] {d.wins}/{d.folds}"
            )
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
