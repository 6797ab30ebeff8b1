"""Fixtures of the Snowflake backend's tests: a local testing session, the registry on a stand-in store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from snowflake.snowpark import Session

from ml.snowflake import data as sf_data
from ml.snowflake import retrain as sf_retrain
from ml.snowflake.data import load_data
from ml.snowflake.registry import SnowflakeRegistry
from ml.snowflake.runs import SnowflakeRunStore
from tests.support.contracts import contracts
from tests.support.snowflake import SETTINGS, FakeStore, Unclosable
from tests.support.sqlite_sql import SQLiteSql


@pytest.fixture
def session() -> Iterator[Session]:
    local = Session.builder.config("local_testing", True).create()
    yield local
    local.close()


@pytest.fixture
def store(tmp_path: Path) -> FakeStore:
    root = tmp_path / "store"
    root.mkdir()
    return FakeStore(root)


@pytest.fixture
def registry(session: Session, store: FakeStore, tmp_path: Path) -> SnowflakeRegistry:
    return SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "cache")


@pytest.fixture
def loaded(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """`lifeboat load-data` run against the local session: TITANIC_DATA holds the shipped 891."""
    monkeypatch.setattr(sf_data, "open_session", lambda settings: Unclosable(session))
    assert load_data(SETTINGS, None, replace=False) == 891
    return session


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> SnowflakeRunStore:
    """The run store's very statements on SQLite (a local testing session cannot run SQL); the
    in-process procedure checks its lease in the same store, as it would in the same account."""
    store = SnowflakeRunStore(SQLiteSql(), SETTINGS)
    monkeypatch.setattr(sf_retrain, "procedure_run_store", lambda session, settings: store)
    return store


__all__ = ["contracts"]
