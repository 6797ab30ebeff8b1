"""The one feature definition, used by training, single scoring, batch scoring and the Snowflake model.

Everything works on `Columns` (a dict of equal-length numpy arrays, one per passenger attribute), so a
single passenger and a million rows go through the same code: no train/serve skew. It needs only
numpy, so the same module runs inside Snowflake's Python runtime.

Only attributes a person can say about themselves are used: no ticket, cabin, or name beyond a title.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml.passenger import (
    CLASS_NAMES,
    MAX_AGE,
    MAX_COUNT,
    MAX_FARE,
    PORTS,
    TITLES,
    Passenger,
    normalize_sex,
    normalize_title,
    title_from_name,
)

Columns = dict[str, np.ndarray]

ATTRIBUTES: tuple[str, ...] = ("pclass", "sex", "age", "sibsp", "parch", "fare", "embarked", "title")
NUMERIC_ATTRIBUTES = ("pclass", "age", "sibsp", "parch", "fare")

# Encoded model inputs, in order, each mapped to the attribute a person would recognise.
FEATURE_NAMES: tuple[str, ...] = (
    "pclass",
    "is_female",
    "age",
    "sibsp",
    "parch",
    "fare",
    *(f"embarked_{port}" for port in PORTS),
    *(f"title_{title}" for title in TITLES),
)
FEATURE_ATTRIBUTE: dict[str, str] = {
    "pclass": "pclass",
    "is_female": "sex",
    "age": "age",
    "sibsp": "sibsp",
    "parch": "parch",
    "fare": "fare",
    **{f"embarked_{port}": "embarked" for port in PORTS},
    **{f"title_{title}": "title" for title in TITLES},
}
# For each attribute, the column indexes whose contributions add up to what that attribute did.
ATTRIBUTE_COLUMNS: dict[str, tuple[int, ...]] = {
    attribute: tuple(i for i, name in enumerate(FEATURE_NAMES) if FEATURE_ATTRIBUTE[name] == attribute)
    for attribute in ATTRIBUTES
}


def infer_title(sex: np.ndarray, age: np.ndarray, sibsp: np.ndarray) -> np.ndarray:
    """The title a passenger most likely travelled under, when they did not say.

    Boys under 13 were 'Master'; women over 30, or adults travelling with a spouse, were mostly
    'Mrs'. An unknown age counts as an adult's (comparisons with NaN are false).
    """
    male, female = sex == "male", sex == "female"
    mrs = (age >= 30) | ((sibsp >= 1) & ~(age < 18))
    title = np.full(len(sex), None, dtype=object)
    title[male] = "Mr"
    title[male & (age < 13)] = "Master"
    title[female] = "Miss"
    title[female & mrs] = "Mrs"
    return title


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What imputation learns from the training rows; saved as JSON with each model version."""

    age_by_title: dict[str, float]
    fare_by_class: dict[int, float]
    port_mode: str
    feature_names: tuple[str, ...] = field(default=FEATURE_NAMES)

    @classmethod
    def fit(cls, columns: Columns) -> FeatureSpec:
        title = _complete_titles(columns)
        age = columns["age"]
        overall_age = float(np.nanmedian(age)) if np.isfinite(age).any() else 28.0
        age_by_title = {}
        for t in TITLES:
            known = age[(title == t) & np.isfinite(age)]
            age_by_title[t] = float(np.median(known)) if known.size else overall_age
        fare = columns["fare"]
        overall_fare = float(np.nanmedian(fare)) if np.isfinite(fare).any() else 14.45
        fare_by_class = {}
        for c in CLASS_NAMES:
            known = fare[(columns["pclass"] == c) & np.isfinite(fare)]
            fare_by_class[c] = float(np.median(known)) if known.size else overall_fare
        ports, counts = np.unique(columns["embarked"][columns["embarked"] != None], return_counts=True)  # noqa: E711
        port_mode = str(ports[np.argmax(counts)]) if ports.size else "S"
        return cls(age_by_title=age_by_title, fare_by_class=fare_by_class, port_mode=port_mode)

    def impute(self, columns: Columns) -> tuple[Columns, dict[str, np.ndarray]]:
        """Fill unknown values; returns the completed columns and, per attribute, which rows were filled."""
        filled: dict[str, np.ndarray] = {}
        out = dict(columns)
        out["title"] = _complete_titles(columns)
        filled["title"] = columns["title"] == None  # noqa: E711
        age_missing = ~np.isfinite(columns["age"])
        if age_missing.any():
            out["age"] = columns["age"].copy()
            out["age"][age_missing] = _lookup(out["title"][age_missing], self.age_by_title)
        filled["age"] = age_missing
        fare_missing = ~np.isfinite(columns["fare"])
        if fare_missing.any():
            out["fare"] = columns["fare"].copy()
            out["fare"][fare_missing] = _lookup(columns["pclass"][fare_missing], self.fare_by_class)
        filled["fare"] = fare_missing
        port_missing = columns["embarked"] == None  # noqa: E711
        out["embarked"] = np.where(port_missing, self.port_mode, columns["embarked"])
        filled["embarked"] = port_missing
        for name in ("sibsp", "parch"):
            missing = ~np.isfinite(columns[name])
            out[name] = np.where(missing, 0.0, columns[name])
            filled[name] = missing
        return out, filled

    def encode(self, completed: Columns) -> np.ndarray:
        """Completed columns -> the model's float32 matrix, columns in FEATURE_NAMES order."""
        n = len(completed["pclass"])
        matrix = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
        matrix[:, 0] = completed["pclass"]
        matrix[:, 1] = completed["sex"] == "female"
        matrix[:, 2] = completed["age"]
        matrix[:, 3] = completed["sibsp"]
        matrix[:, 4] = completed["parch"]
        matrix[:, 5] = completed["fare"]
        offset = 6
        for i, port in enumerate(PORTS):
            matrix[:, offset + i] = completed["embarked"] == port
        offset += len(PORTS)
        for i, title in enumerate(TITLES):
            matrix[:, offset + i] = completed["title"] == title
        return matrix

    def transform(self, columns: Columns) -> np.ndarray:
        completed, _ = self.impute(columns)
        return self.encode(completed)

    def to_json(self) -> dict[str, Any]:
        return {
            "age_by_title": self.age_by_title,
            "fare_by_class": {str(k): v for k, v in self.fare_by_class.items()},
            "port_mode": self.port_mode,
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        names = tuple(data["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError(f"model expects features {names}, this code defines {FEATURE_NAMES}")
        return cls(
            age_by_title={str(k): float(v) for k, v in data["age_by_title"].items()},
            fare_by_class={int(k): float(v) for k, v in data["fare_by_class"].items()},
            port_mode=str(data["port_mode"]),
            feature_names=names,
        )


def _lookup(keys: np.ndarray, table: Mapping[Any, float]) -> np.ndarray:
    """`table[key]` for every key (NaN for keys not in the table), one vectorised pass per entry."""
    out = np.full(len(keys), math.nan)
    for key, value in table.items():
        out[keys == key] = value
    return out


def _complete_titles(columns: Columns) -> np.ndarray:
    title = columns["title"]
    missing = title == None  # noqa: E711
    if not missing.any():
        return title
    inferred = infer_title(columns["sex"], columns["age"], columns["sibsp"])
    return np.where(missing, inferred, title)


def columns_from_passengers(passengers: Sequence[Passenger]) -> Columns:
    """Passengers -> Columns (unknown numbers as NaN, unknown labels as None)."""

    def numbers(name: str) -> np.ndarray:
        return np.array(
            [math.nan if (v := getattr(p, name)) is None else float(v) for p in passengers], dtype=np.float64
        )

    def labels(name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in passengers], dtype=object)

    return {
        "pclass": numbers("pclass"),
        "sex": labels("sex"),
        "age": numbers("age"),
        "sibsp": numbers("sibsp"),
        "parch": numbers("parch"),
        "fare": numbers("fare"),
        "embarked": labels("embarked"),
        "title": labels("title"),
    }


def map_distinct(values: Any, func: Callable[[Any], Any]) -> np.ndarray:
    """`func` applied once per distinct non-missing value and spread back over the rows, as an
    object array (missing values become None). A million passengers hold a handful of distinct
    sexes and ports and far fewer distinct names than rows, so this beats per-row string methods."""
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)  # the last slot, None, is what code -1 takes
    for i, value in enumerate(uniques):
        table[i] = func(value)
    return table[codes]


def _frame_sex(raw: object) -> str:
    text = str(raw).strip().lower()
    return normalize_sex(text) or text  # anything else is kept, and refused by invalid_rows


def _frame_port(raw: object) -> str | None:
    text = str(raw).strip().upper()
    return text[:1] or None  # 'Southampton' -> 'S'; a blank means unknown


def columns_from_frame(frame: Any) -> Columns:
    """A canonical passenger DataFrame (see ml.data.normalize) -> Columns, vectorised.

    The title comes from a `title` column, else from the passenger-list `name`, else it is inferred.
    """
    import pandas as pd

    n = len(frame)

    def numbers(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, math.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=math.nan)

    def labels(name: str, func: Callable[[Any], Any]) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, None, dtype=object)
        return map_distinct(frame[name], func)

    return {
        "pclass": numbers("pclass"),
        "sex": labels("sex", _frame_sex),
        "age": numbers("age"),
        "sibsp": numbers("sibsp"),
        "parch": numbers("parch"),
        "fare": numbers("fare"),
        "embarked": labels("embarked", _frame_port),
        "title": labels("title", normalize_title)
        if "title" in frame.columns
        else labels("name", title_from_name),
    }


