"""Against a real Snowflake account: what Snowpark's local testing mode and the autospecs cannot show.

Skipped unless LIFEBOAT_SNOWFLAKE_TEST_CONNECTION names a connections.toml entry. Everything is
created under unique names (a model LIFEBOAT_TEST_xxxx, tables TITANIC_TEST_xxxx, SCORED_xxxx) in
LIFEBOAT_SNOWFLAKE_DATABASE/SCHEMA (default LIFEBOAT.PUBLIC) and dropped at the end. The role
needs the privileges listed in the README's Snowflake section (`lifeboat doctor` says which are
missing). Each test runs alone (`pytest tests/ml/snowflake/test_live.py::test_x`): what it needs,
the passenger table and a served version, comes from module fixtures that create it when missing,
and comparisons are made against the version the registry serves, whatever ran before. The
retraining tables (LIFEBOAT_RUNS, LIFEBOAT_LOCKS) are shared by every model in the schema: only
the test model's rows are deleted.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml.config import MLSettings
from ml.core.passenger import Passenger
from ml.core.training import TrainConfig, train
from ml.io.data import load_csv

LIVE = os.environ.get("LIFEBOAT_SNOWFLAKE_TEST_CONNECTION", "").strip()
pytestmark = [
    pytest.mark.snowflake,
    pytest.mark.skipif(
        not LIVE,
        reason="set LIFEBOAT_SNOWFLAKE_TEST_CONNECTION to a connections.toml entry to run live Snowflake tests",
    ),
]
SUFFIX = uuid.uuid4().hex[:8].upper()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> MLSettings:
    return MLSettings(
        backend="snowflake",
        home=tmp_path_factory.mktemp("live-home"),
        model_name=f"LIFEBOAT_TEST_{SUFFIX}",
        snowflake_connection=LIVE,
        snowflake_database=os.environ.get("LIFEBOAT_SNOWFLAKE_DATABASE", "LIFEBOAT").upper(),
        snowflake_schema=os.environ.get("LIFEBOAT_SNOWFLAKE_SCHEMA", "PUBLIC").upper(),
        snowflake_table=f"TITANIC_TEST_{SUFFIX}",
        snowflake_warehouse=os.environ.get("LIFEBOAT_SNOWFLAKE_WAREHOUSE", "").upper(),
        members=10,
        cv_folds=2,
        cv_repeats=1,
    )


@pytest.fixture(scope="module")
def registry(settings: MLSettings) -> Iterator[Any]:
    from ml.snowflake.registry import SnowflakeRegistry

    reg = SnowflakeRegistry.from_settings(settings)
    yield reg
    _cleanup(reg, settings)
    reg.close()


@pytest.fixture(scope="module")
def loaded(settings: MLSettings, registry: Any) -> MLSettings:
    """The passenger table, written once per module (by the test that needs it first)."""
    from ml.snowflake.data import load_data
    from ml.snowflake.objects import table_exists

    if not table_exists(
        registry.session,
        f"{settings.snowflake_database}.{settings.snowflake_schema}.{settings.snowflake_table}",
    ):
        load_data(settings, None, replace=True)
    return settings


@pytest.fixture(scope="module")
def served(registry: Any) -> str:
    """A default version to serve: V1 logged from this machine if the model has none yet."""
    if registry.get_default() is None:
        registry.log_model(
            local_model(),
            metrics={"holdout_log_loss": 0.4},
            params={"max_depth": 2},
            comment="live test: served",
            created_by="tests",
            data_fingerprint="sha256:test",
            info={"live": True},
        )
    default = registry.get_default()
    assert default is not None
    return str(default)


def _cleanup(reg: Any, settings: MLSettings) -> None:
    from snowflake.snowpark.functions import col

    from ml.snowflake import identifiers, objects

    session = reg.session
    with contextlib.suppress(Exception):  # not created if an early test failed
        reg.store.registry.delete_model(settings.model_name)
    for table in (settings.snowflake_table, f"SCORED_{SUFFIX}", f"RESCORED_{SUFFIX}"):
        session.sql(f"DROP TABLE IF EXISTS {identifiers.in_schema(settings, table)}").collect()
    with contextlib.suppress(Exception):
        session.table(objects.audit_table(settings)).delete(col("MODEL_NAME") == settings.model_name)
    _delete_runs(session, settings)


def _delete_runs(session: Any, settings: MLSettings) -> None:
    """The test model's retraining runs, lock and progress rows (the tables stay: shared)."""
    from snowflake.snowpark.functions import col

    from ml.snowflake import objects
    from ml.snowflake.runs import lock_name

    with contextlib.suppress(Exception):  # not created if no retraining test ran
        runs = session.table(objects.runs_table(settings))
        ids = [row["ID"] for row in runs.filter(col("MODEL_NAME") == settings.model_name).collect()]
        runs.delete(col("MODEL_NAME") == settings.model_name)
        session.table(objects.locks_table(settings)).delete(col("NAME") == lock_name(settings))
        if ids:
            session.table(objects.progress_table(settings)).delete(col("RUN_ID").isin(ids))


