"""The training recipe: frozen holdout, seeded hyper-parameter search, a blend of the search's
candidates chosen on their out-of-fold predictions, repeated CV, final fit.

`train()` is a plain function of a canonical passenger frame, so the local backend runs it in
process and the Snowflake backend runs the very same code inside a stored procedure.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.model_selection import RepeatedStratifiedKFold

from ml.core.blend import blend_boosters
from ml.core.features import Columns, FeatureSpec, columns_from_frame
from ml.core.metrics import evaluate, expected_calibration_error, mean_metrics
from ml.core.model import SurvivalModel
from ml.core.table import TARGET, fingerprint

Progress = Callable[[str], None]

# Shallow trees and a modest learning rate: well calibrated on 891 rows without post-hoc
# calibration (Platt and isotonic both made out-of-fold log loss worse here).
DEFAULT_PARAMS: dict[str, Any] = {
    "max_depth": 2,
    "eta": 0.1,
    "num_round": 300,
    "min_child_weight": 1,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
}
# A region found by a wider grid under repeated CV (deeper trees or more shrinkage overfit or
# underfit 891 rows); the search picks within it by out-of-fold log loss.
SEARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "max_depth": (2, 3),
    "eta_rounds": ((0.05, 300), (0.1, 300)),
    "min_child_weight": (1,),
    "subsample": (0.8, 1.0),
    "colsample_bytree": (0.8, 1.0),
}


@dataclass(frozen=True, slots=True)
class TrainConfig:
    seed: int = 42
    candidates: int = 8  # the default parameters plus this many - 1 random draws
    search_folds: int = 5
    search_repeats: int = 2
    cv_folds: int = 5
    cv_repeats: int = 3
    holdout_buckets: int = 5  # 1 in 5 rows is held out
    blend_rounds: int = 10  # greedy ensemble-selection steps (weights are multiples of 1/rounds)
    # One thread: ~700-row folds gain nothing from more, and OpenMP threads that spin-wait on a
    # busy machine made the same training 7-40x slower (3 s -> 22-118 s measured with nthread=2).
    nthread: int = 1

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> TrainConfig:
        """The recipe's cost knobs from MLSettings (LIFEBOAT_SEARCH_CANDIDATES, ...)."""
        values = {
            "seed": settings.seed,
            "candidates": settings.search_candidates,
            "search_repeats": settings.search_repeats,
            "cv_repeats": settings.cv_repeats,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class TrainingResult:
    model: SurvivalModel
    params: dict[str, Any]
    cv_metrics: dict[str, float]
    holdout_metrics: dict[str, float]
    search: list[dict[str, Any]]
    data_fingerprint: str
    holdout_fingerprint: str
    n_rows: int
    n_train: int
    n_holdout: int
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat metrics as recorded in the registry: cv_* and holdout_*."""
        flat = {f"cv_{k}": round(v, 6) for k, v in self.cv_metrics.items()}
        flat.update({f"holdout_{k}": round(v, 6) for k, v in self.holdout_metrics.items()})
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


def _subset(columns: Columns, index: np.ndarray) -> Columns:
    return {name: values[index] for name, values in columns.items()}


@dataclass(frozen=True)
class Blend:
    """Candidates' parameters with weights summing to 1; the model averages their log-odds."""

    members: tuple[tuple[float, dict[str, Any]], ...]

    @classmethod
    def single(cls, params: dict[str, Any]) -> Blend:
        return cls(((1.0, dict(params)),))

    def to_json(self) -> dict[str, Any]:
        """What the registry records as the version's parameters."""
        return {"blend": [{"weight": round(weight, 6), **params} for weight, params in self.members]}


def _fit_booster(
    matrix: np.ndarray, y: np.ndarray, params: dict[str, Any], *, seed: int, nthread: int
) -> xgb.Booster:
    booster_params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": params["max_depth"],
        "eta": params["eta"],
        "min_child_weight": params["min_child_weight"],
        "subsample": params["subsample"],
        "colsample_bytree": params["colsample_bytree"],
        "seed": seed,
        "nthread": nthread,
    }
    return xgb.train(
        booster_params,
        xgb.DMatrix(matrix, label=y, nthread=nthread),
        num_boost_round=int(params["num_round"]),
    )


