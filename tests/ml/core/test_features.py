"""ml.core.features: the one feature definition (self-describable attributes only), imputation, the
assumptions it reports, invalid rows, and frame/passenger inputs giving identical matrices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.core.features import (
    ATTRIBUTES,
    COLUMNS,
    FAMILY_SUPPORT,
    FEATURE_NAMES,
    FIRST_FEATURE_NAMES,
    HINTS,
    INPUTS,
    REASONS,
    Columns,
    FeatureSpec,
    assumptions,
    columns_from_frame,
    columns_from_passengers,
    family_caps,
    infer_title,
    invalid_rows,
    map_distinct,
    reason_columns,
)
from ml.core.passenger import Passenger, PassengerError, title_from_name
from ml.io.data import load_csv
from tests.support.models import passengers_of


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_csv()


@pytest.fixture(scope="module")
def spec(frame: pd.DataFrame) -> FeatureSpec:
    return FeatureSpec.fit(columns_from_frame(frame))


def one(**fields: object) -> Columns:
    return columns_from_passengers([Passenger.create(**fields)])


# ---------------------------------------------------------------------------------------------
# Only what a person can say about themselves


def test_attributes_are_the_passenger_fields() -> None:
    # A passenger list's columns, then what only a person says ("a boy": a child, age not given).
    assert Passenger.field_names() == INPUTS == (*ATTRIBUTES, *HINTS) and HINTS == ("child",)
    # Every reason is about attributes a person gave; siblings and parents count as family.
    assert {reason for reason, _ in COLUMNS.values()} == set(REASONS)
    assert set(REASONS) == (set(ATTRIBUTES) - {"sibsp", "parch"}) | {"family"}


def test_feature_names_and_order() -> None:
    assert FEATURE_NAMES == (
        "pclass",
        "is_female",
        "age",
        "family_size",
        "fare_per_person",
        "embarked_C",
        "embarked_Q",
        "embarked_S",
        "title_Mr",
        "title_Mrs",
        "title_Miss",
        "title_Master",
        "title_Rare",
    )
    for banned in ("ticket", "cabin", "name", "passenger_id", "survived", "boat", "body"):
        assert not any(banned in name for name in COLUMNS)
    for names in (FEATURE_NAMES, FIRST_FEATURE_NAMES):
        columns = reason_columns(names)
        assert sorted(i for indexes in columns.values() for i in indexes) == list(range(len(names)))
    assert reason_columns(FEATURE_NAMES) == {
        "pclass": (0,),
        "sex": (1,),
        "age": (2,),
        "family": (3,),
        "fare": (4,),
        "embarked": (5, 6, 7),
        "title": (8, 9, 10, 11, 12),
    }
    assert reason_columns(FIRST_FEATURE_NAMES)["family"] == (3, 4)  # sibsp and parch


def test_ticket_cabin_and_the_rest_of_the_name_do_not_matter(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    base = spec.transform(columns_from_frame(frame))
    scrambled = frame.assign(
        ticket="LINE",
        cabin="B96 B98",
        passenger_id=np.arange(len(frame))[::-1],
        # Keep only the title: 'Braund, Mr. Owen Harris' -> 'X, Mr. Y'
        name=frame["name"]
        .str.replace(r"^[^,]*,", "X,", regex=True)
        .str.replace(r"\.\s.*$", ". Y", regex=True),
    )
    np.testing.assert_array_equal(spec.transform(columns_from_frame(scrambled)), base)


def test_columns_hold_only_the_attributes(frame: pd.DataFrame) -> None:
    assert tuple(columns_from_frame(frame)) == INPUTS
    assert tuple(columns_from_passengers([Passenger()])) == INPUTS
    assert np.isnan(columns_from_frame(frame)["child"]).all()  # no passenger list says "a boy"


# ---------------------------------------------------------------------------------------------
# Encoding


def test_encode_shape_dtype_and_order(spec: FeatureSpec) -> None:
    people = [
        Passenger.create(
            pclass=1, sex="female", age=38, sibsp=1, parch=0, fare=71.28, embarked="C", title="Mrs"
        ),
        Passenger.create(
            pclass=3, sex="male", age=4, sibsp=3, parch=1, fare=21.07, embarked="Q", title="Master"
        ),
        Passenger.create(pclass=2, sex="male", age=54, sibsp=0, parch=0, fare=26, embarked="S", title="Rare"),
    ]
    matrix = spec.transform(columns_from_passengers(people))
    assert matrix.shape == (3, len(FEATURE_NAMES)) and matrix.dtype == np.float32
    # family size counts the passenger; a ticket's fare is shared by the family on it
    expected = np.array(
        [
            [1, 1, 38, 2, 71.28 / 2, 1, 0, 0, 0, 1, 0, 0, 0],
            [3, 0, 4, 5, 21.07 / 5, 0, 1, 0, 0, 0, 0, 1, 0],
            [2, 0, 54, 1, 26, 0, 0, 1, 0, 0, 0, 0, 1],
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(matrix, expected)
    first = FeatureSpec.from_json({**spec.to_json(), "feature_names": list(FIRST_FEATURE_NAMES)})
    np.testing.assert_array_equal(
        first.transform(columns_from_passengers(people))[:, :6],
        np.array([[1, 1, 38, 1, 0, 71.28], [3, 0, 4, 3, 1, 21.07], [2, 0, 54, 0, 0, 26]], dtype=np.float32),
    )
    assert (matrix[:, 5:8].sum(axis=1) == 1).all() and (matrix[:, 8:].sum(axis=1) == 1).all()


def test_encode_of_the_whole_training_set(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    matrix = spec.transform(columns_from_frame(frame))
    assert matrix.shape == (891, len(FEATURE_NAMES))
    assert np.isfinite(matrix).all()  # everything imputed
    assert matrix[:, 1].sum() == (frame["sex"] == "female").sum()


# ---------------------------------------------------------------------------------------------
# Imputation


def test_fit_learns_medians_and_the_most_common_port(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    titles = frame["name"].map(title_from_name)
    for title in ("Mr", "Mrs", "Miss", "Master", "Rare"):
        assert spec.age_by_title[title] == frame.loc[titles == title, "age"].median()
    assert spec.age_by_title["Master"] < 10 < spec.age_by_title["Miss"] < spec.age_by_title["Mr"]
    party = frame["sibsp"] + frame["parch"] + 1
    assert spec.fare_per_person_by_class is not None
    for pclass in (1, 2, 3):
        in_class = frame["pclass"] == pclass
        assert spec.fare_by_class[pclass] == frame.loc[in_class, "fare"].median()
        each = spec.fare_per_person_by_class[pclass]
        assert each == pytest.approx((frame.loc[in_class, "fare"] / party[in_class]).median())
        assert each < spec.fare_by_class[pclass]  # many tickets paid for a family
    assert spec.port_mode == "S"


def test_fit_without_any_known_values() -> None:
    columns = columns_from_passengers([Passenger(pclass=1, sex="male"), Passenger(pclass=2, sex="female")])
    spec = FeatureSpec.fit(columns)
    assert set(spec.age_by_title.values()) == {28.0}
    assert set(spec.fare_by_class.values()) == {14.45}
    assert set((spec.fare_per_person_by_class or {}).values()) == {14.45}
    assert spec.port_mode == "S"


def test_impute_age_by_title(spec: FeatureSpec) -> None:
    completed, filled = spec.impute(one(pclass=3, sex="male", title="Master"))
    assert completed["age"][0] == spec.age_by_title["Master"] and filled["age"][0]
    completed, filled = spec.impute(one(pclass=1, sex="female", age=30, sibsp=0))
    assert completed["age"][0] == 30 and not filled["age"][0]
    assert completed["title"][0] == "Mrs" and filled["title"][0]  # inferred first, then the age by it


def test_impute_fare_by_class_party_and_port(spec: FeatureSpec) -> None:
    assert spec.fare_per_person_by_class is not None
    for pclass in (1, 2, 3):
        each = spec.fare_per_person_by_class[pclass]
        completed, filled = spec.impute(one(pclass=pclass, sex="male"))
        assert completed["fare"][0] == each and filled["fare"][0]
        assert completed["embarked"][0] == "S" and filled["embarked"][0]
        assert completed["sibsp"][0] == 0 and completed["parch"][0] == 0
        completed, _ = spec.impute(one(pclass=pclass, sex="male", sibsp=1, parch=2))
        assert completed["fare"][0] == pytest.approx(4 * each)  # one ticket for a party of four
    completed, filled = spec.impute(one(pclass=1, sex="male", fare=0, embarked="Q"))
    assert completed["fare"][0] == 0 and not filled["fare"][0]
    assert completed["embarked"][0] == "Q" and not filled["embarked"][0]


def test_family_caps_are_where_each_class_has_support(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    party = frame["sibsp"] + frame["parch"] + 1
    assert spec.family_cap_by_class == {1: 4.0, 2: 4.0, 3: 8.0}
    for pclass, cap in spec.family_cap_by_class.items():
        in_class = party[frame["pclass"] == pclass]
        assert (in_class >= cap).sum() >= FAMILY_SUPPORT > (in_class > cap).sum()
    # the rule itself, on made-up sizes: the 3rd largest of (9, 7, 7, 2) with support 3 is 7
    assert family_caps(np.array([1, 1, 1, 1, 2]), np.array([9, 7, 7, 2, 5]), support=3) == {
        1: 7.0,
        2: 1.0,
        3: 1.0,
    }


def test_a_family_larger_than_its_class_supports_is_seen_at_the_cap(spec: FeatureSpec) -> None:
    """Parents and two sisters: a party of five. 2nd class has too few such families to learn from,
    so the model sees four; the fare per person still divides by the real five."""
    index = FEATURE_NAMES.index("family_size")
    for pclass, seen in ((2, 4), (3, 5)):
        matrix = spec.transform(one(pclass=pclass, sex="male", age=8, sibsp=2, parch=2, fare=50))
        assert matrix[0, index] == seen
        assert matrix[0, FEATURE_NAMES.index("fare_per_person")] == pytest.approx(10)
    uncapped = FeatureSpec.from_json({k: v for k, v in spec.to_json().items() if k != "family_cap_by_class"})
    assert uncapped.transform(one(pclass=2, sex="male", sibsp=2, parch=2))[0, index] == 5


def test_a_spec_saved_before_fare_per_person_imputes_as_it_did(spec: FeatureSpec) -> None:
    data = spec.to_json()
    del data["fare_per_person_by_class"]
    old = FeatureSpec.from_json(data)
    assert old.fare_per_person_by_class is None
    completed, _ = old.impute(one(pclass=1, sex="male", sibsp=1))
    assert completed["fare"][0] == spec.fare_by_class[1]  # the ticket median, whatever the party


def test_impute_does_not_touch_its_input(spec: FeatureSpec) -> None:
    columns = columns_from_passengers(
        [Passenger(pclass=1, sex="female"), Passenger(pclass=3, sex="male", age=30)]
    )
    before = {k: v.copy() for k, v in columns.items()}
    spec.impute(columns)
    for name, values in columns.items():
        np.testing.assert_array_equal(values, before[name])


def test_impute_a_batch_mixing_known_and_unknown(spec: FeatureSpec) -> None:
    people = [
        Passenger(pclass=1, sex="female", age=40, fare=50, embarked="C", sibsp=1, parch=1, title="Mrs"),
        Passenger(pclass=2, sex="male"),
        Passenger(pclass=3, sex="female", title="Miss", fare=8),
    ]
    completed, filled = spec.impute(columns_from_passengers(people))
    assert list(completed["age"]) == [40, spec.age_by_title["Mr"], spec.age_by_title["Miss"]]
    assert list(completed["fare"]) == [50, (spec.fare_per_person_by_class or {})[2], 8]
    assert list(filled["age"]) == [False, True, True]
    assert list(filled["title"]) == [False, True, False]
    assert list(completed["embarked"]) == ["C", "S", "S"]


@pytest.mark.parametrize(
    ("sex", "age", "sibsp", "title"),
    [
        ("male", 10, 0, "Master"),
        ("male", 12.9, 2, "Master"),
        ("male", 13, 0, "Mr"),
        ("male", math.nan, 0, "Mr"),
        ("male", 80, 1, "Mr"),
        ("female", 5, 1, "Miss"),
        ("female", 16, 1, "Miss"),  # a sibling, not a spouse, at 16
        ("female", 18, 1, "Mrs"),  # an adult with a sibling or spouse aboard
        ("female", 29, 0, "Miss"),
        ("female", 30, 0, "Mrs"),
        ("female", 100, 0, "Mrs"),
        ("female", math.nan, 0, "Miss"),
        ("female", math.nan, math.nan, "Miss"),
        ("female", math.nan, 1, "Mrs"),
        (None, 30, 0, None),
    ],
)
def test_title_inference_rules(sex: str | None, age: float, sibsp: float, title: str | None) -> None:
    inferred = infer_title(np.array([sex], dtype=object), np.array([age]), np.array([sibsp]))
    assert inferred[0] == title


def test_a_child_whose_age_was_not_given_is_a_child(spec: FeatureSpec, frame: pd.DataFrame) -> None:
    """ "A boy", "a girl": the median age of the training passengers under 13, and a child's title."""
    assert spec.child_age == frame.loc[frame["age"] < 13, "age"].median() == 4
    for sex, title in (("male", "Master"), ("female", "Miss")):
        completed, filled = spec.impute(one(pclass=3, sex=sex, child=True))
        assert completed["age"][0] == spec.child_age and completed["title"][0] == title
        assert filled["age"][0] and filled["child_age"][0] and filled["title"][0]
        assert said(spec, Passenger.create(pclass=3, sex=sex, child=True))[:2] == [
            f"title {title}",
            "age 4 (typical for a child)",
        ]
    completed, filled = spec.impute(one(pclass=3, sex="male", child=True, age=9))
    assert completed["age"][0] == 9 and not filled["child_age"][0]  # a given age wins
    adult, _ = spec.impute(one(pclass=3, sex="female"))
    assert adult["age"][0] > 18 and adult["title"][0] == "Miss"  # without "girl": an adult Miss
    older = FeatureSpec.from_json({k: v for k, v in spec.to_json().items() if k != "child_age"})
    assert older.child_age is None  # saved before: a child's age is a Master's
    assert older.impute(one(pclass=3, sex="female", child=True))[0]["age"][0] == spec.age_by_title["Master"]


