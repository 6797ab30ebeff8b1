"""ml.core.evidence: the records most like the asker, counted the way the answer says, widened when
too few, unknown ages left out and said so, and the table exactly the rows a version learnt from."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml.core.evidence import ENOUGH, EvidenceTable, band_of
from ml.core.passenger import Passenger
from ml.core.table import fingerprint
from ml.io.data import load_csv


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_csv()


@pytest.fixture(scope="module")
def table(frame: pd.DataFrame) -> EvidenceTable:
    return EvidenceTable.from_frame(frame, fingerprint(frame))


def _count(frame: pd.DataFrame, mask: pd.Series) -> tuple[int, int]:
    return int(mask.sum()), int(frame.loc[mask, "survived"].sum())


def test_a_man_of_30_travelling_alone(frame: pd.DataFrame, table: EvidenceTable) -> None:
    evidence = table.like(Passenger.create(pclass=3, sex="male", age=30, sibsp=0, parch=0))
    alone = (frame["sibsp"] + frame["parch"]) == 0
    like = (frame["pclass"] == 3) & (frame["sex"] == "male") & alone
    assert evidence.group == "3rd class, male, 18–34, alone"
    assert (evidence.passengers, evidence.survived) == _count(
        frame, like & (frame["age"] >= 18) & (frame["age"] < 35)
    )
    assert evidence.unknown_age == int((like & frame["age"].isna()).sum()) > 0
    assert evidence.narrower is None
    assert evidence.sentence() == (
        f"Of the {evidence.passengers} passengers in the records most like you (3rd class, male, 18–34, alone),"
        f" {evidence.survived} survived. Not counted: {evidence.unknown_age} more (3rd class, male, alone)"
        " whose age the records lack."
    )
    # Three real names, the closest in age first, each with their fate.
    assert len(evidence.examples) == 3
    names = set(frame.loc[like, "name"])
    assert all(e.name in names and e.age is not None and abs(e.age - 30) <= 1 for e in evidence.examples)
    for e in evidence.examples:
        assert e.survived == bool(frame.loc[frame["name"] == e.name, "survived"].iloc[0])
        assert e.text().endswith("survived)" if e.survived else "died)")


def test_what_was_not_said_does_not_group(frame: pd.DataFrame, table: EvidenceTable) -> None:
    evidence = table.like(Passenger.create(pclass=3, sex="male"))
    assert evidence.group == "3rd class, male" and evidence.unknown_age == 0
    assert (evidence.passengers, evidence.survived) == _count(
        frame, (frame["pclass"] == 3) & (frame["sex"] == "male")
    )
    family = (frame["sibsp"] + frame["parch"]) > 0
    mothers = (frame["pclass"] == 3) & (frame["sex"] == "female") & family & frame["age"].between(18, 34.99)
    assert mothers.sum() >= ENOUGH
    with_family = table.like(Passenger.create(pclass=3, sex="female", age=25, parch=1))
    assert with_family.group == "3rd class, female, 18–34, with family"  # one relative said: with family
    assert (with_family.passengers, with_family.survived) == _count(frame, mothers)


@pytest.mark.parametrize(
    "passenger",
    [
        Passenger.create(pclass=3, sex="male", child=True),
        Passenger.create(pclass=3, sex="male", title="Master"),
    ],
)
def test_a_boy_is_counted_among_the_children(
    frame: pd.DataFrame, table: EvidenceTable, passenger: Passenger
) -> None:
    """Issue 10: in the records 9 of the 25 third-class boys under 13 survived."""
    evidence = table.like(passenger)
    assert evidence.group == "3rd class, male, under 13"
    boys = (frame["pclass"] == 3) & (frame["sex"] == "male") & (frame["age"] < 13)
    assert (evidence.passengers, evidence.survived) == _count(frame, boys) == (25, 9)


def test_a_tiny_group_is_widened_and_says_so(frame: pd.DataFrame, table: EvidenceTable) -> None:
    """A 3rd-class boy travelling alone: one such passenger in the records (he died)."""
    evidence = table.like(Passenger.create(pclass=3, sex="male", age=10, sibsp=0, parch=0))
    assert evidence.narrower == ("3rd class, male, under 13, alone", 1)
    assert evidence.group == "3rd class, male, under 13" and evidence.passengers >= ENOUGH
    assert evidence.sentence().startswith(
        "Only 1 passenger in the records matched you exactly (3rd class, male, under 13, alone), so the group"
        " is wider: of the 25 passengers"
    )
    girl = table.like(Passenger.create(pclass=1, sex="female", age=5, parch=2))
    assert girl.narrower is not None and girl.narrower[1] < ENOUGH
    assert girl.group in ("1st class, female, under 18", "1st class, female")
    assert girl.passengers >= ENOUGH


def test_unknown_ages_in_the_records_are_in_no_age_band(frame: pd.DataFrame, table: EvidenceTable) -> None:
    assert band_of(12.99)[2] == "under 13" and band_of(13)[2] == "13–17" and band_of(80)[2] == "55 and over"
    men = (frame["pclass"] == 3) & (frame["sex"] == "male")
    for age, (low, high) in ((5, (0, 13)), (25, (18, 35)), (45, (35, 55))):
        evidence = table.like(Passenger.create(pclass=3, sex="male", age=age))
        assert evidence.narrower is None
        in_band = men & (frame["age"] >= low) & (frame["age"] < high)
        assert (evidence.passengers, evidence.survived) == _count(frame, in_band)
        assert evidence.unknown_age == int((men & frame["age"].isna()).sum())
        assert evidence.unknown_age_group == "3rd class, male"


def test_the_table_is_the_data_it_came_from(frame: pd.DataFrame, table: EvidenceTable) -> None:
    again = EvidenceTable.from_json(json.loads(json.dumps(table.to_json())))
    assert again.fingerprint() == again.data_fingerprint == fingerprint(frame)
    assert len(again) == len(frame)
    person = Passenger.create(pclass=2, sex="female", age=8, parch=2)
    assert again.like(person) == table.like(person)
    # Any changed row changes the fingerprint: an evidence table cannot pass for other data.
    altered = frame.copy()
    altered.loc[0, "survived"] = 1 - altered.loc[0, "survived"]
    assert EvidenceTable.from_frame(altered, "x").fingerprint() != fingerprint(frame)


def test_records_without_names_give_counts_but_no_names(frame: pd.DataFrame) -> None:
    anonymous = frame.drop(columns=["name"])
    evidence = EvidenceTable.from_frame(anonymous, fingerprint(anonymous)).like(
        Passenger.create(pclass=1, sex="male")
    )
    assert evidence.passengers == int(((frame["pclass"] == 1) & (frame["sex"] == "male")).sum())
    assert evidence.examples == ()
    assert np.all(EvidenceTable.from_frame(anonymous, "").names == None)  # noqa: E711


def test_a_record_is_the_passenger_as_they_would_describe_themselves() -> None:
    from tests.support.models import fitted_model

    evidence = fitted_model().evidence
    assert evidence is not None
    row = evidence.names_index.search("Astor").matches[0]
    record = evidence.record(row)
    assert (record.name, record.survived) == ("Astor, Mrs. John Jacob (Madeleine Talmadge Force)", True)
    p = record.passenger
    assert (p.pclass, p.sex, p.age, p.sibsp, p.parch, p.embarked, p.title) == (
        1,
        "female",
        18.0,
        1,
        0,
        "C",
        "Mrs",
    )
    assert record.cv_probability is None  # fitted without cross-validation: nothing recorded
    unknown_age = next(r for r in range(len(evidence)) if np.isnan(evidence.age[r]))
    assert evidence.record(unknown_age).passenger.age is None