def fit_model(
    columns: Columns, y: np.ndarray, blend: Blend | dict[str, Any], *, seed: int, nthread: int
) -> SurvivalModel:
    """Fit every member of `blend` (or one parameter set) on the same rows, as one model."""
    blend = blend if isinstance(blend, Blend) else Blend.single(blend)
    spec = FeatureSpec.fit(columns)
    matrix = spec.transform(columns)
    boosters = [_fit_booster(matrix, y, params, seed=seed, nthread=nthread) for _, params in blend.members]
    # One member needs no blending: the search fits 80 of those and only reads their predictions.
    booster = boosters[0] if len(boosters) == 1 else blend_boosters(boosters, [w for w, _ in blend.members])
    return SurvivalModel(booster, spec, blend.to_json())


def _candidates(config: TrainConfig) -> list[dict[str, Any]]:
    rng = np.random.default_rng(config.seed)
    out = [dict(DEFAULT_PARAMS)]
    seen = {tuple(sorted(DEFAULT_PARAMS.items()))}
    while len(out) < config.candidates:
        draw = {k: v[int(rng.integers(len(v)))] for k, v in SEARCH_SPACE.items()}
        draw["eta"], draw["num_round"] = draw.pop("eta_rounds")
        key = tuple(sorted(draw.items()))
        if key not in seen:
            seen.add(key)
            out.append(draw)
    return out


@dataclass(frozen=True)
class Search:
    candidates: list[dict[str, Any]]
    table: list[dict[str, Any]]  # per candidate: params, mean fold metrics, blend weight
    oof: np.ndarray  # (candidates, repeats, rows) out-of-fold survival probabilities
    blend: Blend


