"""The trained survival model: feature spec + xgboost booster, with predict and explain.

A version may also carry the bootstrap members behind each answer's range (ml.core.interval) and
the evidence table of the rows it learnt from (ml.core.evidence); versions saved before either
existed load and answer without them.

Artifacts are xgboost's own UBJSON for the boosters and JSON for the rest: safe to load (no pickle).
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

from ml.core.evidence import Evidence, EvidenceTable
from ml.core.features import (
    Columns,
    Expanded,
    FeatureSpec,
    assumptions,
    columns_from_frame,
    columns_from_passengers,
    credited_reasons,
    fold_reasons,
    invalid_rows,
    reason_columns,
    reason_contributions,
)
from ml.core.interval import Uncertainty, kind_words, kinds
from ml.core.passenger import CHILD_AGE, CLASS_NAMES, PORTS, Passenger
from ml.core.paths import PathGroups
from ml.core.treeshap import TreeExplainer

BOOSTER_FILE = "booster.ubj"
PARALLEL_ROWS = 10_000  # from this many rows a batch is scored on every core
SPEC_FILE = "features.json"
MODEL_FILES = (BOOSTER_FILE, SPEC_FILE)  # every version has these
MEMBERS_FILE = "members.ubj"  # the bootstrap members behind an answer's range
EVIDENCE_FILE = "evidence.json"  # the training rows behind "people like you"
OPTIONAL_FILES = (MEMBERS_FILE, EVIDENCE_FILE)  # versions saved before them have neither
ALL_FILES = (*MODEL_FILES, *OPTIONAL_FILES)
# Fewer training passengers of the asker's kind than this, and the answer says its range is wide
# because the records hold few people like them.
FEW_LIKE_YOU = 30


class InvalidRowsError(ValueError):
    """Rows that cannot be scored (or learnt from); the message names the first few."""

    def __init__(self, problems: Sequence[tuple[int, str]], purpose: str = "scored") -> None:
        self.problems = list(problems)
        by_row: dict[int, list[str]] = {}
        for row, why in self.problems:  # a row can fail several checks: it is still one row
            by_row.setdefault(row, []).append(why)
        rows = sorted(by_row)
        shown = "; ".join(
            f"row {row + 1}: {', '.join(why.rstrip('.') for why in by_row[row])}" for row in rows[:5]
        )
        more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
        super().__init__(f"{len(rows)} row(s) cannot be {purpose}: {shown}{more}")


@dataclass(frozen=True, slots=True)
class Reason:
    """What one attribute did to the odds, in plain words. `logit` is its SHAP value (log-odds)."""

    attribute: str
    text: str
    logit: float

    @property
    def helped(self) -> bool:
        return self.logit > 0


def shown_percent(probability: float) -> int:
    """A probability as a person reads it: a whole percent from 1 to 99. 99.6% rounds to 99, not
    100: 891 records cannot make anyone's fate certain (the JSON keeps the exact figure)."""
    return min(max(round(probability * 100), 1), 99)


@dataclass(frozen=True, slots=True)
class Likely:
    """The likely (about 80%) range of the probability, and how many like the asker it rests on."""

    low: float
    high: float
    like_you: int  # training passengers of the asker's kind (sex × class × child × alone)
    kind: str  # that kind in words: '3rd class, male, under 13, alone'

    @property
    def few_like_you(self) -> bool:
        return self.like_you < FEW_LIKE_YOU

    @property
    def text(self) -> str:
        """'48–74%', within 1–99% (see `shown_percent`)."""
        return f"{shown_percent(self.low)}–{shown_percent(self.high)}%"

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": round(self.low, 6),
            "high": round(self.high, 6),
            "text": self.text,
            "like_you": self.like_you,
            "kind": self.kind,
            "few_like_you": self.few_like_you,
        }


@dataclass(frozen=True, slots=True)
class Prediction:
    probability: float
    reasons: tuple[Reason, ...]  # every attribute, largest effect first
    assumptions: tuple[str, ...]
    baseline_logit: float  # the model's average log-odds; baseline + sum(reasons) = logit(probability)
    passenger: Passenger  # as completed by imputation
    version: str | None = None
    likely: Likely | None = None  # None for versions saved without members
    evidence: Evidence | None = None  # None for versions saved without their training rows

    @property
    def percent(self) -> int:
        return shown_percent(self.probability)

    @property
    def headline(self) -> str:
        """'62% (likely 48–74%)'"""
        likely = f" (likely {self.likely.text})" if self.likely else ""
        return f"{self.percent}%{likely}"

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
            "likely": None if self.likely is None else self.likely.to_dict(),
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }


