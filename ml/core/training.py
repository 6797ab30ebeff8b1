"""The training recipe: the 12-number table, boosted by a few shallow trees, fitted on every row.

One ordinary xgboost booster: tree 0 is the table (survival by sex × class × child, Laplace-smoothed,
as log-odds leaves), and after it come at most `max_rounds` shallow, strongly regularised trees
boosted from it. How deep they are, how many passengers a leaf needs and how many there are (0 to
150: none at all is the table alone) is chosen by an inner 5-fold cross-validation on the training
rows, the table re-estimated inside every inner fold. Bootstrap members (the whole recipe refitted
on resamples) give each answer its range (ml.core.interval).

Quality is measured by nested cross-validation (ml.core.evaluation): the whole recipe, inner choice
included, fitted on each outer fold's training rows, against the lookup tables on the same folds.
The served model is fitted on all rows; the frozen holdout's figures come from a twin fitted
without the holdout rows (a model is never scored on rows it learnt from).

`train()` is a plain function of a canonical passenger frame, so the local backend runs it in
process and the Snowflake backend runs the very same code inside a stored procedure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.model_selection import StratifiedKFold

from ml.core.boosters import Document, booster_from, document, pack_members, with_first_tree
from ml.core.evaluation import REFERENCE, FitPredict, NestedCV, nested_cv, summarise, table_fit_predict
from ml.core.evidence import CV_PROBABILITY, EvidenceTable
from ml.core.features import Columns, FeatureSpec, columns_from_frame, invalid_rows, subset
from ml.core.interval import KINDS, Uncertainty, kinds
from ml.core.metrics import evaluate, reliability_bins
from ml.core.model import InvalidRowsError, SurvivalModel
from ml.core.prior import Table, matrix_cells, table_tree
from ml.core.table import TARGET, DataError, fingerprint

Progress = Callable[[str], None]

RECIPE = "table-boosted"
# What train() reports as it goes (a retraining run shows them as its steps).
STEPS = ("cross-validate", "evaluate on holdout", "fit on all rows")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    seed: int = 42
    # The inner choice: (max_depth, min_child_weight) pairs, and 0..max_rounds trees of them.
    # Shallow trees and a large lambda: 891 rows support little beyond the table.
    grid: tuple[tuple[int, float], ...] = ((1, 3.0), (2, 3.0), (1, 10.0), (2, 10.0))
    eta: float = 0.1
    reg_lambda: float = 5.0
    max_rounds: int = 150
    inner_folds: int = 5
    members: int = 50  # bootstrap members behind each answer's range
    cv_folds: int = 5  # the nested cross-validation's outer loop
    cv_repeats: int = 1
    holdout_buckets: int = 5  # 1 in 5 rows is the frozen holdout
    # One thread: ~700-row folds gain nothing from more, and OpenMP threads that spin-wait on a
    # busy machine made the same training 7-40x slower (measured with nthread=2).
    nthread: int = 1

    def __post_init__(self) -> None:
        # JSON (a Snowflake procedure's argument) turns the grid's pairs into lists.
        object.__setattr__(self, "grid", tuple((int(d), float(w)) for d, w in self.grid))

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> TrainConfig:
        """The recipe's cost knobs from MLSettings (LIFEBOAT_MEMBERS, LIFEBOAT_CV_FOLDS, ...)."""
        values = {
            "seed": settings.seed,
            "members": settings.members,
            "cv_folds": settings.cv_folds,
            "cv_repeats": settings.cv_repeats,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Choice:
    """What the inner cross-validation chose, and the best of every grid point it tried."""

    max_depth: int
    min_child_weight: float
    rounds: int
    inner_log_loss: float
    grid: tuple[dict[str, float], ...] = ()

    def params(self, config: TrainConfig) -> dict[str, Any]:
        """The version's parameters, as the registry records them."""
        return {
            "recipe": RECIPE,
            "first_tree": f"{REFERENCE} table (Laplace)",
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "num_round": self.rounds,
            "eta": config.eta,
            "lambda": config.reg_lambda,
            "members": config.members,
        }


def _booster_params(config: TrainConfig, max_depth: int, min_child_weight: float) -> dict[str, Any]:
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": max_depth,
        "min_child_weight": min_child_weight,
        "eta": config.eta,
        "lambda": config.reg_lambda,
        "base_score": 0.5,  # the table's tree carries the base margin
        "seed": config.seed,
        "nthread": config.nthread,
    }


