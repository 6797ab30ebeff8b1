"""The command line on each backend: the CLI's warehouse scoring (which answers from the warehouse or
fails: issue 11, finding 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from snowflake.snowpark import Session

import bot.cli.common
from bot.cli import main
from ml.backend import Backend
from ml.snowflake.registry import SnowflakeRegistry
from tests.support.contracts import Contracts, contracts  # noqa: F401 - the fixture
from tests.support.models import fitted_model
from tests.support.snowflake import SETTINGS, FakeStore, coded


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def local_session() -> Iterator[Session]:
    local = Session.builder.config("local_testing", True).create()
    yield local
    local.close()


# -- warehouse scoring from the CLI -------------------------------------------------------------------------
@pytest.fixture
def warehouse_cli(
    local_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeStore]:
    """LIFEBOAT_BACKEND=snowflake with LIFEBOAT_SCORING=warehouse, the registry on a stand-in store."""
    root = tmp_path / "store"
    root.mkdir()
    store = FakeStore(root)
    registry = SnowflakeRegistry(local_session, SETTINGS, store=store, cache_dir=tmp_path / "cache")
    registry.log_model(
        fitted_model(), metrics={}, params={}, comment="", created_by="ann", data_fingerprint="f"
    )
    monkeypatch.setenv("LIFEBOAT_BACKEND", "snowflake")
    monkeypatch.setenv("LIFEBOAT_SCORING", "warehouse")
    monkeypatch.setattr(bot.cli.common, "open_backend", lambda settings: Backend(settings, registry=registry))
    yield store


def test_cli_warehouse_scoring_fails_instead_of_answering_locally(
    warehouse_cli: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse_cli.fail_runs = coded("cannot run TITANIC V1 in the warehouse: 002140 Unknown function", 2140)
    code, out, err = run(capsys, "predict", "--class", "1", "--sex", "female")
    assert code == 1 and out == ""
    assert err.startswith("lifeboat: error: warehouse scoring failed:") and "Unknown function" in err
    code, out, err = run(capsys, "predict", "--class", "1", "--sex", "female", "--allow-local-fallback")
    assert code == 0 and "% —" in out
    assert "answered from the local copy, not the warehouse" in err


def test_cli_warehouse_scoring_answers_from_the_warehouse(
    warehouse_cli: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "predict", "--class", "3", "--sex", "male", "--json")
    assert code == 0 and json.loads(out)["version"] == "V1" and err == ""
    assert warehouse_cli.runs == 1