def local_model() -> Any:
    from tests.support.models import fitted_model

    return fitted_model()


def log_local(registry: Any, **kwargs: Any) -> Any:
    return registry.log_model(
        local_model(),
        metrics={"holdout_log_loss": 0.39},
        params={},
        comment=kwargs.pop("comment", "live test"),
        created_by=kwargs.pop("created_by", "tests"),
        data_fingerprint="sha256:test",
        **kwargs,
    )


# -- data, the registry, scoring -----------------------------------------------------------------------
def test_load_data(settings: MLSettings, registry: Any) -> None:
    from ml.snowflake.data import load_data, read_passengers

    assert load_data(settings, None, replace=True) == 891
    back = read_passengers(registry.session, settings)
    assert back["name"].tolist() == load_csv()["name"].tolist()


def test_a_logged_version_is_complete_and_loads_back(registry: Any) -> None:
    """Finding 1 live: the record arrives inside the version and as its metadata copy, `$` and all
    (dollar-quoted statements end at the first `$$`)."""
    comment, creator = "live test: cost $$5 (was $3)$", "ops$$bot"
    version = log_local(registry, comment=comment, created_by=creator)
    assert (version.comment, version.created_by, version.metrics) == (
        comment,
        creator,
        {"holdout_log_loss": 0.39},
    )
    assert version.version not in registry.incomplete_versions()
    frame = load_csv()
    np.testing.assert_array_equal(
        registry.load_model(version.version).predict_frame(frame), local_model().predict_frame(frame)
    )


def test_warehouse_scoring_equals_local_scoring(registry: Any, served: str) -> None:
    from ml.io.serving import Scorer
    from ml.snowflake.scoring import WarehouseScorer

    warehouse, local = WarehouseScorer(registry, fallback=False), Scorer(registry)
    frame = load_csv()
    np.testing.assert_allclose(warehouse.score_frame(frame), local.score_frame(frame), rtol=0, atol=1e-9)
    for passenger in (
        Passenger.create(pclass=2, sex="female", age=30, sibsp=1),
        Passenger.create(pclass=3, sex="male"),
    ):
        assert warehouse.predict(passenger).probability == pytest.approx(
            local.predict(passenger).probability, abs=1e-9
        )
    assert warehouse.status()["fallbacks"] == 0 and warehouse.status()["path"] == "warehouse"


