"""The one passenger type: what a person can say about themselves, validated once.

The free-text parser, the Slack modal, the CLI flags and the model all build and read
`Passenger`; its validation messages are written for the person who typed the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

PORTS: dict[str, str] = {"C": "Cherbourg", "Q": "Queenstown", "S": "Southampton"}
SEXES: tuple[str, ...] = ("female", "male")
TITLES: tuple[str, ...] = ("Mr", "Mrs", "Miss", "Master", "Rare")
CLASS_NAMES: dict[int, str] = {1: "1st class", 2: "2nd class", 3: "3rd class"}

# Titles found in passenger lists, folded into the five groups the model knows.
_TITLE_ALIASES: dict[str, str] = {
    "mr": "Mr",
    "mrs": "Mrs",
    "mme": "Mrs",
    "miss": "Miss",
    "ms": "Miss",
    "mlle": "Miss",
    "master": "Master",
    **{
        rare: "Rare"
        for rare in (
            "dr",
            "rev",
            "col",
            "major",
            "capt",
            "sir",
            "lady",
            "don",
            "dona",
            "jonkheer",
            "countess",
            "the countess",
            "rare",
        )
    },
}
_FEMALE_TITLES = frozenset({"Mrs", "Miss"})
_MALE_TITLES = frozenset({"Mr", "Master"})

MAX_AGE = 100
MAX_COUNT = 10
MAX_FARE = 1000.0
# A child, in the records and in every answer: under 13 (boys under 13 travelled as "Master").
CHILD_AGE = 13.0


def normalize_title(raw: object) -> str | None:
    """'Mrs.', 'mme', 'Dr' -> 'Mrs', 'Mrs', 'Rare'; None when it is no known title."""
    if raw is None:
        return None
    key = str(raw).strip().rstrip(".").lower()
    return _TITLE_ALIASES.get(key)


# The title of a passenger-list name: 'Braund, Mr. Owen Harris' -> 'Mr' (batch scoring runs the
# same pattern over a file's distinct names at once).
NAME_TITLE_PATTERN = r",\s*([^.]+)\."
_NAME_TITLE = re.compile(NAME_TITLE_PATTERN)


def title_from_name(name: object) -> str | None:
    """Title from a passenger-list name such as 'Braund, Mr. Owen Harris'."""
    if not isinstance(name, str):
        return None
    match = _NAME_TITLE.search(name)
    return normalize_title(match.group(1)) if match else None


def normalize_port(raw: object) -> str | None:
    """'S', 'southampton', 'Cherbourg' -> port letter; None when unknown."""
    if raw is None:
        return None
    key = str(raw).strip().lower()
    for letter, name in PORTS.items():
        if key in (letter.lower(), name.lower()):
            return letter
    return None


def normalize_sex(raw: object) -> str | None:
    if raw is None:
        return None
    key = str(raw).strip().lower()
    if key in ("female", "f", "woman", "w", "girl"):
        return "female"
    if key in ("male", "m", "man", "boy"):
        return "male"
    return None


# What each attribute must be, said to the person who gave it: one rule per field, checked for one
# person's answer (Passenger.validate) and for every row of a file at once (features.invalid_rows).
RULES: dict[str, str] = {
    "pclass": "Class must be 1st, 2nd or 3rd",
    "sex": "Sex must be female or male",
    "age": f"Age must be between 0 and {MAX_AGE}",
    "sibsp": f"Siblings/spouses aboard must be a whole number from 0 to {MAX_COUNT}",
    "parch": f"Parents/children aboard must be a whole number from 0 to {MAX_COUNT}",
    "fare": f"Fare must be between £0 and £{MAX_FARE:.0f}",
    "embarked": "Port must be Cherbourg (C), Queenstown (Q) or Southampton (S)",
}
_RANGES: dict[str, tuple[float, float, bool]] = {  # low, high, whole numbers only
    "age": (0, MAX_AGE, False),
    "sibsp": (0, MAX_COUNT, True),
    "parch": (0, MAX_COUNT, True),
    "fare": (0, MAX_FARE, False),
}
_LABEL_VALUES: dict[str, tuple[str, ...]] = {"sex": SEXES, "embarked": tuple(PORTS)}
_DTYPES: dict[str, type] = {name: object if name in _LABEL_VALUES else float for name in RULES}


def breaks_rule(name: str, values: np.ndarray) -> np.ndarray:
    """Which values of field `name` break its rule. Unknown values (NaN, None) never do: whether a
    value is needed is a separate question."""
    if name in _LABEL_VALUES:
        return np.asarray((values != None) & ~np.isin(values, _LABEL_VALUES[name]), dtype=bool)  # noqa: E711
    numbers = values.astype(np.float64)
    if name == "pclass":
        return np.asarray(np.isfinite(numbers) & ~np.isin(numbers, list(CLASS_NAMES)), dtype=bool)
    low, high, whole = _RANGES[name]
    bad = (numbers < low) | (numbers > high)
    if whole:
        bad |= numbers != np.round(numbers)
    return np.asarray(np.isfinite(numbers) & bad, dtype=bool)


def rule(name: str, got: object) -> str:
    """The rule for `name`; a range also says the value that broke it (a choice names them all)."""
    if name not in _RANGES:
        return f"{RULES[name]}."
    shown = _fmt(float(got)) if isinstance(got, int | float) else got
    return f"{RULES[name]} (got {shown})."


class PassengerError(ValueError):
    """One or more attributes are invalid. `errors` maps each field to a message for a person."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        # "Please give the class. Please give the sex.": each message is a sentence of its own.
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True, slots=True)
class Passenger:
    """A passenger as a person describes them. Every field may be unknown (None) except where the
    model needs it: class and sex are required to score; the rest is imputed and reported."""

    pclass: int | None = None
    sex: str | None = None
    age: float | None = None
    sibsp: int | None = None
    parch: int | None = None
    fare: float | None = None
    embarked: str | None = None
    title: str | None = None
    # "A boy", "a girl": a child (under 13) whose age was not given. Only matters without an age.
    child: bool | None = None

    LABELS: ClassVar[dict[str, str]] = {
        "pclass": "class",
        "sex": "sex",
        "age": "age",
        "sibsp": "siblings/spouses aboard",
        "parch": "parents/children aboard",
        "fare": "fare",
        "embarked": "port",
        "title": "title",
        "child": "child (under 13)",
    }
    REQUIRED: ClassVar[tuple[str, ...]] = ("pclass", "sex")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def create(cls, **raw: Any) -> Passenger:
        """Coerce loosely typed values (strings from a form, CLI or CSV) and validate them all at
        once, raising `PassengerError` with a message per bad field. Empty strings mean unknown."""
        unknown = set(raw) - set(cls.field_names())
        if unknown:
            raise TypeError(f"unknown passenger fields: {sorted(unknown)}")
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name in cls.field_names():
            value = raw.get(name)
            if _is_blank(value):
                values[name] = None
                continue
            try:
                values[name] = _COERCE[name](value)
            except ValueError as exc:
                errors[name] = str(exc)
        passenger = cls(**values)  # a field that failed to coerce is None here
        try:
            passenger.validate()
        except PassengerError as exc:  # report range errors together with coercion errors
            errors = {**exc.errors, **errors}
        if errors:
            raise PassengerError({name: errors[name] for name in cls.field_names() if name in errors})
        return passenger

    def validate(self, *, require: tuple[str, ...] = ()) -> None:
        """Check ranges and consistency; raise `PassengerError` naming every problem."""
        errors: dict[str, str] = {}
        for name in RULES:
            value = getattr(self, name)
            if value is not None and breaks_rule(name, np.array([value], dtype=_DTYPES[name]))[0]:
                errors[name] = rule(name, value)
        title_problem = self._title_problem()
        if title_problem:
            errors["title"] = title_problem
        if self.child and "age" not in errors and self.age is not None and self.age >= CHILD_AGE:
            errors["child"] = f"A child here means under {CHILD_AGE:g} (got age {_fmt(self.age)})."
        for name in require:
            if getattr(self, name) is None and name not in errors:
                errors[name] = f"Please give the {self.LABELS[name]}."
        if errors:
            raise PassengerError(errors)

    def _title_problem(self) -> str | None:
        if self.title is None:
            return None
        if self.title not in TITLES:
            return f"Title must be one of {', '.join(TITLES)}."
        if (self.sex == "male" and self.title in _FEMALE_TITLES) or (
            self.sex == "female" and self.title in _MALE_TITLES
        ):
            return f"{self.title} is not a title for a {self.sex} passenger."
        return None

    def missing(self) -> tuple[str, ...]:
        """Required fields that are still unknown."""
        return tuple(name for name in self.REQUIRED if getattr(self, name) is None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """A short human description: '1st class female, age 29, 1 sibling/spouse'."""
        head = " ".join(self._who()) or "passenger"
        tail: list[str] = []
        if self.age is not None:
            tail.append(f"age {_fmt(self.age)}")
        if self.sibsp:
            tail.append(f"{self.sibsp} sibling{'s' if self.sibsp != 1 else ''}/spouse")
        if self.parch:
            tail.append(
                f"{self.parch} parent{'s' if self.parch != 1 else ''}/child{'ren' if self.parch != 1 else ''}"
            )
        if self.sibsp == 0 and self.parch == 0:
            tail.append("travelling alone")
        if self.embarked is not None:
            tail.append(f"from {PORTS.get(self.embarked, self.embarked)}")
        if self.fare is not None:
            tail.append(f"fare £{_money(self.fare)}")
        return ", ".join([head, *tail])

    def _who(self) -> list[str]:
        """Class, sex (a boy or girl when a child was said) and title: '3rd class boy'."""
        parts: list[str] = []
        if self.pclass is not None:
            parts.append(CLASS_NAMES.get(self.pclass, f"class {self.pclass}"))
        if self.sex is not None:
            parts.append(
                {"male": "boy", "female": "girl"}.get(self.sex, self.sex) if self.child else self.sex
            )
        elif self.child:
            parts.append("child")
        if self.title is not None:
            parts.append(f"({self.title})")
        return parts


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return isinstance(value, float) and math.isnan(value)


def _fmt(number: float) -> str:
    return f"{number:g}"


def _money(amount: float) -> str:
    """'72', '7.25', '67.52' (an imputed fare is 67.5208...; the records have pence to 4 places)."""
    return f"{amount:.2f}".removesuffix(".00")


def _to_number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number.")
    text = str(value).strip().lstrip("£$").replace(",", "") if isinstance(value, str) else str(value)
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number (got “{value}”).") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a number (got “{value}”).")
    return number