def test_the_families_of_each_cell_are_the_training_passengers(
    spec: FeatureSpec, frame: pd.DataFrame
) -> None:
    assert spec.families_by_cell is not None
    # Every training passenger is counted once, in their sex × class × child cell.
    assert sum(n for families in spec.families_by_cell.values() for _, _, n in families) == len(frame)
    boys = spec.families_by_cell[5]  # 3rd class, male, under 13 (ml.core.prior.cells)
    party = sorted((s + p + 1, n) for s, p, n in boys)
    assert sum(n for _, n in party) == 29 and sum(n for size, n in party if size >= 5) == 18
    # Families the model cannot tell apart are one entry: party size, and a sibling or spouse or not.
    keys = [(s + p, s >= 1) for families in spec.families_by_cell.values() for s, p, _ in families]
    assert len(keys) == sum(
        len(set(((s + p, s >= 1) for s, p, _ in f))) for f in spec.families_by_cell.values()
    )


def test_only_rows_without_any_family_said_are_expanded(spec: FeatureSpec) -> None:
    people = [
        Passenger.create(pclass=3, sex="male", age=6),  # nothing said: averaged
        Passenger.create(pclass=3, sex="male", age=6, sibsp=0),  # siblings said: parents assumed 0
        Passenger.create(pclass=1, sex="female", sibsp=1, parch=0),
    ]
    expanded = spec.expand(columns_from_passengers(people))
    assert expanded.owner is not None and expanded.weight is not None
    boys = (spec.families_by_cell or {})[5]
    assert list(expanded.owner) == [0] * len(boys) + [1, 2]
    assert list(expanded.weight) == [n for _, _, n in boys] + [1, 1]
    assert list(expanded.columns["sibsp"][: len(boys)]) == [s for s, _, _ in boys]
    assert np.isnan(expanded.columns["parch"][len(boys)])  # left for imputation, as before
    np.testing.assert_allclose(
        expanded.average(np.arange(len(expanded.owner), dtype=float))[1:], [len(boys), len(boys) + 1]
    )
    older = FeatureSpec.from_json({k: v for k, v in spec.to_json().items() if k != "families_by_cell"})
    assert older.families_by_cell is None and older.expand(columns_from_passengers(people)).owner is None


