"""The shared SQLite file: transactions commit or roll back whole, and a process's writers queue on
its own lock instead of SQLite's busy handler (which sleeps in steps of up to 100 ms: the bot's
tail latency under concurrent requests)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ml.io.sqlite_file import SQLiteFile


def counter(tmp_path: Path, timeout: float = 5.0) -> SQLiteFile:
    file = SQLiteFile(tmp_path / "t.db", timeout=timeout, synchronous="NORMAL")
    file.connection().executescript("CREATE TABLE IF NOT EXISTS n (v INTEGER); INSERT INTO n VALUES (0);")
    return file


def value(file: SQLiteFile) -> int:
    return int(file.connection().execute("SELECT v FROM n").fetchone()[0])


def test_a_write_commits_whole_or_not_at_all(tmp_path: Path) -> None:
    file = counter(tmp_path)
    with file.write() as db:
        db.execute("UPDATE n SET v = v + 1")
    with pytest.raises(RuntimeError), file.write() as db:
        db.execute("UPDATE n SET v = v + 100")
        raise RuntimeError("crash halfway")
    assert value(file) == 1
    assert not file.connection().in_transaction


def test_writers_of_one_process_wait_for_the_lock_before_they_touch_sqlite(tmp_path: Path) -> None:
    file = counter(tmp_path)
    holding, release = threading.Event(), threading.Event()
    statements: list[str] = []

    def first() -> None:
        with file.write() as db:
            db.execute("UPDATE n SET v = v + 1")
            holding.set()
            release.wait(10)

    def second() -> None:
        file.connection().set_trace_callback(statements.append)
        with file.write() as db:
            db.execute("UPDATE n SET v = v + 1")

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    # Without the lock, the second writer would be inside BEGIN IMMEDIATE, in SQLite's busy handler.
    assert b.is_alive() and not any("BEGIN" in s for s in statements)
    release.set()
    a.join(10)
    b.join(10)
    assert value(file) == 2
    assert any("BEGIN" in s for s in statements)


def test_a_writer_that_waits_longer_than_the_timeout_gets_sqlites_own_error(tmp_path: Path) -> None:
    file = counter(tmp_path, timeout=0.1)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with file.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"), file.write():
            pass
    finally:
        release.set()
        holder.join(10)
    with file.write() as db:  # and the file is usable again
        db.execute("UPDATE n SET v = 7")
    assert value(file) == 7


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    file = counter(tmp_path)

    def add() -> None:
        for _ in range(50):
            with file.write() as db:
                (v,) = db.execute("SELECT v FROM n").fetchone()
                db.execute("UPDATE n SET v = ?", (v + 1,))
        file.close()

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert value(file) == 400
