"""ml.core.model: one scoring path for a passenger and for a batch (bit-identical), SHAP reasons that
add up to the margin, persistence, refusal of invalid rows, and a sanity check of the model."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from ml.core.features import (
    FIRST_FEATURE_NAMES,
    REASONS,
    FeatureSpec,
    columns_from_frame,
    columns_from_passengers,
    reason_columns,
)
from ml.core.model import InvalidRowsError, Likely, Prediction, Reason, SurvivalModel, shown_percent
from ml.core.parser import parse
from ml.core.passenger import Passenger, PassengerError
from ml.core.treeshap import TreeExplainer
from ml.io.artifacts import load_model, save_model
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry
from ml.io.serving import Scorer
from tests.support.models import passengers_of

SAMPLE = 200


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_csv()


@pytest.fixture(scope="module")
def model(trained_home_template: Path) -> SurvivalModel:
    """The fixture version V1, read straight from its files."""
    return load_model(trained_home_template / "models" / "TITANIC" / "V1")


# People with gaps in what they said, so imputation runs on both paths.
PARTIAL = [
    Passenger.create(pclass=1, sex="female"),
    Passenger.create(pclass=3, sex="male"),
    Passenger.create(pclass=2, sex="male", age=2),
    Passenger.create(pclass=3, sex="female", sibsp=1, fare=15.5),
    Passenger.create(pclass=1, sex="male", title="Rare", embarked="C"),
    Passenger.create(pclass=2, sex="female", age=65, parch=3, embarked="Q"),
    Passenger.create(
        pclass=3, sex="male", age=0.5, sibsp=4, parch=2, fare=39.69, embarked="S", title="Master"
    ),
]


# ---------------------------------------------------------------------------------------------
# One path: single and batch give identical probabilities


def test_single_and_batch_are_bit_identical(
    model: SurvivalModel, frame: pd.DataFrame, registry: LocalRegistry
) -> None:
    sample = frame.iloc[:SAMPLE]
    batch = model.predict_frame(sample)
    people = passengers_of(sample)
    explained = np.array([model.explain(p).probability for p in people])
    scorer = Scorer(registry, refresh_seconds=3600)
    served = np.array([scorer.predict(p).probability for p in people])
    # Exact equality: the same matrix goes through the same booster call and the same sigmoid.
    np.testing.assert_array_equal(explained, batch)
    np.testing.assert_array_equal(served, batch)
    np.testing.assert_array_equal(model.predict_proba(columns_from_passengers(people)), batch)
    np.testing.assert_array_equal(scorer.score_frame(sample), batch)
    assert len(np.unique(batch)) > 50  # a real spread of answers, not one constant


def test_single_and_batch_agree_on_partial_descriptions(model: SurvivalModel) -> None:
    batch = model.predict_frame(pd.DataFrame([p.to_dict() for p in PARTIAL]))
    single = np.array([model.explain(p).probability for p in PARTIAL])
    np.testing.assert_array_equal(single, batch)


def test_row_position_in_a_batch_does_not_matter(model: SurvivalModel, frame: pd.DataFrame) -> None:
    sample = frame.iloc[:SAMPLE]
    forward = model.predict_frame(sample)
    backward = model.predict_frame(sample.iloc[::-1])
    np.testing.assert_array_equal(forward, backward[::-1])
    np.testing.assert_array_equal(model.predict_frame(sample.iloc[[7]]), forward[[7]])


# ---------------------------------------------------------------------------------------------
# Reasons: SHAP values per attribute


@pytest.mark.parametrize("index", range(len(PARTIAL)))
def test_reasons_and_baseline_add_up_to_the_margin(model: SurvivalModel, index: int) -> None:
    prediction = model.explain(PARTIAL[index])
    total = prediction.baseline_logit + sum(r.logit for r in prediction.reasons)
    assert total == pytest.approx(math.log(prediction.probability / (1 - prediction.probability)), abs=1e-5)


def test_reasons_add_up_for_many_people(model: SurvivalModel, frame: pd.DataFrame) -> None:
    for person in passengers_of(frame.iloc[:SAMPLE:4]):
        prediction = model.explain(person)
        margin = prediction.baseline_logit + sum(r.logit for r in prediction.reasons)
        assert margin == pytest.approx(
            math.log(prediction.probability / (1 - prediction.probability)), abs=1e-5
        )


def test_one_reason_per_attribute_largest_first(model: SurvivalModel) -> None:
    given = model.explain(
        Passenger.create(pclass=1, sex="female", age=29, sibsp=1, parch=0, fare=80, embarked="C", title="Mrs")
    )
    assert len(given.reasons) == 7  # what a person recognises, not the 13 encoded columns
    assert {r.attribute for r in given.reasons} == set(REASONS)
    sizes = [abs(r.logit) for r in given.reasons]
    assert sizes == sorted(sizes, reverse=True)
    assert given.top_reasons(3) == given.reasons[:3]
    texts = {r.attribute: r.text for r in given.reasons}
    assert texts["sex"] == "Being a woman" and texts["pclass"] == "Travelling 1st class"
    assert texts["title"] == "Travelling as “Mrs”" and texts["fare"] == "A £80 fare, £40 a head"
    assert texts["family"] == "Travelling with 1 family member"
    assert not any(r.text.endswith("(assumed)") for r in given.reasons)
    alone = {
        r.attribute: r.text for r in model.explain(Passenger.create(pclass=3, sex="male", sibsp=0)).reasons
    }
    assert alone["family"] == "Travelling without family"  # siblings said; parents or children assumed
    assert alone["embarked"] == "Boarding at Southampton (assumed)"
    unsaid = {r.attribute: r.text for r in model.explain(Passenger.create(pclass=3, sex="male")).reasons}
    assert unsaid["family"] == "Your family, not given (as for passengers like you)"


def _reasons(model: SurvivalModel, text: str) -> dict[str, str]:
    prediction = model.explain(parse(text).passenger())
    return {r.text: r.attribute for r in prediction.reasons}


def test_an_assumed_value_counts_toward_what_it_was_assumed_from(model: SurvivalModel) -> None:
    """Issue 10's examples. "3rd class man, 30": the title was inferred from his sex and age, so sex
    and title are one reason ("Being a man"), and the fare assumed from his class counts toward
    "Travelling 3rd class". A 1st-class woman who gave class, sex and age: no "£36 fare (assumed)"."""
    man = model.explain(parse("3rd class man, 30").passenger())
    texts = [r.text for r in man.reasons]
    assert set(texts[:2]) == {"Being a man", "Travelling 3rd class"}  # his two strongest reasons
    assert not any("Mr" in t or "fare" in t for t in texts)
    assert "title Mr" in man.assumptions and any(a.startswith("fare £") for a in man.assumptions)
    woman = _reasons(model, "1st class woman, 29")
    assert set(woman) == {
        "Being a woman",
        "Travelling 1st class",
        "Age 29",
        "Your family, not given (as for passengers like you)",
        "Boarding at Southampton (assumed)",
    }
    assert max(
        model.explain(parse("1st class woman, 29").passenger()).reasons, key=lambda r: abs(r.logit)
    ).text in (
        "Being a woman",
        "Travelling 1st class",
    )


@pytest.mark.parametrize(
    "passenger",
    [
        Passenger.create(pclass=3, sex="male", title="Master"),  # age from the given title: the title's
        Passenger.create(pclass=2, sex="female"),  # title and age from her sex: her sex's
        Passenger.create(pclass=3, sex="male", child=True, sibsp=0, parch=0),  # "a boy": a child's age
        Passenger.create(pclass=1, sex="male", age=40, title="Rare", embarked="C"),  # only the fare
    ],
)
def test_credited_reasons_still_add_up_to_the_margin(model: SurvivalModel, passenger: Passenger) -> None:
    prediction = model.explain(passenger)
    total = prediction.baseline_logit + sum(r.logit for r in prediction.reasons)
    assert total == pytest.approx(math.log(prediction.probability / (1 - prediction.probability)), abs=1e-5)
    # xgboost's own SHAP values, averaged over the families the answer averages over (if any)
    expanded = model.spec.expand(columns_from_passengers([passenger]))
    matrix = model.spec.transform(expanded.columns)
    contribs = expanded.average(model.booster.predict(xgb.DMatrix(matrix), pred_contribs=True))[0]
    by_reason = {r.attribute: r.logit for r in prediction.reasons}
    columns = reason_columns(model.spec.feature_names)
    # The class's reason holds the class's own effect plus the assumed fare's.
    own = sum(contribs[i] for i in columns["pclass"])
    fare = sum(contribs[i] for i in columns["fare"])
    expected = own + (fare if passenger.fare is None else 0.0)
    assert by_reason["pclass"] == pytest.approx(expected, abs=1e-5)
    assert ("fare" in by_reason) == (passenger.fare is not None)
    assert ("title" in by_reason) == (passenger.title is not None)


def test_a_given_title_takes_the_assumed_age_and_a_boy_is_a_boy(model: SurvivalModel) -> None:
    master = {
        r.attribute: r.text
        for r in model.explain(Passenger.create(pclass=3, sex="male", title="Master")).reasons
    }
    assert master["title"] == "Travelling as “Master”" and "age" not in master
    assert master["sex"] == "Being a boy"  # the age assumed from "Master" is a child's
    boy = {r.attribute: r.text for r in model.explain(parse("3rd class boy, alone").passenger()).reasons}
    assert boy["sex"] == "Being a boy" and "age" not in boy and "title" not in boy


def test_one_hot_columns_are_summed_into_their_attribute(model: SurvivalModel) -> None:
    # Everything given: no assumed value's effect is credited to another reason.
    person = Passenger.create(
        pclass=2, sex="male", age=40, sibsp=0, parch=0, fare=13, embarked="Q", title="Rare"
    )
    matrix = model.spec.transform(columns_from_passengers([person]))
    contribs = model.booster.predict(xgb.DMatrix(matrix), pred_contribs=True)[0]
    reasons = {r.attribute: r.logit for r in model.explain(person).reasons}
    for attribute, columns in reason_columns(model.spec.feature_names).items():
        assert reasons[attribute] == pytest.approx(sum(contribs[i] for i in columns), abs=1e-5)
    assert model.explain(person).baseline_logit == pytest.approx(contribs[-1], abs=1e-6)


def test_reasons_are_xgboosts_shap_values(model: SurvivalModel, frame: pd.DataFrame) -> None:
    """ml.core.treeshap reproduces xgboost's pred_contribs (without a DMatrix), row by row and for
    many rows at once."""
    matrix = model.spec.transform(columns_from_frame(frame))
    expected = model.booster.predict(xgb.DMatrix(matrix), pred_contribs=True)
    ours = np.array([model.contributions(matrix[i : i + 1])[0] for i in range(len(matrix))])
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(model.contributions(matrix), ours)


@pytest.mark.parametrize("max_depth", [1, 3, 5])
def test_treeshap_on_other_tree_shapes(frame: pd.DataFrame, max_depth: int) -> None:
    columns = columns_from_frame(frame)
    spec = FeatureSpec.fit(columns)
    params = {"objective": "binary:logistic", "max_depth": max_depth, "eta": 0.1, "subsample": 0.8}
    booster = xgb.train(
        params | {"colsample_bytree": 0.8, "seed": 3, "nthread": 1},
        xgb.DMatrix(spec.transform(columns), label=frame["survived"].to_numpy()),
        60,
    )
    matrix = spec.transform(columns)[:300]
    matrix[::7, 2] = np.nan  # missing values take each split's default branch
    expected = booster.predict(xgb.DMatrix(matrix), pred_contribs=True)
    explainer = TreeExplainer.from_booster(booster)
    ours = np.array([explainer.contributions(row) for row in matrix])
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_models_treeshap_cannot_read_fall_back_to_xgboost(
    model: SurvivalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_model(model, tmp_path / "copy")
    fresh = load_model(tmp_path / "copy")

    def unsupported(booster: xgb.Booster) -> TreeExplainer:
        raise ValueError("TreeExplainer supports trees up to depth 8, not 12")

    monkeypatch.setattr(TreeExplainer, "from_booster", unsupported)
    person = PARTIAL[4]
    fallback = fresh.explain(person)
    assert fallback.probability == model.explain(person).probability
    expected = {r.attribute: r.logit for r in model.explain(person).reasons}
    assert {r.attribute: r.logit for r in fallback.reasons} == pytest.approx(expected, abs=1e-5)


def test_explain_reports_the_completed_passenger_and_assumptions(model: SurvivalModel) -> None:
    prediction = model.explain(Passenger.create(pclass=3, sex="male", age=30, sibsp=0, parch=0), version="V1")
    completed = prediction.passenger
    assert (completed.pclass, completed.sex, completed.age, completed.title) == (3, "male", 30.0, "Mr")
    assert completed.fare == (model.spec.fare_per_person_by_class or {})[3] and completed.embarked == "S"
    assert (completed.sibsp, completed.parch) == (0, 0)
    assert prediction.assumptions[0] == "title Mr"
    assert prediction.version == "V1"
    # No family said: it is averaged over, and neither it nor the fare for it is shown as known.
    unsaid = model.explain(Passenger.create(pclass=3, sex="male", age=30))
    assert (unsaid.passenger.sibsp, unsaid.passenger.parch, unsaid.passenger.fare) == (None, None, None)
    each = (model.spec.fare_per_person_by_class or {})[3]
    assert unsaid.assumptions[1:3] == (
        "family not given: averaged over the families of the 318 passengers like you (3rd class, male,"
        " 13 or over) in the records",
        f"fare £{each:.0f} a head (typical for 3rd class)",
    )


def test_an_unknown_family_is_averaged_over_the_families_of_passengers_like_you(
    model: SurvivalModel, frame: pd.DataFrame
) -> None:
    """Issue 10: "3rd class boy, 6" was 93% because his family was assumed away; 8 of the 25
    third-class boys in the records came with families of 2-4 (all survived), 16 with 5 or more (one
    survived). The answer averages the model's log-odds over those families, weighted by how many."""
    boy = Passenger.create(pclass=3, sex="male", age=6)
    expanded = model.spec.expand(columns_from_passengers([boy]))
    assert expanded.owner is not None and expanded.weight is not None
    assert expanded.weight.sum() == 29  # 3rd-class boys under 13 (ages imputed from "Master" too)
    margins = model.booster.inplace_predict(model.spec.transform(expanded.columns), predict_type="margin")
    averaged = float(np.average(np.asarray(margins, dtype=np.float64), weights=expanded.weight))
    answer = model.explain(boy)
    assert math.log(answer.probability / (1 - answer.probability)) == pytest.approx(averaged, abs=1e-9)
    alone = model.explain(Passenger.create(pclass=3, sex="male", age=6, sibsp=0, parch=0))
    assert answer.probability < 0.5 < alone.probability
    # The batch path averages the same way, bit for bit.
    assert model.predict_frame(pd.DataFrame([boy.to_dict()]))[0] == answer.probability
    # A row whose family is known is not expanded, and a file without family columns is all averaged.
    assert model.spec.expand(columns_from_passengers([alone.passenger])).owner is None
    no_family = frame.drop(columns=["sibsp", "parch"]).head(50)
    singles = [model.explain(p).probability for p in passengers_of(no_family.assign(sibsp=None, parch=None))]
    np.testing.assert_array_equal(model.predict_frame(no_family), singles)