def test_a_given_title_is_kept(spec: FeatureSpec) -> None:
    completed, filled = spec.impute(one(pclass=1, sex="female", age=10, title="Mrs"))
    assert completed["title"][0] == "Mrs" and not filled["title"][0]


def test_spec_json_round_trip(spec: FeatureSpec) -> None:
    assert FeatureSpec.from_json(spec.to_json()) == spec
    data = spec.to_json()
    assert list(data["fare_by_class"]) == ["1", "2", "3"]  # JSON keys are strings
    with pytest.raises(ValueError, match=r"model expects features \['cabin_deck'\]"):
        FeatureSpec.from_json({**data, "feature_names": [*data["feature_names"], "cabin_deck"]})


# ---------------------------------------------------------------------------------------------
# What was assumed, in plain words


def said(spec: FeatureSpec, passenger: Passenger) -> list[str]:
    completed, filled = spec.impute(columns_from_passengers([passenger]))
    return assumptions(completed, filled)


def test_assumptions_for_a_minimal_description(spec: FeatureSpec) -> None:
    age, fare = spec.age_by_title["Mr"], (spec.fare_per_person_by_class or {})[3]
    assert said(spec, Passenger.create(pclass=3, sex="male")) == [
        "title Mr",
        f"age {age:.0f} (typical for a Mr)",
        "travelling without family",
        f"fare £{fare:.0f} (typical for 3rd class)",
        "boarded at Southampton",
    ]


