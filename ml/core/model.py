"""The trained survival model: feature spec + xgboost booster, with predict and explain.

Artifacts are xgboost's own UBJSON for the booster and JSON for the rest: safe to load (no pickle).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xgboost as xgb

from ml.core.features import (
    Columns,
    FeatureSpec,
    assumptions,
    columns_from_frame,
    columns_from_passengers,
    invalid_rows,
    reason_contributions,
)
from ml.core.passenger import CLASS_NAMES, PORTS, Passenger
from ml.core.paths import PathGroups
from ml.core.treeshap import TreeExplainer

BOOSTER_FILE = "booster.ubj"
PARALLEL_ROWS = 10_000  # from this many rows a batch is scored on every core
SPEC_FILE = "features.json"
MODEL_FILES = (BOOSTER_FILE, SPEC_FILE)


class InvalidRowsError(ValueError):
    """Rows of a batch that cannot be scored; the message names the first few."""

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = list(problems)
        by_row: dict[int, list[str]] = {}
        for row, why in self.problems:  # a row can fail several checks: it is still one row
            by_row.setdefault(row, []).append(why)
        rows = sorted(by_row)
        shown = "; ".join(
            f"row {row + 1}: {', '.join(why.rstrip('.') for why in by_row[row])}" for row in rows[:5]
        )
        more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
        super().__init__(f"{len(rows)} row(s) cannot be scored: {shown}{more}")


@dataclass(frozen=True, slots=True)
class Reason:
    """What one attribute did to the odds, in plain words. `logit` is its SHAP value (log-odds)."""

    attribute: str
    text: str
    logit: float

    @property
    def helped(self) -> bool:
        return self.logit > 0


@dataclass(frozen=True, slots=True)
class Prediction:
    probability: float
    reasons: tuple[Reason, ...]  # every attribute, largest effect first
    assumptions: tuple[str, ...]
    baseline_logit: float  # the model's average log-odds; baseline + sum(reasons) = logit(probability)
    passenger: Passenger  # as completed by imputation
    version: str | None = None

    @property
    def percent(self) -> int:
        return round(self.probability * 100)

    @property
    def verdict(self) -> str:
        p = self.probability
        if p >= 0.7:
            return "You would very likely have survived."
        if p >= 0.5:
            return "You would probably have survived."
        if p >= 0.3:
            return "You would probably not have survived."
        return "You would very likely not have survived."

    def top_reasons(self, n: int = 3) -> tuple[Reason, ...]:
        return self.reasons[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 6),
            "percent": self.percent,
            "verdict": self.verdict,
            "reasons": [
                {"attribute": r.attribute, "text": r.text, "logit": round(r.logit, 6)} for r in self.reasons
            ],
            "assumptions": list(self.assumptions),
            "baseline_logit": round(self.baseline_logit, 6),
            "passenger": self.passenger.to_dict(),
            "version": self.version,
        }


# A reason is about an assumed value when every attribute behind it was left out and imputed.
_REASON_INPUTS: dict[str, tuple[str, ...]] = {
    "age": ("age",),
    "family": ("sibsp", "parch"),
    "fare": ("fare",),
    "embarked": ("embarked",),
    "title": ("title",),
}


def _assumed(attribute: str, filled: Mapping[str, np.ndarray]) -> bool:
    inputs = _REASON_INPUTS.get(attribute, ())
    return bool(inputs) and all(bool(filled[name][0]) for name in inputs)


def _reason_text(attribute: str, completed: Passenger) -> str:
    match attribute:
        case "pclass":
            return f"Travelling {CLASS_NAMES[int(completed.pclass or 3)]}"
        case "sex":
            return "Being a woman" if completed.sex == "female" else "Being a man"
        case "age":
            return f"Age {completed.age:g}"
        case "family":
            n = (completed.sibsp or 0) + (completed.parch or 0)
            return (
                "Travelling without family"
                if n == 0
                else f"Travelling with {n} family member{'s' if n > 1 else ''}"
            )
        case "fare":
            n = (completed.sibsp or 0) + (completed.parch or 0) + 1
            fare = completed.fare or 0.0
            each = f", £{fare / n:.0f} a head" if n > 1 else ""
            return f"A £{fare:.0f} fare{each}"
        case "embarked":
            return f"Boarding at {PORTS[completed.embarked or 'S']}"
        case "title":
            return f"Travelling as “{completed.title}”"
    return attribute


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))), dtype=np.float64)


class SurvivalModel:
    """Feature spec + booster. `predict_proba` is the single scoring path for one row or millions."""

    def __init__(self, booster: xgb.Booster, spec: FeatureSpec, params: dict[str, Any] | None = None) -> None:
        self.booster = booster
        self.spec = spec
        self.params = dict(params or {})
        self._explainer: TreeExplainer | Literal[False] | None = None  # built by prepare()
        # One row is fastest on one thread; large batches set their own thread count.
        self.booster.set_param({"nthread": 1})
        self._parallel: xgb.Booster | None = None

    # -- scoring -------------------------------------------------------------------------------
    # Every probability, of one passenger or of millions, is columns -> spec.transform ->
    # `_margin` -> `_sigmoid`, so one answer and the same row in a batch are bit-identical.
    def _margin(self, matrix: np.ndarray) -> np.ndarray:
        booster = self.booster if len(matrix) < PARALLEL_ROWS else self._parallel_booster()
        return booster.inplace_predict(matrix, predict_type="margin")

    def _parallel_booster(self) -> xgb.Booster:
        """A copy using every core, for big batches (each row's trees are summed in the same order
        whatever the thread count, so its probabilities equal the one-thread booster's)."""
        if self._parallel is None:
            parallel = self.booster.copy()
            parallel.set_param({"nthread": os.cpu_count() or 1})
            self._parallel = parallel
        return self._parallel

    def margin(self, columns: Columns) -> np.ndarray:
        return self._margin(self.spec.transform(columns))

    def prepare(self) -> SurvivalModel:
        """Build what explaining needs (~0.1 s) now, rather than in the first caller's request."""
        if self._explainer is None:
            try:
                self._explainer = TreeExplainer.from_booster(self.booster)
            except ValueError:  # a model treeshap does not cover: let xgboost do it
                self._explainer = False
        return self

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP values of the first row of `matrix` (per column, then the bias), as xgboost's
        `pred_contribs` computes them but without building a DMatrix (see ml.core.treeshap)."""
        explainer = self._explainer if self._explainer is not None else self.prepare()._explainer
        if isinstance(explainer, TreeExplainer):
            return explainer.contributions(matrix[0])
        contribs = self.booster.predict(xgb.DMatrix(matrix[:1], nthread=1), pred_contribs=True)
        return np.asarray(contribs[0], dtype=np.float64)

    def predict_proba(self, columns: Columns) -> np.ndarray:
        """Survival probability for every row of `columns` (unknown values imputed)."""
        return _sigmoid(self.margin(columns))

    def predict_proba_grouped(self, columns: Columns) -> np.ndarray:
        """`predict_proba` for a large batch, computed once per group of rows that take the same
        path through every tree (see ml.core.paths) and spread back: the same probabilities, bit
        for bit, with the booster seeing one row per group."""
        groups = self.path_groups
        if groups is None or len(columns["pclass"]) < 2:
            return self.predict_proba(columns)
        first, inverse = groups.group(self.spec.transform(columns))
        representatives = {name: values[first] for name, values in columns.items()}
        return np.asarray(self.predict_proba(representatives)[inverse], dtype=np.float64)

    @functools.cached_property
    def path_groups(self) -> PathGroups | None:
        """How rows group by tree path; None for a booster treeshap does not read (then every row
        is scored)."""
        explainer = self.prepare()._explainer
        if not isinstance(explainer, TreeExplainer):
            return None
        return PathGroups.from_split_points(explainer.split_points(), len(self.spec.feature_names))

    def predict_frame(self, frame: Any) -> np.ndarray:
        """A canonical passenger DataFrame -> probabilities; refuses rows that fail validation."""
        columns = columns_from_frame(frame)
        problems = invalid_rows(columns)
        if problems:
            raise InvalidRowsError(problems)
        return self.predict_proba(columns)

    def explain(self, passenger: Passenger, version: str | None = None) -> Prediction:
        """Probability + per-attribute SHAP reasons + what was assumed, for one valid passenger."""
        passenger.validate(require=Passenger.REQUIRED)
        columns = columns_from_passengers([passenger])
        completed_columns, filled = self.spec.impute(columns)
        matrix = self.spec.encode(completed_columns)
        probability = float(_sigmoid(self._margin(matrix))[0])
        contribs = self.contributions(matrix)
        completed = Passenger(
            pclass=int(completed_columns["pclass"][0]),
            sex=str(completed_columns["sex"][0]),
            age=float(completed_columns["age"][0]),
            sibsp=int(completed_columns["sibsp"][0]),
            parch=int(completed_columns["parch"][0]),
            fare=float(completed_columns["fare"][0]),
            embarked=str(completed_columns["embarked"][0]),
            title=str(completed_columns["title"][0]),
        )
        reasons = sorted(
            (
                Reason(
                    attribute,
                    _reason_text(attribute, completed)
                    + (" (assumed)" if _assumed(attribute, filled) else ""),
                    value,
                )
                for attribute, value in reason_contributions(self.spec.feature_names, contribs[:-1])
            ),
            key=lambda r: -abs(r.logit),
        )
        return Prediction(
            probability=probability,
            reasons=tuple(reasons),
            assumptions=tuple(assumptions(completed_columns, filled)),
            baseline_logit=float(contribs[-1]),
            passenger=completed,
            version=version,
        )

    # -- serialisation (files are ml.io.artifacts' business) -----------------------------------
    def to_parts(self) -> dict[str, bytes]:
        """The model as named byte strings: xgboost's own UBJSON and plain JSON (never pickle)."""
        payload = {"spec": self.spec.to_json(), "params": self.params}
        return {
            BOOSTER_FILE: bytes(self.booster.save_raw("ubj")),
            SPEC_FILE: json.dumps(payload, indent=2, sort_keys=True).encode(),
        }

    @classmethod
    def from_parts(cls, parts: Mapping[str, bytes]) -> SurvivalModel:
        payload = json.loads(parts[SPEC_FILE])
        booster = xgb.Booster()
        booster.load_model(bytearray(parts[BOOSTER_FILE]))
        return cls(booster, FeatureSpec.from_json(payload["spec"]), payload.get("params", {}))


__all__ = ["MODEL_FILES", "InvalidRowsError", "Prediction", "Reason", "SurvivalModel"]
