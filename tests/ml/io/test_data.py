"""ml.io.data: the loader's layouts (shipped, Kaggle, Snowflake upper case, titanic3, seaborn), its
errors, and the training-data fingerprint. Every layout is built from the shipped CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.core.table import FEATURE_SOURCE_COLUMNS, LEAKY_COLUMNS, DataError, fingerprint, normalize
from ml.io.data import load_csv, shipped_data_path

CANONICAL = ["survived", "pclass", "name", "sex", "age", "sibsp", "parch", "fare", "embarked"]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The shipped CSV exactly as pandas reads it."""
    return pd.read_csv(shipped_data_path())


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return load_csv()


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def assert_same_passengers(
    loaded: pd.DataFrame, shipped: pd.DataFrame, columns: list[str] = CANONICAL
) -> None:
    for column in columns:
        pd.testing.assert_series_equal(
            loaded[column].reset_index(drop=True),
            shipped[column].reset_index(drop=True),
            check_dtype=False,
            check_names=False,
            obj=column,
        )


# ---------------------------------------------------------------------------------------------
# Layouts


def test_shipped_file(shipped: pd.DataFrame) -> None:
    assert len(shipped) == 891
    assert set(CANONICAL) <= set(shipped.columns)
    assert shipped["survived"].dtype == int and set(shipped["survived"]) == {0, 1}
    assert int(shipped["survived"].sum()) == 342
    assert set(shipped["sex"]) == {"female", "male"}
    assert set(shipped["embarked"].dropna()) == {"C", "Q", "S"}
    assert shipped["embarked"].isna().sum() == 2
    assert shipped["age"].isna().sum() == 177  # missing stays missing: imputation is the features' job
    assert set(shipped["pclass"]) == {1, 2, 3}
    # Columns the model does not use are kept (batch scoring copies them through).
    assert {"ticket", "cabin"} <= set(shipped.columns)


def test_shipped_file_is_lower_case_on_disk() -> None:
    header = shipped_data_path().read_text().splitlines()[0]
    assert header == "survived,pclass,name,sex,age,sibsp,parch,ticket,fare,cabin,embarked"


def test_kaggle_layout(raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path) -> None:
    kaggle = raw.rename(
        columns={
            "survived": "Survived",
            "pclass": "Pclass",
            "name": "Name",
            "sex": "Sex",
            "age": "Age",
            "sibsp": "SibSp",
            "parch": "Parch",
            "ticket": "Ticket",
            "fare": "Fare",
            "cabin": "Cabin",
            "embarked": "Embarked",
        }
    )
    kaggle.insert(0, "PassengerId", range(1, len(kaggle) + 1))
    kaggle_columns = "PassengerId Survived Pclass Name Sex Age SibSp Parch Ticket Fare Cabin Embarked"
    kaggle = kaggle[kaggle_columns.split()]
    loaded = load_csv(write(kaggle, tmp_path / "train.csv"))
    assert_same_passengers(loaded, shipped)
    assert list(loaded["passenger_id"]) == list(range(1, 892))
    assert {"ticket", "cabin"} <= set(loaded.columns)


def test_snowflake_upper_case_layout(raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path) -> None:
    upper = raw.rename(columns=str.upper)
    upper.insert(0, "PASSENGER_ID", range(1, len(upper) + 1))
    upper["SEX"] = upper["SEX"].str.upper()  # values as a warehouse might hold them
    upper["EMBARKED"] = upper["EMBARKED"].str.lower()
    loaded = load_csv(write(upper, tmp_path / "titanic_data.csv"))
    assert_same_passengers(loaded, shipped)
    assert "passenger_id" in loaded.columns


def titanic3_sample(raw: pd.DataFrame) -> pd.DataFrame:
    """The titanic3 layout (1309 rows in the original): pclass first, and boat, body, home.dest."""
    sample = raw[
        ["pclass", "survived", "name", "sex", "age", "sibsp", "parch", "ticket", "fare", "cabin"]
    ].copy()
    sample["embarked"] = raw["embarked"]
    sample["boat"] = np.where(raw["survived"] == 1, "13", None)
    sample["body"] = np.where(raw["survived"] == 0, 100.0, np.nan)
    sample["home.dest"] = "Montreal, PQ / Chesterville, ON"
    return sample