def test_assumptions_name_only_what_was_left_out(spec: FeatureSpec) -> None:
    full = Passenger.create(
        pclass=1, sex="female", age=29, sibsp=1, parch=0, fare=80, embarked="C", title="Mrs"
    )
    assert said(spec, full) == []
    assert said(
        spec, Passenger.create(pclass=1, sex="female", age=29, sibsp=1, fare=80, embarked="C", title="Mrs")
    ) == ["no parents or children aboard"]
    each = (spec.fare_per_person_by_class or {})[1]
    assert said(
        spec, Passenger.create(pclass=1, sex="female", age=29, sibsp=1, parch=0, embarked="C", title="Mrs")
    ) == [f"fare £{2 * each:.0f} for 2 people (typical for 1st class)"]
    assert said(
        spec, Passenger.create(pclass=2, sex="male", age=40, parch=2, fare=20, embarked="Q", title="Mr")
    ) == ["no siblings or spouse aboard"]
    assert said(
        spec, Passenger.create(pclass=2, sex="male", title="Master", sibsp=0, parch=1, fare=20, embarked="S")
    ) == [f"age {spec.age_by_title['Master']:.0f} (typical for a Master)"]


# ---------------------------------------------------------------------------------------------
# Rows a model must not score


def test_invalid_rows_name_each_problem() -> None:
    columns: Columns = {
        "pclass": np.array([1, 4, np.nan, 2, 3, 1, 2, 3]),
        "sex": np.array(["female", "male", "male", "x", None, "female", "male", "male"], dtype=object),
        "age": np.array([29, 101, 30, -1, np.nan, 20, 20, 20]),
        "sibsp": np.array([0, 0, 0, 1.5, 0, 11, 0, 0]),
        "parch": np.array([0, 0, 0, 0, -1, 0, 0, 0]),
        "fare": np.array([10, 10, 10, 10, 10, -1, 1001, np.nan]),
        "embarked": np.array(["S", None, "C", "X", "Q", "S", "S", None], dtype=object),
        "title": np.full(8, None, dtype=object),
    }
    # The same words as a person's answer gets (Passenger.validate), row by row.
    assert invalid_rows(columns) == [
        (1, "Age must be between 0 and 100 (got 101)."),
        (1, "Class must be 1st, 2nd or 3rd."),
        (2, "Please give the class."),
        (3, "Age must be between 0 and 100 (got -1)."),
        (3, "Port must be Cherbourg (C), Queenstown (Q) or Southampton (S)."),
        (3, "Sex must be female or male."),
        (3, "Siblings/spouses aboard must be a whole number from 0 to 10 (got 1.5)."),
        (4, "Parents/children aboard must be a whole number from 0 to 10 (got -1)."),
        (4, "Please give the sex."),
        (5, "Fare must be between £0 and £1000 (got -1)."),
        (5, "Siblings/spouses aboard must be a whole number from 0 to 10 (got 11)."),
        (6, "Fare must be between £0 and £1000 (got 1001)."),
    ]
    for row, message in invalid_rows(columns):  # and a person describing that row hears the same
        values = {name: columns[name][row] for name in columns}
        values = {
            k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in values.items()
        }
        with pytest.raises(PassengerError) as caught:
            Passenger(**values).validate(require=Passenger.REQUIRED)
        assert message in caught.value.errors.values()