def test_explain_needs_class_and_sex(model: SurvivalModel) -> None:
    with pytest.raises(PassengerError) as caught:
        model.explain(Passenger(sex="female"))
    assert caught.value.errors == {"pclass": "Please give the class."}


def test_prediction_presentation() -> None:
    reason = Reason("sex", "Being a woman", 1.2)
    prediction = Prediction(0.734, (reason,), ("title Mrs",), -0.4, Passenger(pclass=1, sex="female"), "V2")
    assert prediction.percent == 73 and reason.helped
    assert prediction.verdict == "You would very likely have survived."
    assert prediction.headline == "73%"  # a version without members: no range to show
    data = prediction.to_dict()
    assert data["reasons"] == [{"attribute": "sex", "text": "Being a woman", "logit": 1.2}]
    assert data["version"] == "V2" and data["passenger"]["pclass"] == 1
    assert data["likely"] is None and data["evidence"] is None
    likely = Likely(0.4849, 0.7351, 12, "1st class, female, 13 or over")
    ranged = Prediction(0.62, (reason,), (), -0.4, Passenger(pclass=1, sex="female"), "V3", likely)
    assert ranged.headline == "62% (likely 48–74%)"
    assert likely.few_like_you and not dataclasses.replace(likely, like_you=30).few_like_you
    assert ranged.to_dict()["likely"] == {
        "low": 0.4849,
        "high": 0.7351,
        "text": "48–74%",
        "like_you": 12,
        "kind": "1st class, female, 13 or over",
        "few_like_you": True,
    }
    verdicts = [Prediction(p, (), (), 0.0, Passenger()).verdict for p in (0.7, 0.5, 0.3, 0.29)]
    assert verdicts == [
        "You would very likely have survived.",
        "You would probably have survived.",
        "You would probably not have survived.",
        "You would very likely not have survived.",
    ]