def _to_count(what: str) -> Callable[[object], int]:
    def coerce(value: object) -> int:
        number = _to_number(value, what)
        if number != int(number):
            raise ValueError(f"{what} must be a whole number (got {_fmt(number)}).")
        return int(number)

    return coerce


def _to_pclass(value: object) -> int:
    text = str(value).strip().lower()
    for number, words in (
        (1, ("1", "1st", "first")),
        (2, ("2", "2nd", "second")),
        (3, ("3", "3rd", "third")),
    ):
        if text in words or text.removesuffix(" class") in words:
            return number
    try:
        as_number = _to_number(value, "Class")
    except ValueError:
        raise ValueError("Class must be 1st, 2nd or 3rd.") from None
    if as_number != int(as_number):
        raise ValueError("Class must be 1st, 2nd or 3rd.")
    return int(as_number)


def _to_sex(value: object) -> str:
    sex = normalize_sex(value)
    if sex is None:
        raise ValueError("Sex must be female or male.")
    return sex


def _to_flag(value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"Child must be yes or no (got “{value}”).")


def _to_port(value: object) -> str:
    port = normalize_port(value)
    if port is None:
        raise ValueError("Port must be Cherbourg (C), Queenstown (Q) or Southampton (S).")
    return port


def _to_title(value: object) -> str:
    title = normalize_title(value)
    if title is None:
        raise ValueError(f"Title must be one of {', '.join(TITLES)} (got “{value}”).")
    return title


_COERCE = {
    "pclass": _to_pclass,
    "sex": _to_sex,
    "age": lambda v: _to_number(v, "Age"),
    "sibsp": _to_count("Siblings/spouses aboard"),
    "parch": _to_count("Parents/children aboard"),
    "fare": lambda v: _to_number(v, "Fare"),
    "embarked": _to_port,
    "title": _to_title,
    "child": _to_flag,
}
