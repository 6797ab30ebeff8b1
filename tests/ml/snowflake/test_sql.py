"""The scoring SQL and the identifier rules behind it: exact text, custom names, injection refused."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from ml.config import MLSettings
from ml.snowflake import identifiers
from ml.snowflake.contract import INPUT_COLUMNS, PASSENGER_COLUMNS
from ml.snowflake.identifiers import IdentifierError
from ml.snowflake.sql import MissingColumnsError, create_scored_table_sql, model_arguments, scoring_sql

SETTINGS = MLSettings(backend="snowflake")
ARGS = "PCLASS, SEX, AGE, SIBSP, PARCH, FARE, EMBARKED, TITLE, NAME"


def test_default_version_sql() -> None:
    assert scoring_sql(SETTINGS) == (
        f"SELECT *, MODEL(LIFEBOAT.PUBLIC.TITANIC)!PREDICT_PROBA({ARGS}):output_feature_1::FLOAT"
        " AS SURVIVAL_PROBABILITY FROM LIFEBOAT.PUBLIC.TITANIC_DATA"
    )


@pytest.mark.parametrize("version", ["V3", "v3", "3", " V3 "])
def test_pinned_version_sql(version: str) -> None:
    assert scoring_sql(SETTINGS, version) == (
        f"SELECT *, MODEL(LIFEBOAT.PUBLIC.TITANIC, V3)!PREDICT_PROBA({ARGS}):output_feature_1::FLOAT"
        " AS SURVIVAL_PROBABILITY FROM LIFEBOAT.PUBLIC.TITANIC_DATA"
    )


def test_custom_names_and_qualified_tables() -> None:
    settings = replace(
        SETTINGS,
        snowflake_database="analytics",
        snowflake_schema="ml",
        model_name="survival",
        snowflake_table="passengers",
    )
    assert scoring_sql(settings) == (
        f"SELECT *, MODEL(ANALYTICS.ML.SURVIVAL)!PREDICT_PROBA({ARGS}):output_feature_1::FLOAT"
        " AS SURVIVAL_PROBABILITY FROM ANALYTICS.ML.PASSENGERS"
    )
    assert scoring_sql(settings, table="staging.new_rows").endswith("FROM ANALYTICS.STAGING.NEW_ROWS")
    assert scoring_sql(settings, table="other_db.s.t").endswith("FROM OTHER_DB.S.T")
    assert scoring_sql(settings, table="_t$1").endswith("FROM ANALYTICS.ML._T$1")


def test_the_model_arguments_are_the_passenger_attributes_then_name() -> None:
    assert (*PASSENGER_COLUMNS, "NAME") == INPUT_COLUMNS
    assert PASSENGER_COLUMNS == ("PCLASS", "SEX", "AGE", "SIBSP", "PARCH", "FARE", "EMBARKED", "TITLE")
    from ml.core.features import ATTRIBUTES

    assert tuple(c.lower() for c in PASSENGER_COLUMNS) == ATTRIBUTES  # same order as the feature code


@pytest.mark.parametrize(
    "table",
    [
        "t; DROP TABLE users",
        "t --",
        "t/*x*/",
        'T"',
        '"T"',
        "t x",
        "a.b.c.d",
        "a..b",
        ".t",
        "1abc",
        "select",
        "tab\nle",
        "x" * 256,
        "titanic_data' OR '1'='1",
    ],
)
def test_injection_in_a_table_name_is_refused(table: str) -> None:
    with pytest.raises(IdentifierError):
        scoring_sql(SETTINGS, table=table)


@pytest.mark.parametrize("version", ["V0", "V-1", "V1; DROP MODEL x", "V1)", "latest", "", "V1.2"])
def test_bad_versions_are_refused(version: str) -> None:
    with pytest.raises(IdentifierError):
        scoring_sql(SETTINGS, version)


@pytest.mark.parametrize(
    "field,value",
    [
        ("snowflake_database", "LIFEBOAT; DROP DATABASE X"),
        ("snowflake_schema", "PUBLIC--"),
        ("model_name", "TITANIC)!X("),
        ("snowflake_table", "TABLE"),
    ],
)
def test_bad_configured_names_are_refused(field: str, value: str) -> None:
    with pytest.raises(IdentifierError, match=r"identifier|reserved"):
        scoring_sql(replace(SETTINGS, **{field: value}))


def test_version_rule_matches_the_registry() -> None:
    from ml.io.registry import UnknownVersionError, parse_version

    for text in ["V1", "v12", "7", " V3 ", "V0", "V01", "x", "V1a", "-3"]:
        try:
            expected: str | None = parse_version(text)
        except UnknownVersionError:
            expected = None
        try:
            got: str | None = identifiers.version_identifier(text)
        except IdentifierError:
            got = None
        assert got == expected, text


def test_known_columns_missing_optional_inputs_become_typed_nulls() -> None:
    args = model_arguments(["PCLASS", "SEX", "AGE", "FARE", "PASSENGER_ID"])
    assert args == [
        "PCLASS",
        "SEX",
        "AGE",
        "NULL::FLOAT",
        "NULL::FLOAT",
        "FARE",
        "NULL::VARCHAR",
        "NULL::VARCHAR",
        "NULL::VARCHAR",
    ]


def test_case_sensitive_columns_are_quoted_safely() -> None:
    args = model_arguments(['"pclass"', '"Sex"', "AGE", "NAME"])
    assert args[:3] == ['"pclass"', '"Sex"', "AGE"]
    assert args[-1] == "NAME"
    with pytest.raises(MissingColumnsError, match="cannot be used"):
        model_arguments(['"pclaß"', "SEX"])  # upper-cases to PCLASS, but is not plain ASCII


def test_the_model_needs_class_and_sex() -> None:
    with pytest.raises(MissingColumnsError, match="no SEX column"):
        model_arguments(["PCLASS", "AGE"])


def test_scored_table_statement() -> None:
    statement = create_scored_table_sql(SETTINGS, "TITANIC_DATA", "scored", "V2")
    assert statement.startswith(
        "CREATE TABLE LIFEBOAT.PUBLIC.SCORED AS SELECT *, MODEL(LIFEBOAT.PUBLIC.TITANIC, V2)"
    )
    assert statement.endswith("FROM LIFEBOAT.PUBLIC.TITANIC_DATA")
    with pytest.raises(IdentifierError, match="must not be the input"):
        create_scored_table_sql(SETTINGS, "titanic_data", "LIFEBOAT.PUBLIC.TITANIC_DATA")
    with pytest.raises(IdentifierError):
        create_scored_table_sql(SETTINGS, "TITANIC_DATA", "x; DROP TABLE y")


def test_printing_sql_imports_no_snowflake_library() -> None:
    # `lifeboat sql` must work (and be quick) without a connection or the Snowflake libraries
    # (a bare `snowflake` namespace module is pre-created by snowpark's .pth file at start-up).
    code = (
        "import sys\n"
        "from ml.config import MLSettings\n"
        "from ml.snowflake.sql import scoring_sql\n"
        "print(scoring_sql(MLSettings(backend='snowflake'), 'V1'))\n"
        "assert not [m for m in sys.modules if m.startswith(('snowflake.', 'xgboost', 'pandas'))]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "MODEL(LIFEBOAT.PUBLIC.TITANIC, V1)" in done.stdout


# -- issue 11 ---------------------------------------------------------------------------------------------
def test_rescoring_a_scored_table_replaces_its_score() -> None:
    """Finding 6: `SELECT *, ... AS SURVIVAL_PROBABILITY` on a table that has the column already
    makes a duplicate column, and the CREATE TABLE fails."""
    scored = [*INPUT_COLUMNS, "SURVIVAL_PROBABILITY"]
    statement = create_scored_table_sql(SETTINGS, "SCORED", "SCORED2", columns=scored)
    assert "AS SELECT * EXCLUDE (SURVIVAL_PROBABILITY), MODEL(" in statement
    assert statement.count("AS SURVIVAL_PROBABILITY") == 1
    # A case-sensitive "survival_probability" is another column: EXCLUDE of it would name a missing one.
    other = create_scored_table_sql(
        SETTINGS, "SCORED", "SCORED2", columns=[*INPUT_COLUMNS, '"survival_probability"']
    )
    assert "EXCLUDE" not in other
    assert "EXCLUDE" not in create_scored_table_sql(
        SETTINGS, "TITANIC_DATA", "SCORED", columns=list(INPUT_COLUMNS)
    )


def test_lifeboat_sql_can_print_the_rescoring_statement() -> None:
    assert scoring_sql(SETTINGS, table="SCORED", replace_score=True).startswith(
        "SELECT * EXCLUDE (SURVIVAL_PROBABILITY), MODEL(LIFEBOAT.PUBLIC.TITANIC)!PREDICT_PROBA("
    )
    assert scoring_sql(SETTINGS) == scoring_sql(SETTINGS, replace_score=False)


def test_one_passenger_is_one_bound_statement_pinned_to_a_version() -> None:
    from ml.snowflake.sql import bound_scoring_sql

    assert bound_scoring_sql("LIFEBOAT.PUBLIC.TITANIC", "v3") == (
        "SELECT MODEL(LIFEBOAT.PUBLIC.TITANIC, V3)!PREDICT_PROBA(?::FLOAT, ?::VARCHAR, ?::FLOAT, ?::FLOAT,"
        " ?::FLOAT, ?::FLOAT, ?::VARCHAR, ?::VARCHAR, ?::VARCHAR):output_feature_1::FLOAT AS SURVIVAL_PROBABILITY"
    )
    for model, version in [("TITANIC", "V1"), ("A.B.C; DROP", "V1"), ("A.B.C", "V1)--")]:
        with pytest.raises(IdentifierError):
            bound_scoring_sql(model, version)
