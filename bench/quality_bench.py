"""The recipe's quality under nested cross-validation, against the three lookup tables on the same folds.

Outer loop: stratified 5-fold x 5 repeats (25 outer folds, seed 2024) on the shipped 891 rows; the
recipe (default TrainConfig) makes every choice inside each outer fold's training rows (ml.core.
evaluation). The same again with outer folds that never split a travelling party (rows sharing a
ticket, or a surname, class and port while travelling with family), so a party's shared fate cannot
leak from training rows into test rows; and, on the random folds, the recipe answering test rows
whose family is hidden, as most people asking give none. Each figure is mean ± SE over the outer folds; the recipe's
paired differences from the 12-number table also carry the Nadeau–Bengio corrected SE and the number
of folds it won. Then the frozen holdout, with its own standard error: 182 rows are too few to steer by.

Run alone with `python -m bench.quality_bench` (about 30 s), or with the rest via `python -m bench`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from bench import report, row
from ml.core.evaluation import (
    FOLD_METRICS,
    REFERENCE,
    FitPredict,
    Row,
    nested_cv,
    summarise,
    table_fit_predict,
)
from ml.core.features import Columns, columns_from_frame, subset
from ml.core.training import TrainConfig, holdout_mask, recipe_fit_predict
from ml.io.data import load_csv

SEED = 2024
FOLDS, REPEATS = 5, 5
RECIPE = "recipe"
# Most people asking give no family: the same recipe, its test rows' family hidden (it is then
# averaged over the families of passengers like them, FeatureSpec.expand).
NO_FAMILY = "recipe, family not given"


def without_family(fit_predict: FitPredict) -> FitPredict:
    def fit_predict_hidden(train: Columns, y: np.ndarray, test: Columns, seed: int) -> np.ndarray:
        unknown = np.full(len(test["pclass"]), np.nan)
        return fit_predict(train, y, {**test, "sibsp": unknown, "parch": unknown}, seed)

    return fit_predict_hidden


def travelling_parties(frame: pd.DataFrame) -> np.ndarray:
    """A group label per row: rows sharing a ticket, or sharing surname + class + port while
    travelling with family, are one party (union-find). Only for evaluation: it reads names and
    tickets, which the model never does."""
    parent = list(range(len(frame)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    with_family = (frame["sibsp"].fillna(0) + frame["parch"].fillna(0)) > 0
    surname = frame["name"].astype(str).str.split(",").str[0]
    family_key = (surname + "|" + frame["pclass"].astype(str) + "|" + frame["embarked"].astype(str)).where(
        with_family
    )
    for keys in (frame["ticket"].astype(str), family_key):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if isinstance(key, str):
                parent[find(i)] = find(first.setdefault(key, i))
    return np.array([find(i) for i in range(len(frame))])


LABELS = {
    "accuracy": "accuracy",
    "roc_auc": "ROC AUC",
    "brier": "Brier",
    "log_loss": "log loss",
    "ece": "ECE",
}


def _figures(r: Row) -> str:
    return " · ".join(
        f"{LABELS[m]} {r.metrics[m].mean:.3f} ± {r.metrics[m].se:.3f}" for m in (*FOLD_METRICS, "ece")
    )


def split_rows(rows: list[Row], split: str, seconds: float) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        log_loss = r.metrics["log_loss"]
        out.append(
            row(
                f"{split}: {r.name} log loss",
                round(log_loss.mean, 4),
                f"± {log_loss.se:.4f}",
                "",
                True,
                _figures(r),
            )
        )
    for r in rows:
        for metric, label in (("log_loss", "log loss"), ("brier", "Brier")):
            d = r.versus_reference.get(metric)
            if d is None or r.name not in (RECIPE, NO_FAMILY):
                continue
            target = r.name == RECIPE  # the bar: the recipe, as the owners score it (families known)
            bar = -d.se if metric == "log_loss" else 0.0
            out.append(
                row(
                    f"{split}: {r.name} − 12-number table, {label}",
                    round(d.mean, 4),
                    f"± {d.se:.4f}",
                    ("< −1 paired SE" if metric == "log_loss" else "< 0") if target else "",
                    d.mean < bar or not target,
                    f"corrected SE {d.corrected_se:.4f}; better in {d.wins}/{d.folds} folds"
                    + (f"; {seconds:.0f} s" if metric == "brier" and target else ""),
                )
            )
    return out


def holdout_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frozen holdout's figures, as a version records them (the recipe's twin and the table, both
    fitted without the holdout rows), with the standard errors its 182 rows allow."""
    columns, y = columns_from_frame(frame), frame["survived"].to_numpy()
    held = holdout_mask(frame)
    train_rows, hold_rows = subset(columns, np.flatnonzero(~held)), subset(columns, np.flatnonzero(held))
    twin = recipe_fit_predict(TrainConfig())(train_rows, y[~held], hold_rows, SEED)
    table = table_fit_predict(REFERENCE)(train_rows, y[~held], hold_rows, SEED)

    def losses(p: np.ndarray) -> np.ndarray:
        return np.asarray(-np.log(np.where(y[held] == 1, p, 1 - p)))

    ours, theirs = losses(twin), losses(table)
    n = int(held.sum())
    d = ours - theirs
    return [
        row(
            f"frozen holdout ({n} rows): recipe twin log loss",
            round(float(ours.mean()), 4),
            f"± {ours.std(ddof=1) / math.sqrt(n):.4f}",
            "",
            True,
            f"12-number table {theirs.mean():.4f} ± {theirs.std(ddof=1) / math.sqrt(n):.4f}; paired difference"
            f" {d.mean():+.4f} ± {d.std(ddof=1) / math.sqrt(n):.4f}: too few rows to steer by",
        )
    ]


def run(folds: int = FOLDS, repeats: int = REPEATS, seed: int = SEED) -> list[dict[str, Any]]:
    frame = load_csv()
    columns, y = columns_from_frame(frame), frame["survived"].to_numpy()
    recipe = recipe_fit_predict(TrainConfig())
    results = []
    for split, groups in (("random folds", None), ("party folds", travelling_parties(frame))):
        started = time.perf_counter()
        recipes = (
            {RECIPE: recipe} if groups is not None else {RECIPE: recipe, NO_FAMILY: without_family(recipe)}
        )
        nested = nested_cv(columns, y, recipes, folds=folds, repeats=repeats, seed=seed, groups=groups)
        rows = summarise(nested, REFERENCE)
        print(f"{split}: {time.perf_counter() - started:.1f} s", flush=True)
        results += split_rows(rows, f"{split} {repeats}x{folds}", time.perf_counter() - started)
    return results + holdout_rows(frame)


def main() -> list[dict[str, Any]]:
    return report(run())


if __name__ == "__main__":
    main()
