"""The calls lifeboat makes into snowflake-ml-python and Snowpark, against autospecs of the real
classes (tests/support/contracts.py): a renamed argument, a missing method or a changed signature
in the installed libraries fails here. Behind the autospecs, `FakeAccount` keeps what an account
would (versions, their files and metadata, the default, the package channel) and answers the
statements sent.

Also here, per finding of issue 11, the test that failed before its fix:
- 1: a `$` in a comment or creator cannot break SET COMMENT / SET METADATA; a version whose
  metadata never arrived is repaired or dropped;
- 4: the package channel is asked before anything is uploaded;
- 5: one warehouse answer is one statement, after warm-up;
- 6: re-scoring a scored table (score_table end to end);
- 7: the procedures ask for the tested snowflake-ml-python range.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from packaging.requirements import Requirement
from snowflake.snowpark import AsyncJob, DataFrame, Row, Session

from ml.core.passenger import Passenger
from ml.io.data import load_csv
from ml.io.registry import RegistryError
from ml.io.serving import Scorer
from ml.snowflake import session as sf_session
from ml.snowflake.contract import INPUT_COLUMNS
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.registry import META_KEY, SnowflakeRegistry
from ml.snowflake.runs import SessionSql, SnowflakeRunStore
from ml.snowflake.scoring import WarehouseScorer, score_table
from ml.snowflake.train import register_temporary_procedure, start_training
from tests.support.contracts import Contracts
from tests.support.models import fitted_model
from tests.support.snowflake import SETTINGS, TABLE, FakeAccount


@pytest.fixture
def account(contracts: Contracts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAccount:
    root = tmp_path / "account"
    root.mkdir()
    return FakeAccount(contracts, root, monkeypatch)


@pytest.fixture
def registry(contracts: Contracts, account: FakeAccount, tmp_path: Path) -> SnowflakeRegistry:
    """The production registry, its Registry calls going to the autospecs."""
    return SnowflakeRegistry(contracts.session, SETTINGS, cache_dir=tmp_path / "cache")


def log(registry: SnowflakeRegistry, **kwargs: Any) -> Any:
    return registry.log_model(
        fitted_model(),
        metrics={"holdout_log_loss": 0.41},
        params={"max_depth": 2},
        comment=kwargs.pop("comment", "a version"),
        created_by=kwargs.pop("created_by", "ann"),
        data_fingerprint="sha256:abc",
        info={"n_rows": 891},
        **kwargs,
    )


# -- the registry's calls ----------------------------------------------------------------------------
def test_the_registry_is_opened_by_keyword_on_lifeboats_schema(
    registry: SnowflakeRegistry, contracts: Contracts, account: FakeAccount
) -> None:
    account.registry_class.assert_called_once_with(
        contracts.session, database_name="LIFEBOAT", schema_name="PUBLIC"
    )
    assert registry.list_versions() == [] and registry.get_default() is None


def test_log_list_promote_export_and_load_through_the_library(
    registry: SnowflakeRegistry, contracts: Contracts, account: FakeAccount
) -> None:
    v1 = log(registry)
    assert (v1.version, v1.is_default, v1.created_by, v1.metrics) == (
        "V1",
        True,
        "ann",
        {"holdout_log_loss": 0.41},
    )
    v2 = log(registry, created_by="bob")
    assert (v2.version, v2.is_default) == ("V2", False)
    sent = contracts.registry.log_model.call_args
    assert sent.kwargs["model_name"] == "TITANIC" and sent.kwargs["version_name"] == "V2"
    assert sent.kwargs["target_platforms"] == ["WAREHOUSE"] and "signatures" in sent.kwargs
    assert registry.set_default("V2", actor="carol") == "V1"
    assert contracts.property_writes(contracts.model, "default") == ["V2"]
    assert registry.get_default() == "V2"
    frame = load_csv()
    np.testing.assert_array_equal(
        registry.load_model("V2").predict_frame(frame), fitted_model().predict_frame(frame)
    )
    account.version("TITANIC", "V2").export.assert_called_once()


def test_a_dollar_sign_cannot_break_the_metadata_statements(
    registry: SnowflakeRegistry, contracts: Contracts, account: FakeAccount
) -> None:
    """Finding 1: the library pastes the comment and metadata between `$$` quotes, unescaped."""
    comment, creator = "retraining by ops: cost $$5 (was $3)$", "ops$$bot"
    version = log(registry, comment=comment, created_by=creator)
    assert (version.version, version.comment, version.created_by) == ("V1", comment, creator)
    assert registry.incomplete_versions() == []
    sent = contracts.registry.log_model.call_args.kwargs
    assert "$" not in sent["comment"] and "$" not in json.dumps(sent["metrics"])
    # What the real SQL client makes of what was sent: no `$` inside the quotes, and it reads back.
    from snowflake.ml._internal.utils import sql_identifier as si
    from snowflake.ml.model._client.sql.model_version import ModelVersionSQLClient

    fresh = Contracts()
    fresh.answer_sql([(".", [Row(status="ok")])])
    client = ModelVersionSQLClient(
        fresh.session, database_name=si.SqlIdentifier("LIFEBOAT"), schema_name=si.SqlIdentifier("PUBLIC")
    )
    names = {
        "database_name": None,
        "schema_name": None,
        "model_name": si.SqlIdentifier("TITANIC"),
        "version_name": si.SqlIdentifier("V1"),
    }
    client.set_comment(comment=sent["comment"], **names)
    client.set_metadata({"metrics": sent["metrics"]}, **names)
    for statement, _ in fresh.statements:
        body = statement.split("=$$", 1)[1].removesuffix("$$")
        assert "$" not in body, statement
    record = json.loads(json.loads(fresh.statements[1][0].split("=$$", 1)[1][:-2])["metrics"][META_KEY])
    assert (record["created_by"], record["comment"]) == (creator, comment)


def test_a_version_whose_metadata_never_arrived_is_completed_or_dropped(
    registry: SnowflakeRegistry, account: FakeAccount
) -> None:
    """Finding 1: log_model creates the version, then writes its comment and metadata in statements
    of their own; when those fail the version is written again once, else dropped."""
    log(registry)
    account.fail_after_create = RuntimeError("000604 (57014): SQL execution was cancelled by the client")
    v2 = log(registry, comment="kept", created_by="bob")
    assert (v2.version, v2.created_by, v2.comment, v2.metrics) == (
        "V2",
        "bob",
        "kept",
        {"holdout_log_loss": 0.41},
    )
    assert registry.incomplete_versions() == []
    registry.load_model("V2")  # verified by the record's checksum

    original = account.version  # the repair cannot be written either: V3 is dropped

    def unrepairable(model_name: str, version_name: str) -> Any:
        mv = original(model_name, version_name)
        mv.set_metric.side_effect = RuntimeError("390114: Authentication token has expired")
        return mv

    account.version = unrepairable  # type: ignore[method-assign]
    with pytest.raises(RegistryError, match=r"registering V3 stopped before its record was written.*dropped"):
        log(registry)
    assert [v.version for v in registry.list_versions()] == ["V1", "V2"]
    assert registry.get_default() == "V1"


def test_the_package_channel_is_asked_before_anything_is_uploaded(
    registry: SnowflakeRegistry, contracts: Contracts, account: FakeAccount
) -> None:
    """Finding 4: a model logged from here pins this machine's xgboost (3.2, relaxed to >=3.2,<4)."""
    account.channel["xgboost"] = ["1.7.6", "2.1.1"]
    with pytest.raises(
        RegistryError, match=r"xgboost<4,>=3\.2: not in the channel \(has: 1\.7\.6, 2\.1\.1\)"
    ):
        log(registry)
    contracts.registry.log_model.assert_not_called()
    [(statement, params)] = [(q, p) for q, p in contracts.statements if "PACKAGES" in q]
    assert statement.startswith("SELECT PACKAGE_NAME, VERSION FROM LIFEBOAT.INFORMATION_SCHEMA.PACKAGES")
    assert params is not None and params[-1] == "3.11" and "xgboost" in params and "cloudpickle" in params
    assert registry.list_versions() == []
    account.channel["snowflake-ml-python"] = ["1.7.0"]  # embedded by the library when missing: a warning
    account.channel["xgboost"] = ["3.2.0"]
    assert log(registry).version == "V1"