def test_one_warehouse_answer_is_one_statement(registry: Any, served: str) -> None:
    """Finding 5 live: binds inside MODEL(...)!PREDICT_PROBA(?...) work, and after warm-up one
    answer is one query (describes included) on the session."""
    from ml.snowflake.scoring import WarehouseScorer

    scorer = WarehouseScorer(registry, refresh_seconds=3600, fallback=False)
    scorer.predict(Passenger.create(pclass=1, sex="female"))  # warm-up: lookups, checks, fetch
    started = time.monotonic()
    with registry.session.query_history(include_describe=True) as history:
        scorer.predict(Passenger.create(pclass=3, sex="male", age=40))
    elapsed = time.monotonic() - started
    assert [q.sql_text.split("(")[0] for q in history.queries] == ["SELECT MODEL"], history.queries
    print(f"one warehouse answer: {len(history.queries)} statement, {elapsed:.2f} s")


def test_sql_model_function_equals_local_scoring(
    settings: MLSettings, loaded: MLSettings, registry: Any, served: str
) -> None:
    from ml.snowflake.data import ROW_COLUMN
    from ml.snowflake.sql import scoring_sql

    model = registry.load_model(served)
    scored = registry.session.sql(scoring_sql(settings)).to_pandas().sort_values(ROW_COLUMN)
    np.testing.assert_allclose(
        scored["SURVIVAL_PROBABILITY"].to_numpy(dtype=float), model.predict_frame(load_csv()), atol=1e-9
    )
    pinned = registry.session.sql(scoring_sql(settings, served)).to_pandas().sort_values(ROW_COLUMN)
    np.testing.assert_allclose(pinned["SURVIVAL_PROBABILITY"], scored["SURVIVAL_PROBABILITY"], atol=0)


def test_score_and_rescore_a_table_in_the_warehouse(
    settings: MLSettings, loaded: MLSettings, registry: Any, served: str
) -> None:
    """Finding 6 live: a scored table scored again gets its score replaced (EXCLUDE), and EXCLUDE
    of a column a table lacks is an error (why it is only sent when the column is there)."""
    from ml.snowflake.data import ROW_COLUMN, TableExistsError
    from ml.snowflake.scoring import score_table

    into, again = f"SCORED_{SUFFIX}", f"RESCORED_{SUFFIX}"
    assert score_table(settings, settings.snowflake_table, into) == 891
    assert score_table(settings, into, again) == 891
    table = registry.session.table(f"{settings.snowflake_database}.{settings.snowflake_schema}.{again}")
    assert table.columns.count("SURVIVAL_PROBABILITY") == 1
    values = table.sort(ROW_COLUMN).to_pandas()["SURVIVAL_PROBABILITY"].to_numpy(dtype=float)
    np.testing.assert_allclose(values, registry.load_model(served).predict_frame(load_csv()), atol=1e-9)
    with pytest.raises(TableExistsError):
        score_table(settings, settings.snowflake_table, into)
    source = f"{settings.snowflake_database}.{settings.snowflake_schema}.{settings.snowflake_table}"
    with pytest.raises(Exception, match=r"(?i)invalid identifier|does not exist"):
        registry.session.sql(f"SELECT * EXCLUDE (SURVIVAL_PROBABILITY) FROM {source}").collect()


def test_set_default_moves_what_serves(registry: Any, served: str) -> None:
    version = log_local(registry, comment="live test: to promote")
    assert not version.is_default
    assert registry.set_default(version.version, actor="tests") == served
    assert registry.default_token() == version.version
    assert [e.action for e in registry.history(3)][:2] == ["promote", "register"]
    assert registry.previous_default() == served
    registry.set_default(served, actor="tests", action="rollback")  # the others compare with it


def test_the_package_channel_has_what_this_machine_logs(settings: MLSettings, registry: Any) -> None:
    """Finding 4 live: the same query the registry runs before each upload."""
    import tempfile

    from ml.io.artifacts import save_model
    from ml.snowflake.channel import check_requirements, model_requirements
    from ml.snowflake.model import log_arguments
    from ml.snowflake.package import stage_code

    with tempfile.TemporaryDirectory() as tmp:
        save_model(local_model(), Path(tmp) / "m")
        python, wanted = model_requirements(log_arguments(Path(tmp) / "m", stage_code(Path(tmp) / "c")))
    found = check_requirements(registry.session, settings.snowflake_database, wanted, python)
    print("\n".join(a.describe() for a in found))
    assert {a.name for a in found} == {"xgboost", "numpy", "pandas", "cloudpickle", "snowflake-ml-python"}