# ---------------------------------------------------------------------------------------------
# Persistence


def test_save_and_load_round_trip(model: SurvivalModel, frame: pd.DataFrame, tmp_path: Path) -> None:
    save_model(model, tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "booster.ubj",
        "evidence.json",
        "features.json",
        "members.ubj",
    ]
    loaded = load_model(tmp_path / "copy")
    assert loaded.spec == model.spec and loaded.params == model.params
    np.testing.assert_array_equal(loaded.predict_frame(frame), model.predict_frame(frame))
    for person in PARTIAL:
        assert loaded.explain(person) == model.explain(person)
    assert loaded.evidence is not None and loaded.evidence.fingerprint() == loaded.evidence.data_fingerprint


def test_a_version_without_members_or_evidence_answers_without_them(
    model: SurvivalModel, tmp_path: Path
) -> None:
    """Versions saved before ranges and evidence existed: booster.ubj and features.json only."""
    bare = SurvivalModel(model.booster, model.spec, model.params)
    save_model(bare, tmp_path / "old")
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["booster.ubj", "features.json"]
    prediction = load_model(tmp_path / "old").explain(PARTIAL[1])
    assert prediction.likely is None and prediction.evidence is None
    assert prediction.probability == model.explain(PARTIAL[1]).probability


def test_every_answer_has_its_range_and_evidence(model: SurvivalModel) -> None:
    for person in PARTIAL:
        prediction = model.explain(person)
        assert prediction.likely is not None and prediction.evidence is not None
        assert prediction.likely.low < prediction.probability < prediction.likely.high
        assert prediction.evidence.passengers >= 1


