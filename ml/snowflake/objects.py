"""Every table lifeboat creates in Snowflake, defined once: this module is all of its DDL.

Tables are described as Snowpark schemas and created with `save_as_table(mode="ignore")`, which is
CREATE TABLE IF NOT EXISTS in Snowflake and also works in Snowpark's local testing mode, so the
tests create them exactly as production does. The model itself is created by the Registry, the
passenger table by `ml.snowflake.data` (its columns follow the CSV), the scored tables by
`ml.snowflake.sql`.

Times are ISO-8601 UTC strings, as in the local registry, so both backends' records read alike,
except in the retraining runs and locks tables: there they are epoch seconds (FLOAT) taken from the
server's clock, because lease arithmetic happens in SQL and `ml.io.runs.Run` keeps epoch seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml.snowflake import identifiers

if TYPE_CHECKING:
    from snowflake.snowpark import Session
    from snowflake.snowpark.types import StructType

AUDIT_TABLE = "LIFEBOAT_AUDIT"
PROGRESS_TABLE = "LIFEBOAT_TRAINING_PROGRESS"
RUNS_TABLE = "LIFEBOAT_RUNS"
LOCKS_TABLE = "LIFEBOAT_LOCKS"
# The locks table's first row, written by the CREATE itself: every lock change starts by updating
# it, which serialises them (see ml.snowflake.runs). No lock is ever named this.
LOCK_GUARD = "*"


def audit_schema() -> StructType:
    """Registrations, promotions, rollbacks and retraining outcomes, one row each, for every model
    in the schema (MODEL_NAME). ID orders the rows (microseconds since the epoch at writing)."""
    from snowflake.snowpark.types import LongType, StringType, StructField, StructType

    return StructType(
        [
            StructField("ID", LongType()),
            StructField("MODEL_NAME", StringType()),
            StructField("AT", StringType()),
            StructField("ACTOR", StringType()),
            StructField("ACTION", StringType()),
            StructField("FROM_VERSION", StringType()),
            StructField("TO_VERSION", StringType()),
            StructField("OUTCOME", StringType()),
            StructField("DETAILS", StringType()),  # JSON
        ]
    )


def progress_schema() -> StructType:
    """Steps reported by the training stored procedure while it runs, polled by the caller."""
    from snowflake.snowpark.types import LongType, StringType, StructField, StructType

    return StructType(
        [
            StructField("RUN_ID", StringType()),
            StructField("SEQ", LongType()),
            StructField("AT", StringType()),
            StructField("STEP", StringType()),
            StructField("DETAIL", StringType()),
        ]
    )


def runs_schema() -> StructType:
    """Retraining runs, one row each, for every model in the schema (MODEL_NAME); the columns of
    `ml.io.runs.Run`. Times: epoch seconds on the server's clock."""
    from snowflake.snowpark.types import (
        BooleanType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    return StructType(
        [
            StructField("ID", StringType()),
            StructField("MODEL_NAME", StringType()),
            StructField("ACTOR", StringType()),
            StructField("STARTED_AT", DoubleType()),
            StructField("FINISHED_AT", DoubleType()),
            StructField("STATUS", StringType()),
            StructField("STEP", StringType()),
            StructField("STEP_INDEX", LongType()),
            StructField("STEPS_TOTAL", LongType()),
            StructField("VERSION", StringType()),
            StructField("DECISION", StringType()),
            StructField("PROMOTED", BooleanType()),
            StructField("RESULT", StringType()),  # JSON
            StructField("ERROR", StringType()),
            StructField("ORIGIN", StringType()),  # JSON
        ]
    )


def locks_schema() -> StructType:
    """Leases: a row per held lock (NAME, e.g. 'retrain:TITANIC'), deleted when released, plus the
    LOCK_GUARD row. Times: epoch seconds on the server's clock."""
    from snowflake.snowpark.types import DoubleType, StringType, StructField, StructType

    return StructType(
        [
            StructField("NAME", StringType()),
            StructField("HOLDER", StringType()),
            StructField("ACQUIRED_AT", DoubleType()),
            StructField("EXPIRES_AT", DoubleType()),
        ]
    )


def locks_seed() -> list[list[Any]]:
    """The rows the locks table is created with (in the same CREATE ... AS SELECT)."""
    return [[LOCK_GUARD, None, 0.0, 0.0]]


def audit_table(settings: Any) -> str:
    return identifiers.in_schema(settings, AUDIT_TABLE)


def progress_table(settings: Any) -> str:
    return identifiers.in_schema(settings, PROGRESS_TABLE)


def runs_table(settings: Any) -> str:
    return identifiers.in_schema(settings, RUNS_TABLE)


def locks_table(settings: Any) -> str:
    return identifiers.in_schema(settings, LOCKS_TABLE)


def table_exists(session: Session, name: str) -> bool:
    """A metadata query (DESCRIBE): no warehouse needed, no rows read."""
    try:
        _ = session.table(name).columns
    except Exception:  # does not exist, or this role cannot see it
        return False
    return True


def ensure_table(
    session: Session, name: str, schema: StructType, rows: list[list[Any]] | None = None
) -> None:
    """Create the table if it is missing, holding `rows` from the start. Checking first means opening
    a registry whose tables exist needs no running warehouse; two creators racing both succeed
    (CREATE TABLE IF NOT EXISTS ... AS SELECT: only the one that creates it writes the rows)."""
    if table_exists(session, name):
        return
    session.create_dataframe(rows or [], schema=schema).write.save_as_table(  # type: ignore[call-overload]  # Snowpark's overloads omit `comment` (it is in **kwargs)
        name, mode="ignore", comment="created by lifeboat (see ml/snowflake/objects.py)"
    )


def append_row(session: Session, name: str, schema: StructType, row: list[Any]) -> None:
    """INSERT one row (values are bound by Snowpark, never spliced into SQL)."""
    session.create_dataframe([row], schema=schema).write.save_as_table(name, mode="append")
