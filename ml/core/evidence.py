"""People like you: the passengers in the records most like the asker, and how many survived.

A version keeps the rows it learnt from (name, class, sex, age, family, fare, port, survived) as a
small table beside its booster, with the fingerprint of that data, so an answer's evidence comes
from exactly what the model was trained on.

The group is what the asker said: class, sex, age band (under 13, 13–17, 18–34, 35–54, 55 and over)
and whether they travel alone. What they did not say is not used to group: an unknown age groups by
no age (a "boy" or a "Master" is under 13), an unknown family by no family. Records whose age is
unknown cannot be placed in an age band: they are left out of an age-banded count, and the answer
says how many. A group of fewer than ENOUGH records is widened (first the family, then the age band,
then no age at all), and the answer says so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.core.names import NameIndex
from ml.core.passenger import CHILD_AGE, CLASS_NAMES, Passenger, PassengerError, title_from_name
from ml.core.table import FEATURE_SOURCE_COLUMNS, TARGET, fingerprint

Band = tuple[float, float, str]  # [low, high) years, and how it is said
AGE_BANDS: tuple[Band, ...] = (
    (0.0, CHILD_AGE, "under 13"),
    (CHILD_AGE, 18.0, "13–17"),
    (18.0, 35.0, "18–34"),
    (35.0, 55.0, "35–54"),
    (55.0, math.inf, "55 and over"),
)
WIDE_BANDS: tuple[Band, ...] = ((0.0, 18.0, "under 18"), (18.0, math.inf, "18 and over"))
ENOUGH = 10  # fewer records than this in a group: widen it
EXAMPLES = 3
# What the table keeps: exactly the columns the data fingerprint reads, so it can be recomputed.
KEPT_COLUMNS = (TARGET, "name", *FEATURE_SOURCE_COLUMNS)
# Each row's out-of-fold probability from the nested cross-validation (versions since issue 14):
# what a model that never saw the row said of it. Not a fingerprinted column.
CV_PROBABILITY = "cv_probability"


def band_of(age: float, bands: tuple[Band, ...] = AGE_BANDS) -> Band:
    return next(band for band in bands if band[0] <= age < band[1])


@dataclass(frozen=True)
class Example:
    name: str
    age: float | None
    survived: bool

    def text(self) -> str:
        age = "age unknown" if self.age is None else f"{self.age:g}"
        return f"{self.name} ({age}, {'survived' if self.survived else 'died'})"


@dataclass(frozen=True)
class Record:
    """One passenger of the records: their name, what they would say about themselves, their fate."""

    row: int
    name: str
    passenger: Passenger
    survived: bool
    cv_probability: float | None  # None for versions that did not record it


@dataclass(frozen=True)
class Evidence:
    """The records most like the asker: who they were (`group`), how many, how many survived."""

    group: str
    passengers: int
    survived: int
    unknown_age: int  # records of the group but for an age the records lack (not counted)
    unknown_age_group: str  # who those are: the group without its age band
    narrower: tuple[str, int] | None  # the group tried first and its size, when it was too small
    examples: tuple[Example, ...]

    def sentence(self) -> str:
        """'Of the 47 passengers in the records most like you (3rd class, male, 18–34, alone), 6 survived.'"""
        head = ""
        if self.narrower is not None:
            group, n = self.narrower
            head = f"Only {n} passenger{'' if n == 1 else 's'} in the records matched you exactly ({group}), so the group is wider: "
        text = f"of the {self.passengers} passengers in the records most like you ({self.group}), {self.survived} survived."
        if self.unknown_age:
            text += f" Not counted: {self.unknown_age} more ({self.unknown_age_group}) whose age the records lack."
        sentence = head + text
        return sentence[0].upper() + sentence[1:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "passengers": self.passengers,
            "survived": self.survived,
            "unknown_age": self.unknown_age,
            "unknown_age_group": self.unknown_age_group,
            "narrower": None
            if self.narrower is None
            else {"group": self.narrower[0], "passengers": self.narrower[1]},
            "examples": [{"name": e.name, "age": e.age, "survived": e.survived} for e in self.examples],
            "sentence": self.sentence(),
        }


@dataclass(frozen=True)
class _Group:
    band: Band | None
    alone: bool | None

    def words(self, passenger: Passenger) -> str:
        words = [CLASS_NAMES[int(passenger.pclass or 3)], str(passenger.sex)]
        if self.band is not None:
            words.append(self.band[2])
        if self.alone is not None:
            words.append("alone" if self.alone else "with family")
        return ", ".join(words)


def _asker_band(passenger: Passenger) -> Band | None:
    if passenger.age is not None:
        return band_of(passenger.age)
    if passenger.child or passenger.title == "Master":
        return AGE_BANDS[0]
    return None


def _asker_alone(passenger: Passenger) -> bool | None:
    known = [n for n in (passenger.sibsp, passenger.parch) if n is not None]
    if any(known):
        return False
    return True if len(known) == 2 else None


def _ladder(passenger: Passenger) -> list[_Group]:
    """The asker's group, then ever wider ones (without duplicates)."""
    band, alone = _asker_band(passenger), _asker_alone(passenger)
    wide = None if band is None else band_of(band[0], WIDE_BANDS)
    groups = [_Group(band, alone), _Group(band, None), _Group(wide, None), _Group(None, None)]
    return list(dict.fromkeys(groups))