def test_a_version_with_the_first_encoding_still_loads_and_explains(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Versions registered before family size and fare per person keep serving after an upgrade:
    a version records its column names, and the first encoding's columns are still defined."""
    columns, y = columns_from_frame(frame), frame["survived"].to_numpy()
    spec = FeatureSpec.from_json(
        {**FeatureSpec.fit(columns).to_json(), "feature_names": list(FIRST_FEATURE_NAMES)}
    )
    matrix = spec.transform(columns)
    assert matrix.shape == (len(frame), len(FIRST_FEATURE_NAMES))
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "seed": 1}, xgb.DMatrix(matrix, label=y), 50
    )
    save_model(SurvivalModel(booster, spec), tmp_path / "v1")
    old = load_model(tmp_path / "v1")
    assert len(old.spec.feature_names) == 14
    np.testing.assert_allclose(old.predict_frame(frame), booster.predict(xgb.DMatrix(matrix)), atol=1e-6)
    prediction = old.explain(Passenger.create(pclass=3, sex="male", age=30, sibsp=1, parch=2))
    # sibsp + parch -> family; the assumed title and fare count toward his sex and class
    assert {r.attribute for r in prediction.reasons} == set(REASONS) - {"title", "fare"}
    assert (
        dict((r.attribute, r.text) for r in prediction.reasons)["family"]
        == "Travelling with 3 family members"
    )
    margin = prediction.baseline_logit + sum(r.logit for r in prediction.reasons)
    assert margin == pytest.approx(math.log(prediction.probability / (1 - prediction.probability)), abs=1e-5)


