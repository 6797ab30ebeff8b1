"""Who was aboard and who survived: survival rates by group, each with a 95% Wilson interval.

The seed quickstart's "Data Exploration", as data. Every backend produces the same
`PassengerCounts`: how many passengers, and how many survivors, in each combination of the five
groupings (sex, class, age band, port, family size). Locally that is `count_passengers` on the
passenger frame; on Snowflake one GROUP BY query over the same bands (ml.snowflake.stats). Any
breakdown people ask for (one grouping, or the cross table of two) is then summed from those
cells here, and the intervals come from the counts by one function, whichever backend counted.

Pure: frames and counts in, numbers out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.core.passenger import CLASS_NAMES, PORTS, SEXES
from ml.core.table import TARGET

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95% interval
UNKNOWN = "unknown"  # the group of passengers whose value is missing (real: 177 ages, 2 ports)
FAMILY_SIZE = "family_size"  # siblings/spouses + parents/children + the passenger
MAX_GROUPINGS = 2  # a cross table of two is readable in Slack; three is not


def wilson_interval(survived: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a proportion: unlike p ± z·se it stays inside [0, 1] and
    stays honest for small groups and rates near 0 or 1 (0 of 6 is not "0% ± 0")."""
    if total <= 0:
        return 0.0, 1.0
    p = survived / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """`survived` of `total` passengers, with the rate and its 95% interval."""

    survived: int
    total: int

    @property
    def rate(self) -> float:
        return self.survived / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.survived, self.total)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {"survived": self.survived, "total": self.total, "rate": self.rate, "low": low, "high": high}


@dataclass(frozen=True)
class Grouping:
    """One way to split the passengers: the column it reads and its groups, in display order.

    Categories map a column's value to a label (`values[i]` -> `labels[i]`); numeric bands cut at
    `edges` (label i covers [edges[i-1], edges[i])). Anything else, a missing value included, is
    UNKNOWN. Both backends band from these same definitions.
    """

    name: str  # what people type after "by"
    title: str
    column: str  # a canonical passenger column, or FAMILY_SIZE
    labels: tuple[str, ...]
    values: tuple[object, ...] = ()
    edges: tuple[float, ...] = ()

    def label_values(self, column: pd.Series) -> np.ndarray:
        """Each passenger's group label (object array), UNKNOWN where the value is missing or unlisted."""
        if self.edges:
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            index = np.searchsorted(np.asarray(self.edges), numbers, side="right")
            labels = np.asarray(self.labels, dtype=object)[np.minimum(index, len(self.labels) - 1)]
            return np.where(np.isnan(numbers), UNKNOWN, labels)
        lookup = dict(zip(self.values, self.labels, strict=True))
        return np.asarray([lookup.get(v, UNKNOWN) for v in column.astype(object)], dtype=object)

    def order(self, label: str) -> int:
        return self.labels.index(label) if label in self.labels else len(self.labels)


GROUPINGS: tuple[Grouping, ...] = (
    Grouping("sex", "Sex", "sex", SEXES, values=SEXES),
    Grouping("class", "Class", "pclass", tuple(CLASS_NAMES.values()), values=tuple(CLASS_NAMES)),
    Grouping("age", "Age", "age", ("under 13", "13–17", "18–34", "35–54", "55+"), edges=(13, 18, 35, 55)),
    # In the order the ship called there.
    Grouping("port", "Port", "embarked", tuple(PORTS[p] for p in "SCQ"), values=tuple("SCQ")),
    Grouping("family", "Family size", FAMILY_SIZE, ("1 (alone)", "2", "3", "4", "5+"), edges=(2, 3, 4, 5)),
)
BY_NAME: dict[str, Grouping] = {g.name: g for g in GROUPINGS}

# What people may type for each grouping.
_ALIASES: dict[str, str] = {
    **{g.name: g.name for g in GROUPINGS},
    **dict.fromkeys(("gender", "sexes", "genders"), "sex"),
    **dict.fromkeys(("pclass", "classes", "ticket class"), "class"),
    **dict.fromkeys(("ages", "age band", "age bands", "age group", "age groups"), "age"),
    **dict.fromkeys(("ports", "embarked", "embarkation", "port of embarkation"), "port"),
    **dict.fromkeys(("family size", "families", "family sizes", "party", "party size"), "family"),
}
_FILLER = frozenset({"by", "and", "x", "vs", "per", "then", "with"})
_LONGEST_ALIAS = max(len(alias.split()) for alias in _ALIASES)
_SEPARATORS = re.compile(r"[\s,;&+/×*]+")


