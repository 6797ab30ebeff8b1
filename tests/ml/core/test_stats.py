"""Survival rates by group: the Wilson interval, the bands, the figures of the shipped 891, the questions."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ml.core.stats import (
    GROUPINGS,
    UNKNOWN,
    PassengerCounts,
    StatsQuestionError,
    count_passengers,
    parse_groupings,
    wilson_interval,
)
from ml.core.table import normalize
from ml.io.data import load_csv


@pytest.fixture(scope="module")
def counts() -> PassengerCounts:
    return count_passengers(load_csv())


def figures(counts: PassengerCounts, *by: str) -> dict[tuple[str, ...], tuple[int, int]]:
    return {row.groups: (row.rate.survived, row.rate.total) for row in counts.breakdown(by).rows}


# -- the interval ------------------------------------------------------------------------------------
def test_wilson_interval_against_a_hand_computation() -> None:
    """233 of 314 women survived. By hand, with z = 1.96 (z² = 3.8415):
    p = 233/314 = 0.742038; z²/n = 0.012234; centre = (p + z²/2n) / (1 + z²/n) = 0.748155 / 1.012234
    = 0.739113; half-width = z / (1 + z²/n) · √(p(1−p)/n + z²/4n²) = 1.936276 · √0.00061935 = 0.048188;
    so 0.690925 to 0.787301."""
    low, high = wilson_interval(233, 314)
    assert low == pytest.approx(0.690925, abs=2e-6)
    assert high == pytest.approx(0.787301, abs=2e-6)


def test_wilson_interval_textbook_edges() -> None:
    # No successes in 10: the upper bound is z²/(n + z²) = 3.8415/13.8415 (p ± z·se would say 0 to 0).
    assert wilson_interval(0, 10) == pytest.approx((0.0, 3.841459 / 13.841459))
    assert wilson_interval(10, 10) == pytest.approx((10 / 13.841459, 1.0))
    assert wilson_interval(1, 2) == pytest.approx((0.094531, 0.905469), abs=1e-6)  # symmetric about 1/2
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_rate_from_few_people_has_a_wider_interval_than_the_same_rate_from_many() -> None:
    few, many = wilson_interval(4, 8), wilson_interval(250, 500)
    assert few[1] - few[0] > 3 * (many[1] - many[0])


# -- the shipped 891 ---------------------------------------------------------------------------------
def test_by_sex(counts: PassengerCounts) -> None:
    assert figures(counts, "sex") == {("female",): (233, 314), ("male",): (109, 577)}
    assert counts.overall.survived == 342 and counts.overall.total == 891


def test_by_class_age_port_and_family(counts: PassengerCounts) -> None:
    assert figures(counts, "class") == {
        ("1st class",): (136, 216),
        ("2nd class",): (87, 184),
        ("3rd class",): (119, 491),
    }
    # The 177 unknown ages and 2 unknown ports are their own rows, last.
    assert list(figures(counts, "age").items()) == [
        (("under 13",), (40, 69)),
        (("13–17",), (21, 44)),
        (("18–34",), (135, 366)),
        (("35–54",), (81, 193)),
        (("55+",), (13, 42)),
        ((UNKNOWN,), (52, 177)),
    ]
    assert list(figures(counts, "port").items()) == [
        (("Southampton",), (217, 644)),
        (("Cherbourg",), (93, 168)),
        (("Queenstown",), (30, 77)),
        ((UNKNOWN,), (2, 2)),
    ]
    assert figures(counts, "family") == {
        ("1 (alone)",): (163, 537),
        ("2",): (89, 161),
        ("3",): (59, 102),
        ("4",): (21, 29),
        ("5+",): (10, 62),
    }


def test_every_breakdown_adds_up_to_everyone(counts: PassengerCounts) -> None:
    for breakdown in counts.overview():
        assert sum(row.rate.total for row in breakdown.rows) == 891
        assert sum(row.rate.survived for row in breakdown.rows) == 342


def test_cross_table_class_by_sex(counts: PassengerCounts) -> None:
    assert list(figures(counts, "class", "sex").items()) == [
        (("1st class", "female"), (91, 94)),
        (("1st class", "male"), (45, 122)),
        (("2nd class", "female"), (70, 76)),
        (("2nd class", "male"), (17, 108)),
        (("3rd class", "female"), (72, 144)),
        (("3rd class", "male"), (47, 347)),
    ]
    # The order asked is the order shown.
    assert next(iter(figures(counts, "sex", "class"))) == ("female", "1st class")


def test_rows_carry_their_interval(counts: PassengerCounts) -> None:
    women = counts.breakdown(["sex"]).rows[0].rate
    assert women.rate == pytest.approx(233 / 314)
    assert women.interval == wilson_interval(233, 314)
    assert women.to_dict() == {
        "survived": 233,
        "total": 314,
        "rate": pytest.approx(0.742038, abs=1e-6),
        "low": pytest.approx(0.690925, abs=1e-6),
        "high": pytest.approx(0.787301, abs=1e-6),
    }


def test_band_edges_and_missing_values() -> None:
    frame = normalize(
        pd.DataFrame(
            {
                "survived": [1, 0, 1, 0, 1, 0],
                "pclass": [1, 2, 3, 3, 3, 3],
                "sex": ["female", "male", "MALE", None, "female", "male"],
                "age": [12.99, 13, 17.5, 18, 55, math.nan],
                "sibsp": [0, 1, 0, 3, 0, 0],
                "parch": [0, 0, 1, 1, 0, None],
                "fare": [1.0] * 6,
                "embarked": ["S", "c", "Queenstown", None, "S", "S"],
            }
        ),
        require_target=True,
    )
    counts = count_passengers(frame)
    assert list(figures(counts, "age")) == [("under 13",), ("13–17",), ("18–34",), ("55+",), (UNKNOWN,)]
    assert figures(counts, "age")[("13–17",)] == (1, 2)
    assert figures(counts, "sex") == {("female",): (2, 2), ("male",): (1, 3), (UNKNOWN,): (0, 1)}
    assert figures(counts, "port") == {
        ("Southampton",): (2, 3),
        ("Cherbourg",): (0, 1),
        ("Queenstown",): (1, 1),
        (UNKNOWN,): (0, 1),
    }
    assert figures(counts, "family") == {
        ("1 (alone)",): (2, 2),
        ("2",): (1, 2),
        ("5+",): (0, 1),
        (UNKNOWN,): (0, 1),
    }


def test_counts_from_query_rows_add_up_repeats() -> None:
    labels = ("female", "1st class", "18–34", "Southampton", "2")
    counts = PassengerCounts.from_rows([(labels, 3, 2), (labels, 1, 1)])
    assert counts.cells == {labels: (4, 3)}


# -- what people ask ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("by class and sex", ("class", "sex")),
        ("class,sex", ("class", "sex")),
        ("Gender x family size", ("sex", "family")),
        ("by port of embarkation, age", ("port", "age")),
        ("by sex &amp; pclass", ("sex", "class")),
        ("by class and class", ("class",)),
        ("  BY   AGE  ", ("age",)),
    ],
)
def test_parse_groupings(text: str, expected: tuple[str, ...]) -> None:
    assert parse_groupings(text) == expected


def test_unknown_groupings_are_named_with_the_valid_ones() -> None:
    with pytest.raises(StatsQuestionError) as caught:
        parse_groupings("by class and hair colour")
    assert caught.value.unknown == ("hair", "colour")
    assert "“hair”, “colour”" in str(caught.value)
    assert "sex, class, age, port, family" in str(caught.value)


def test_at_most_two_groupings() -> None:
    with pytest.raises(StatsQuestionError, match="At most 2 groupings"):
        parse_groupings("class sex age")


def test_groupings_are_the_five_of_the_issue() -> None:
    assert [g.name for g in GROUPINGS] == ["sex", "class", "age", "port", "family"]
