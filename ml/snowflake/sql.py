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


def model_call(settings: Any, version: str | None = None, columns: Iterable[str] | None = None) -> str:
    """`MODEL(DB.SCHEMA.TITANIC[, V3])!PREDICT_PROBA(...):output_feature_1::FLOAT`: without a version
    Snowflake uses the model's default version, the one the bot serves."""
    target = identifiers.model(settings)
    if version is not None:
        target += f", {identifiers.version_identifier(version)}"
    arguments = ", ".join(model_arguments(columns))
    return f"MODEL({target})!{FUNCTION_NAME.upper()}({arguments}):{SURVIVED}::FLOAT"


def scoring_sql(
    settings: Any,
    version: str | None = None,
    table: str | None = None,
    *,
    columns: Iterable[str] | None = None,
) -> str:
    """The SELECT that scores `table` (the passenger table by default), every row and column kept and
    SURVIVAL_PROBABILITY added."""
    source = identifiers.data_table(settings, table)
    return f"SELECT *, {model_call(settings, version, columns)} AS {SCORE_COLUMN} FROM {source}"


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