class StatsQuestionError(ValueError):
    """The groupings asked for are not ones we have; the message names the valid ones."""

    def __init__(self, message: str, unknown: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown = unknown  # the words not understood, for a reply to quote back


def valid_groupings() -> str:
    return ", ".join(g.name for g in GROUPINGS)


def _grouping_at(words: list[str], start: int) -> tuple[str | None, int]:
    """The grouping named by the longest alias starting at words[start], and how many words it took."""
    for width in range(min(_LONGEST_ALIAS, len(words) - start), 0, -1):
        name = _ALIASES.get(" ".join(words[start : start + width]))
        if name is not None:
            return name, width
    return None, 1


def parse_groupings(text: str) -> tuple[str, ...]:
    """'by class and sex', 'class,sex', 'Gender x family size' -> grouping names (at most two,
    repeats dropped); '' -> () (the overview). Words that name no grouping raise
    StatsQuestionError naming the valid groupings."""
    # Slack sends &, < and > in command text as entities.
    cleaned = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").lower()
    words = [w for w in _SEPARATORS.split(cleaned) if w]
    names: list[str] = []
    unknown: list[str] = []
    start = 0
    while start < len(words):
        name, width = _grouping_at(words, start)
        if name is not None and name not in names:
            names.append(name)
        elif name is None and words[start] not in _FILLER:
            unknown.append(words[start])
        start += width
    if unknown:
        quoted = ", ".join(f"“{w}”" for w in unknown)
        raise StatsQuestionError(
            f"I don't know how to group by {quoted}. Groupings: {valid_groupings()}.", tuple(unknown)
        )
    if len(names) > MAX_GROUPINGS:
        raise StatsQuestionError(
            f"At most {MAX_GROUPINGS} groupings at a time (e.g. “by class and sex”), not"
            f" {len(names)}: {', '.join(names)}."
        )
    return tuple(names)


@dataclass(frozen=True)
class Row:
    groups: tuple[str, ...]  # one label per grouping of the breakdown
    rate: Rate


@dataclass(frozen=True)
class Breakdown:
    """Survival by one grouping or two (a cross table): a row per group that had passengers, in
    display order, UNKNOWN last. What a table is printed from and what a chart (bars with
    interval whiskers) would be drawn from."""

    by: tuple[Grouping, ...]
    rows: tuple[Row, ...]
    overall: Rate

    @property
    def title(self) -> str:
        return " and ".join(g.title.lower() for g in self.by).capitalize()

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": [g.name for g in self.by],
            "overall": self.overall.to_dict(),
            "rows": [
                {
                    **{g.name: label for g, label in zip(self.by, row.groups, strict=True)},
                    **row.rate.to_dict(),
                }
                for row in self.rows
            ],
        }


@dataclass(frozen=True)
class PassengerCounts:
    """(total, survived) per combination of every grouping's label, keyed in GROUPINGS order:
    what one GROUP BY over the five bands returns. Combinations nobody was in are absent."""

    cells: Mapping[tuple[str, ...], tuple[int, int]]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[tuple[str, ...], int, int]]) -> PassengerCounts:
        """(labels, total, survived) rows, e.g. from a query; repeated labels are added up."""
        cells: dict[tuple[str, ...], tuple[int, int]] = {}
        for labels, total, survived in rows:
            before = cells.get(labels, (0, 0))
            cells[labels] = (before[0] + int(total), before[1] + int(survived))
        return cls(cells)

    @property
    def overall(self) -> Rate:
        return Rate(sum(s for _, s in self.cells.values()), sum(t for t, _ in self.cells.values()))

    def breakdown(self, by: Iterable[str]) -> Breakdown:
        """Survival by the named groupings (one or two), summed from the cells."""
        groupings = tuple(BY_NAME[name] for name in by)
        positions = [GROUPINGS.index(g) for g in groupings]
        sums: dict[tuple[str, ...], list[int]] = {}
        for labels, (total, survived) in self.cells.items():
            entry = sums.setdefault(tuple(labels[i] for i in positions), [0, 0])
            entry[0] += total
            entry[1] += survived
        order = sorted(
            sums, key=lambda key: [g.order(label) for g, label in zip(groupings, key, strict=True)]
        )
        rows = tuple(Row(key, Rate(survived=sums[key][1], total=sums[key][0])) for key in order)
        return Breakdown(groupings, rows, self.overall)

    def overview(self) -> list[Breakdown]:
        """Survival by each grouping on its own, in GROUPINGS order."""
        return [self.breakdown([g.name]) for g in GROUPINGS]


def grouping_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The column each grouping reads, from a canonical passenger frame."""
    columns = {g.column: frame[g.column] for g in GROUPINGS if g.column in frame.columns}
    columns[FAMILY_SIZE] = frame["sibsp"] + frame["parch"] + 1  # NaN when either is unknown
    return columns


def count_passengers(frame: pd.DataFrame) -> PassengerCounts:
    """Count a canonical passenger frame (ml.core.table.normalize with the target) into cells."""
    columns = grouping_columns(frame)
    labels = pd.DataFrame({g.name: g.label_values(columns[g.column]) for g in GROUPINGS})
    labels[TARGET] = frame[TARGET].to_numpy()
    grouped = labels.groupby([g.name for g in GROUPINGS], sort=False)[TARGET].agg(["size", "sum"])
    return PassengerCounts.from_rows(
        (tuple(str(label) for label in key), int(total), int(survived))
        for key, total, survived in zip(grouped.index, grouped["size"], grouped["sum"], strict=True)
    )


@dataclass(frozen=True)
class PassengerStats:
    """The counts, and which data they come from, said plainly to whoever reads the figures."""

    counts: PassengerCounts
    source: str  # e.g. "the shipped passenger list (891 passengers), which TITANIC V1 was trained on"
    caveat: str | None = None  # set when the figures may not be the default version's training data
    version: str | None = None  # the default version the figures are about

    def to_dict(self, by: tuple[str, ...] = ()) -> dict[str, Any]:
        breakdowns = [self.counts.breakdown(by)] if by else self.counts.overview()
        return {
            "source": self.source,
            "caveat": self.caveat,
            "version": self.version,
            "overall": self.counts.overall.to_dict(),
            "breakdowns": [b.to_dict() for b in breakdowns],
        }
