"""ml.core.parser: free text -> Passenger fields, forgiving, deterministic and never raising."""

from __future__ import annotations

import contextlib
import dataclasses
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.core.parser import MAX_TEXT_LENGTH, ParseResult, parse
from ml.core.passenger import Passenger, PassengerError

# ---------------------------------------------------------------------------------------------
# The examples the bot and the CLI document


@pytest.mark.parametrize(
    ("text", "values", "understood"),
    [
        (
            "1st class woman, 29, travelling with my husband",
            {"pclass": 1, "sex": "female", "age": 29.0, "sibsp": 1},
            ("1st class", "female", "age 29", "1 spouse aboard"),
        ),
        ("3rd class man, 30", {"pclass": 3, "sex": "male", "age": 30.0}, ("3rd class", "male", "age 30")),
        (
            "1st class woman 29 with 2 kids",
            {"pclass": 1, "sex": "female", "age": 29.0, "parch": 2},
            ("1st class", "female", "age 29", "2 children aboard"),
        ),
        (
            "first class female age 29",
            {"pclass": 1, "sex": "female", "age": 29.0},
            ("1st class", "female", "age 29"),
        ),
        ("29 years old", {"age": 29.0}, ("age 29",)),
        ("from Cherbourg", {"embarked": "C"}, ("from Cherbourg",)),
        ("fare 72", {"fare": 72.0}, ("fare £72",)),
        ("£72", {"fare": 72.0}, ("fare £72",)),
        ("travelling alone", {"sibsp": 0, "parch": 0}, ("travelling alone",)),
    ],
)
def test_documented_examples(text: str, values: dict[str, object], understood: tuple[str, ...]) -> None:
    result = parse(text)
    assert result.values == values
    assert result.understood == understood
    assert result.contradictions == ()
    assert result.ignored == ()
    assert not result.empty


# ---------------------------------------------------------------------------------------------
# One field at a time


@pytest.mark.parametrize(
    ("text", "pclass"),
    [
        ("1st class", 1),
        ("first class", 1),
        ("First-Class", 1),
        ("1st", 1),
        ("class 1", 1),
        ("class: first", 1),
        ("pclass 2", 2),
        ("2nd", 2),
        ("second class", 2),
        ("3rd", 3),
        ("third-class", 3),
        ("3 class", 3),
        ("in steerage", 3),
        ("STEERAGE", 3),
        ("1st, woman", 1),
        ("3rd man", 3),
    ],
)
def test_class(text: str, pclass: int) -> None:
    assert parse(text).values["pclass"] == pclass


@pytest.mark.parametrize(
    "text",
    ["my 2nd husband", "1st time on a ship", "3rd of April", "upper class", "first", "second"],
)
def test_ordinals_with_another_meaning_are_not_a_class(text: str) -> None:
    assert "pclass" not in parse(text).values


@pytest.mark.parametrize(
    ("text", "sex", "title"),
    [
        ("woman", "female", None),
        ("female", "female", None),
        ("F", "female", None),
        ("lady", "female", None),
        ("girl", "female", None),
        ("Mrs", "female", "Mrs"),
        ("mrs.", "female", "Mrs"),
        ("Miss", "female", "Miss"),
        ("Ms", "female", "Miss"),
        ("man", "male", None),
        ("MALE", "male", None),
        ("m", "male", None),
        ("gentleman", "male", None),
        ("boy", "male", None),
        ("Mr", "male", "Mr"),
        ("Mr.", "male", "Mr"),
        ("Master", "male", "Master"),
        ("sex: f", "female", None),
        ("the Countess", "female", "Rare"),
        ("Dr", None, "Rare"),
        ("Rev.", None, "Rare"),
        ("Col", None, "Rare"),
        ("doctor", None, "Rare"),
    ],
)
def test_sex_and_title(text: str, sex: str | None, title: str | None) -> None:
    values = parse(text).values
    assert values.get("sex") == sex
    assert values.get("title") == title


@pytest.mark.parametrize("text", ["girl", "boy", "a little girl", "Master"])
def test_child_words_do_not_set_an_age(text: str) -> None:
    assert "age" not in parse(text).values