def invalid_rows(columns: Columns) -> list[tuple[int, str]]:
    """Rows a model must not score, with the reason, using the same rules as `Passenger.validate`."""
    problems: list[tuple[int, str]] = []

    def flag(mask: np.ndarray, message: str) -> None:
        problems.extend((int(i), message) for i in np.flatnonzero(mask))

    pclass, age, fare = columns["pclass"], columns["age"], columns["fare"]
    flag(~np.isin(pclass, list(CLASS_NAMES)), "class must be 1, 2 or 3")
    flag(~np.isin(columns["sex"], ["female", "male"]), "sex must be female or male")
    flag(np.isfinite(age) & ((age < 0) | (age > MAX_AGE)), f"age must be between 0 and {MAX_AGE}")
    for name in ("sibsp", "parch"):
        v = columns[name]
        flag(
            np.isfinite(v) & ((v < 0) | (v > MAX_COUNT) | (v != np.round(v))),
            f"{name} must be 0 to {MAX_COUNT}",
        )
    flag(np.isfinite(fare) & ((fare < 0) | (fare > MAX_FARE)), f"fare must be between 0 and {MAX_FARE:.0f}")
    port = columns["embarked"]
    flag((port != None) & ~np.isin(port, list(PORTS)), "port must be C, Q or S")  # noqa: E711
    return sorted(problems)