# -- one warehouse answer --------------------------------------------------------------------------------
def test_one_warehouse_answer_is_one_bound_statement(
    registry: SnowflakeRegistry, contracts: Contracts, account: FakeAccount
) -> None:
    """Finding 5: after the version's first answer (lookup and checks, once), each answer is one
    `SELECT MODEL(...)!PREDICT_PROBA(?, ...)`: no lookups, no mv.run, no temporary table."""
    log(registry)
    scorer = WarehouseScorer(registry, refresh_seconds=3600, fallback=False)
    first = Passenger.create(pclass=1, sex="female", age=29)
    scorer.predict(first)  # warm-up: the version is looked up, its function checked, the model fetched
    account.reset()
    passenger = Passenger.create(pclass=3, sex="male", age=30, embarked="S")
    answer = scorer.predict(passenger)
    assert account.calls() == ["Session.sql", "DataFrame.collect"]  # built, then run: one round trip
    [(statement, params)] = contracts.statements
    from ml.snowflake.sql import bound_scoring_sql

    assert statement == bound_scoring_sql("LIFEBOAT.PUBLIC.TITANIC", "V1")
    assert statement.startswith(
        "SELECT MODEL(LIFEBOAT.PUBLIC.TITANIC, V1)!PREDICT_PROBA(?::FLOAT, ?::VARCHAR"
    )
    said = dict(zip(INPUT_COLUMNS, params or [], strict=True))
    assert said == {
        "PCLASS": 3.0,
        "SEX": "male",
        "AGE": 30.0,
        "SIBSP": None,
        "PARCH": None,
        "FARE": None,
        "EMBARKED": "S",
        "TITLE": None,
        "NAME": None,
    }  # None, not NaN, for what the person did not say: NULL, which the model imputes
    assert answer.probability == pytest.approx(Scorer(registry).predict(passenger).probability, abs=1e-12)
    assert scorer.status()["path"] == "warehouse" and scorer.status()["fallbacks"] == 0