@pytest.mark.parametrize(
    ("text", "child"),
    [
        ("3rd class boy, alone", True),  # issue 10: not a 29-year-old "Mr"
        ("a little girl in 2nd class", True),
        ("boy, 6", None),  # the age says it
        ("girl aged 15", None),
        ("3rd class man, 30", None),
        ("Master", None),  # the title says it
    ],
)
def test_a_boy_or_girl_without_an_age_is_a_child(text: str, child: bool | None) -> None:
    result = parse(text)
    assert result.values.get("child") is child
    assert ("child (under 13)" in result.understood) == bool(child)


@pytest.mark.parametrize(
    ("text", "understood"),
    [("Mrs", ("title Mrs", "female")), ("Dr", ("rare title (Dr)",)), ("Ms", ("title Miss", "female"))],
)
def test_title_phrases(text: str, understood: tuple[str, ...]) -> None:
    assert parse(text).understood == understood


@pytest.mark.parametrize(
    "text",
    ["I'm a woman", "I don't know", "im 30"],
)
def test_apostrophes_are_not_sex_or_titles(text: str) -> None:
    values = parse(text).values
    assert values.get("sex") in (None, "female")
    assert "title" not in values


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("29", 29.0),
        ("age 29", 29.0),
        ("aged 29", 29.0),
        ("AGE: 29", 29.0),
        ("age=29", 29.0),
        ("my age is 29", 29.0),
        ("29 years old", 29.0),
        ("29 year old", 29.0),
        ("29yo", 29.0),
        ("29 y/o", 29.0),
        ("29 y.o.", 29.0),
        ("29-year-old", 29.0),
        ("29 yrs", 29.0),
        ("I am 29.", 29.0),
        ("0.5", 0.5),
        ("age .5", 0.5),
        ("a 40 year old man", 40.0),
        ("age 150", 150.0),
        ("age -3", -3.0),
        ("-5", -5.0),
        ("１st class ２９", 29.0),  # full-width digits (NFKC)
    ],
)
def test_age(text: str, age: float) -> None:
    assert parse(text).values["age"] == age


@pytest.mark.parametrize(
    ("text", "sibsp", "parch"),
    [
        ("with my husband", 1, None),
        ("with my wife", 1, None),
        ("with my spouse", 1, None),
        ("husband", 1, None),
        ("with my husband and 2 kids", 1, 2),
        ("2 kids", None, 2),
        ("two children", None, 2),
        ("3 sons", None, 3),
        ("a daughter", None, 1),
        ("with my son", None, 1),
        ("with a daughter and two sons", None, 3),
        ("my 5-year-old son", None, 1),
        ("with my parents", None, 2),
        ("mum and dad", None, 2),
        ("mom and dad", None, 2),
        ("with my parents and my mum", None, 2),  # mum is one of the parents
        ("with my mother", None, 1),
        ("with my father", None, 1),
        ("with my mum", None, 1),
        ("dad", None, 1),
        ("with my sister", 1, None),
        ("with my brother", 1, None),
        ("my sister and brother", 2, None),
        ("3 siblings", 3, None),
        ("2 brothers", 2, None),
        ("ten kids", None, 10),
        ("no kids", None, 0),
        ("with my husband and my husband", 1, None),  # one spouse, said twice
        ("mother of 2", None, 2),
        ("I'm a mother of two kids", None, 2),
        ("with my husband, 2 kids and my mother", 1, 3),
        ("sibsp 1", 1, None),
        ("parch 2", None, 2),
        ("SibSp=3, Parch: 0", 3, 0),
        ("sibsp 1 with my husband", 1, None),  # agree
        ("travelling alone", 0, 0),
        ("traveling alone", 0, 0),
        ("alone", 0, 0),
        ("solo", 0, 0),
        ("by myself", 0, 0),
        ("on my own", 0, 0),
        ("alone, no kids", 0, 0),
    ],
)
def test_companions(text: str, sibsp: int | None, parch: int | None) -> None:
    values = parse(text).values
    assert values.get("sibsp") == sibsp
    assert values.get("parch") == parch