def _table_margin(
    matrix: np.ndarray, y: np.ndarray, names: tuple[str, ...], *scored: np.ndarray
) -> list[np.ndarray]:
    """The 12-number table learnt from (matrix, y), as log-odds for each matrix in `scored`."""
    log_odds = Table.fit(matrix_cells(matrix, names), y).log_odds
    return [log_odds[matrix_cells(m, names)] for m in scored]


def _log_loss(y: np.ndarray, margin: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, np.where(y == 1, -margin, margin))))


def _inner_curve(
    matrix: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    fold: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
) -> np.ndarray:
    """(grid points, max_rounds + 1) validation log loss of one inner fold after 0..max_rounds trees."""
    train, valid = fold
    base_train, base_valid = _table_margin(matrix[train], y[train], names, matrix[train], matrix[valid])
    d_train = xgb.DMatrix(matrix[train], label=y[train], base_margin=base_train, nthread=config.nthread)
    d_valid = xgb.DMatrix(matrix[valid], label=y[valid], base_margin=base_valid, nthread=config.nthread)
    curves = np.empty((len(config.grid), config.max_rounds + 1))
    curves[:, 0] = _log_loss(y[valid], base_valid)  # no trees: the table alone
    for g, (depth, weight) in enumerate(config.grid if config.max_rounds > 0 else ()):
        history: dict[str, Any] = {}
        xgb.train(
            _booster_params(config, depth, weight),
            d_train,
            num_boost_round=config.max_rounds,
            evals=[(d_valid, "valid")],
            evals_result=history,
            verbose_eval=False,
        )
        curves[g, 1:] = history["valid"]["logloss"]
    return curves


def choose(matrix: np.ndarray, y: np.ndarray, names: tuple[str, ...], config: TrainConfig) -> Choice:
    """Inner cross-validation on these rows only: the grid point and number of trees (0 = the table
    alone) with the lowest log loss over the inner folds' validation rows."""
    folds = StratifiedKFold(config.inner_folds, shuffle=True, random_state=config.seed).split(y, y)
    curves = np.zeros((len(config.grid), config.max_rounds + 1))
    for train, valid in folds:  # weighted by fold size: the log loss over all validation rows
        curves += (len(valid) / len(y)) * _inner_curve(matrix, y, names, (train, valid), config)
    g, rounds = np.unravel_index(np.argmin(curves), curves.shape)
    depth, weight = config.grid[int(g)]
    tried = tuple(
        {
            "max_depth": d,
            "min_child_weight": w,
            "rounds": int(np.argmin(curves[i])),
            "log_loss": round(float(curves[i].min()), 5),
        }
        for i, (d, w) in enumerate(config.grid)
    )
    return Choice(int(depth), float(weight), int(rounds), float(curves[g, rounds]), tried)


def fit_document(
    matrix: np.ndarray, y: np.ndarray, names: tuple[str, ...], config: TrainConfig, choice: Choice
) -> Document:
    """The table learnt from these rows as tree 0, then `choice.rounds` trees boosted from it: one
    binary:logistic booster, as xgboost's JSON document."""
    table = Table.fit(matrix_cells(matrix, names), y)
    d_train = xgb.DMatrix(
        matrix, label=y, base_margin=table.log_odds[matrix_cells(matrix, names)], nthread=config.nthread
    )
    boosted = xgb.train(
        _booster_params(config, choice.max_depth, choice.min_child_weight),
        d_train,
        num_boost_round=choice.rounds,
    )
    return with_first_tree(document(boosted), table_tree(table, names))


def _members(
    matrix: np.ndarray, y: np.ndarray, names: tuple[str, ...], config: TrainConfig, choice: Choice
) -> xgb.Booster:
    """`config.members` bootstrap refits (table re-estimated, the same choice of trees: redoing the
    inner CV 50 times would cost 50 × its time), packed into one multi-output booster."""
    rng = np.random.default_rng(config.seed)
    documents = []
    for _ in range(config.members):
        rows = rng.integers(0, len(y), len(y))
        documents.append(fit_document(matrix[rows], y[rows], names, config, choice))
    return booster_from(pack_members(documents), nthread=config.nthread)


@dataclass(frozen=True)
class Fitted:
    model: SurvivalModel
    choice: Choice


