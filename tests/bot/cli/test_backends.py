"""The command line on each backend: the CLI's warehouse scoring (which answers from the warehouse or
fails: issue 11, finding 3), and `lifeboat doctor` on the local backend and on Snowflake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from snowflake.snowpark import Session

import bot.cli.common
from bot.cli import main
from bot.local import FakeSlackWebAPI
from ml.backend import Backend
from ml.snowflake.registry import SnowflakeRegistry
from tests.support.contracts import Contracts, contracts  # noqa: F401 - the fixture
from tests.support.models import fitted_model
from tests.support.snowflake import SETTINGS, FakeAccount, FakeStore, coded


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
    model = fitted_model()
    fingerprint = model.evidence.data_fingerprint if model.evidence is not None else "f"
    registry.log_model(
        model, metrics={}, params={}, comment="", created_by="ann", data_fingerprint=fingerprint
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
    assert code == 0 and "%) — " in out
    assert "answered from the local copy, not the warehouse" in err


def test_cli_warehouse_scoring_answers_from_the_warehouse(
    warehouse_cli: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "predict", "--class", "3", "--sex", "male", "--json")
    assert code == 0 and json.loads(out)["version"] == "V1" and err == ""
    assert warehouse_cli.runs == 1


# -- lifeboat doctor on the local backend ------------------------------------------------------------------------------------
def test_doctor_on_a_ready_local_home(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("lifeboat doctor: local backend")
    assert "[ok]   default version loads, checksum verified: V1 loaded" in out
    assert "[ok]   a passenger scores: 1st class female" in out and "local scoring" in out
    assert "[ok]   Slack: no Slack credentials: `lifeboat run` opens the local playground" in out
    assert lines[-1] == "All 7 checks passed."


def test_doctor_on_an_empty_home_says_what_to_run_and_creates_nothing(
    empty_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert "[FAIL] LIFEBOAT_HOME: no registry in" in out and "       fix: run `lifeboat train`" in out
    assert "[skip] registry opens (needs: LIFEBOAT_HOME)" in out
    assert "[ok]   passenger data loads: 891 passengers" in out
    assert out.splitlines()[-1] == "1 of 7 checks failed, 4 skipped (they need a failed one)."
    assert not empty_home.exists()


def test_doctor_finds_damaged_files(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "models" / "TITANIC" / "V1" / "booster.ubj").write_bytes(b"not a model")
    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 1
    results = {r["name"]: r for r in json.loads(out)}
    loads = results["default version loads, checksum verified"]
    assert loads["status"] == "fail" and "checksum mismatch" in loads["detail"]
    assert "lifeboat promote" in loads["fix"]


# -- lifeboat doctor on Snowflake ----------------------------------------------------------------------------------
def test_doctor_on_a_ready_snowflake_account(
    contracts: Contracts,  # noqa: F811 - the fixture
    local_session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from snowflake.ml._internal.platform_capabilities import PlatformCapabilities
    from snowflake.snowpark.stored_procedure import StoredProcedureRegistration

    import ml.snowflake.session

    monkeypatch.setattr(PlatformCapabilities, "_mock_features", {})
    account = FakeAccount(contracts, tmp_path, monkeypatch)
    contracts.mock(StoredProcedureRegistration).register.side_effect = local_session.sproc.register
    contracts.session.call.side_effect = local_session.call
    snowflake_home = tmp_path / "snowflake-home"
    snowflake_home.mkdir()
    (snowflake_home / "connections.toml").write_text('[lifeboat]\naccount = "a"\nuser = "u"\n')
    (snowflake_home / "connections.toml").chmod(0o600)
    for name, value in {
        "SNOWFLAKE_HOME": str(snowflake_home),
        "LIFEBOAT_BACKEND": "snowflake",
        "LIFEBOAT_SNOWFLAKE_CONNECTION": "lifeboat",
        "LIFEBOAT_HOME": str(tmp_path / "home"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(ml.snowflake.session, "login", lambda settings: ("lifeboat", contracts.session))
    SnowflakeRegistry(contracts.session, SETTINGS, cache_dir=tmp_path / "c").log_model(
        fitted_model(), metrics={}, params={}, comment="", created_by="ann", data_fingerprint="f"
    )
    code, out, _ = run(capsys, "doctor")
    assert code == 0, out
    assert "[ok]   score it by SQL:" in out and "[ok]   training procedure: created and called" in out
    assert out.splitlines()[-1].startswith("All ") and "[FAIL]" not in out
    assert list(account.models) == ["TITANIC"]  # the throwaway model was dropped


# -- lifeboat doctor's Slack checks, against the fake Web API ------------------------------------------------------------------
BOT_TOKEN, APP_TOKEN = "xoxb-doctor-bot", "xapp-1-doctor-app"


def slack_env(monkeypatch: pytest.MonkeyPatch, fake: Any, **env: str) -> None:
    monkeypatch.setenv("SLACK_API_URL", fake.base_url)
    for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, **env}.items():
        monkeypatch.setenv(name, value)


def test_doctor_checks_the_slack_tokens_and_scopes(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSlackWebAPI(token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        slack_env(monkeypatch, fake)
        code, out, _ = run(capsys, "doctor")
    assert code == 0, out
    assert "[ok]   Slack settings: Socket Mode" in out
    assert "[ok]   Slack bot token: workspace Lifeboat, bot user @lifeboat" in out
    assert (
        "[ok]   Slack bot scopes: commands, chat:write, im:write, files:write, app_mentions:read, im:history"
        in out
    )
    assert "[ok]   Slack app token: Socket Mode can connect" in out
    assert BOT_TOKEN not in out and APP_TOKEN not in out


def test_doctor_says_which_slack_setting_to_fix(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSlackWebAPI(token="xoxb-another", app_token="xapp-another") as fake:
        slack_env(monkeypatch, fake)
        code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert (
        "[FAIL] Slack bot token: Slack refused it (invalid_auth)" in out
        and "fix: check SLACK_BOT_TOKEN" in out
    )
    assert "[skip] Slack bot scopes (needs: Slack bot token)" in out
    assert "[FAIL] Slack app token: Slack refused it (invalid_auth)" in out and "SLACK_APP_TOKEN" in out

    with FakeSlackWebAPI(token=BOT_TOKEN, app_token=APP_TOKEN, scopes="commands,chat:write") as fake:
        slack_env(monkeypatch, fake, LIFEBOAT_ADMINS_INCLUDE_WORKSPACE_ADMINS="true")
        code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert (
        "[FAIL] Slack bot scopes: the bot token lacks im:write, files:write, app_mentions:read, im:history, users:read"
        in out
    )
    assert "fix: add them under OAuth & Permissions (manifest.yml lists them), then reinstall the app" in out

    monkeypatch.delenv("SLACK_APP_TOKEN")  # HTTP mode then, which needs the signing secret
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    code, out, _ = run(capsys, "doctor")
    assert code == 1 and "[FAIL] Slack settings: missing SLACK_SIGNING_SECRET" in out