def test_a_version_with_another_signature_is_not_servable(
    registry: SnowflakeRegistry, contracts: Contracts, account: FakeAccount
) -> None:
    from ml.snowflake.errors import NotServableError

    log(registry)
    mv = account.version("TITANIC", "V1")
    functions = mv.show_functions.return_value
    mv.show_functions.return_value = [{**functions[0], "name": "PREDICT"}]
    values = [1.0, "female", *[None] * 7]
    with pytest.raises(NotServableError, match="has no PREDICT_PROBA function"):
        registry.score_in_warehouse("V1", values)
    mv.show_functions.return_value = [{**functions[0], "signature": mv_signature_without_name()}]
    with pytest.raises(NotServableError, match="not lifeboat's inputs"):
        registry.score_in_warehouse("V1", values)
    assert not [q for q, _ in contracts.statements if "MODEL(" in q]  # nothing sent to the warehouse


def mv_signature_without_name() -> Any:
    from snowflake.ml.model import model_signature

    from ml.snowflake.model import signatures

    full = signatures()["predict_proba"]
    return model_signature.ModelSignature(inputs=full.inputs[:-1], outputs=full.outputs)


def test_batches_still_go_through_mv_run_on_the_looked_up_version(
    registry: SnowflakeRegistry, account: FakeAccount
) -> None:
    log(registry)
    scorer = WarehouseScorer(registry, refresh_seconds=3600, fallback=False)
    frame = load_csv().head(20)
    np.testing.assert_allclose(scorer.score_frame(frame), fitted_model().predict_frame(frame), atol=1e-12)
    scorer.score_frame(frame)
    mv = account.version("TITANIC", "V1")
    assert mv.run.call_count == 2 and mv.run.call_args.kwargs == {"function_name": "predict_proba"}
    assert account.c.registry.get_model.call_args_list.count(mock.call("TITANIC")) >= 1