def fit_recipe(
    columns: Columns,
    y: np.ndarray,
    config: TrainConfig,
    *,
    members: bool = False,
    evidence: EvidenceTable | None = None,
) -> Fitted:
    """The whole recipe on these rows: imputation, the inner choice, the booster, and (when asked)
    the members behind the range."""
    spec = FeatureSpec.fit(columns)
    names = spec.feature_names
    matrix = spec.transform(columns)
    choice = choose(matrix, y, names, config)
    booster = booster_from(fit_document(matrix, y, names, config, choice), nthread=config.nthread)
    uncertainty = None
    if members and config.members > 0:
        counts = np.bincount(kinds(matrix, names), minlength=KINDS).astype(np.float64)
        uncertainty = Uncertainty(_members(matrix, y, names, config, choice), counts)
    model = SurvivalModel(booster, spec, choice.params(config), uncertainty=uncertainty, evidence=evidence)
    return Fitted(model, choice)


def recipe_fit_predict(config: TrainConfig) -> FitPredict:
    """The recipe as nested cross-validation runs it: fitted on an outer fold's training rows."""

    def fit_predict(train: Columns, y: np.ndarray, test: Columns, seed: int) -> np.ndarray:
        return fit_recipe(train, y, dataclasses.replace(config, seed=seed)).model.predict_proba(test)

    return fit_predict


@dataclass(frozen=True)
class TrainingResult:
    model: SurvivalModel
    params: dict[str, Any]
    cv_metrics: dict[str, float]  # nested CV: the recipe
    cv_table_metrics: dict[str, float]  # the 12-number table on the same outer folds
    holdout_metrics: dict[str, float]  # a twin fitted without the holdout rows
    holdout_table_metrics: dict[str, float]  # the 12-number table fitted without them
    holdout_sex_log_loss: float  # the sex-only table fitted without them: the floor
    data_fingerprint: str
    holdout_fingerprint: str
    n_rows: int
    n_train: int  # rows the holdout twin learnt from
    n_holdout: int
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat metrics as recorded in the registry: cv_*, cv_table_*, holdout_*, holdout_table_*."""
        flat: dict[str, float] = {}
        for prefix, values in (
            ("cv_", self.cv_metrics),
            ("cv_table_", self.cv_table_metrics),
            ("holdout_", self.holdout_metrics),
            ("holdout_table_", self.holdout_table_metrics),
        ):
            flat.update({f"{prefix}{k}": round(v, 6) for k, v in values.items()})
        flat["holdout_sex_table_log_loss"] = round(self.holdout_sex_log_loss, 6)
        return flat


def holdout_mask(frame: Any, buckets: int = 5) -> np.ndarray:
    """The frozen holdout: a row is held out by a hash of who the passenger is, so the same people
    stay held out across retrains, and rows added later fall on a side deterministically."""
    if "name" in frame.columns:
        keys = frame["name"].astype(str) + "|" + (frame["ticket"].astype(str) if "ticket" in frame else "")
    else:
        keys = (
            frame[["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked"]]
            .astype(str)
            .agg("|".join, axis=1)
        )
        keys = keys + "|" + frame.groupby(keys.values).cumcount().astype(str).values
    digests = [int(hashlib.sha256(k.encode()).hexdigest()[:8], 16) for k in keys]
    return np.array([d % buckets == 0 for d in digests])


def cross_validate(columns: Columns, y: np.ndarray, config: TrainConfig) -> NestedCV:
    """Nested CV of the recipe (and the tables) with the config's outer folds and repeats."""
    return nested_cv(
        columns,
        y,
        {"recipe": recipe_fit_predict(config)},
        folds=config.cv_folds,
        repeats=config.cv_repeats,
        seed=config.seed,
    )


def _cv_metrics(
    result: NestedCV, config: TrainConfig
) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """The recipe's and the 12-number table's nested-CV figures, and what the version records
    about them (the other tables' figures, the recipe's out-of-fold reliability bins)."""
    rows = {row.name: row for row in summarise(result)}
    recipe, table = rows["recipe"], rows[REFERENCE]
    versus = recipe.versus_reference["log_loss"]
    recipe_metrics = {name: estimate.mean for name, estimate in recipe.metrics.items()}
    recipe_metrics.update(log_loss_se=recipe.metrics["log_loss"].se, log_loss_vs_table=versus.mean)
    recipe_metrics["log_loss_vs_table_se"] = versus.se
    summary = {
        "cv": f"nested {result.repeats}x{result.folds}-fold (inner {config.inner_folds}-fold)",
        "cv_tables": {
            row.name: {m: round(e.mean, 5) for m, e in row.metrics.items()}
            for row in rows.values()
            if row.name != "recipe"
        },
        # Every out-of-fold prediction of every repeat (each row once per repeat), binned.
        "cv_reliability": reliability_bins(
            np.tile(result.y, result.repeats), result.predictions["recipe"].ravel()
        ),
    }
    return recipe_metrics, {name: e.mean for name, e in table.metrics.items()}, summary