# ---------------------------------------------------------------------------------------------
# Invalid rows


def test_predict_frame_refuses_invalid_rows_naming_them(model: SurvivalModel, frame: pd.DataFrame) -> None:
    bad = frame.iloc[:10].copy()
    bad.loc[bad.index[2], "pclass"] = 4
    bad.loc[bad.index[6], "age"] = 130
    with pytest.raises(InvalidRowsError) as caught:
        model.predict_frame(bad)
    assert str(caught.value) == (
        "2 row(s) cannot be scored: row 3: Class must be 1st, 2nd or 3rd; row 7: Age must be between 0 and 100 (got 130)"
    )
    assert caught.value.problems == [
        (2, "Class must be 1st, 2nd or 3rd."),
        (6, "Age must be between 0 and 100 (got 130)."),
    ]


def test_a_row_failing_several_checks_counts_once(model: SurvivalModel, frame: pd.DataFrame) -> None:
    bad = frame.iloc[:3].copy()
    bad.loc[bad.index[1], ["pclass", "age"]] = [4, 130]
    with pytest.raises(InvalidRowsError) as caught:
        model.predict_frame(bad)
    assert str(caught.value) == (
        "1 row(s) cannot be scored: row 2: Age must be between 0 and 100 (got 130), Class must be 1st, 2nd or 3rd"
    )