def test_valid_data_has_no_invalid_rows(frame: pd.DataFrame) -> None:
    assert invalid_rows(columns_from_frame(frame)) == []


# ---------------------------------------------------------------------------------------------
# A frame and a list of passengers are the same input


def test_frame_and_passengers_give_identical_matrices(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    from_frame = columns_from_frame(frame)
    from_people = columns_from_passengers(passengers_of(frame))
    for name in INPUTS:
        if from_frame[name].dtype == object:
            assert list(from_frame[name]) == list(from_people[name]), name
        else:
            np.testing.assert_array_equal(from_frame[name], from_people[name], err_msg=name)
    np.testing.assert_array_equal(spec.transform(from_frame), spec.transform(from_people))


def test_frame_and_passengers_agree_on_unknown_values(spec: FeatureSpec) -> None:
    people = [
        Passenger.create(pclass=1, sex="female"),
        Passenger.create(pclass=3, sex="male", age=7, sibsp=4),
        Passenger.create(pclass=2, sex="female", age=33, embarked="Q", title="Rare"),
        Passenger.create(pclass=3, sex="female", fare=0, parch=2),
    ]
    records = pd.DataFrame([p.to_dict() for p in people])
    np.testing.assert_array_equal(
        spec.transform(columns_from_frame(records)), spec.transform(columns_from_passengers(people))
    )


def test_frame_inputs_are_normalised() -> None:
    columns = columns_from_frame(
        pd.DataFrame(
            {
                "pclass": ["1", "3", None],
                "sex": [" F", "Male", None],
                "embarked": ["southampton", " c", "  "],
                "title": ["mme", None, "Duke"],
                "name": ["X, Mr. Y", "X, Master. Y", "X, Mrs. Y"],  # the title column wins
            }
        )
    )
    assert list(columns["sex"]) == ["female", "male", None]
    assert list(columns["embarked"]) == ["S", "C", None]
    assert list(columns["title"]) == ["Mrs", None, None]
    assert np.isnan(columns["pclass"][2]) and np.isnan(columns["age"]).all()


def test_a_frame_holding_only_names() -> None:
    columns = columns_from_frame(pd.DataFrame({"name": ["Braund, Mr. Owen Harris", None, "Nobody"]}))
    assert list(columns["title"]) == ["Mr", None, None]
    assert list(columns["sex"]) == [None, None, None]
    assert np.isnan(columns["fare"]).all()


def test_map_distinct() -> None:
    values = pd.Series(["a", None, "b", "a", np.nan], dtype=object)
    calls: list[object] = []

    def upper(value: object) -> str:
        calls.append(value)
        return str(value).upper()

    assert list(map_distinct(values, upper)) == ["A", None, "B", "A", None]
    assert calls == ["a", "b"]  # once per distinct value
    assert list(map_distinct(pd.Series([], dtype=object), upper)) == []