@pytest.mark.parametrize(
    ("text", "ignored"),
    [
        ("with my kids", ("kids",)),  # how many is not said
        ("I am a mother", ("mother",)),  # describes the passenger
        ("I'm a child", ("child",)),
        ("I am a wife", ("wife",)),
    ],
)
def test_relatives_that_are_not_companions(text: str, ignored: tuple[str, ...]) -> None:
    result = parse(text)
    assert "sibsp" not in result.values
    assert "parch" not in result.values
    assert result.ignored == ignored


@pytest.mark.parametrize(
    ("text", "understood"),
    [
        ("with my husband and 2 kids", ("1 spouse aboard", "2 children aboard")),
        ("mum and dad", ("2 parents aboard",)),
        ("with my sister", ("1 sibling aboard",)),
        ("no kids", ("no children aboard",)),
        ("sibsp 2", ("2 siblings/spouses aboard",)),
        ("parch 0", ("no parents/children aboard",)),
    ],
)
def test_companion_phrases(text: str, understood: tuple[str, ...]) -> None:
    assert parse(text).understood == understood


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("from Cherbourg", "C"),
        ("embarked at Southampton", "S"),
        ("Queenstown", "Q"),
        ("boarded at Cobh", "Q"),
        ("SOUTHAMPTON", "S"),
        ("port C", "C"),
        ("embarked S", "S"),
        ("embarked: q", "Q"),
    ],
)
def test_port(text: str, port: str) -> None:
    result = parse(text)
    assert result.values == {"embarked": port}
    assert result.ignored == ()


@pytest.mark.parametrize("text", ["S", "c", "boarded", "from Paris"])
def test_unclear_ports_are_not_guessed(text: str) -> None:
    assert "embarked" not in parse(text).values


@pytest.mark.parametrize(
    ("text", "fare"),
    [
        ("fare 72", 72.0),
        ("fare: 72.5", 72.5),
        ("£72", 72.0),
        ("$72", 72.0),
        ("paid 72", 72.0),
        ("paid £72", 72.0),
        ("72 pounds", 72.0),
        ("72 quid", 72.0),
        ("ticket 30", 30.0),
        ("fare £1,000", 1000.0),
        ("fare -5", -5.0),
    ],
)
def test_fare(text: str, fare: float) -> None:
    values = parse(text).values
    assert values == {"fare": fare}  # in particular: the fare is not also taken as the age


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("man 30 fare 72", {"sex": "male", "age": 30.0, "fare": 72.0}),
        ("£72, 30", {"age": 30.0, "fare": 72.0}),
        ("2 kids, 40", {"age": 40.0, "parch": 2}),
        ("class 2, 40", {"pclass": 2, "age": 40.0}),
        ("40, with my son aged 5", {"age": 40.0, "parch": 1}),
        ("2nd class, my husband is 32, I'm 30", {"pclass": 2, "age": 30.0, "sibsp": 1}),
    ],
)
def test_numbers_go_to_the_right_field(text: str, values: dict[str, object]) -> None:
    assert parse(text).values == values


def test_everything_at_once() -> None:
    result = parse(
        "Mrs Smith, 1st class, 38 years old, with my husband and 2 kids, from Cherbourg, paid £71.28"
    )
    assert result.values == {
        "pclass": 1,
        "sex": "female",
        "age": 38.0,
        "sibsp": 1,
        "parch": 2,
        "fare": 71.28,
        "embarked": "C",
        "title": "Mrs",
    }
    assert result.understood == (
        "title Mrs",
        "female",
        "1st class",
        "age 38",
        "1 spouse aboard",
        "2 children aboard",
        "from Cherbourg",
        "fare £71.28",
    )
    assert result.ignored == ("Smith",)
    assert result.contradictions == ()


# ---------------------------------------------------------------------------------------------
# Contradictions