# A reason is about an assumed value when every attribute behind it was left out and imputed.
_REASON_INPUTS: dict[str, tuple[str, ...]] = {
    "age": ("age",),
    "family": ("sibsp", "parch"),
    "fare": ("fare",),
    "embarked": ("embarked",),
    "title": ("title",),
}


def _assumed(attribute: str, filled: Mapping[str, np.ndarray], families_of: str | None = None) -> str:
    """' (assumed)' when every attribute behind a reason was left out and imputed (a family averaged
    over passengers like the asker's is said in the reason's own words instead)."""
    inputs = _REASON_INPUTS.get(attribute, ())
    if attribute == "family" and families_of is not None:
        return ""
    return " (assumed)" if inputs and all(bool(filled[name][0]) for name in inputs) else ""


def _reason_text(attribute: str, completed: Passenger) -> str:
    match attribute:
        case "pclass":
            return f"Travelling {CLASS_NAMES[int(completed.pclass or 3)]}"
        case "sex":
            child = completed.age is not None and completed.age < CHILD_AGE
            if completed.sex == "female":
                return "Being a girl" if child else "Being a woman"
            return "Being a boy" if child else "Being a man"
        case "age":
            return f"Age {completed.age:g}"
        case "family":
            if completed.sibsp is None and completed.parch is None:
                return "Your family, not given (as for passengers like you)"
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

    def __init__(
        self,
        booster: xgb.Booster,
        spec: FeatureSpec,
        params: dict[str, Any] | None = None,
        *,
        uncertainty: Uncertainty | None = None,
        evidence: EvidenceTable | None = None,
    ) -> None:
        self.booster = booster
        self.spec = spec
        self.params = dict(params or {})
        self.uncertainty = uncertainty
        self.evidence = evidence
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
        """Log-odds of every row; a row whose family nobody gave is the average over the families of
        passengers like it (FeatureSpec.expand)."""
        expanded = self.spec.expand(columns)
        return expanded.average(self._margin(self.spec.transform(expanded.columns)))

    def prepare(self) -> SurvivalModel:
        """Build what explaining needs (~0.1 s) now, rather than in the first caller's request."""
        if self._explainer is None:
            try:
                self._explainer = TreeExplainer.from_booster(self.booster)
            except ValueError:  # a model treeshap does not cover: let xgboost do it
                self._explainer = False
        return self

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP values of every row of `matrix` (per column, then the bias), as xgboost's
        `pred_contribs` computes them but without building a DMatrix (see ml.core.treeshap)."""
        explainer = self._explainer if self._explainer is not None else self.prepare()._explainer
        if isinstance(explainer, TreeExplainer):
            return explainer.contributions_of(matrix)
        contribs = self.booster.predict(xgb.DMatrix(matrix, nthread=1), pred_contribs=True)
        return np.asarray(contribs, dtype=np.float64)

    def mean_abs_contributions(self, columns: Columns) -> dict[str, float]:
        """Mean |SHAP value| per reason (its columns summed) over these rows, largest first: how much
        each attribute moved the model's answers, on average, for the passengers it learnt from.
        An imputed value counts as the attribute it fills (no crediting, unlike one answer)."""
        contribs = self.contributions(self.spec.transform(columns))[:, :-1]
        means = {
            reason: float(np.abs(contribs[:, list(indexes)].sum(axis=1)).mean())
            for reason, indexes in reason_columns(self.spec.feature_names).items()
        }
        return {reason: round(value, 5) for reason, value in sorted(means.items(), key=lambda kv: -kv[1])}

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
        """Probability, its likely range, per-attribute SHAP reasons, what was assumed, and the
        records most like the passenger, for one valid passenger.

        When the family was not given, every figure (log-odds, SHAP values, members) is the weighted
        mean over the families of passengers like them, as `margin` computes it: SHAP values are
        linear, so the reasons still add up to the answer's log-odds."""
        passenger.validate(require=Passenger.REQUIRED)
        columns = columns_from_passengers([passenger])
        completed_columns, filled = self.spec.impute(columns)
        expanded = self.spec.expand(columns, completed_columns)
        own = self.spec.encode(completed_columns)
        rows = own if expanded.owner is None else self.spec.encode(self.spec.impute(expanded.columns)[0])
        margin = expanded.average(self._margin(rows))
        # Distinct rows only for the SHAP values and the members (families the model sees alike are
        # one row); the probability averages every row, exactly as batch scoring does.
        distinct, weight = _distinct(rows, expanded)
        contribs = np.average(self.contributions(distinct), axis=0, weights=weight)
        family_known = not (filled["sibsp"][0] and filled["parch"][0])
        kind = int(kinds(own, self.spec.feature_names)[0])
        averaged = None
        if expanded.weight is not None:
            averaged = f"{int(expanded.weight.sum())} passengers like you ({kind_words(kind, family_known)})"
        completed = _completed_passenger(completed_columns, family_averaged=averaged is not None)
        reasons = sorted(
            (
                Reason(
                    attribute,
                    _reason_text(attribute, completed) + _assumed(attribute, filled, averaged),
                    value,
                )
                for attribute, value in fold_reasons(
                    reason_contributions(self.spec.feature_names, contribs[:-1]), credited_reasons(filled)
                ).items()
            ),
            key=lambda r: -abs(r.logit),
        )
        return Prediction(
            probability=float(_sigmoid(margin)[0]),
            reasons=tuple(reasons),
            assumptions=tuple(assumptions(completed_columns, filled, families_of=averaged)),
            baseline_logit=float(contribs[-1]),
            passenger=completed,
            version=version,
            likely=self._likely(distinct, weight, margin, kind, family_known),
            evidence=None if self.evidence is None else self.evidence.like(passenger),
        )

    def _likely(
        self, rows: np.ndarray, weight: np.ndarray, margin: np.ndarray, kind: int, family_known: bool
    ) -> Likely | None:
        """The likely range of one passenger answered over `rows` (their families, when none was given)."""
        if self.uncertainty is None:
            return None
        like_you = self.uncertainty.like_you(np.array([kind]), np.array([family_known]))
        members = np.average(self.uncertainty.members_of(rows), axis=0, weights=weight)[None, :]
        low, high = self.uncertainty.range(members, margin, like_you)
        return Likely(float(low[0]), float(high[0]), int(like_you[0]), kind_words(kind, family_known))

    # -- serialisation (files are ml.io.artifacts' business) -----------------------------------
    def to_parts(self) -> dict[str, bytes]:
        """The model as named byte strings: xgboost's own UBJSON and plain JSON (never pickle)."""
        payload: dict[str, Any] = {"spec": self.spec.to_json(), "params": self.params}
        parts = {BOOSTER_FILE: bytes(self.booster.save_raw("ubj"))}
        if self.uncertainty is not None:
            payload["interval"] = self.uncertainty.to_json()
            parts[MEMBERS_FILE] = bytes(self.uncertainty.members.save_raw("ubj"))
        if self.evidence is not None:
            parts[EVIDENCE_FILE] = json.dumps(self.evidence.to_json(), separators=(",", ":")).encode()
        parts[SPEC_FILE] = json.dumps(payload, indent=2, sort_keys=True).encode()
        return parts

    @classmethod
    def from_parts(cls, parts: Mapping[str, bytes]) -> SurvivalModel:
        """A model from `to_parts`' byte strings; the members and evidence only when present."""
        payload = json.loads(parts[SPEC_FILE])
        uncertainty = None
        if MEMBERS_FILE in parts and "interval" in payload:
            uncertainty = Uncertainty.from_json(payload["interval"], _booster(parts[MEMBERS_FILE]))
        evidence = (
            EvidenceTable.from_json(json.loads(parts[EVIDENCE_FILE])) if EVIDENCE_FILE in parts else None
        )
        return cls(
            _booster(parts[BOOSTER_FILE]),
            FeatureSpec.from_json(payload["spec"]),
            payload.get("params", {}),
            uncertainty=uncertainty,
            evidence=evidence,
        )


