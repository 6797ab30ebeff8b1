"""ml.core.passenger: coercion of loosely typed values, every validation message, describe()."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ml.core.passenger import (
    MAX_AGE,
    MAX_COUNT,
    Passenger,
    PassengerError,
    normalize_port,
    normalize_sex,
    normalize_title,
    title_from_name,
)

TITLE_CHOICES = "Title must be one of Mr, Mrs, Miss, Master, Rare"
PORT_MESSAGE = "Port must be Cherbourg (C), Queenstown (Q) or Southampton (S)."


def errors_of(**raw: object) -> dict[str, str]:
    with pytest.raises(PassengerError) as caught:
        Passenger.create(**raw)
    return caught.value.errors


# ---------------------------------------------------------------------------------------------
# Coercion


@pytest.mark.parametrize(
    ("raw", "pclass"),
    [
        (1, 1),
        ("1", 1),
        ("1st", 1),
        ("first", 1),
        ("First class", 1),
        (" 2nd ", 2),
        ("second", 2),
        ("3rd class", 3),
        ("Third", 3),
        (3.0, 3),
        ("3.0", 3),
    ],
)
def test_class_is_coerced(raw: object, pclass: int) -> None:
    assert Passenger.create(pclass=raw).pclass == pclass


@pytest.mark.parametrize(
    ("raw", "sex"),
    [
        ("female", "female"),
        ("F", "female"),
        ("Woman", "female"),
        ("girl", "female"),
        ("male", "male"),
        (" M ", "male"),
        ("man", "male"),
        ("boy", "male"),
    ],
)
def test_sex_is_coerced(raw: str, sex: str) -> None:
    assert Passenger.create(sex=raw).sex == sex


@pytest.mark.parametrize(
    ("raw", "port"),
    [("S", "S"), ("s", "S"), ("Southampton", "S"), ("cherbourg", "C"), (" Q ", "Q"), ("QUEENSTOWN", "Q")],
)
def test_port_letters_and_names(raw: str, port: str) -> None:
    assert Passenger.create(embarked=raw).embarked == port


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Mr", "Mr"),
        ("mrs.", "Mrs"),
        ("Mme", "Mrs"),
        ("Ms", "Miss"),
        ("Mlle", "Miss"),
        ("master", "Master"),
        ("Dr", "Rare"),
        ("Rev.", "Rare"),
        ("the Countess", "Rare"),
        ("Jonkheer", "Rare"),
    ],
)
def test_titles_fold_into_five_groups(raw: str, title: str) -> None:
    assert Passenger.create(title=raw).title == title


def test_numbers_from_strings() -> None:
    p = Passenger.create(age="29", sibsp="1", parch=" 2 ", fare="£71.28")
    assert (p.age, p.sibsp, p.parch, p.fare) == (29.0, 1, 2, 71.28)
    assert isinstance(p.age, float) and isinstance(p.sibsp, int) and isinstance(p.parch, int)
    assert Passenger.create(fare="$1,000").fare == 1000.0
    assert Passenger.create(sibsp=2.0).sibsp == 2
    assert Passenger.create(age=0.42).age == 0.42


@pytest.mark.parametrize("blank", [None, "", "   ", math.nan])
def test_blank_values_mean_unknown(blank: object) -> None:
    p = Passenger.create(
        pclass=blank, sex=blank, age=blank, sibsp=blank, fare=blank, embarked=blank, title=blank
    )
    assert p == Passenger()


def test_unknown_fields_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="unknown passenger fields: \\['cabin'\\]"):
        Passenger.create(pclass=1, cabin="C85")


def test_passenger_is_immutable() -> None:
    p = Passenger.create(pclass=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.pclass = 2  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Every validation message


@pytest.mark.parametrize("age", [0, 0.5, 29, MAX_AGE])
def test_ages_in_range(age: float) -> None:
    assert Passenger.create(age=age).age == age


@pytest.mark.parametrize(("age", "shown"), [(-1, "-1"), (101, "101"), (100.5, "100.5"), ("150", "150")])
def test_age_out_of_range(age: object, shown: str) -> None:
    assert errors_of(age=age) == {"age": f"Age must be between 0 and 100 (got {shown})."}


@pytest.mark.parametrize("age", ["abc", "inf", "nan-ish", "twenty"])
def test_age_not_a_number(age: str) -> None:
    assert errors_of(age=age) == {"age": f"Age must be a number (got “{age}”)."}


def test_booleans_are_not_numbers() -> None:
    assert errors_of(age=True) == {"age": "Age must be a number."}
    assert errors_of(fare=False) == {"fare": "Fare must be a number."}


@pytest.mark.parametrize("pclass", [0, 4, -1, 1.5, "fourth", "1st-ish", "economy"])
def test_class_must_be_1_2_or_3(pclass: object) -> None:
    assert errors_of(pclass=pclass) == {"pclass": "Class must be 1st, 2nd or 3rd."}


def test_class_out_of_range_through_the_constructor() -> None:
    with pytest.raises(PassengerError) as caught:
        Passenger(pclass=4).validate()
    assert caught.value.errors == {"pclass": "Class must be 1st, 2nd or 3rd."}


@pytest.mark.parametrize("sex", ["x", "unknown", "3"])
def test_sex_must_be_female_or_male(sex: str) -> None:
    assert errors_of(sex=sex) == {"sex": "Sex must be female or male."}


@pytest.mark.parametrize(
    ("field", "label"), [("sibsp", "Siblings/spouses aboard"), ("parch", "Parents/children aboard")]
)
def test_counts_are_whole_numbers_from_0_to_10(field: str, label: str) -> None:
    assert getattr(Passenger.create(**{field: 0}), field) == 0
    assert getattr(Passenger.create(**{field: MAX_COUNT}), field) == MAX_COUNT
    assert errors_of(**{field: 11}) == {field: f"{label} must be a whole number from 0 to 10 (got 11)."}
    assert errors_of(**{field: -1}) == {field: f"{label} must be a whole number from 0 to 10 (got -1)."}
    assert errors_of(**{field: 1.5}) == {field: f"{label} must be a whole number (got 1.5)."}
    assert errors_of(**{field: "two"}) == {field: f"{label} must be a number (got “two”)."}


def test_fare_range() -> None:
    assert Passenger.create(fare=0).fare == 0.0
    assert Passenger.create(fare=1000).fare == 1000.0
    assert errors_of(fare=-1) == {"fare": "Fare must be between £0 and £1000 (got -1)."}
    assert errors_of(fare="1000.5") == {"fare": "Fare must be between £0 and £1000 (got 1000.5)."}
    assert errors_of(fare="cheap") == {"fare": "Fare must be a number (got “cheap”)."}


@pytest.mark.parametrize("port", ["X", "London", "SS"])
def test_port_must_be_c_q_or_s(port: str) -> None:
    assert errors_of(embarked=port) == {"embarked": PORT_MESSAGE}


def test_port_letter_checked_through_the_constructor() -> None:
    with pytest.raises(PassengerError) as caught:
        Passenger(embarked="X").validate()
    assert caught.value.errors == {"embarked": PORT_MESSAGE}


def test_unknown_title() -> None:
    assert errors_of(title="Duke") == {"title": f"{TITLE_CHOICES} (got “Duke”)."}
    with pytest.raises(PassengerError) as caught:
        Passenger(title="Duke").validate()
    assert caught.value.errors == {"title": f"{TITLE_CHOICES}."}


@pytest.mark.parametrize(
    ("sex", "title", "message"),
    [
        ("male", "Mrs", "Mrs is not a title for a male passenger."),
        ("male", "Miss", "Miss is not a title for a male passenger."),
        ("female", "Mr", "Mr is not a title for a female passenger."),
        ("female", "Master", "Master is not a title for a female passenger."),
    ],
)
def test_title_must_agree_with_sex(sex: str, title: str, message: str) -> None:
    assert errors_of(sex=sex, title=title) == {"title": message}


@pytest.mark.parametrize(
    ("sex", "title"), [("male", "Rare"), ("female", "Rare"), (None, "Mrs"), ("male", "Master")]
)
def test_titles_that_agree(sex: str | None, title: str) -> None:
    assert Passenger.create(sex=sex, title=title).title == title


def test_several_errors_at_once_keyed_by_field() -> None:
    errors = errors_of(pclass=5, sex="x", age=200, sibsp=-1, parch=1.5, fare=-3, embarked="X", title="Duke")
    assert list(errors) == ["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked", "title"]
    assert errors["age"] == "Age must be between 0 and 100 (got 200)."
    assert errors["parch"] == "Parents/children aboard must be a whole number (got 1.5)."


def test_coercion_and_range_errors_are_reported_together() -> None:
    # A value that is not a number and one that is out of range: the person hears about both.
    errors = errors_of(pclass=1, age="abc", fare=-5, sex="male", title="Mrs")
    assert errors == {
        "age": "Age must be a number (got “abc”).",
        "fare": "Fare must be between £0 and £1000 (got -5).",
        "title": "Mrs is not a title for a male passenger.",
    }


def test_error_message_joins_the_field_messages() -> None:
    with pytest.raises(PassengerError) as caught:
        Passenger.create(pclass=9, age=-1)
    assert str(caught.value) == "Class must be 1st, 2nd or 3rd. Age must be between 0 and 100 (got -1)."
    assert isinstance(caught.value, ValueError)


def test_required_fields() -> None:
    assert Passenger().missing() == ("pclass", "sex")
    assert Passenger(pclass=1).missing() == ("sex",)
    assert Passenger(pclass=1, sex="female").missing() == ()
    with pytest.raises(PassengerError) as caught:
        Passenger().validate(require=Passenger.REQUIRED)
    assert caught.value.errors == {"pclass": "Please give the class.", "sex": "Please give the sex."}
    # An invalid value is reported as invalid, not as missing.
    with pytest.raises(PassengerError) as caught:
        Passenger(pclass=7).validate(require=Passenger.REQUIRED)
    assert caught.value.errors == {"pclass": "Class must be 1st, 2nd or 3rd.", "sex": "Please give the sex."}


# ---------------------------------------------------------------------------------------------
# describe() and helpers


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "passenger"),
        ({"pclass": 1, "sex": "female", "age": 29, "sibsp": 1}, "1st class female, age 29, 1 sibling/spouse"),
        ({"pclass": 3, "sex": "male"}, "3rd class male"),
        ({"pclass": 2, "sibsp": 0, "parch": 0}, "2nd class, travelling alone"),
        ({"sex": "female", "title": "Miss", "age": 4.5}, "female (Miss), age 4.5"),
        (
            {"pclass": 3, "sex": "male", "title": "Mr", "age": 22, "sibsp": 2, "parch": 1}
            | {"fare": 7.25, "embarked": "S"},
            "3rd class male (Mr), age 22, 2 siblings/spouse, 1 parent/child, from Southampton, fare £7.25",
        ),
        ({"pclass": 1, "parch": 2, "embarked": "C"}, "1st class, 2 parents/children, from Cherbourg"),
        (
            {"pclass": 3, "sex": "male", "child": True, "sibsp": 0, "parch": 0},
            "3rd class boy, travelling alone",
        ),
        ({"sex": "female", "child": "yes"}, "girl"),
    ],
)
def test_describe(fields: dict[str, object], text: str) -> None:
    assert Passenger.create(**fields).describe() == text


@pytest.mark.parametrize(
    ("raw", "child"),
    [(True, True), ("yes", True), ("true", True), ("1", True), (False, False), ("no", False)],
)
def test_child_is_a_yes_or_no(raw: object, child: bool) -> None:
    assert Passenger.create(sex="male", child=raw).child is child


def test_a_child_is_under_13() -> None:
    with pytest.raises(PassengerError) as caught:
        Passenger.create(pclass=3, sex="male", child=True, age=15)
    assert caught.value.errors == {"child": "A child here means under 13 (got age 15)."}
    assert Passenger.create(pclass=3, sex="male", child=True, age=12.5).age == 12.5
    with pytest.raises(PassengerError, match="Child must be yes or no"):
        Passenger.create(sex="male", child="maybe")


def test_to_dict_and_field_names() -> None:
    p = Passenger.create(pclass=1, sex="female", age=29)
    assert Passenger.field_names() == (
        "pclass",
        "sex",
        "age",
        "sibsp",
        "parch",
        "fare",
        "embarked",
        "title",
        "child",
    )
    assert p.to_dict() == {
        "pclass": 1,
        "sex": "female",
        "age": 29.0,
        "sibsp": None,
        "parch": None,
        "fare": None,
        "embarked": None,
        "title": None,
        "child": None,
    }
    assert set(Passenger.LABELS) == set(Passenger.field_names())


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "Mrs"),
        ("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Rare"),
        ("Palsson, Master. Gosta Leonard", "Master"),
        ("Reuchlin, Jonkheer. John George", "Rare"),
        ("No comma Mr. Smith", None),
        ("Smith, Duke. John", None),
        (None, None),
        (42, None),
    ],
)
def test_title_from_name(name: object, title: str | None) -> None:
    assert title_from_name(name) == title


def test_normalizers_return_none_for_unknown_values() -> None:
    assert normalize_title(None) is None and normalize_title("Sir") == "Rare"
    assert normalize_port(None) is None and normalize_port("Belfast") is None
    assert normalize_sex(None) is None and normalize_sex("other") is None


def test_a_described_fare_is_shown_in_pounds_and_pence() -> None:
    assert Passenger.create(pclass=1, sex="female", fare=67.52083).describe().endswith("fare £67.52")
    assert Passenger.create(pclass=3, sex="male", fare=72).describe().endswith("fare £72")