def assumptions(passenger: Passenger, completed: Columns, filled: Mapping[str, np.ndarray]) -> list[str]:
    """Plain-words list of what was assumed for one passenger (row 0 of `completed`)."""
    said: list[str] = []
    if filled["title"][0]:
        said.append(f"title {completed['title'][0]}")
    if filled["age"][0]:
        said.append(f"age {completed['age'][0]:.0f} (typical for a {completed['title'][0]})")
    if filled["sibsp"][0] and filled["parch"][0]:
        said.append("travelling without family")
    elif filled["sibsp"][0]:
        said.append("no siblings or spouse aboard")
    elif filled["parch"][0]:
        said.append("no parents or children aboard")
    if filled["fare"][0]:
        klass = CLASS_NAMES.get(int(completed["pclass"][0]), "this class")
        said.append(f"fare £{completed['fare'][0]:.0f} (typical for {klass})")
    if filled["embarked"][0]:
        said.append(f"boarded at {PORTS[str(completed['embarked'][0])]}")
    return said


def iter_attribute_contributions(contribs: np.ndarray) -> Iterable[tuple[str, float]]:
    """Per-column contributions for one row -> per-attribute sums (one-hot columns added up)."""
    for attribute, indexes in ATTRIBUTE_COLUMNS.items():
        yield attribute, float(sum(contribs[i] for i in indexes))
