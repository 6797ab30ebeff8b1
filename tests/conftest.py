"""Shared fixtures: a registry with one trained version, copied fresh for every test that needs it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.io.local_registry import LocalRegistry
from ml.jobs.train import train_and_register
from tests.support.models import FAST_CONFIG


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


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """`lifeboat` called in process configures the root logger (bot.transport.logs); the next test gets it back
    as it was."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


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


def _in_ci() -> bool:
    import os

    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """On CI a browser test may not skip: a missing Chromium would otherwise pass the run unseen."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and _in_ci() and item.get_closest_marker("browser") is not None:
        report.outcome = "failed"
        report.longrepr = f"CI=true and a browser test would skip: {report.longrepr}"
