"""The registered model's contract with SQL and Python callers, defined once.

`MODEL(DB.SCHEMA.TITANIC, V3)!PREDICT_PROBA(...)` takes its arguments by position, in
`INPUT_COLUMNS` order, and returns an object with `output_feature_0` (died) and `output_feature_1`
(survived), the names an XGBClassifier logged to the registry would use, so SQL written for the
quickstart's model keeps working.

Title: the feature definition takes a title when one is given and otherwise derives it from the
passenger-list name ('Braund, Mr. Owen Harris'), else infers it. TITANIC_DATA has NAME but no
TITLE, so the model accepts both, row by row: TITLE when not NULL, else the title in NAME, else
the inferred one. The derivation runs inside the model with `ml.core.features` code, never in SQL.

Only the standard library here: the SQL generator imports this without any Snowflake library.
"""

from __future__ import annotations

# The passenger attributes, in the order of ml.core.features.ATTRIBUTES, as upper-case column names.
PASSENGER_COLUMNS: tuple[str, ...] = ("PCLASS", "SEX", "AGE", "SIBSP", "PARCH", "FARE", "EMBARKED", "TITLE")
# The model's positional arguments: the attributes, then NAME (only used to find a missing title).
INPUT_COLUMNS: tuple[str, ...] = (*PASSENGER_COLUMNS, "NAME")
NUMERIC_COLUMNS: frozenset[str] = frozenset({"PCLASS", "AGE", "SIBSP", "PARCH", "FARE"})
# Without these a row cannot be scored; every other argument may be NULL (imputed by the model).
REQUIRED_COLUMNS: tuple[str, ...] = ("PCLASS", "SEX")

FUNCTION_NAME = "predict_proba"  # SQL: PREDICT_PROBA (case-insensitive)
DIED, SURVIVED = "output_feature_0", "output_feature_1"
SCORE_COLUMN = "SURVIVAL_PROBABILITY"
# A version's own record (creator, metrics, parameters, checksum of the model files), logged as one
# of its artifacts: written by the same CREATE MODEL / ADD VERSION statement as the files it describes.
RECORD_FILE = "lifeboat.json"


def sql_type(column: str) -> str:
    """The SQL type of an input column (what a NULL placeholder is cast to)."""
    return "FLOAT" if column in NUMERIC_COLUMNS else "VARCHAR"