def test_many_invalid_rows_are_summarised(model: SurvivalModel, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidRowsError, match=r"^9 row\(s\) cannot be scored: row 1: Sex .*\(and 4 more\)$"):
        model.predict_frame(frame.iloc[:9].assign(sex="unknown"))


# ---------------------------------------------------------------------------------------------
# Sanity


def test_women_in_first_class_fare_better_than_men_in_third(model: SurvivalModel) -> None:
    women = [
        model.explain(Passenger.create(pclass=1, sex="female", age=age)).probability for age in (18, 30, 60)
    ]
    men = [model.explain(Passenger.create(pclass=3, sex="male", age=age)).probability for age in (20, 30, 60)]
    assert min(women) > 0.8 and max(men) < 0.4
    assert min(women) > max(men)
    woman = model.explain(Passenger.create(pclass=1, sex="female", age=30))
    man = model.explain(Passenger.create(pclass=3, sex="male", age=30))
    assert (
        {r.attribute: r.logit for r in woman.reasons}["sex"]
        > 0
        > {r.attribute: r.logit for r in man.reasons}["sex"]
    )
    assert math.isclose(woman.baseline_logit, man.baseline_logit)
    # One 1st-class girl under 13 in the records (she died): the answer for one is no confident guess.
    girl = model.explain(Passenger.create(pclass=1, sex="female", age=8))
    assert girl.likely is not None and girl.likely.few_like_you and girl.likely.like_you == 1
    assert girl.likely.high - girl.likely.low > 0.5


@pytest.mark.parametrize(
    ("probability", "shown"), [(0.996, 99), (0.994, 99), (0.5, 50), (0.004, 1), (0.0, 1), (1.0, 99)]
)
def test_an_answer_is_never_shown_as_certain(probability: float, shown: int) -> None:
    assert shown_percent(probability) == shown
    assert Likely(probability, probability, 100, "kind").text == f"{shown}–{shown}%"