@pytest.mark.parametrize(
    ("text", "dropped", "sentence"),
    [
        ("man ... woman", {"sex"}, "You said both “man” and “woman”."),
        ("1st class ... 3rd class", {"pclass"}, "You said both “1st class” and “3rd class”."),
        ("age 29 ... 40 years old", {"age"}, "You said both “age 29” and “40 years old”."),
        ("Mr, woman", {"sex", "title"}, "You said both “Mr” and “woman”."),
        ("Mr and Mrs", {"sex", "title"}, "You said both “Mr” and “Mrs”."),
        ("Master, Mr", {"title"}, "You said both “Master” and “Mr”."),
        ("from Cherbourg, embarked S", {"embarked"}, "You said both “from Cherbourg” and “embarked S”."),
        ("fare 72, £30", {"fare"}, "You said both “fare 72” and “£30”."),
        ("sibsp 2 with my husband", {"sibsp"}, "You said both “sibsp 2” and “my husband”."),
        (
            "travelling alone with my husband",
            {"sibsp", "parch"},
            "You said “travelling alone” but also “my husband”.",
        ),
        ("alone, parch 2", {"sibsp", "parch"}, "You said “alone” but also “parch 2”."),
        ("1st 2nd 3rd", {"pclass"}, "You said “1st”, “2nd” and “3rd”."),
        ("1 2 3 4", {"age"}, "You said “1”, “2”, “3” and more."),
    ],
)
def test_contradictions_leave_the_field_out(text: str, dropped: set[str], sentence: str) -> None:
    result = parse(text)
    assert result.contradictions == (sentence,)
    assert not dropped & set(result.values)
    assert not result.empty  # something was recognised, even if it cannot be used


def test_a_contradiction_does_not_spoil_the_other_fields() -> None:
    result = parse("1st class man, woman, 29")
    assert result.values == {"pclass": 1, "age": 29.0}
    assert result.understood == ("1st class", "age 29")
    assert len(result.contradictions) == 1


@pytest.mark.parametrize(
    "text",
    ["woman, female, Mrs", "1st class, class 1, first-class", "age 29, 29 years old", "alone, no kids"],
)
def test_the_same_value_twice_is_fine(text: str) -> None:
    result = parse(text)
    assert result.contradictions == ()
    assert len(set(result.understood)) == len(result.understood)


# ---------------------------------------------------------------------------------------------
# Ignored words


@pytest.mark.parametrize(
    ("text", "ignored"),
    [
        ("1st class woman, 29, travelling with my husband", ()),
        ("I am a 29 years old woman and I travel with my husband", ()),
        ("woman named Rose, loves painting", ("named", "Rose", "loves", "painting")),
        ("banana banana BANANA", ("banana",)),
        ("woman 🚢 29", ("🚢",)),
        ("nan", ("nan",)),
        ("1e309", ("1e309",)),
        ("upper class lady", ("upper", "class")),
        ("...!!!", ()),
    ],
)
def test_ignored(text: str, ignored: tuple[str, ...]) -> None:
    assert parse(text).ignored == ignored


@pytest.mark.parametrize("text", ["", "   ", "a and with my", "!!!", "\x00\x07"])
def test_empty(text: str) -> None:
    result = parse(text)
    assert result.empty
    assert result == ParseResult(values={}, understood=(), contradictions=(), ignored=())


def test_nonsense_is_empty_but_reported() -> None:
    result = parse("hello there, what's up")
    assert result.empty
    assert result.ignored == ("what's", "up")


def test_overlong_text_is_cut_and_said_so() -> None:
    result = parse("woman " + "x " * MAX_TEXT_LENGTH)
    assert result.values == {"sex": "female"}
    assert result.ignored[-1].startswith("…(and ")


# ---------------------------------------------------------------------------------------------
# Round trip to Passenger, and values validation refuses


def test_round_trip_to_passenger() -> None:
    passenger = parse("1st class woman, 29, travelling with my husband, from Cherbourg, fare 72").passenger()
    assert passenger == Passenger(pclass=1, sex="female", age=29.0, sibsp=1, fare=72.0, embarked="C")


@pytest.mark.parametrize(
    "raw",
    [
        {"pclass": 2, "sex": "male", "age": 40, "sibsp": 1, "parch": 2, "fare": 26, "embarked": "S"},
        {"pclass": 1, "sex": "female", "age": 0.5, "sibsp": 3, "parch": 1, "embarked": "Q", "title": "Miss"},
        {"pclass": 3, "sex": "male", "sibsp": 0, "parch": 0, "title": "Master"},
        {"pclass": 3, "sex": "female", "title": "Mrs", "fare": 7.25},
    ],
)
def test_round_trip_through_describe(raw: dict[str, object]) -> None:
    original = Passenger.create(**raw)
    result = parse(original.describe())
    assert result.passenger() == original
    assert result.contradictions == ()