# -- sessions, statements, procedures -------------------------------------------------------------------
def test_open_session_goes_through_the_builder_with_qmark_binds(
    contracts: Contracts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "snowflake"
    home.mkdir()
    (home / "connections.toml").write_text('[lifeboat]\naccount = "a"\nuser = "u"\nparamstyle = "pyformat"\n')
    (home / "connections.toml").chmod(0o600)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    builder = contracts.mock(Session.SessionBuilder)
    monkeypatch.setattr(Session, "builder", builder)
    context = {"USER": "U", "ROLE": "R", "WAREHOUSE": None, "DATABASE": "LIFEBOAT", "SCHEMA": "PUBLIC"}

    def current(query: str, params: Any) -> list[Row]:  # the context, in the order asked
        return [Row(*(context[part] for part in re.findall(r"CURRENT_(\w+)\(\)", query)))]

    contracts.answer_sql([("CURRENT_ROLE", current)])
    from dataclasses import replace

    with pytest.raises(SnowflakeUnavailable) as refused:
        sf_session.open_session(replace(SETTINGS, snowflake_connection="lifeboat"))
    [params] = builder.configs.call_args.args
    assert params["paramstyle"] == "qmark"  # Session.sql binds `?` only; pyformat would rewrite them
    assert "no usable warehouse for role R" in str(refused.value)
    builder.create.assert_called_once_with()
    contracts.session.close.assert_called_once_with()  # not left open after the refusal


def test_the_run_store_sends_bound_statements_through_session_sql(contracts: Contracts) -> None:
    contracts.answer_sql([("^SELECT COUNT", [Row(HELD=1)]), (".", [Row(**{"number of rows updated": 1})])])
    store = SnowflakeRunStore(SessionSql(contracts.session), SETTINGS)
    assert store.holds("run1") and store.heartbeat("run1") and store.fence("run1", 60.0)
    sent = [q.split()[0] for q, _ in contracts.statements]
    assert sent == ["SELECT", "UPDATE", "BEGIN", "UPDATE", "UPDATE", "COMMIT"]
    fence, params = contracts.statements[4]
    assert "GREATEST(EXPIRES_AT" in fence and params == [60.0, "retrain:TITANIC", "run1"]


def test_score_table_replaces_the_score_of_a_scored_table(
    contracts: Contracts, account: FakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 6, end to end: the source already has SURVIVAL_PROBABILITY."""
    monkeypatch.setattr(sf_session, "open_session", lambda settings: contracts.session)
    columns = ["PCLASS", "SEX", "AGE", "NAME", "SURVIVAL_PROBABILITY"]
    account.tables.add("LIFEBOAT.PUBLIC.SCORED")
    original = account._table

    def table(name: Any, *args: Any, **kwargs: Any) -> Any:
        found = original(name)
        if name == "LIFEBOAT.PUBLIC.SCORED":
            type(found).columns = mock.PropertyMock(return_value=columns)
        if name == "LIFEBOAT.PUBLIC.RESCORED":
            found.count.return_value = 891
        return found

    contracts.session.table.side_effect = table
    account.refused[r"^CREATE TABLE .* AS SELECT \*, "] = (
        "002025 (42S21): SQL compilation error: duplicate column name 'SURVIVAL_PROBABILITY'"
    )
    assert score_table(SETTINGS, "SCORED", "RESCORED") == 891
    [(statement, _)] = contracts.statements
    assert statement.startswith(
        "CREATE TABLE LIFEBOAT.PUBLIC.RESCORED AS SELECT * EXCLUDE (SURVIVAL_PROBABILITY), "
    )
    assert statement.count("AS SURVIVAL_PROBABILITY") == 1
    contracts.session.close.assert_called_once_with()


def test_the_procedures_ask_for_the_tested_snowflake_ml_python(contracts: Contracts, tmp_path: Path) -> None:
    """Finding 7: an unpinned package lets the channel's solver pick a 1.x without the APIs used."""
    register_temporary_procedure(contracts.session, lambda session: "", "LIFEBOAT_TEST", [], tmp_path)
    sproc = contracts.session.sproc
    packages = sproc.register.call_args.kwargs["packages"]
    [ml] = [Requirement(p) for p in packages if Requirement(p).name == "snowflake-ml-python"]
    assert ml.specifier.contains("2.6.0") and not ml.specifier.contains("1.17.0")
    assert not ml.specifier.contains("3.0.0")
    assert {Requirement(p).name for p in packages} >= {"xgboost", "scikit-learn", "snowflake-snowpark-python"}
    kwargs = sproc.register.call_args.kwargs
    assert (kwargs["is_permanent"], kwargs["execute_as"], kwargs["imports"]) == (
        False,
        "caller",
        [(str(tmp_path), "ml")],
    )


def test_a_training_call_is_started_without_blocking_and_followed(
    contracts: Contracts, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = contracts.mock(AsyncJob)
    contracts.session.call.return_value = job
    type(contracts.mock(DataFrame)).columns = mock.PropertyMock(return_value=["PCLASS", "SEX"])
    contracts.mock(DataFrame).collect.return_value = []
    job.is_done.return_value = True
    job.result.return_value = json.dumps({"version": "V4"})
    started = start_training(contracts.session, SETTINGS, actor="ann")
    name, *arguments = contracts.session.call.call_args.args
    assert name == "LIFEBOAT_TRAIN" and contracts.session.call.call_args.kwargs == {"block": False}
    assert arguments[:3] == ["LIFEBOAT", "PUBLIC", TABLE] and arguments[5] == "ann"
    assert started.done and started.poll() == [] and started.result() == {"version": "V4"}
    job.result.assert_called_once_with()


def test_a_misspelt_keyword_to_a_kwargs_method_is_caught() -> None:
    """The check the `contracts` fixture runs after every test, shown failing."""
    wired = Contracts()
    wired.session.create_dataframe([[1]], schema=["A"]).write.save_as_table("T", mode="append", cmment="x")
    wired.session.sproc.register(lambda s: "", name="P", pakages=[])
    assert wired.unknown_keywords() == [
        "DataFrameWriter.save_as_table(... cmment=...)",
        "StoredProcedureRegistration.register(... pakages=...)",
    ]
    with pytest.raises(TypeError):
        wired.registry.log_model(object(), "TITANIC")  # model_name is keyword-only
    with pytest.raises(AttributeError):
        wired.version.exprt("/tmp")  # no such method