def _distinct(rows: np.ndarray, expanded: Expanded) -> tuple[np.ndarray, np.ndarray]:
    """One passenger's encoded rows with identical rows merged, and each one's weight (the sum of
    the merged rows'); unexpanded, the row itself with weight 1."""
    if expanded.weight is None:
        return rows, np.ones(len(rows))
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    return unique, np.bincount(inverse.ravel(), weights=expanded.weight)


def _booster(raw: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    booster.set_param({"nthread": 1})
    return booster


def _completed_passenger(completed: Columns, *, family_averaged: bool = False) -> Passenger:
    """Row 0 of completed columns as a Passenger, as the model saw it: every field known, but for a
    family averaged over (and the fare for it) when none was given."""
    return Passenger(
        pclass=int(completed["pclass"][0]),
        sex=str(completed["sex"][0]),
        age=float(completed["age"][0]),
        sibsp=None if family_averaged else int(completed["sibsp"][0]),
        parch=None if family_averaged else int(completed["parch"][0]),
        fare=None if family_averaged else float(completed["fare"][0]),
        embarked=str(completed["embarked"][0]),
        title=str(completed["title"][0]),
    )


__all__ = ["ALL_FILES", "MODEL_FILES", "InvalidRowsError", "Likely", "Prediction", "Reason", "SurvivalModel"]
