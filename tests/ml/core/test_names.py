"""Passengers by name (ml.core.names): forgiving matches, and when a text is a name at all."""

from __future__ import annotations

import numpy as np
import pytest

from ml.core.metrics import expected_calibration_error, reliability_bins
from ml.core.names import NameIndex, edit_distance, name_query, parse_record_name
from ml.core.parser import parse
from ml.io.data import load_csv

NAMES = load_csv()["name"].tolist()


@pytest.fixture(scope="module")
def index() -> NameIndex:
    return NameIndex(NAMES)


def found(index: NameIndex, query: str) -> list[str]:
    return [NAMES[row] for row in index.search(query).matches]


def test_a_record_name_is_taken_apart() -> None:
    parsed = parse_record_name('Brown, Miss. Amelia "Mildred"')
    assert (parsed.surname, parsed.title, parsed.others) == (("brown",), "Miss", ("amelia", "mildred"))
    assert parse_record_name("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)").title == "Rare"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Astor", ["Astor, Mrs. John Jacob (Madeleine Talmadge Force)"]),
        ("ASTOR", ["Astor, Mrs. John Jacob (Madeleine Talmadge Force)"]),
        ("john jacob astor", ["Astor, Mrs. John Jacob (Madeleine Talmadge Force)"]),
        ("Margaret Brown", ["Brown, Mrs. James Joseph (Margaret Tobin)"]),  # the names in brackets
        ("Marg Brown", ["Brown, Mrs. James Joseph (Margaret Tobin)"]),  # the start of a name
        ("“Mildred” Brown", ['Brown, Miss. Amelia "Mildred"']),  # quotes, and a quoted nickname
        ("Sägesser", ["Sagesser, Mlle. Emma"]),  # accents either way
        ("Miss Sagesser", ["Sagesser, Mlle. Emma"]),  # Mlle is a Miss
        ("Mr Sagesser", []),
    ],
)
def test_forgiving_matches(index: NameIndex, query: str, expected: list[str]) -> None:
    assert found(index, query) == expected


def test_no_match_offers_the_surname_or_what_is_spelt_alike(index: NameIndex) -> None:
    molly = index.search("Molly Brown")  # no nickname guessing: the Browns instead
    assert not molly.found and len(molly.same_surname) == 4
    assert index.search("Astr").suggestions == ("Astor",)
    assert index.search("Brwn").suggestions[0] == "Brown"
    assert index.search("Zzyzx").suggestions == () and index.search("Mrs").matches == ()
    assert index.suggest(["banana"], strict=True) == ()  # one letter off at most, for mere text
    assert edit_distance("astor", "astr") == 1 and edit_distance("abcdef", "uvwxyz", limit=2) == 3


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Astor", "Astor"),
        ('"Molly Brown"', "Molly Brown"),
        ("“3rd class man”", "3rd class man"),  # quoted: a name, whatever it says
        ("Mrs Brown", "Mrs Brown"),  # a title and a surname
        ("Master Richards", "Master Richards"),
        ("3rd class man, 30", None),  # a description
        ("young woman", None),  # a sex word: a description, though Young is a surname
        ("Young 1st class", None),
        ("banana spaceship", None),  # no surname in it
        ("Miss", None),
    ],
)
def test_a_name_or_a_description(index: NameIndex, text: str, name: str | None) -> None:
    parsed = parse(text)
    assert name_query(text, parsed.values, parsed.ignored, index) == name


def test_reliability_bins_are_the_ece_bins() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    bins = reliability_bins(y, p)
    assert sum(b["count"] for b in bins) == 500 and len(bins) == 10
    ece = sum(b["count"] * abs(b["observed"] - b["predicted"]) for b in bins) / 500
    assert ece == pytest.approx(expected_calibration_error(y, p), abs=1e-4)
    assert reliability_bins(np.array([1]), np.array([0.97])) == [
        {"low": 0.9, "high": 1.0, "predicted": 0.97, "observed": 1.0, "count": 1}
    ]
