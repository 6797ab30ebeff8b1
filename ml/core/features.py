"""The one feature definition, used by training, single scoring, batch scoring and the Snowflake model.

Everything works on `Columns` (a dict of equal-length numpy arrays, one per passenger attribute), so a
single passenger and a million rows go through the same code: no train/serve skew. It needs only
numpy, so the same module runs inside Snowflake's Python runtime.

Only attributes a person can say about themselves are used: no ticket, cabin, or name beyond a title.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml.core.passenger import (
    CHILD_AGE,
    CLASS_NAMES,
    PORTS,
    RULES,
    TITLES,
    Passenger,
    breaks_rule,
    normalize_sex,
    normalize_title,
    rule,
    title_from_name,
)
from ml.core.prior import cells

Columns = dict[str, np.ndarray]

# A passenger list's columns (and the warehouse model's arguments).
ATTRIBUTES: tuple[str, ...] = ("pclass", "sex", "age", "sibsp", "parch", "fare", "embarked", "title")
# What a person may say that no passenger list records: "a boy" is a child whose age was not given.
HINTS: tuple[str, ...] = ("child",)
INPUTS: tuple[str, ...] = (*ATTRIBUTES, *HINTS)

# What the reasons of an answer talk about: the attributes as a person thinks of them. Siblings or
# spouses and parents or children make one "family" reason, because the model sees the party's size.
REASONS: tuple[str, ...] = ("pclass", "sex", "age", "family", "fare", "embarked", "title")

Encoder = Callable[[Columns], np.ndarray]
# Per sex × class × child cell (ml.core.prior.cells): the families its training passengers travelled
# with, as (siblings/spouses, parents/children, passengers), one entry per family the model tells apart.
Families = dict[int, tuple[tuple[int, int, int], ...]]


def _fare_per_person(completed: Columns) -> np.ndarray:
    # A Titanic fare was the price of a ticket, and one ticket covered a whole family: what each
    # member paid says more about their wealth than the ticket's total (lower out-of-fold log loss).
    return completed["fare"] / completed["party_size"]


def _attribute(name: str) -> Encoder:
    return lambda completed: completed[name]


def _one_hot(name: str, value: str) -> Encoder:
    return lambda completed: completed[name] == value


# Every model column a version may use, by name: the reason it counts toward and how it is computed
# from completed attributes. A version records its column names, so versions trained with an older
# encoding keep loading and explaining after the encoding changes.
COLUMNS: dict[str, tuple[str, Encoder]] = {
    "pclass": ("pclass", _attribute("pclass")),
    "is_female": ("sex", _one_hot("sex", "female")),
    "age": ("age", _attribute("age")),
    "family_size": ("family", _attribute("family_size")),  # as completed by FeatureSpec.impute
    "fare_per_person": ("fare", _fare_per_person),
    **{f"embarked_{port}": ("embarked", _one_hot("embarked", port)) for port in PORTS},
    **{f"title_{title}": ("title", _one_hot("title", title)) for title in TITLES},
    # The first encoding's own columns (models trained before family size and fare per person).
    "sibsp": ("family", _attribute("sibsp")),
    "parch": ("family", _attribute("parch")),
    "fare": ("fare", _attribute("fare")),
}
# Encoded model inputs of new versions, in order.
FEATURE_NAMES: tuple[str, ...] = (
    "pclass",
    "is_female",
    "age",
    "family_size",
    "fare_per_person",
    *(f"embarked_{port}" for port in PORTS),
    *(f"title_{title}" for title in TITLES),
)
# The first encoding, kept so tests can prove such versions still load and explain.
FIRST_FEATURE_NAMES: tuple[str, ...] = (
    "pclass",
    "is_female",
    "age",
    "sibsp",
    "parch",
    "fare",
    *(f"embarked_{port}" for port in PORTS),
    *(f"title_{title}" for title in TITLES),
)


@functools.cache
def reason_columns(feature_names: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """For each reason, the model columns whose contributions add up to what it did."""
    out = {
        reason: tuple(i for i, name in enumerate(feature_names) if COLUMNS[name][0] == reason)
        for reason in REASONS
    }
    return {reason: indexes for reason, indexes in out.items() if indexes}


def infer_title(sex: np.ndarray, age: np.ndarray, sibsp: np.ndarray) -> np.ndarray:
    """The title a passenger most likely travelled under, when they did not say.

    Boys under 13 were 'Master'; women over 30, or adults travelling with a spouse, were mostly
    'Mrs'. An unknown age counts as an adult's (comparisons with NaN are false).
    """
    male, female = sex == "male", sex == "female"
    mrs = (age >= 30) | ((sibsp >= 1) & ~(age < 18))
    title = np.full(len(sex), None, dtype=object)
    title[male] = "Mr"
    title[male & (age < CHILD_AGE)] = "Master"
    title[female] = "Miss"
    title[female & mrs] = "Mrs"
    return title


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What imputation learns from the training rows; saved as JSON with each model version."""

    age_by_title: dict[str, float]
    fare_by_class: dict[int, float]  # median ticket fare (what versions before fare per person impute)
    port_mode: str
    # Median fare per person: an unknown fare is this times the party's size, so a couple is not
    # assumed to have paid what one traveller did. None in specs saved before it existed.
    fare_per_person_by_class: dict[int, float] | None = None
    # The largest family size each class has support for (see family_caps); the model sees a
    # larger family as this size. None: family size as given.
    family_cap_by_class: dict[int, float] | None = None
    # The median age of the training passengers under 13: a child's unknown age ("a boy"). None in
    # specs saved before it existed (they take the median age of a "Master").
    child_age: float | None = None
    # What a family nobody mentioned is averaged over (see `expand`). None in specs saved before it
    # existed: they assume no family.
    families_by_cell: Families | None = None
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
        party = np.nan_to_num(columns["sibsp"]) + np.nan_to_num(columns["parch"]) + 1.0
        fare_by_class, fare_per_person_by_class = {}, {}
        for c in CLASS_NAMES:
            known = (columns["pclass"] == c) & np.isfinite(fare)
            fare_by_class[c] = float(np.median(fare[known])) if known.any() else overall_fare
            each = fare[known] / party[known]
            fare_per_person_by_class[c] = float(np.median(each)) if known.any() else overall_fare
        ports, counts = np.unique(columns["embarked"][columns["embarked"] != None], return_counts=True)  # noqa: E711
        port_mode = str(ports[np.argmax(counts)]) if ports.size else "S"
        children = age[age < CHILD_AGE]
        spec = cls(
            age_by_title=age_by_title,
            fare_by_class=fare_by_class,
            port_mode=port_mode,
            fare_per_person_by_class=fare_per_person_by_class,
            family_cap_by_class=family_caps(columns["pclass"], party),
            child_age=float(np.median(children)) if children.size else age_by_title["Master"],
        )
        return dataclasses.replace(spec, families_by_cell=spec._families(columns))

    def _families(self, columns: Columns) -> Families:
        """The training passengers' families per cell. Families the model cannot tell apart are one
        entry: it sees the party's size (and a fare per person of it) and, through the inferred title,
        whether a sibling or spouse is aboard; versions with raw counts see both counts."""
        completed, _ = self.impute(columns)
        cell = _cells(completed)
        sibsp, parch = completed["sibsp"].astype(np.int64), completed["parch"].astype(np.int64)
        raw = {"sibsp", "parch"} & set(self.feature_names)
        keys = np.stack([sibsp, parch] if raw else [sibsp + parch, sibsp >= 1], axis=1)
        out: Families = {}
        for c in np.unique(cell):
            rows = np.flatnonzero(cell == c)
            _, first, counts = np.unique(keys[rows], axis=0, return_index=True, return_counts=True)
            out[int(c)] = tuple(
                (int(sibsp[rows[i]]), int(parch[rows[i]]), int(n)) for i, n in zip(first, counts, strict=True)
            )
        return out

    def expand(self, columns: Columns, completed: Columns | None = None) -> Expanded:
        """Rows whose family nobody gave (no siblings/spouses and no parents/children said) become one
        row per family the training passengers of their sex × class × child travelled with, weighted
        by how many did; a model averages its log-odds over them. Assuming "alone" instead, as
        versions before issue 10 did, made such answers worse than the 12-number table (nested CV with
        the test rows' families hidden: log loss 0.436 assumed alone, 0.423 averaged, 0.426 table).
        Every other row stays as it is. `completed`: `columns` imputed already, if the caller has it."""
        unknown = ~np.isfinite(columns["sibsp"]) & ~np.isfinite(columns["parch"])
        if self.families_by_cell is None or not unknown.any():
            return Expanded(columns)
        cell = _cells(completed if completed is not None else self.impute(columns)[0])
        tables = {c: np.asarray(fs, dtype=np.float64) for c, fs in self.families_by_cell.items()}
        sizes = np.ones(len(cell), dtype=np.int64)
        for c, table in tables.items():
            sizes[unknown & (cell == c)] = len(table)
        owner = np.repeat(np.arange(len(cell)), sizes)
        # Each expanded row's index among its input row's families.
        position = np.arange(len(owner)) - (np.cumsum(sizes) - sizes)[owner]
        out = subset(columns, owner)
        weight = np.ones(len(owner))
        # A cell no training passenger was in keeps the old assumption: no family.
        out["sibsp"] = np.where(unknown[owner], 0.0, out["sibsp"])
        out["parch"] = np.where(unknown[owner], 0.0, out["parch"])
        for c, table in tables.items():
            rows = unknown[owner] & (cell[owner] == c)
            out["sibsp"][rows], out["parch"][rows], weight[rows] = table[position[rows]].T
        return Expanded(out, owner, weight)

    def impute(self, columns: Columns) -> tuple[Columns, dict[str, np.ndarray]]:
        """Fill unknown values; returns the completed columns and, per attribute, which rows were filled
        (and `child_age`: which ages were a child's, from "a boy" or "a girl")."""
        filled: dict[str, np.ndarray] = {}
        age_missing = ~np.isfinite(columns["age"])
        # A child's age first, so the title inferred from it is a child's too ("Master", "Miss").
        filled["child_age"] = age_missing & _said_child(columns)
        out = self.with_child_ages(columns)
        out["title"] = _complete_titles(out)
        filled["title"] = columns["title"] == None  # noqa: E711
        by_title = ~np.isfinite(out["age"])
        if by_title.any():
            out["age"] = out["age"].copy()
            out["age"][by_title] = _lookup(out["title"][by_title], self.age_by_title)
        filled["age"] = age_missing
        for name in ("sibsp", "parch"):
            missing = ~np.isfinite(columns[name])
            out[name] = np.where(missing, 0.0, columns[name])
            filled[name] = missing
        # The passenger and the family on their ticket: what a fare paid for.
        out["party_size"] = out["sibsp"] + out["parch"] + 1.0
        fare_missing = ~np.isfinite(columns["fare"])
        if fare_missing.any():
            out["fare"] = columns["fare"].copy()
            pclass = columns["pclass"][fare_missing]
            if self.fare_per_person_by_class is None:
                out["fare"][fare_missing] = _lookup(pclass, self.fare_by_class)
            else:
                each = _lookup(pclass, self.fare_per_person_by_class)
                out["fare"][fare_missing] = each * out["party_size"][fare_missing]
        filled["fare"] = fare_missing
        port_missing = columns["embarked"] == None  # noqa: E711
        out["embarked"] = np.where(port_missing, self.port_mode, columns["embarked"])
        filled["embarked"] = port_missing
        out["family_size"] = out["party_size"]
        if self.family_cap_by_class is not None:
            cap = _lookup(out["pclass"], self.family_cap_by_class)
            out["family_size"] = np.where(
                np.isfinite(cap), np.minimum(out["party_size"], cap), out["party_size"]
            )
        return out, filled

    def with_child_ages(self, columns: Columns) -> Columns:
        """`columns` with the unknown age of everyone described as a child ("a boy") filled in: the
        only value that cannot be sent to a passenger-list-shaped input (the warehouse model's)."""
        children = ~np.isfinite(columns["age"]) & _said_child(columns)
        if not children.any():
            return dict(columns)
        child_age = self.child_age if self.child_age is not None else self.age_by_title["Master"]
        return {**columns, "age": np.where(children, child_age, columns["age"])}

    def encode(self, completed: Columns) -> np.ndarray:
        """Completed columns -> the model's float32 matrix, columns in `feature_names` order."""
        matrix = np.empty((len(completed["pclass"]), len(self.feature_names)), dtype=np.float32)
        for j, name in enumerate(self.feature_names):
            matrix[:, j] = COLUMNS[name][1](completed)
        return matrix

    def transform(self, columns: Columns) -> np.ndarray:
        completed, _ = self.impute(columns)
        return self.encode(completed)

    def to_json(self) -> dict[str, Any]:
        return {
            "age_by_title": self.age_by_title,
            "fare_by_class": {str(k): v for k, v in self.fare_by_class.items()},
            "port_mode": self.port_mode,
            **{
                name: {str(k): v for k, v in table.items()}
                for name, table in (
                    ("fare_per_person_by_class", self.fare_per_person_by_class),
                    ("family_cap_by_class", self.family_cap_by_class),
                )
                if table is not None
            },
            **({} if self.child_age is None else {"child_age": self.child_age}),
            **(
                {}
                if self.families_by_cell is None
                else {
                    "families_by_cell": {
                        str(c): [list(f) for f in fs] for c, fs in self.families_by_cell.items()
                    }
                }
            ),
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        names = tuple(data["feature_names"])
        unknown = [name for name in names if name not in COLUMNS]
        if unknown:
            raise ValueError(f"model expects features {unknown} that this code does not define")
        return cls(
            age_by_title={str(k): float(v) for k, v in data["age_by_title"].items()},
            fare_by_class={int(k): float(v) for k, v in data["fare_by_class"].items()},
            port_mode=str(data["port_mode"]),
            fare_per_person_by_class=_class_table(data.get("fare_per_person_by_class")),
            family_cap_by_class=_class_table(data.get("family_cap_by_class")),
            child_age=None if data.get("child_age") is None else float(data["child_age"]),
            families_by_cell=None
            if data.get("families_by_cell") is None
            else {
                int(c): tuple((int(s), int(p), int(n)) for s, p, n in fs)
                for c, fs in data["families_by_cell"].items()
            },
            feature_names=names,
        )


@dataclass(frozen=True)
class Expanded:
    """Columns after `FeatureSpec.expand`: each row stands for input row `owner`, and counts `weight`
    (None, None: nothing was expanded, row i is input row i)."""

    columns: Columns
    owner: np.ndarray | None = None
    weight: np.ndarray | None = None

    def average(self, values: np.ndarray) -> np.ndarray:
        """Per input row, the weighted mean of its rows' `values` (log-odds, or rows of SHAP values or
        members' log-odds); unexpanded input: `values` themselves. A row's own rows are contiguous,
        and summed in order whatever else is in the batch, so one passenger alone and the same
        passenger in a file get the same figure, bit for bit."""
        if self.owner is None or self.weight is None:
            return values
        starts = np.flatnonzero(np.r_[True, self.owner[1:] != self.owner[:-1]])
        v = np.asarray(values, dtype=np.float64)
        weight = self.weight if v.ndim == 1 else self.weight[:, None]
        return np.asarray(
            np.add.reduceat(v * weight, starts, axis=0) / np.add.reduceat(weight, starts, axis=0)
        )


def _cells(completed: Columns) -> np.ndarray:
    return cells(completed["sex"] == "female", completed["pclass"], completed["age"])


def subset(columns: Columns, rows: np.ndarray) -> Columns:
    """The given rows of every column."""
    return {name: values[rows] for name, values in columns.items()}


def _class_table(data: Mapping[str, Any] | None) -> dict[int, float] | None:
    return None if data is None else {int(k): float(v) for k, v in data.items()}


FAMILY_SUPPORT = 10


def family_caps(pclass: np.ndarray, party: np.ndarray, support: int = FAMILY_SUPPORT) -> dict[int, float]:
    """Per class, the largest family size that at least `support` training passengers of that class
    reached. Beyond it a class has too few examples to learn from, and trees would carry over what
    another class's families did: 3rd class's large families nearly all died, while the eight
    1st- and 2nd-class passengers in families of five or more mostly survived. So the model sees a
    larger family as this size. (Under nested cross-validation the cap is a wash on average,
    -0.0003 ± 0.0006 log loss, but without it a 2nd-class boy of 8 with parents and two sisters
    gets 54% where every 2nd-class child in the records survived, 17 of 17; with it, 98%.)"""
    caps = {}
    for c in CLASS_NAMES:
        sizes = np.sort(party[pclass == c])[::-1]  # largest first
        caps[c] = float(sizes[support - 1]) if sizes.size >= support else 1.0
    return caps


def _lookup(keys: np.ndarray, table: Mapping[Any, float]) -> np.ndarray:
    """`table[key]` for every key (NaN for keys not in the table), one vectorised pass per entry."""
    out = np.full(len(keys), math.nan)
    for key, value in table.items():
        out[keys == key] = value
    return out


def _said_child(columns: Columns) -> np.ndarray:
    """Rows described as a child ("a boy"); Columns built before the hint existed have none."""
    child = columns.get("child")
    return np.zeros(len(columns["pclass"]), dtype=bool) if child is None else np.asarray(child == 1)


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
        "child": numbers("child"),  # 1 for "a boy" / "a girl", NaN when not said
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


def sex_label(raw: object) -> str | None:
    """A file's sex cell -> 'female'/'male'; a blank means unknown; anything else is kept, and
    refused by invalid_rows."""
    text = str(raw).strip().lower()
    return normalize_sex(text) or text or None


def port_label(raw: object) -> str | None:
    """A file's port cell -> its letter ('Southampton' -> 'S'); a blank means unknown."""
    text = str(raw).strip().upper()
    return text[:1] or None


def columns_from_frame(frame: Any) -> Columns:
    """A canonical passenger DataFrame (see ml.core.table.normalize) -> Columns, vectorised.

    The title comes from a `title` column, else from the passenger-list `name`, else it is inferred.
    """
    import pandas as pd

    n = len(frame)

    def numbers(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, math.nan)
        numeric = pd.to_numeric(frame[name], errors="coerce")
        return np.asarray(numeric.to_numpy(dtype=np.float64, na_value=math.nan), dtype=np.float64)

    def labels(name: str, func: Callable[[Any], Any]) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, None, dtype=object)
        return map_distinct(frame[name], func)

    return {
        "pclass": numbers("pclass"),
        "sex": labels("sex", sex_label),
        "age": numbers("age"),
        "sibsp": numbers("sibsp"),
        "parch": numbers("parch"),
        "fare": numbers("fare"),
        "embarked": labels("embarked", port_label),
        "title": labels("title", normalize_title)
        if "title" in frame.columns
        else labels("name", title_from_name),
        "child": numbers("child"),
    }