def _holdout(
    columns: Columns, y: np.ndarray, held: np.ndarray, config: TrainConfig
) -> tuple[dict[str, float], dict[str, float], float, list[dict[str, float]]]:
    """The recipe's twin, the 12-number table and the sex-only table, each fitted without the
    holdout rows and scored on them; and the twin's reliability bins there."""
    train, hold = subset(columns, np.flatnonzero(~held)), subset(columns, np.flatnonzero(held))
    y_train, y_hold = y[~held], y[held]
    twin = fit_recipe(train, y_train, config).model
    table, sex = (table_fit_predict(name)(train, y_train, hold, config.seed) for name in (REFERENCE, "sex"))
    twin_p = twin.predict_proba(hold)
    return (
        evaluate(y_hold, twin_p),
        evaluate(y_hold, table),
        evaluate(y_hold, sex)["log_loss"],
        reliability_bins(y_hold, twin_p),
    )


# Nested CV (5 outer × 5 inner stratified folds) and a 20% holdout need this much to mean anything.
MIN_TRAINING_ROWS = 100
MIN_EACH_OUTCOME = 20


def check_training_rows(columns: Columns, y: np.ndarray) -> None:
    """Refuse what a model must not learn from: rows nobody could have been (a 7th class, an age of
    300, a sex that is neither), as scoring refuses them, or too few passengers to evaluate."""
    problems = invalid_rows(columns)
    if problems:
        raise InvalidRowsError(problems, purpose="used for training")
    survived = int(y.sum())
    died = len(y) - survived
    if len(y) < MIN_TRAINING_ROWS or min(survived, died) < MIN_EACH_OUTCOME:
        raise DataError(
            f"too few passengers to train and evaluate a model: {len(y)} ({survived} survived, {died} died);"
            f" at least {MIN_TRAINING_ROWS}, with {MIN_EACH_OUTCOME} of each outcome"
        )


def train(frame: Any, config: TrainConfig | None = None, progress: Progress | None = None) -> TrainingResult:
    """Nested CV, the holdout twin, then the served model fitted on every row (with its members and
    the evidence table of the rows it learnt from)."""
    config = config or TrainConfig()
    report = progress or (lambda _step: None)
    started = time.perf_counter()
    columns = columns_from_frame(frame)
    y = frame[TARGET].to_numpy(dtype=int)
    check_training_rows(columns, y)
    held = holdout_mask(frame, config.holdout_buckets)

    report(STEPS[0])
    nested = cross_validate(columns, y, config)
    cv_metrics, cv_table_metrics, cv_info = _cv_metrics(nested, config)
    report(STEPS[1])
    holdout_metrics, holdout_table_metrics, holdout_sex_log_loss, holdout_bins = _holdout(
        columns, y, held, config
    )
    report(STEPS[2])
    data_fingerprint = fingerprint(frame)
    evidence = EvidenceTable.from_frame(frame, data_fingerprint)
    # What a model that never saw each row said of it: a name lookup shows it beside the answer.
    evidence.add_column(CV_PROBABILITY, nested.predictions["recipe"].mean(axis=0).round(4))
    fitted = fit_recipe(columns, y, config, members=True, evidence=evidence)
    return TrainingResult(
        model=fitted.model,
        params=fitted.model.params,
        cv_metrics=cv_metrics,
        cv_table_metrics=cv_table_metrics,
        holdout_metrics=holdout_metrics,
        holdout_table_metrics=holdout_table_metrics,
        holdout_sex_log_loss=holdout_sex_log_loss,
        data_fingerprint=data_fingerprint,
        holdout_fingerprint=fingerprint(frame[held]),
        n_rows=len(y),
        n_train=int((~held).sum()),
        n_holdout=int(held.sum()),
        seconds=time.perf_counter() - started,
        info={
            "seed": config.seed,
            **cv_info,
            "inner_choice": {
                "max_depth": fitted.choice.max_depth,
                "min_child_weight": fitted.choice.min_child_weight,
                "rounds": fitted.choice.rounds,
                "inner_log_loss": round(fitted.choice.inner_log_loss, 5),
                "grid": list(fitted.choice.grid),
            },
            "holdout": "a twin fitted without the holdout rows; the served model is fitted on all rows",
            "holdout_reliability": holdout_bins,
            "mean_abs_contribution": fitted.model.mean_abs_contributions(columns),
        },
    )
