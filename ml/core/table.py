"""The canonical passenger table: one layout for the common Titanic files, and its fingerprint.

Canonical columns are lower-case: survived (when known), pclass, name, sex, age, sibsp, parch,
fare, embarked, plus any other columns the file had (kept for batch scoring, e.g. passenger_id).
Pure: frames in, frames out (reading files is ml.io.data).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

# Columns that give the outcome away (seaborn's `alive`, titanic3's lifeboat and body number).
LEAKY_COLUMNS = ("boat", "body", "alive")
FEATURE_SOURCE_COLUMNS = ("pclass", "sex", "age", "sibsp", "parch", "fare", "embarked")
NUMERIC_SOURCE_COLUMNS = ("pclass", "age", "sibsp", "parch", "fare")
TARGET = "survived"
# seaborn's `class` column (canonical name pclass_name), read as the class number.
CLASS_WORDS = {"first": 1, "second": 2, "third": 3}

# Header spellings seen in the wild (Kaggle, Snowflake upper case, titanic3, seaborn) -> canonical.
_ALIASES = {
    "passengerid": "passenger_id",
    "passenger_id": "passenger_id",
    "class": "pclass_name",  # seaborn's 'First'/'Second'/'Third'; pclass is preferred when present
    "siblings_spouses": "sibsp",
    "parents_children": "parch",
    "home_dest": "home_dest",
}


class DataError(ValueError):
    """The data cannot be used; the message says what to fix."""


def canonical_name(column: object) -> str:
    name = re.sub(r"[^0-9a-z]+", "_", str(column).strip().lower()).strip("_")
    return _ALIASES.get(name, name)


def normalize(frame: pd.DataFrame, *, require_target: bool) -> pd.DataFrame:
    """Rename columns to the canonical layout, drop leaky ones, coerce types, check what is needed.

    Missing values stay missing (NaN/None): imputation belongs to the feature definition so that
    training and scoring impute the same way.
    """
    renamed = _canonical_columns(frame)
    _require_columns(renamed, frame, require_target)
    out = renamed.copy(deep=False)  # columns below are replaced, never written into
    for column in FEATURE_SOURCE_COLUMNS:
        if column not in out.columns:
            out[column] = None
    for column in NUMERIC_SOURCE_COLUMNS:
        out[column] = pd.to_numeric(out[column], errors="coerce")
    out["sex"] = _map_strings(out["sex"], lambda v: str(v).strip().lower() or None)
    out["embarked"] = _map_strings(out["embarked"], lambda v: str(v).strip().upper()[:1] or None)
    if require_target:
        out[TARGET] = _target(out[TARGET])
    return out


def _canonical_columns(frame: pd.DataFrame) -> pd.DataFrame:
    # A shallow copy with new labels: DataFrame.rename copies (and consolidates) every column,
    # 0.45 s for a million rows, and nothing below writes into a column in place.
    renamed = frame.copy(deep=False)
    renamed.columns = pd.Index(canonical_names(frame.columns))
    leaky = [c for c in LEAKY_COLUMNS if c in renamed.columns]
    if leaky:
        renamed = renamed.drop(columns=leaky)
    if "pclass" not in renamed.columns and "pclass_name" in renamed.columns:
        renamed["pclass"] = renamed["pclass_name"].astype(str).str.lower().map(CLASS_WORDS)
    return renamed


def _require_columns(renamed: pd.DataFrame, original: pd.DataFrame, require_target: bool) -> None:
    # A scoring input may leave out what the model can impute; the class and sex are essential.
    essential = [TARGET, *FEATURE_SOURCE_COLUMNS] if require_target else ["pclass", "sex"]
    missing = [c for c in essential if c not in renamed.columns]
    if missing:
        raise missing_columns(missing, original.columns)


def canonical_names(columns: Iterable[object]) -> list[str]:
    """Each column's canonical name; refuses names that clash once normalised."""
    names = [canonical_name(c) for c in columns]
    dupes = sorted(name for name, count in Counter(names).items() if count > 1)
    if dupes:
        raise DataError(f"columns appear twice after normalising names: {', '.join(dupes)}")
    return names


def require_scoring_columns(columns: Sequence[object]) -> list[str]:
    """The canonical names of a file to score, which needs the class (or seaborn's `class`) and sex."""
    names = canonical_names(columns)
    missing = [
        c for c in ("pclass", "sex") if c not in names and not (c == "pclass" and "pclass_name" in names)
    ]
    if missing:
        raise missing_columns(missing, columns)
    return names


def missing_columns(missing: list[str], found: Any) -> DataError:
    return DataError(
        f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (found: {_names(found)})"
    )


def _target(column: pd.Series) -> pd.Series:
    target = pd.to_numeric(column, errors="coerce")
    if target.isna().any() or not target.isin([0, 1]).all():
        raise DataError("the survived column must be 0 or 1 on every row")
    if target.nunique() < 2:
        raise DataError("the survived column needs both survivors and non-survivors to train")
    return target.astype(int)


def _names(columns: Any, shown: int = 12, width: int = 40) -> str:
    """A file's column names for an error message: a few, each cut short (a header can be huge)."""
    names = [str(c) if len(str(c)) <= width else str(c)[: width - 1] + "…" for c in list(columns)[:shown]]
    more = f" and {len(columns) - shown} more" if len(columns) > shown else ""
    return (", ".join(names) or "none") + more


def _map_strings(series: pd.Series, func: Callable[[Any], str | None]) -> pd.Series:
    """`func` on each distinct value (not each of a million rows), as a string column; None -> NA."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = pd.array([func(value) for value in uniques], dtype="string")
    return pd.Series(mapped.take(codes, allow_fill=True), index=series.index, name=series.name)


def fingerprint(frame: pd.DataFrame) -> str:
    """A stable hash of the training rows (feature sources and target), recorded with a version."""
    columns = [c for c in (TARGET, "name", *FEATURE_SOURCE_COLUMNS) if c in frame.columns]
    canonical = frame[columns].astype("string").fillna("").sort_values(columns).to_csv(index=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