def test_train_in_the_warehouse(settings: MLSettings, loaded: MLSettings, registry: Any) -> None:
    """Finding 7 live: the procedure registers with snowflake-ml-python>=2.6,<3 pinned."""
    from ml.snowflake.train import train_in_warehouse

    before = {v.version for v in registry.list_versions()}
    steps: list[str] = []
    version = train_in_warehouse(settings, "tests", "live test: trained in the warehouse", steps.append)
    assert version.version not in before
    assert steps[0] == "load data" and "register" in steps and steps[-1] == "done"
    assert version.info["trained_in"] == "snowflake stored procedure"
    local = train(load_csv(), TrainConfig.from_settings(settings))
    assert version.data_fingerprint == local.data_fingerprint
    assert version.info["holdout_fingerprint"] == local.holdout_fingerprint
    # Same recipe and rows; the warehouse's xgboost may be another version, so allow a little.
    for name, value in local.metrics().items():
        assert version.metrics[name] == pytest.approx(value, abs=0.02), name


# -- retraining runs ----------------------------------------------------------------------------------------
def _replica(settings: MLSettings) -> Any:
    """A run store on a session of its own, as each bot replica has."""
    from ml.snowflake.runs import SessionSql, SnowflakeRunStore
    from ml.snowflake.session import open_session

    return SnowflakeRunStore(SessionSql(connect=lambda: open_session(settings)), settings)


