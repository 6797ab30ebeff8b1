"""Shared fixtures: a registry with one trained version, copied fresh for every test that needs it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from ml.jobs import train_and_register
from ml.passenger import Passenger, title_from_name
from ml.registry.local import LocalRegistry
from ml.training import TrainConfig

# Enough search and CV to exercise every step, small enough to keep the suite fast.
FAST_CONFIG = TrainConfig(candidates=2, search_repeats=1, cv_repeats=1)


@pytest.fixture(autouse=True)
def hermetic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they set: not the developer's shell, not a `.env` beside them.
    (A live Snowflake run keeps the Snowflake settings it was started with.)"""
    import os

    import ml.config

    live = bool(os.environ.get("LIFEBOAT_SNOWFLAKE_TEST_CONNECTION", "").strip())
    for name in list(os.environ):
        snowflake = name.startswith(("SNOWFLAKE_", "LIFEBOAT_SNOWFLAKE_"))
        if name.startswith(("SLACK_", "LIFEBOAT_", "SNOWFLAKE_")) and not (live and snowflake):
            monkeypatch.delenv(name)
    monkeypatch.setattr(ml.config, "_ENV_LOADED", True)


@pytest.fixture(scope="session")
def trained_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template-home")
    registry = LocalRegistry(home)
    train_and_register(registry, actor="tests", comment="fixture model", config=FAST_CONFIG)
    registry.close()
    return home


@pytest.fixture
def home(trained_home_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A LIFEBOAT_HOME holding TITANIC V1 (the default), private to this test."""
    target = tmp_path / "home"
    shutil.copytree(trained_home_template, target)
    monkeypatch.setenv("LIFEBOAT_HOME", str(target))
    yield target


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "empty-home"
    monkeypatch.setenv("LIFEBOAT_HOME", str(target))
    return target


@pytest.fixture
def registry(home: Path) -> Iterator[LocalRegistry]:
    reg = LocalRegistry(home)
    yield reg
    reg.close()


def passengers_of(frame: pd.DataFrame) -> list[Passenger]:
    """Each row of a passenger list as the person would describe themselves (the title from the
    passenger-list name)."""
    return [
        Passenger.create(
            pclass=row.pclass,
            sex=row.sex,
            age=row.age,
            sibsp=row.sibsp,
            parch=row.parch,
            fare=row.fare,
            embarked=None if pd.isna(row.embarked) else row.embarked,
            title=title_from_name(row.name),
        )
        for row in frame.itertuples()
    ]
