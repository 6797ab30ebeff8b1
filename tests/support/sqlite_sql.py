"""The Snowflake run store's statements on SQLite: Snowpark's local testing session cannot run SQL,
so the tests run the very statements `SessionSql` sends to Snowflake here. `clock` is the "server"
clock; several instances on one file behave like replicas on one account."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ml.snowflake.runs import TableSpec


def _sqlite_type(datatype: Any) -> str:
    from snowflake.snowpark.types import BooleanType, DoubleType, LongType

    if isinstance(datatype, LongType | BooleanType):
        return "INTEGER"
    if isinstance(datatype, DoubleType):
        return "REAL"
    return "TEXT"


class SQLiteSql:
    """`Sql` on SQLite, running the very statements `SessionSql` sends to Snowflake: the run tables
    of a Snowpark local testing session (which cannot run SQL), and the tests' stand-in. `clock`
    is the "server" clock; several instances on one file behave like replicas on one account."""

    now = "LIFEBOAT_NOW()"

    def __init__(self, path: str = ":memory:", *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.create_function("LIFEBOAT_NOW", 0, lambda: float(self.clock()))
        self.db.create_function("GREATEST", 2, max)  # Snowflake's; SQLite spells it max(a, b)
        self._lock = threading.RLock()
        self.statements: list[str] = []  # what ran, for the tests

    def table(self, name: str) -> str:
        return name.split(".")[-1]  # SQLite has no DATABASE.SCHEMA.TABLE

    def ensure(self, tables: Sequence[TableSpec]) -> None:
        with self._lock, self.transaction():
            for spec in tables:
                name = self.table(spec.name)
                if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone():
                    continue
                schema = spec.schema()
                columns = ", ".join(f"{f.name} {_sqlite_type(f.datatype)}" for f in schema.fields)
                self.db.execute(f"CREATE TABLE {name} ({columns})")
                for row in spec.seed() if spec.seed else []:
                    marks = ", ".join("?" for _ in row)
                    self.db.execute(f"INSERT INTO {name} VALUES ({marks})", row)

    def _execute(self, statement: str, params: Sequence[Any]) -> sqlite3.Cursor:
        self.statements.append(statement)
        return self.db.execute(statement, tuple(params))

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._execute(statement, params)
            names = [d[0].upper() for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._execute(statement, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.db.close()
