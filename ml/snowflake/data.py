"""The passenger table in Snowflake: written from a CSV, read back as the canonical frame.

`load_data` writes what `ml.io.data.load_csv` reads (the shipped 891 passengers by default) into
DB.SCHEMA.TITANIC_DATA with upper-case columns, as the quickstart's writeback step did, plus:

- NAME and TITLE, NULL when the CSV has none, so every model input exists as a column and the
  scoring SQL can name them all without asking Snowflake (see ml.snowflake.contract);
- LIFEBOAT_ROW, the CSV's row order. Snowflake returns rows in no particular order, and the
  training recipe's cross-validation folds depend on it: reading back in CSV order makes training
  in the warehouse give the same model as training locally on the same CSV.

`read_passengers` undoes both, so the frame it returns equals `load_csv` of the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ml.core.table import DataError, normalize
from ml.io.data import load_csv
from ml.snowflake import identifiers
from ml.snowflake.objects import table_exists
from ml.snowflake.session import open_session, require_table

if TYPE_CHECKING:
    from snowflake.snowpark import Session
    from snowflake.snowpark.types import StructType

    from ml.config import MLSettings

ROW_COLUMN = "LIFEBOAT_ROW"
ADDED_COLUMNS = ("NAME", "TITLE")  # added (all NULL) when the CSV lacks them


class TableExistsError(DataError):
    """The passenger table is there already and replacing it was not asked for."""


def table_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A canonical passenger frame -> the table's layout (upper-case names, NAME/TITLE, row order)."""
    out = frame.copy()
    out.columns = [identifiers.identifier(str(c), "column") for c in frame.columns]
    if out.columns.duplicated().any() or ROW_COLUMN in out.columns:
        raise DataError(
            f"column names clash once upper-cased (or {ROW_COLUMN} is taken): {list(frame.columns)}"
        )
    for column in ADDED_COLUMNS:
        if column not in out.columns:
            out[column] = pd.Series([None] * len(out), dtype=object, index=out.index)
    out[ROW_COLUMN] = np.arange(1, len(out) + 1, dtype=np.int64)
    return out.reset_index(drop=True)


def _column_type(series: pd.Series) -> Any:
    from snowflake.snowpark.types import BooleanType, DoubleType, LongType, StringType

    if pd.api.types.is_bool_dtype(series):
        return BooleanType()
    if pd.api.types.is_integer_dtype(series):
        return LongType()
    if pd.api.types.is_float_dtype(series):
        return DoubleType()
    return StringType()  # labels, names, tickets; an all-NULL added column too


def table_schema(frame: pd.DataFrame) -> StructType:
    """Column types from the frame's dtypes, explicit, so an all-NULL column still gets a type."""
    from snowflake.snowpark.types import StructField, StructType

    return StructType([StructField(str(c), _column_type(frame[c])) for c in frame.columns])


def _rows(frame: pd.DataFrame, schema: StructType) -> list[list[Any]]:
    """Plain Python values, NaN/NA as None (NULL, not the float NaN)."""
    from snowflake.snowpark.types import BooleanType, DoubleType, LongType

    converters: list[Callable[[Any], Any]] = []
    for field in schema.fields:
        if isinstance(field.datatype, LongType):
            converters.append(int)
        elif isinstance(field.datatype, DoubleType):
            converters.append(float)
        elif isinstance(field.datatype, BooleanType):
            converters.append(bool)
        else:
            converters.append(str)
    columns = [frame[c].astype(object).to_numpy() for c in frame.columns]
    return [
        [None if pd.isna(v) else convert(v) for v, convert in zip(values, converters, strict=True)]
        for values in zip(*columns, strict=True)
    ]


def write_passengers(session: Session, settings: MLSettings, frame: pd.DataFrame, *, replace: bool) -> int:
    """Write a canonical passenger frame to the passenger table; returns the rows written."""
    table = identifiers.data_table(settings)
    if not replace and table_exists(session, table):
        raise TableExistsError(f"{table} already exists: pass --replace to overwrite it")
    data = table_frame(frame)
    schema = table_schema(data)
    # "overwrite" is CREATE OR REPLACE ... AS SELECT (readers see the old or the new table, never
    # half); "errorifexists" is a plain CREATE, so a concurrent writer cannot be overwritten either.
    try:
        session.create_dataframe(_rows(data, schema), schema=schema).write.save_as_table(  # type: ignore[call-overload]  # Snowpark's overloads omit copy_grants
            table,
            mode="overwrite" if replace else "errorifexists",
            copy_grants=replace,  # a replaced table keeps the SELECT grants given on the old one
            comment="Titanic passengers, written by `lifeboat load-data` (LIFEBOAT_ROW = CSV row order)",
        )
    except Exception as exc:
        if not replace and table_exists(session, table):
            raise TableExistsError(f"{table} already exists: pass --replace to overwrite it") from None
        from ml.snowflake.session import current_role, explain

        raise explain(exc, f"write {table}", role=current_role(session)) from None
    return len(data)


def load_data(settings: MLSettings, csv_path: str | None, replace: bool) -> int:
    """`lifeboat load-data [--data CSV] [--replace]`: the passengers into DB.SCHEMA.TITANIC_DATA."""
    frame = load_csv(csv_path)  # validate the file before connecting
    session = open_session(settings)
    try:
        return write_passengers(session, settings, frame, replace=replace)
    finally:
        session.close()


def read_passengers(session: Session, settings: MLSettings, table: str | None = None) -> pd.DataFrame:
    """The passenger table as the canonical frame (ml.core.table.normalize), rows in CSV order."""
    name = identifiers.data_table(settings, table)
    require_table(session, name)
    frame = session.table(name).to_pandas()
    if frame.empty:
        raise DataError(f"{name} has no rows: run `lifeboat load-data`")
    if ROW_COLUMN in frame.columns:
        frame = frame.sort_values(ROW_COLUMN, kind="mergesort").drop(columns=[ROW_COLUMN])
    else:  # a table written by other tools: any fixed order keeps training deterministic
        keys = frame.astype("string").fillna("")
        frame = frame.loc[keys.sort_values(list(keys.columns), kind="mergesort").index]
    empty = [c for c in ADDED_COLUMNS if c in frame.columns and frame[c].isna().all()]
    frame = frame.drop(columns=empty).reset_index(drop=True)
    return normalize(frame, require_target=True)
