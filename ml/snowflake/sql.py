"""SQL that scores a table against the registered model, built without a connection.

`scoring_sql` is what `lifeboat sql` prints; `create_scored_table_sql` is what `lifeboat score
--table T --into T2` runs. Every name is validated by `ml.snowflake.identifiers` (plain identifiers
only), so nothing a user types can change the statement's shape.

Arguments go to the model by position in `contract.INPUT_COLUMNS` order. When the caller knows
the table's columns (score_table asks Snowflake), an optional column the table lacks is passed as
a typed NULL and the model imputes it, exactly as for a person who did not say; without that
knowledge (printing SQL offline) the statement names every input column: TITANIC_DATA as written
by `lifeboat load-data` has them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ml.snowflake import identifiers
from ml.snowflake.contract import (
    FUNCTION_NAME,
    INPUT_COLUMNS,
    REQUIRED_COLUMNS,
    SCORE_COLUMN,
    SURVIVED,
    sql_type,
)

_LETTERS = re.compile(r"[A-Za-z]+")


class MissingColumnsError(ValueError):
    """The table lacks a column the model cannot do without."""


def model_arguments(columns: Iterable[str] | None = None) -> list[str]:
    """The model's positional arguments for a table with `columns` (all of them when unknown).

    `columns` are the table's column names as Snowflake reports them ('PCLASS', or '"pclass"' for
    a case-sensitive one). They are matched case-insensitively against our own fixed input names,
    and a case-sensitive match is quoted from our letters-only name, never from the input text.
    """
    if columns is None:
        return list(INPUT_COLUMNS)
    actual: dict[str, str] = {}
    for raw in columns:
        name = str(raw).strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
        actual.setdefault(name.upper(), name)
    missing = [c for c in REQUIRED_COLUMNS if c not in actual]
    if missing:
        raise MissingColumnsError(
            f"the table has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}: the model needs"
            f" {' and '.join(REQUIRED_COLUMNS)}; its inputs are {', '.join(INPUT_COLUMNS)}"
        )
    arguments = []
    for column in INPUT_COLUMNS:
        found = actual.get(column)
        if found is None:
            arguments.append(f"NULL::{sql_type(column)}")
        elif found == column:
            arguments.append(column)
        elif _LETTERS.fullmatch(found):  # a case-sensitive column: quoted, and only ASCII letters inside
            arguments.append(f'"{found}"')
        else:
            raise MissingColumnsError(f"the table's column “{found}” cannot be used as {column}")
    return arguments


def _call(model: str, version: str | None, arguments: Iterable[str]) -> str:
    target = model
    if version is not None:
        target += f", {identifiers.version_identifier(version)}"
    return f"MODEL({target})!{FUNCTION_NAME.upper()}({', '.join(arguments)}):{SURVIVED}::FLOAT"


def model_call(settings: Any, version: str | None = None, columns: Iterable[str] | None = None) -> str:
    """`MODEL(DB.SCHEMA.TITANIC[, V3])!PREDICT_PROBA(...):output_feature_1::FLOAT`: without a version
    Snowflake uses the model's default version, the one the bot serves."""
    return _call(identifiers.model(settings), version, model_arguments(columns))


def bound_scoring_sql(model: str, version: str) -> str:
    """One passenger, one statement: `SELECT MODEL(..., V3)!PREDICT_PROBA(?::FLOAT, ?::VARCHAR, ...)`
    with the values bound in INPUT_COLUMNS order (None for unknown). The casts do what mv.run's
    client-side type check did; the version is pinned so the probability and the reasons computed
    locally come from the same model."""
    target = identifiers.qualified(model, database="", schema="", what="model")  # DB.SCHEMA.NAME only
    placeholders = [f"?::{sql_type(column)}" for column in INPUT_COLUMNS]
    return f"SELECT {_call(target, version, placeholders)} AS {SCORE_COLUMN}"


def _has_score_column(columns: Iterable[str] | None) -> bool:
    # Snowflake reports an unquoted column upper-cased; '"survival_probability"' is another column.
    return columns is not None and any(str(c).strip() == SCORE_COLUMN for c in columns)


def scoring_sql(
    settings: Any,
    version: str | None = None,
    table: str | None = None,
    *,
    columns: Iterable[str] | None = None,
    replace_score: bool | None = None,
) -> str:
    """The SELECT that scores `table` (the passenger table by default), every row and column kept and
    SURVIVAL_PROBABILITY added. A table scored before already has that column: its old score is
    left out (SELECT * EXCLUDE), else the new one would be a duplicate column. EXCLUDE of a column
    the table lacks is an error, so it is emitted only when the columns are known to have it (or
    `replace_score` says so: `lifeboat sql --rescore`)."""
    source = identifiers.data_table(settings, table)
    if replace_score is None:
        replace_score = _has_score_column(columns)
    keep = f"* EXCLUDE ({SCORE_COLUMN})" if replace_score else "*"
    return f"SELECT {keep}, {model_call(settings, version, columns)} AS {SCORE_COLUMN} FROM {source}"


def create_scored_table_sql(
    settings: Any,
    table: str,
    into: str,
    version: str | None = None,
    *,
    columns: Iterable[str] | None = None,
) -> str:
    """CREATE TABLE `into` AS the scoring SELECT: the rows never leave the warehouse. Plain CREATE
    (not OR REPLACE): an existing table is never overwritten by a scoring run."""
    target = identifiers.in_schema(settings, into, "table to create")
    if target == identifiers.data_table(settings, table):
        raise identifiers.IdentifierError("the scored table must not be the input table")
    return f"CREATE TABLE {target} AS {scoring_sql(settings, version, table, columns=columns)}"