def test_travelling_alone_round_trip() -> None:
    passenger = parse("3rd class man, 30, travelling alone").passenger()
    assert (passenger.sibsp, passenger.parch) == (0, 0)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("age 150", "age"),
        ("age -3", "age"),
        ("11 kids", "parch"),
        ("eleven children", "parch"),
        ("1.5 kids", "parch"),
        ("sibsp 20", "sibsp"),
        ("class 4", "pclass"),
        ("class 1.5", "pclass"),
        ("fare 5000", "fare"),
        ("age " + "9" * 400, "age"),  # inf
    ],
)
def test_out_of_range_values_reach_passenger_error(text: str, field: str) -> None:
    result = parse(text)
    assert field in result.values
    with pytest.raises(PassengerError) as caught:
        result.passenger()
    assert field in caught.value.errors


def test_empty_result_builds_an_unknown_passenger() -> None:
    assert parse("").passenger() == Passenger()


# ---------------------------------------------------------------------------------------------
# Robustness


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00",
        "\n\t\r",
        "🚢" * 50,
        "1e309",
        "9" * 5000,
        "9" * 5000 + " kids",
        "class " + "9" * 5000,
        "nan",
        "-5",
        "age -3",
        "NaN kids, inf years old, £inf",
        "\u202e\u200bwoman\ufeff",
        "\ud800 lone surrogate",
        "ﷺ" * 100,
        "1st class woman " * 1000,
        "my son " * 1000,
    ],
)
def test_never_raises(text: str) -> None:
    assert isinstance(parse(text), ParseResult)


def test_deterministic() -> None:
    text = "1st class woman, 29, with my husband and 2 kids, man, £72, banana"
    assert {parse(text) == parse(text) for _ in range(3)} == {True}
    assert repr(parse(text)) == repr(parse(text))


def test_result_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse("woman").understood = ()  # type: ignore[misc]


def test_fast() -> None:
    text = "1st class woman, 29, travelling with my husband"
    parse(text)
    start = time.perf_counter()
    for _ in range(100):
        parse(text)
    assert (time.perf_counter() - start) / 100 < 0.002  # typically ~0.1 ms; generous for slow CI


_WORDS = [
    "1st", "2nd", "3rd", "first", "class", "steerage", "woman", "man", "Mrs", "Mr", "Miss", "Master",
    "Dr", "f", "m", "girl", "boy", "age", "aged", "years", "old", "yo", "y/o", "fare", "paid", "£", "$",
    "pounds", "ticket", "with", "my", "husband", "wife", "kids", "son", "daughter", "parents", "mum",
    "dad", "sister", "brothers", "two", "a", "no", "alone", "travelling", "by", "myself", "from",
    "Cherbourg", "Cobh", "embarked", "port", "S", "sibsp", "parch", "mother", "of", "I'm", "is",
    ",", ".", "-", ":", "🚢", "nan", "1e309", "\x00",
]  # fmt: skip
_NUMBERS = st.one_of(
    st.integers(-1000, 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
)
_SENTENCES = st.lists(st.one_of(st.sampled_from(_WORDS), _NUMBERS), max_size=25).flatmap(
    lambda parts: st.sampled_from([" ", "", ", ", "-"]).map(lambda sep: sep.join(parts))
)


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    assert set(result.values) <= set(Passenger.field_names())
    assert all(
        isinstance(item, str) for item in (*result.understood, *result.contradictions, *result.ignored)
    )
    assert result.empty == (not result.values and not result.contradictions)
    with contextlib.suppress(PassengerError):  # refusing is fine; any other exception is not
        result.passenger()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_fuzz_any_text(text: str) -> None:
    _check(parse(text))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_SENTENCES)
def test_fuzz_known_words_and_numbers(text: str) -> None:
    result = parse(text)
    _check(result)
    assert parse(text) == result
