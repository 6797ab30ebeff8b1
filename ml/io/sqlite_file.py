"""One SQLite file shared by threads and processes: the registry, the request ledger, the Home store.

Each thread gets its own connection (sqlite3 objects must not cross threads); WAL lets readers go
on while one writer writes. Writers of one process take a lock of ours before `BEGIN IMMEDIATE`:
SQLite's own busy handler makes a writer that finds the file locked sleep in growing steps (up to
100 ms each) and retry, so under 20 concurrent requests an unlucky one waited over a second for a
write of microseconds (bot bench: ack p99 0.97 s, max 1.5 s; with the lock 0.26 s, max 0.28 s).
Threads waiting on our lock are woken as soon as it is free. Other processes still meet the busy
handler, up to `timeout`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal


class SQLiteFile:
    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float,
        synchronous: Literal["NORMAL", "FULL"],
        rows_by_name: bool = False,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.synchronous = synchronous
        self.rows_by_name = rows_by_name
        self._local = threading.local()
        self._writer = threading.RLock()  # re-entrant: a nested write fails in SQLite, not here

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            if self.rows_by_name:
                db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: no fsync per commit; after a power cut the last commits may be gone, never the file.
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            self._local.db = db
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: the write lock up front, so writers queue instead of
        failing halfway): committed on success, rolled back on any exception."""
        # As long as SQLite itself would wait, and the same error after it.
        if not self._writer.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            db = self.connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            self._writer.release()

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
