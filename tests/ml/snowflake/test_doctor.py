"""`lifeboat doctor` on the Snowflake backend, against the contract stand-ins (FakeAccount answers
what an account would) and Snowpark's local testing session (the training procedure is created and
called in process). The local backend's doctor is in tests/bot/test_cli_backends.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from snowflake.snowpark import Session
from snowflake.snowpark.stored_procedure import StoredProcedureRegistration

from ml.config import MLSettings
from ml.io.doctor import FAIL, OK, SKIP, CheckResult
from ml.snowflake.doctor import DOCTOR_PREFIX, run_snowflake
from ml.snowflake.registry import SnowflakeRegistry
from tests.support.contracts import Contracts
from tests.support.models import fitted_model
from tests.support.snowflake import SETTINGS, FakeAccount


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MLSettings:
    home = tmp_path / "snowflake-home"
    home.mkdir()
    toml = home / "connections.toml"
    toml.write_text(
        '[lifeboat]\naccount = "myorg-acct"\nuser = "LIFEBOAT_SVC"\npassword = "s3cret-never-shown"\n'
    )
    toml.chmod(0o600)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    return replace(SETTINGS, snowflake_connection="lifeboat", home=tmp_path / "lifeboat-home")


@pytest.fixture
def account(
    contracts: Contracts, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAccount]:
    """The account, whose procedures run in the local testing session."""
    from snowflake.ml._internal.platform_capabilities import PlatformCapabilities

    # Packaging asks the active session for the account's ML capabilities (one query per process,
    # also made by log_model): the active session is the local one, which runs no SQL.
    monkeypatch.setattr(PlatformCapabilities, "_mock_features", {})
    root = tmp_path / "account"
    root.mkdir()
    fake = FakeAccount(contracts, root, monkeypatch)
    contracts.mock(StoredProcedureRegistration).register.side_effect = session.sproc.register
    contracts.session.call.side_effect = session.call
    yield fake


def doctor(settings: MLSettings, contracts: Contracts) -> dict[str, CheckResult]:
    seen: list[CheckResult] = []
    results = run_snowflake(settings, seen.append, login=lambda s: ("lifeboat", contracts.session))
    assert seen == results  # each reported as it came
    return {r.name: r for r in results}


def with_a_model(settings: MLSettings, contracts: Contracts) -> None:
    SnowflakeRegistry(contracts.session, settings).log_model(
        fitted_model(), metrics={}, params={}, comment="served", created_by="ann", data_fingerprint="f"
    )


def test_a_ready_account_passes_every_check(
    settings: MLSettings, contracts: Contracts, account: FakeAccount
) -> None:
    with_a_model(settings, contracts)
    results = doctor(settings, contracts)
    failed = {name: (r.detail, r.fix) for name, r in results.items() if r.status != OK}
    assert failed == {}
    names = list(results)
    assert names[:6] == ["connection", "login", "role", "warehouse", "database", "schema"]
    assert "password" not in results["connection"].detail and "s3cret" not in str(results)
    assert results["role"].detail == "LIFEBOAT_ROLE"
    assert "snowflake-ml-python 2.6.0" in results["training procedure"].detail  # called in process
    assert (
        "xgboost<4,>=3.2 (channel has 3.2.0)"
        in results["package channel: what a model logged from here asks for"].detail
    )
    sql = results["score it by SQL"].detail
    assert "NULL for a passenger it must refuse" in sql
    assert "agree within 1e-09" in results["same as local scoring"].detail
    assert results["a passenger scores"].detail.startswith("1st class female")
    # The throwaway model is gone; the served one is untouched.
    assert list(account.models) == ["TITANIC"]
    sent = [statement for statement, _ in contracts.statements]
    assert any(s.startswith(f"DROP MODEL IF EXISTS LIFEBOAT.PUBLIC.{DOCTOR_PREFIX}") for s in sent)
    probes = [s for s in sent if s.startswith("CREATE TEMPORARY")]
    assert [p.split()[2] for p in probes] == ["TABLE", "STAGE", "FILE"]
    contracts.session.close.assert_called_once_with()


def test_each_failure_says_what_to_do_and_what_it_holds_up(
    settings: MLSettings, contracts: Contracts, account: FakeAccount
) -> None:
    account.context["WAREHOUSE"] = None
    results = doctor(settings, contracts)
    warehouse = results["warehouse"]
    assert warehouse.status == FAIL and "no usable warehouse for role LIFEBOAT_ROLE" in warehouse.detail
    assert "GRANT USAGE ON WAREHOUSE <name> TO ROLE LIFEBOAT_ROLE" in warehouse.fix
    assert results["warehouse runs a query"].status == SKIP
    assert results["warehouse runs a query"].detail == "needs: warehouse"
    assert results["CREATE TABLE on LIFEBOAT.PUBLIC"].status == SKIP
    assert (
        results["database"].status == OK
        and results["package channel: what the training procedure asks for"].status == OK
    )
    assert not [
        s for s, _ in contracts.statements if s.startswith("CREATE")
    ]  # nothing tried past the failure


def test_missing_grants_and_packages_are_named_with_their_fix(
    settings: MLSettings, contracts: Contracts, account: FakeAccount
) -> None:
    with_a_model(settings, contracts)
    account.refused[r"^CREATE TEMPORARY STAGE"] = (
        "003001 (42501): Insufficient privileges to operate on schema 'PUBLIC'"
    )
    account.refused[r"^UPDATE LIFEBOAT\.PUBLIC\.LIFEBOAT_LOCKS"] = (
        "003001 (42501): Insufficient privileges on LIFEBOAT_LOCKS"
    )
    account.tables.add("LIFEBOAT.PUBLIC.LIFEBOAT_LOCKS")
    account.channel["xgboost"] = ["1.7.6", "2.1.1"]
    results = doctor(settings, contracts)
    stage = results["CREATE STAGE on LIFEBOAT.PUBLIC"]
    assert (
        stage.status == FAIL
        and stage.fix == "GRANT CREATE STAGE ON SCHEMA LIFEBOAT.PUBLIC TO ROLE LIFEBOAT_ROLE"
    )
    locks = results["privileges on LIFEBOAT.PUBLIC.LIFEBOAT_LOCKS"]
    assert locks.status == FAIL and locks.detail.startswith("UPDATE: ")
    assert (
        locks.fix
        == "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE LIFEBOAT.PUBLIC.LIFEBOAT_LOCKS TO ROLE LIFEBOAT_ROLE"
    )
    channel = results["package channel: what a model logged from here asks for"]
    assert (
        channel.status == FAIL and "xgboost<4,>=3.2: not in the channel (has: 1.7.6, 2.1.1)" in channel.detail
    )
    assert "train in the warehouse" in channel.fix
    logged = next(r for name, r in results.items() if name.startswith("log a model"))
    assert (
        logged.status == FAIL and "package channel" in logged.detail
    )  # the production refusal, before any upload
    assert results["score it by SQL"].status == SKIP
    assert (
        next(r for name, r in results.items() if name.startswith("drop ")).status == OK
    )  # cleaned up anyway
    assert results["a passenger scores"].status == OK  # the served model is fine


def test_no_model_yet_fails_with_the_command_that_makes_one(
    settings: MLSettings, contracts: Contracts, account: FakeAccount
) -> None:
    results = doctor(settings, contracts)
    assert (
        results["default version"].status == FAIL and results["default version"].fix == "run `lifeboat train`"
    )
    assert (
        results["model ownership"].status == OK and "does not exist yet" in results["model ownership"].detail
    )
    assert results["a passenger scores"].status == SKIP


def test_incomplete_versions_are_listed_with_how_to_drop_them(
    settings: MLSettings, contracts: Contracts, account: FakeAccount
) -> None:
    with_a_model(settings, contracts)
    account.models["TITANIC"]["V2"] = {**account.models["TITANIC"]["V1"], "metadata": None}
    result = doctor(settings, contracts)["every version complete"]
    assert result.status == FAIL and result.fix == "ALTER MODEL LIFEBOAT.PUBLIC.TITANIC DROP VERSION V2"


def test_without_a_connection_entry_nothing_else_is_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "nowhere"))
    tried: list[str] = []
    results = run_snowflake(SETTINGS, login=lambda s: tried.append("login"))  # type: ignore[arg-type,return-value,func-returns-value]
    assert results[0].status == FAIL and "no connections.toml" in results[0].detail
    assert {r.status for r in results[1:]} == {SKIP} and tried == []