class EvidenceTable:
    """The training rows an answer's evidence comes from (pure data: no files here)."""

    def __init__(self, columns: Mapping[str, pd.Series], data_fingerprint: str) -> None:
        self.columns = dict(columns)
        self.data_fingerprint = data_fingerprint
        n = len(self.columns[TARGET])
        self.names = np.full(n, None, dtype=object)
        if "name" in self.columns:
            known = self.columns["name"].notna().to_numpy()
            self.names[known] = self.columns["name"].astype(object).to_numpy()[known]
        self.pclass = pd.to_numeric(self.columns["pclass"]).to_numpy(dtype=np.float64, na_value=np.nan)
        self.sex = self.columns["sex"].astype(object).to_numpy()
        self.age = pd.to_numeric(self.columns["age"]).to_numpy(dtype=np.float64, na_value=np.nan)
        family = pd.to_numeric(self.columns["sibsp"]).fillna(0) + pd.to_numeric(self.columns["parch"]).fillna(
            0
        )
        self.alone = family.to_numpy() == 0
        self.survived = pd.to_numeric(self.columns[TARGET]).to_numpy() == 1

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, data_fingerprint: str) -> EvidenceTable:
        kept = [c for c in KEPT_COLUMNS if c in frame.columns]
        return cls({c: frame[c].reset_index(drop=True) for c in kept}, data_fingerprint)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns)

    def fingerprint(self) -> str:
        """The fingerprint of the rows held here: equal to `data_fingerprint` when they are the data
        the version was trained on."""
        return fingerprint(self.frame())

    def __len__(self) -> int:
        return len(self.survived)

    def add_column(self, name: str, values: Any) -> None:
        """Keep another per-row column (e.g. CV_PROBABILITY) with the rows; the fingerprint is unchanged."""
        if len(values) != len(self):
            raise ValueError(f"{name} has {len(values)} values for {len(self)} rows")
        self.columns[name] = pd.Series(values)

    # -- passengers by name --------------------------------------------------------------------
    @functools.cached_property
    def names_index(self) -> NameIndex:
        return NameIndex(self.names.tolist())

    def record(self, row: int) -> Record:
        """The passenger at `row` as they would describe themselves (title from their name)."""
        if not 0 <= row < len(self) or self.names[row] is None:
            raise IndexError(f"no named record at row {row}")

        def number(column: str) -> float | None:
            value = pd.to_numeric(self.columns[column]).iloc[row]
            return None if pd.isna(value) else float(value)

        port = self.columns["embarked"].iloc[row]
        name = str(self.names[row])
        try:
            passenger = Passenger.create(
                pclass=number("pclass"),
                sex=str(self.sex[row]),
                age=number("age"),
                sibsp=number("sibsp"),
                parch=number("parch"),
                fare=number("fare"),
                embarked=None if pd.isna(port) else str(port),
                title=title_from_name(name),
            )
        except PassengerError as exc:  # a record a person could not have said: not answerable
            raise IndexError(f"the record at row {row} cannot be scored: {exc}") from exc
        cv = number(CV_PROBABILITY) if CV_PROBABILITY in self.columns else None
        return Record(row, name, passenger, bool(self.survived[row]), cv)

    # -- people like you -----------------------------------------------------------------------
    def like(self, passenger: Passenger) -> Evidence:
        """The records most like what `passenger` said (class and sex are required)."""
        same = (self.pclass == passenger.pclass) & (self.sex == passenger.sex)
        ladder = _ladder(passenger)
        sizes = [int(self._members(same, group).sum()) for group in ladder]
        chosen = next((i for i, n in enumerate(sizes) if n >= ENOUGH), len(ladder) - 1)
        group = ladder[chosen]
        members = self._members(same, group)
        unknown = 0
        if group.band is not None:
            unknown = int((self._family(same, group) & np.isnan(self.age)).sum())
        return Evidence(
            group=group.words(passenger),
            passengers=int(members.sum()),
            survived=int((members & self.survived).sum()),
            unknown_age=unknown,
            unknown_age_group=_Group(None, group.alone).words(passenger),
            narrower=None if chosen == 0 else (ladder[0].words(passenger), sizes[0]),
            examples=self._examples(members, passenger.age),
        )

    def _family(self, same: np.ndarray, group: _Group) -> np.ndarray:
        return same if group.alone is None else same & (self.alone == group.alone)

    def _members(self, same: np.ndarray, group: _Group) -> np.ndarray:
        members = self._family(same, group)
        if group.band is not None:
            low, high, _ = group.band
            with np.errstate(invalid="ignore"):
                members = members & (self.age >= low) & (self.age < high)  # an unknown age is in no band
        return members

    def _examples(self, members: np.ndarray, age: float | None) -> tuple[Example, ...]:
        """Up to three named records of the group: the closest in age to the asker first."""
        rows = np.flatnonzero(members & (self.names != None))  # noqa: E711
        if age is not None:
            distance = np.where(np.isnan(self.age[rows]), np.inf, np.abs(self.age[rows] - age))
            rows = rows[np.argsort(distance, kind="stable")]
        return tuple(
            Example(
                name=str(self.names[i]),
                age=None if np.isnan(self.age[i]) else float(self.age[i]),
                survived=bool(self.survived[i]),
            )
            for i in rows[:EXAMPLES]
        )

    # -- serialisation -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Each column with its dtype, so the rows (and their fingerprint) come back exactly."""
        return {
            "data_fingerprint": self.data_fingerprint,
            "columns": {
                name: {
                    "dtype": str(values.dtype),
                    "values": [None if pd.isna(v) else v for v in values.astype(object).tolist()],
                }
                for name, values in self.columns.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvidenceTable:
        columns = {
            name: pd.Series(column["values"], dtype=column["dtype"])
            for name, column in data["columns"].items()
        }
        return cls(columns, str(data["data_fingerprint"]))