def test_titanic3_layout_drops_leaky_columns(
    raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = load_csv(write(titanic3_sample(raw), tmp_path / "titanic3.csv"))
    assert_same_passengers(loaded, shipped)
    assert not {"boat", "body"} & set(loaded.columns)
    assert "home_dest" in loaded.columns  # harmless extra columns are kept, names canonicalised


def test_titanic3_excel_style_headers(raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path) -> None:
    sample = titanic3_sample(raw).rename(columns=lambda c: c.upper().replace(".", " "))
    loaded = load_csv(write(sample, tmp_path / "titanic3.csv"))
    assert_same_passengers(loaded, shipped)
    assert not {"boat", "body"} & set(loaded.columns)


def seaborn_sample(raw: pd.DataFrame) -> pd.DataFrame:
    """seaborn's `titanic`: no name or ticket; `class`, `who`, `alive` ('yes'/'no') and friends."""
    sample = raw[["survived", "pclass", "sex", "age", "sibsp", "parch", "fare", "embarked"]].copy()
    sample["class"] = raw["pclass"].map({1: "First", 2: "Second", 3: "Third"})
    sample["who"] = np.where(raw["sex"] == "female", "woman", "man")
    sample["embark_town"] = raw["embarked"].map({"C": "Cherbourg", "Q": "Queenstown", "S": "Southampton"})
    sample["alive"] = np.where(raw["survived"] == 1, "yes", "no")
    sample["alone"] = (raw["sibsp"] + raw["parch"]) == 0
    return sample


def test_seaborn_layout_drops_alive(raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path) -> None:
    loaded = load_csv(write(seaborn_sample(raw), tmp_path / "seaborn.csv"))
    assert "alive" not in loaded.columns
    assert_same_passengers(loaded, shipped, [c for c in CANONICAL if c != "name"])


def test_seaborn_class_names_stand_in_for_pclass(
    raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = load_csv(write(seaborn_sample(raw).drop(columns=["pclass"]), tmp_path / "seaborn.csv"))
    assert list(loaded["pclass"]) == list(shipped["pclass"])


def test_leaky_columns_are_the_outcome_in_disguise() -> None:
    assert set(LEAKY_COLUMNS) == {"boat", "body", "alive"}


def test_scoring_input_needs_only_class_and_sex(tmp_path: Path) -> None:
    frame = pd.DataFrame({"Pclass": [1, 3], "Sex": ["female", "male"], "passenger": ["a", "b"]})
    loaded = load_csv(write(frame, tmp_path / "people.csv"), require_target=False)
    assert list(loaded["pclass"]) == [1, 3]
    for column in FEATURE_SOURCE_COLUMNS:
        assert column in loaded.columns  # unknown attributes become missing, to be imputed
    assert loaded["age"].isna().all() and loaded["embarked"].isna().all()
    assert "survived" not in loaded.columns


def test_values_are_cleaned(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "survived": [1, 0, 1],
            "pclass": ["1", "3", " 2"],
            "sex": [" Female", "MALE ", "female"],
            "age": ["38", "", "n/a"],
            "sibsp": [1, 0, 0],
            "parch": [0, 0, 0],
            "fare": ["71.28", "7.25", "x"],
            "embarked": ["Cherbourg", " s", "  "],
        }
    )
    loaded = load_csv(write(frame, tmp_path / "messy.csv"))
    assert list(loaded["pclass"]) == [1, 3, 2]
    assert list(loaded["sex"]) == ["female", "male", "female"]
    assert loaded["age"].iloc[0] == 38 and loaded["age"].iloc[1:].isna().all()
    assert np.isnan(loaded["fare"].iloc[2])
    assert list(loaded["embarked"].iloc[:2]) == ["C", "S"] and pd.isna(loaded["embarked"].iloc[2])


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (["sex"], "missing column sex "),
        (["age", "fare"], "missing columns age, fare "),
        (["survived"], "missing column survived "),
    ],
)
def test_missing_columns_are_named(raw: pd.DataFrame, tmp_path: Path, drop: list[str], message: str) -> None:
    with pytest.raises(DataError) as caught:
        load_csv(write(raw.drop(columns=drop), tmp_path / "bad.csv"))
    assert message in str(caught.value)
    assert "(found: survived" in str(caught.value) or "(found: pclass" in str(caught.value)


def test_scoring_input_without_sex_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing column sex"):
        load_csv(write(pd.DataFrame({"pclass": [1]}), tmp_path / "x.csv"), require_target=False)


@pytest.mark.parametrize("bad", [2, -1, "yes", "", 0.5])
def test_bad_survived_values(raw: pd.DataFrame, tmp_path: Path, bad: object) -> None:
    frame = raw.copy()
    frame["survived"] = frame["survived"].astype(object)
    frame.loc[10, "survived"] = bad
    with pytest.raises(DataError, match="the survived column must be 0 or 1 on every row"):
        load_csv(write(frame, tmp_path / "bad.csv"))


def test_survived_needs_both_outcomes(raw: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs both survivors and non-survivors"):
        load_csv(write(raw.assign(survived=1), tmp_path / "all.csv"))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="cannot read"):
        load_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text(",".join(CANONICAL) + "\n")
    with pytest.raises(DataError, match="has no rows"):
        load_csv(tmp_path / "header.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(DataError):
        load_csv(tmp_path / "binary.csv")


def test_columns_that_collide_after_normalising(raw: pd.DataFrame) -> None:
    frame = raw.assign(Sex=raw["sex"])
    with pytest.raises(DataError, match="columns appear twice after normalising names: sex"):
        normalize(frame, require_target=True)


# ---------------------------------------------------------------------------------------------
# Fingerprint


def test_fingerprint_is_stable_under_row_and_column_order(shipped: pd.DataFrame) -> None:
    value = fingerprint(shipped)
    assert value.startswith("sha256:") and len(value) == len("sha256:") + 16
    shuffled = shipped.sample(frac=1.0, random_state=3)
    assert fingerprint(shuffled) == value
    assert fingerprint(shuffled[list(reversed(shuffled.columns))]) == value
    assert fingerprint(shipped.copy()) == value


def test_fingerprint_ignores_columns_the_model_does_not_use(shipped: pd.DataFrame) -> None:
    assert fingerprint(shipped.assign(ticket="X", cabin=None, passenger_id=7)) == fingerprint(shipped)


def test_fingerprint_changes_with_the_data(shipped: pd.DataFrame) -> None:
    value = fingerprint(shipped)
    older = shipped.copy()
    older.loc[0, "age"] = 23
    assert fingerprint(older) != value
    flipped = shipped.copy()
    flipped.loc[0, "survived"] = 1 - flipped.loc[0, "survived"]
    assert fingerprint(flipped) != value
    assert fingerprint(shipped.iloc[1:]) != value
    assert fingerprint(pd.concat([shipped, shipped.iloc[:1]])) != value


def test_same_people_in_another_layout_have_the_same_fingerprint(
    raw: pd.DataFrame, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    upper = raw.rename(columns=str.upper).sample(frac=1.0, random_state=1)
    assert fingerprint(load_csv(write(upper, tmp_path / "upper.csv"))) == fingerprint(shipped)
