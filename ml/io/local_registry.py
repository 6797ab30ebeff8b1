"""The embedded registry: SQLite for metadata, one directory of safe-format files per version.

Crash safety: a version's files are written to a temporary directory, fsynced and renamed into
place inside the same SQLite write transaction that inserts its row, so a process killed at any
point leaves either the whole version or none of it (an orphaned directory without a row is
invisible and is swept on the next registration). The default is one row updated in a transaction.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import sqlite3
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.core.model import SurvivalModel
from ml.io import failpoints
from ml.io.artifacts import fsync_dir, fsync_tree, hash_files, load_model, save_model
from ml.io.registry import (
    AuditEvent,
    ModelRegistry,
    ModelVersion,
    RegistryError,
    UnknownVersionError,
    parse_version,
    version_number,
)
from ml.io.sqlite_file import SQLiteFile

DB_FILE = "registry.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    default_version TEXT,
    default_changes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
    model_name TEXT NOT NULL,
    version TEXT NOT NULL,
    number INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    metrics TEXT NOT NULL,
    params TEXT NOT NULL,
    data_fingerprint TEXT NOT NULL,
    info TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    PRIMARY KEY (model_name, version)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_version TEXT,
    to_version TEXT,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL
);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class LocalRegistry(ModelRegistry):
    backend = "local"

    def __init__(self, home: str | Path, model_name: str = "TITANIC") -> None:
        self.home = Path(home)
        self.model_name = model_name
        self.models_dir = self.home / "models" / model_name
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / DB_FILE
        # FULL: a registered version's row is on disk before the caller is told it exists.
        self._file = SQLiteFile(self.db_path, timeout=30.0, synchronous="FULL", rows_by_name=True)
        db = self.connection()
        db.executescript(SCHEMA)  # idempotent DDL; executescript manages its own commit
        # Only a new model needs a write: opening a registry must not wait for (or time out behind)
        # another process that holds the write lock while it registers a version.
        if db.execute("SELECT 1 FROM models WHERE name = ?", (model_name,)).fetchone() is None:
            with self.transaction() as tx:
                tx.execute("INSERT OR IGNORE INTO models (name) VALUES (?)", (model_name,))
        self._cache: dict[str, SurvivalModel] = {}

    # -- connection handling -------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 objects must not cross threads)."""
        return self._file.connection()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        return self._file.write()

    def close(self) -> None:
        self._file.close()

    # -- versions ------------------------------------------------------------------------------
    def log_model(
        self,
        model: SurvivalModel,
        *,
        metrics: dict[str, float],
        params: dict[str, Any],
        comment: str,
        created_by: str,
        data_fingerprint: str,
        info: dict[str, Any] | None = None,
        make_default: bool = False,
    ) -> ModelVersion:
        staging = self.models_dir / f".staging-{uuid.uuid4().hex}"
        save_model(model, staging)
        fsync_tree(staging)
        row = {
            "created_at": now_iso(),
            "created_by": created_by,
            "comment": comment,
            "metrics": json.dumps(metrics, sort_keys=True),
            "params": json.dumps(params, sort_keys=True),
            "data_fingerprint": data_fingerprint,
            "info": json.dumps(info or {}, sort_keys=True),
            "artifact_sha256": hash_files(staging),
        }
        try:
            with self.transaction() as db:
                version = self._publish(db, staging, row)
                previous = db.execute(
                    "SELECT default_version FROM models WHERE name = ?", (self.model_name,)
                ).fetchone()[0]
                becomes_default = make_default or previous is None
                if becomes_default:
                    self._write_default(db, version)
                details = {
                    "metrics": metrics,
                    "data_fingerprint": data_fingerprint,
                    "default_changed": becomes_default,
                }
                self._write_audit(
                    db, created_by, "register", previous if becomes_default else None, version, "ok", details
                )
                failpoints.hit("registry.before_commit")
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        self._sweep_staging()
        return self.get_version(version)

    def _publish(self, db: sqlite3.Connection, staging: Path, row: dict[str, Any]) -> str:
        """Inside the caller's transaction: take the next version name, rename the staged files into
        place and insert the version's row. Until the transaction commits, nobody sees either."""
        last = db.execute(
            "SELECT COALESCE(MAX(number), 0) FROM versions WHERE model_name = ?", (self.model_name,)
        ).fetchone()[0]
        number = last + 1
        version = f"V{number}"
        target = self.models_dir / version
        if target.exists():  # left by a process killed before its commit: never visible
            shutil.rmtree(target)
        failpoints.hit("registry.before_rename")
        os.rename(staging, target)
        fsync_dir(self.models_dir)
        failpoints.hit("registry.after_rename")
        db.execute(
            "INSERT INTO versions (model_name, version, number, created_at, created_by, comment, metrics,"
            " params, data_fingerprint, info, artifact_sha256)"
            " VALUES (:model_name, :version, :number, :created_at, :created_by, :comment, :metrics, :params,"
            " :data_fingerprint, :info, :artifact_sha256)",
            {**row, "model_name": self.model_name, "version": version, "number": number},
        )
        return version

    def _sweep_staging(self) -> None:
        """Remove staging directories of writers that died (older than a minute)."""
        import time

        for path in self.models_dir.glob(".staging-*"):
            try:
                if time.time() - path.stat().st_mtime > 60:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                pass

    def _row_to_version(self, row: sqlite3.Row, default: str | None) -> ModelVersion:
        return ModelVersion(
            model_name=row["model_name"],
            version=row["version"],
            created_at=row["created_at"],
            created_by=row["created_by"],
            comment=row["comment"],
            metrics=json.loads(row["metrics"]),
            params=json.loads(row["params"]),
            data_fingerprint=row["data_fingerprint"],
            info=json.loads(row["info"]),
            is_default=row["version"] == default,
        )

    def list_versions(self) -> list[ModelVersion]:
        db = self.connection()
        default = self.get_default()
        rows = db.execute(
            "SELECT * FROM versions WHERE model_name = ? ORDER BY number", (self.model_name,)
        ).fetchall()
        return [self._row_to_version(row, default) for row in rows]

    def get_version(self, version: str) -> ModelVersion:
        name = parse_version(version)
        row = (
            self.connection()
            .execute("SELECT * FROM versions WHERE model_name = ? AND version = ?", (self.model_name, name))
            .fetchone()
        )
        if row is None:
            raise UnknownVersionError(f"{self.model_name} has no version {name}")
        return self._row_to_version(row, self.get_default())

    def load_model(self, version: str) -> SurvivalModel:
        name = parse_version(version)
        cached = self._cache.get(name)  # versions are immutable, so a cache never goes stale
        if cached is not None:
            return cached
        row = (
            self.connection()
            .execute(
                "SELECT artifact_sha256 FROM versions WHERE model_name = ? AND version = ?",
                (self.model_name, name),
            )
            .fetchone()
        )
        if row is None:
            raise UnknownVersionError(f"{self.model_name} has no version {name}")
        directory = self.models_dir / name
        try:
            if hash_files(directory) != row["artifact_sha256"]:
                raise RegistryError(f"the files of {self.model_name} {name} are damaged (checksum mismatch)")
            model = load_model(directory)
        except (OSError, ValueError) as exc:
            raise RegistryError(f"cannot load {self.model_name} {name}: {exc}") from exc
        self._cache[name] = model
        return model

    # -- default -------------------------------------------------------------------------------
    def get_default(self) -> str | None:
        row = (
            self.connection()
            .execute("SELECT default_version FROM models WHERE name = ?", (self.model_name,))
            .fetchone()
        )
        return row[0] if row else None

    def default_token(self) -> str | None:
        row = (
            self.connection()
            .execute("SELECT default_version, default_changes FROM models WHERE name = ?", (self.model_name,))
            .fetchone()
        )
        return f"{row[0]}#{row[1]}" if row and row[0] else None

    def _write_default(self, db: sqlite3.Connection, version: str) -> None:
        db.execute(
            "UPDATE models SET default_version = ?, default_changes = default_changes + 1 WHERE name = ?",
            (version, self.model_name),
        )

    def set_default(
        self,
        version: str,
        *,
        actor: str = "system",
        action: str = "promote",
        details: dict[str, Any] | None = None,
    ) -> str | None:
        name = parse_version(version)
        with self.transaction() as db:
            exists = db.execute(
                "SELECT 1 FROM versions WHERE model_name = ? AND version = ?", (self.model_name, name)
            ).fetchone()
            if not exists:
                raise UnknownVersionError(f"{self.model_name} has no version {name}")
            previous = db.execute(
                "SELECT default_version FROM models WHERE name = ?", (self.model_name,)
            ).fetchone()[0]
            self._write_default(db, name)
            self._write_audit(
                db, actor, action, previous, name, "ok", {**(details or {}), "default_changed": True}
            )
        return previous

    # -- audit ---------------------------------------------------------------------------------
    def _write_audit(
        self,
        db: sqlite3.Connection,
        actor: str,
        action: str,
        from_version: str | None,
        to_version: str | None,
        outcome: str,
        details: dict[str, Any],
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, actor, action, from_version, to_version, outcome, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                now_iso(),
                actor,
                action,
                from_version,
                to_version,
                outcome,
                json.dumps(details, sort_keys=True, default=str),
            ),
        )

    def audit(
        self,
        actor: str,
        action: str,
        *,
        from_version: str | None = None,
        to_version: str | None = None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            self._write_audit(db, actor, action, from_version, to_version, outcome, details or {})

    def history(self, limit: int = 20) -> list[AuditEvent]:
        rows = self.connection().execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [
            AuditEvent(
                id=row["id"],
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                from_version=row["from_version"],
                to_version=row["to_version"],
                outcome=row["outcome"],
                details=json.loads(row["details"]),
            )
            for row in rows
        ]


__all__ = ["LocalRegistry", "default_actor", "now_iso", "version_number"]