def search(columns: Columns, y: np.ndarray, config: TrainConfig) -> Search:
    """Score each candidate out of fold, then blend the candidates by out-of-fold log loss
    (probability quality, not raw accuracy)."""
    splitter = RepeatedStratifiedKFold(
        n_splits=config.search_folds, n_repeats=config.search_repeats, random_state=config.seed
    )
    folds = list(splitter.split(y, y))
    candidates = _candidates(config)
    oof = np.zeros((len(candidates), config.search_repeats, len(y)))
    table = []
    for c, params in enumerate(candidates):
        scores = []
        for i, (train_idx, test_idx) in enumerate(folds):
            model = fit_model(
                _subset(columns, train_idx), y[train_idx], params, seed=config.seed, nthread=config.nthread
            )
            oof[c, i // config.search_folds, test_idx] = p = model.predict_proba(_subset(columns, test_idx))
            scores.append(evaluate(y[test_idx], p))
        table.append({"params": params, **mean_metrics(scores)})
    weights = select_blend(oof, y, config.blend_rounds)
    for c, row in enumerate(table):
        row["weight"] = weights.get(c, 0.0)
    blend = Blend(tuple((weights[c], candidates[c]) for c in sorted(weights)))
    return Search(candidates, table, oof, blend)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def _mean_log_loss(y: np.ndarray, logits: np.ndarray) -> float:
    """Log loss of probabilities given as log-odds, averaged over every row of every repeat (each
    repeat predicts every row once, so this is also the mean of the repeats' log losses)."""
    # log(1 + e^-z) for survivors, log(1 + e^z) for the rest, computed without overflow.
    return float(np.mean(np.logaddexp(0.0, np.where(y == 1, -logits, logits))))


def select_blend(oof: np.ndarray, y: np.ndarray, rounds: int) -> dict[int, float]:
    """Greedy ensemble selection with replacement (Caruana et al., 2004) on out-of-fold log-odds.

    Each round adds the candidate whose inclusion gives the lowest out-of-fold log loss of the
    mean log-odds; the best prefix wins, so one candidate alone is chosen when no blend beats it.
    Averaging near-tied candidates costs nothing in fit and takes the noise out of picking one.
    Returns candidate index -> weight (weights sum to 1).
    """
    logits = _logit(oof)
    chosen: list[int] = []
    total = np.zeros(oof.shape[1:])
    best_loss, best = math.inf, [0]
    for _ in range(max(1, rounds)):
        losses = [_mean_log_loss(y, (total + logits[c]) / (len(chosen) + 1)) for c in range(len(oof))]
        pick = int(np.argmin(losses))  # ties go to the earlier candidate (the defaults are first)
        chosen.append(pick)
        total += logits[pick]
        if losses[pick] < best_loss - 1e-12:
            best_loss, best = losses[pick], list(chosen)
    return {c: best.count(c) / len(best) for c in sorted(set(best))}


def cross_validate(columns: Columns, y: np.ndarray, blend: Blend, config: TrainConfig) -> dict[str, float]:
    """Repeated stratified k-fold: metrics averaged over folds; ECE over each repeat's pooled
    out-of-fold predictions (a 178-row fold is too small for a 10-bin calibration estimate)."""
    splitter = RepeatedStratifiedKFold(
        n_splits=config.cv_folds, n_repeats=config.cv_repeats, random_state=config.seed
    )
    per_fold, eces = [], []
    oof = np.zeros(len(y))
    for i, (train_idx, test_idx) in enumerate(splitter.split(y, y)):
        model = fit_model(
            _subset(columns, train_idx), y[train_idx], blend, seed=config.seed + i, nthread=config.nthread
        )
        oof[test_idx] = model.predict_proba(_subset(columns, test_idx))
        per_fold.append(evaluate(y[test_idx], oof[test_idx]))
        if (i + 1) % config.cv_folds == 0:
            eces.append(expected_calibration_error(y, oof))
    metrics = mean_metrics(per_fold)
    metrics["ece"] = float(np.mean(eces))
    return metrics


def train(frame: Any, config: TrainConfig | None = None, progress: Progress | None = None) -> TrainingResult:
    """Search, cross-validate and fit on the non-holdout rows; evaluate on the frozen holdout."""
    config = config or TrainConfig()
    report = progress or (lambda _step: None)
    started = time.perf_counter()
    columns = columns_from_frame(frame)
    y = frame[TARGET].to_numpy(dtype=int)
    held = holdout_mask(frame, config.holdout_buckets)
    train_idx, hold_idx = np.flatnonzero(~held), np.flatnonzero(held)
    train_cols, train_y = _subset(columns, train_idx), y[train_idx]

    report("search")
    found = search(train_cols, train_y, config)
    report("cross-validate")
    cv_metrics = cross_validate(columns, y, found.blend, config)
    model = fit_model(train_cols, train_y, found.blend, seed=config.seed, nthread=config.nthread)
    report("evaluate on holdout")
    holdout_metrics = evaluate(y[hold_idx], model.predict_proba(_subset(columns, hold_idx)))
    hold_keys = ",".join(map(str, hold_idx))
    return TrainingResult(
        model=model,
        params=found.blend.to_json(),
        cv_metrics=cv_metrics,
        holdout_metrics=holdout_metrics,
        search=found.table,
        data_fingerprint=fingerprint(frame),
        holdout_fingerprint="sha256:" + hashlib.sha256(hold_keys.encode()).hexdigest()[:16],
        n_rows=len(y),
        n_train=len(train_idx),
        n_holdout=len(hold_idx),
        seconds=time.perf_counter() - started,
        info={"seed": config.seed, "cv": f"{config.cv_repeats}x{config.cv_folds}-fold stratified"},
    )
