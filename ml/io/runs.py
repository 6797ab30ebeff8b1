"""Retraining runs and the one-run-at-a-time lock, kept in the registry's store.

The lock is a row with a lease: the holder renews it (heartbeat) while it works, so a run whose
process died simply stops renewing and its lock expires. Acquiring the lock and creating the run
record happen in one transaction, so across threads, processes and bot replicas sharing a store
exactly one caller wins.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

LOCK_NAME = "retrain"
DEFAULT_LEASE_SECONDS = 30.0

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
# A run's error when its lease lapsed: its worker stopped heart-beating (killed, crashed, machine gone).
EXPIRED_ERROR = "the retraining worker stopped responding (lease expired)"

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    step TEXT NOT NULL,
    step_index INTEGER NOT NULL,
    steps_total INTEGER NOT NULL,
    version TEXT,
    decision TEXT,
    promoted INTEGER,
    result TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    origin TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Run:
    id: str
    actor: str
    started_at: float
    status: str
    step: str
    step_index: int
    steps_total: int
    finished_at: float | None = None
    version: str | None = None
    decision: str | None = None
    promoted: bool | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    origin: dict[str, Any] = field(default_factory=dict)  # e.g. the Slack channel/message to update

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def duration(self) -> float:
        return (self.finished_at or time.time()) - self.started_at

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at_iso"] = iso(self.started_at)
        data["finished_at_iso"] = iso(self.finished_at)
        return data


@dataclass(frozen=True)
class RunPolling:
    """How often a follower may read a run's record, and look for runs whose worker died (a lapsed
    lease). `idle_sweeps`: look even while no run is followed."""

    poll_seconds: float = 0.25
    sweep_seconds: float = 10.0
    idle_sweeps: bool = True


@dataclass(frozen=True)
class Acquired:
    run: Run


@dataclass(frozen=True)
class Busy:
    run: Run  # the run that holds the lock


class RunStore(ABC):
    @abstractmethod
    def start(
        self,
        actor: str,
        steps_total: int,
        origin: dict[str, Any] | None = None,
        lease: float = DEFAULT_LEASE_SECONDS,
    ) -> Acquired | Busy:
        """Take the lock and create a run, or report the run that holds it."""

    @abstractmethod
    def heartbeat(self, run_id: str, lease: float = DEFAULT_LEASE_SECONDS) -> bool:
        """Renew the lease; False if this run no longer holds the lock."""

    @abstractmethod
    def progress(self, run_id: str, step: str, step_index: int) -> None: ...

    @abstractmethod
    def finish(
        self,
        run_id: str,
        *,
        status: str,
        version: str | None = None,
        decision: str | None = None,
        promoted: bool | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome and release the lock (in one transaction)."""

    @abstractmethod
    def set_origin(self, run_id: str, origin: dict[str, Any]) -> None: ...

    @abstractmethod
    def get(self, run_id: str) -> Run | None: ...

    @abstractmethod
    def current(self) -> Run | None:
        """The run holding a live lock, if any (expired holders are marked failed first)."""

    @abstractmethod
    def recent(self, limit: int = 10) -> list[Run]: ...

    def close(self) -> None:  # noqa: B027 - optional: stores holding a connection of their own
        pass


class SQLiteRunStore(RunStore):
    """Runs and the lock in the local registry's SQLite database (shares its connection handling)."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry  # a LocalRegistry: connection() and transaction()
        self.registry.connection().executescript(RUNS_SCHEMA)

    def _row(self, row: sqlite3.Row | None) -> Run | None:
        if row is None:
            return None
        return Run(
            id=row["id"],
            actor=row["actor"],
            started_at=row["started_at"],
            status=row["status"],
            step=row["step"],
            step_index=row["step_index"],
            steps_total=row["steps_total"],
            finished_at=row["finished_at"],
            version=row["version"],
            decision=row["decision"],
            promoted=None if row["promoted"] is None else bool(row["promoted"]),
            result=json.loads(row["result"] or "{}"),
            error=row["error"],
            origin=json.loads(row["origin"] or "{}"),
        )

    def _expire(self, db: sqlite3.Connection, now: float) -> None:
        """A lock past its lease belongs to a run that stopped heart-beating: mark it failed."""
        stale = db.execute(
            "SELECT holder FROM locks WHERE name = ? AND expires_at <= ?", (LOCK_NAME, now)
        ).fetchone()
        if stale:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = ?",
                (FAILED, now, EXPIRED_ERROR, stale["holder"], RUNNING),
            )
            db.execute("DELETE FROM locks WHERE name = ?", (LOCK_NAME,))

    def start(
        self,
        actor: str,
        steps_total: int,
        origin: dict[str, Any] | None = None,
        lease: float = DEFAULT_LEASE_SECONDS,
    ) -> Acquired | Busy:
        now = time.time()
        with self.registry.transaction() as db:
            self._expire(db, now)
            holder = db.execute("SELECT holder FROM locks WHERE name = ?", (LOCK_NAME,)).fetchone()
            if holder:
                run = self._row(db.execute("SELECT * FROM runs WHERE id = ?", (holder["holder"],)).fetchone())
                assert run is not None
                return Busy(run)
            run_id = uuid.uuid4().hex[:12]
            db.execute("INSERT INTO locks VALUES (?, ?, ?, ?)", (LOCK_NAME, run_id, now, now + lease))
            db.execute(
                "INSERT INTO runs (id, actor, started_at, status, step, step_index, steps_total, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, actor, now, RUNNING, "queued", 0, steps_total, json.dumps(origin or {})),
            )
            run = self._row(db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())
        assert run is not None
        return Acquired(run)

    def heartbeat(self, run_id: str, lease: float = DEFAULT_LEASE_SECONDS) -> bool:
        with self.registry.transaction() as db:
            cursor = db.execute(
                "UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?",
                (time.time() + lease, LOCK_NAME, run_id),
            )
            return cursor.rowcount == 1

    def progress(self, run_id: str, step: str, step_index: int) -> None:
        with self.registry.transaction() as db:
            db.execute("UPDATE runs SET step = ?, step_index = ? WHERE id = ?", (step, step_index, run_id))

    def finish(
        self,
        run_id: str,
        *,
        status: str,
        version: str | None = None,
        decision: str | None = None,
        promoted: bool | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self.registry.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, version = ?, decision = ?, promoted = ?, result = ?,"
                " error = ? WHERE id = ?",
                (
                    status,
                    time.time(),
                    version,
                    decision,
                    None if promoted is None else int(promoted),
                    json.dumps(result or {}, default=str),
                    error,
                    run_id,
                ),
            )
            db.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (LOCK_NAME, run_id))

    def set_origin(self, run_id: str, origin: dict[str, Any]) -> None:
        with self.registry.transaction() as db:
            db.execute("UPDATE runs SET origin = ? WHERE id = ?", (json.dumps(origin), run_id))

    def get(self, run_id: str) -> Run | None:
        return self._row(
            self.registry.connection().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        )

    def current(self) -> Run | None:
        with self.registry.transaction() as db:
            self._expire(db, time.time())
            holder = db.execute("SELECT holder FROM locks WHERE name = ?", (LOCK_NAME,)).fetchone()
            if not holder:
                return None
            return self._row(db.execute("SELECT * FROM runs WHERE id = ?", (holder["holder"],)).fetchone())

    def recent(self, limit: int = 10) -> list[Run]:
        rows = self.registry.connection().execute(
            "SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,)
        )
        return [run for row in rows.fetchall() if (run := self._row(row)) is not None]