def invalid_rows(columns: Columns) -> list[tuple[int, str]]:
    """Rows a model must not score, with the reason: `Passenger.validate`'s rules on every row at
    once, and the class and sex must be known (nothing can be scored without them)."""
    problems: list[tuple[int, str]] = []
    for name in RULES:
        values = columns[name]
        for i in np.flatnonzero(breaks_rule(name, values)):
            problems.append(
                (int(i), rule(name, values[i].item() if hasattr(values[i], "item") else values[i]))
            )
    for name in Passenger.REQUIRED:
        unknown = columns[name] == None if columns[name].dtype == object else ~np.isfinite(columns[name])  # noqa: E711
        problems.extend(
            (int(i), f"Please give the {Passenger.LABELS[name]}.") for i in np.flatnonzero(unknown)
        )
    return sorted(problems)


def assumptions(
    completed: Columns, filled: Mapping[str, np.ndarray], *, families_of: str | None = None
) -> list[str]:
    """Plain-words list of what was assumed for one passenger (row 0 of `completed`); `families_of`:
    whose families an unknown family was averaged over (FeatureSpec.expand), in words."""
    said: list[str] = []
    if filled["title"][0]:
        said.append(f"title {completed['title'][0]}")
    if filled["child_age"][0]:
        said.append(f"age {completed['age'][0]:.0f} (typical for a child)")
    elif filled["age"][0]:
        said.append(f"age {completed['age'][0]:.0f} (typical for a {completed['title'][0]})")
    said += _family_assumptions(filled, families_of)
    if filled["fare"][0]:
        klass = CLASS_NAMES.get(int(completed["pclass"][0]), "this class")
        party = int(completed["party_size"][0])
        if families_of is not None:
            said.append(f"fare £{completed['fare'][0]:.0f} a head (typical for {klass})")
        else:
            for_whom = f" for {party} people" if party > 1 else ""
            said.append(f"fare £{completed['fare'][0]:.0f}{for_whom} (typical for {klass})")
    if filled["embarked"][0]:
        said.append(f"boarded at {PORTS[str(completed['embarked'][0])]}")
    return said