def test_replicas_racing_for_the_retraining_lock_get_exactly_one(settings: MLSettings, registry: Any) -> None:
    from ml.io.runs import FAILED, SUCCEEDED, Acquired, Busy
    from ml.jobs.retrain import STEPS

    replicas = [_replica(settings) for _ in range(3)]
    try:
        for store in replicas:  # log in first, so the race is between transactions, not logins
            store.recent(1)
        barrier = threading.Barrier(len(replicas))
        results: list[Any] = []

        def start(store: Any) -> None:
            barrier.wait()
            results.append(store.start("tests", len(STEPS)))

        threads = [threading.Thread(target=start, args=(store,)) for store in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [r for r in results if isinstance(r, Acquired)]
        assert len(won) == 1, results
        winner = won[0].run.id
        assert all(r.run.id == winner for r in results if isinstance(r, Busy))
        assert all(store.current().id == winner for store in replicas)
        assert replicas[2].heartbeat(winner)  # the lease is the run's, renewable from any session
        replicas[1].finish(winner, status=SUCCEEDED, decision="race test")
        assert all(store.current() is None for store in replicas)

        # A replica that stops heart-beating loses its lease to another (server time).
        first = replicas[0].start("tests", len(STEPS), lease=2.0)
        assert isinstance(first, Acquired)
        assert isinstance(replicas[1].start("tests", len(STEPS)), Busy)
        time.sleep(3.0)
        second = replicas[1].start("tests", len(STEPS))
        assert isinstance(second, Acquired)
        dead = replicas[2].get(first.run.id)
        assert dead.status == FAILED and "stopped responding" in dead.error
        replicas[1].finish(second.run.id, status=SUCCEEDED, decision="race test")
    finally:
        for store in replicas:
            store.close()


def test_the_fence_reserves_the_lease_on_snowflake(settings: MLSettings, registry: Any) -> None:
    """Finding 2 live: GREATEST in the guarded UPDATE, on the server's clock."""
    from ml.io.runs import SUCCEEDED, Acquired, Busy
    from ml.jobs.retrain import STEPS

    one, other = _replica(settings), _replica(settings)
    try:
        claim = one.start("tests", len(STEPS), lease=2.0)
        assert isinstance(claim, Acquired)
        assert one.fence(claim.run.id, 20.0) and not other.fence("someone-else", 20.0)
        time.sleep(3.0)  # past the 2 s lease, inside the 20 s fence: nobody can take the lock
        assert isinstance(other.start("tests", len(STEPS)), Busy)
        one.finish(claim.run.id, status=SUCCEEDED, decision="fence test")
        assert not one.fence(claim.run.id, 20.0)
    finally:
        one.close()
        other.close()


def test_a_retraining_run_in_the_warehouse(
    settings: MLSettings, loaded: MLSettings, registry: Any, served: str
) -> None:
    """RetrainService on the Snowflake backend: lock and run record in LIFEBOAT_RUNS/LOCKS, the
    steps in the LIFEBOAT_RETRAIN procedure (fenced around registering), polled; the champion is
    the current default."""
    from ml.backend import open_backend
    from ml.jobs.retrain import STEPS
    from ml.snowflake.runs import SnowflakeRunStore

    service = open_backend(settings, registry=registry).retraining()
    assert isinstance(service.store, SnowflakeRunStore) and service.work is not None
    champion = registry.get_default()
    before = {v.version for v in registry.list_versions()}
    seen: list[str] = []
    outcome = service.run_blocking("tests", progress=seen.append)
    assert outcome.ok, outcome.summary()
    run = outcome.run
    assert seen == list(STEPS) and run.step_index == len(STEPS)
    assert run.version not in before
    version = registry.get_version(run.version)
    assert version.info["run_id"] == run.id and version.info["decision"]["reason"] == run.decision
    assert version.info["decision"]["champion_version"] == champion
    assert (registry.get_default() == run.version) == bool(run.promoted)
    event = registry.history(1)[0]
    assert (event.action, event.to_version, event.details["run_id"]) == ("retrain", run.version, run.id)
    assert service.store.current() is None
    assert service.store.recent(1)[0].id == run.id
    other = _replica(settings)  # another replica sees the same history
    try:
        assert other.get(run.id) == service.store.get(run.id)
    finally:
        other.close()
    if run.promoted:
        registry.set_default(champion, actor="tests", action="rollback")  # the others compare with it


# -- the doctor and connection errors ---------------------------------------------------------------------
def test_lifeboat_doctor_passes_on_this_account(
    settings: MLSettings, loaded: MLSettings, served: str
) -> None:
    """Every check against the account: grants by probes, the package channel, the procedure, and
    the round trip (log, mv.run, the bound SQL, local, drop) under a throwaway name."""
    from ml.snowflake.doctor import DOCTOR_PREFIX, run_snowflake

    results = run_snowflake(settings, lambda r: print(r.status, r.name, r.detail, r.fix))
    assert [(r.name, r.detail, r.fix) for r in results if not r.ok] == []
    throwaway = next(r.name for r in results if r.name.startswith("drop ")).split()[1]
    assert throwaway.startswith(DOCTOR_PREFIX)
    from ml.snowflake.session import open_session

    session = open_session(settings)
    try:
        where = f"{settings.snowflake_database}.{settings.snowflake_schema}"
        assert session.sql(f"SHOW MODELS LIKE '{throwaway}' IN SCHEMA {where}").collect() == []
    finally:
        session.close()


def test_a_missing_database_is_named(settings: MLSettings) -> None:
    from ml.snowflake.errors import SnowflakeUnavailable
    from ml.snowflake.session import open_session

    with pytest.raises(SnowflakeUnavailable, match="does not exist"):
        open_session(replace(settings, snowflake_database=f"NO_SUCH_DB_{SUFFIX}"))


def test_cache_dir_is_under_lifeboat_home(settings: MLSettings, registry: Any) -> None:
    assert Path(registry.cache_dir).is_relative_to(Path(settings.home))