def _family_assumptions(filled: Mapping[str, np.ndarray], families_of: str | None) -> list[str]:
    if families_of is not None:
        return [f"family not given: averaged over the families of the {families_of} in the records"]
    if filled["sibsp"][0] and filled["parch"][0]:
        return ["travelling without family"]
    if filled["sibsp"][0]:
        return ["no siblings or spouse aboard"]
    if filled["parch"][0]:
        return ["no parents or children aboard"]
    return []


def reason_contributions(feature_names: tuple[str, ...], contribs: np.ndarray) -> Iterable[tuple[str, float]]:
    """Per-column contributions for one row -> per-reason sums (e.g. one-hot columns added up)."""
    for reason, indexes in reason_columns(feature_names).items():
        yield reason, float(sum(contribs[i] for i in indexes))


def credited_reasons(filled: Mapping[str, np.ndarray], row: int = 0) -> dict[str, str]:
    """Where an assumed value's effect belongs, for one row: reason -> the reason it counts toward.

    A person reads "A £36 fare (assumed)" as something about them, but the fare was made up from
    their class: its effect is their class's. Likewise a title inferred from sex and age is their
    sex ("Being a man"), and an age assumed from the title is the title's, or their sex's when the
    title was inferred too (or the age was a child's, from "a boy"). What was assumed is still
    listed separately (`assumptions`).
    """
    credit: dict[str, str] = {}
    if filled["fare"][row]:
        credit["fare"] = "pclass"
    if filled["title"][row]:
        credit["title"] = "sex"
    if filled["age"][row]:
        from_sex = filled["title"][row] or filled["child_age"][row]
        credit["age"] = "sex" if from_sex else "title"
    return credit


def fold_reasons(contributions: Iterable[tuple[str, float]], credit: Mapping[str, str]) -> dict[str, float]:
    """Per-reason contributions with each credited reason added into the one it counts toward
    (following chains: an age credited to a title that is itself credited to sex is sex's)."""
    folded: dict[str, float] = {}
    for reason, value in contributions:
        target = reason
        while target in credit:
            target = credit[target]
        folded[target] = folded.get(target, 0.0) + value
    return folded
