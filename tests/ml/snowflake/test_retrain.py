"""Retraining on the Snowflake backend, without an account.

- The run store (ml.snowflake.runs): its SQL as text; the statements as `SessionSql` sends them,
  run against a Snowpark-session stand-in that executes them on SQLite (qmark binds, BEGIN
  TRANSACTION/COMMIT/ROLLBACK, DML answering Snowflake's count rows); replicas racing for the lock;
  and the SQLiteRunStore semantics (lease, expiry, heartbeat, finish) on a clock the test controls.
- The warehouse work (ml.snowflake.retrain): progress rows -> step(i), the JSON round trip and
  failures, with a stand-in job; then the real procedure, run in process by Snowpark's local testing
  session, through `execute_run` end to end, and its fence (no lease, no registration).

What only Snowflake can show (its locking under concurrent sessions, the procedure in a warehouse)
is in test_snowflake_live.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from snowflake.snowpark import Row, Session

from ml.backend import open_backend
from ml.io.runs import FAILED, RUNNING, SUCCEEDED, Acquired, Busy, Run
from ml.jobs.retrain import STEPS, Challenged, Decision, RetrainError, execute_run
from ml.snowflake import retrain as sf_retrain
from ml.snowflake import runs as sf_runs
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.objects import LOCK_GUARD, locks_schema, locks_seed, runs_schema
from ml.snowflake.registry import SnowflakeRegistry
from ml.snowflake.retrain import (
    StepMapper,
    challenged_from,
    follow,
    outcome_json,
    retrain_procedure,
    warehouse_work,
)
from ml.snowflake.runs import (
    EXPIRED_ERROR,
    LOST_RACE_ERROR,
    SNOWFLAKE_NOW,
    SessionSql,
    SnowflakeRunStore,
    TableSpec,
)
from ml.snowflake.train import DONE, procedure_error
from tests.support.models import FAST_CONFIG, fitted_model
from tests.support.snowflake import SETTINGS, FakeStore
from tests.support.sqlite_sql import SQLiteSql

RUNS = "LIFEBOAT.PUBLIC.LIFEBOAT_RUNS"
LOCKS = "LIFEBOAT.PUBLIC.LIFEBOAT_LOCKS"
N = len(STEPS)


class Clock:
    """The "server" clock, moved by the test."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def specs() -> list[TableSpec]:
    return [TableSpec(RUNS, runs_schema), TableSpec(LOCKS, locks_schema, locks_seed)]


@pytest.fixture
def run_store(clock: Clock) -> SnowflakeRunStore:
    return SnowflakeRunStore(SQLiteSql(clock=clock), SETTINGS)


# -- the SQL as text -------------------------------------------------------------------------------
STATEMENTS = [
    sf_runs.touch_guard(LOCKS, SNOWFLAKE_NOW),
    sf_runs.insert_guard(LOCKS),
    sf_runs.select_lock(LOCKS, SNOWFLAKE_NOW),
    sf_runs.select_holders(LOCKS),
    sf_runs.insert_lock(LOCKS, SNOWFLAKE_NOW),
    sf_runs.renew_lock(LOCKS, SNOWFLAKE_NOW),
    sf_runs.delete_lock(LOCKS),
    sf_runs.lock_held(LOCKS, SNOWFLAKE_NOW),
    sf_runs.fence_lock(LOCKS, SNOWFLAKE_NOW),
    sf_runs.insert_run(RUNS, SNOWFLAKE_NOW),
    sf_runs.fail_expired_run(RUNS, SNOWFLAKE_NOW),
    sf_runs.update_progress(RUNS),
    sf_runs.finish_run(RUNS, SNOWFLAKE_NOW),
    sf_runs.update_origin(RUNS),
    sf_runs.select_run(RUNS),
    sf_runs.select_recent(RUNS, 10),
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_statements_bind_every_value_and_name_only_our_tables(statement: str) -> None:
    assert "'" not in statement and '"' not in statement and ";" not in statement  # values are `?`
    assert any(table in statement for table in (RUNS, LOCKS))
    assert statement.replace(SNOWFLAKE_NOW, "").count("(") == statement.replace(SNOWFLAKE_NOW, "").count(")")


def test_time_is_the_servers_clock() -> None:
    assert SNOWFLAKE_NOW == "(DATE_PART(EPOCH_MILLISECOND, CURRENT_TIMESTAMP()) / 1000)::FLOAT"
    assert sf_runs.insert_lock(LOCKS, "NOW()") == (
        f"INSERT INTO {LOCKS} (NAME, HOLDER, ACQUIRED_AT, EXPIRES_AT) SELECT ?, ?, NOW(), NOW() + ?"
    )
    assert sf_runs.renew_lock(LOCKS, "NOW()") == (
        f"UPDATE {LOCKS} SET EXPIRES_AT = NOW() + ? WHERE NAME = ? AND HOLDER = ?"
    )
    assert sf_runs.touch_guard(LOCKS, "NOW()") == f"UPDATE {LOCKS} SET ACQUIRED_AT = NOW() WHERE NAME = ?"
    for statement in (sf_runs.insert_run(RUNS, "NOW()"), sf_runs.finish_run(RUNS, "NOW()")):
        assert "NOW()" in statement


def test_the_limit_is_a_number_not_text() -> None:
    assert sf_runs.select_recent(RUNS, 3).endswith("LIMIT 3")
    with pytest.raises(ValueError):
        sf_runs.select_recent(RUNS, "3; DROP TABLE X")  # type: ignore[arg-type]


def test_lock_names_are_per_model() -> None:
    assert sf_runs.lock_name(SETTINGS) == "retrain:TITANIC"
    assert sf_runs.lock_name(replace(SETTINGS, model_name="other")) == "retrain:OTHER"


# -- SessionSql against a Snowpark session stand-in that runs the statements on SQLite -------------------
class SnowflakeOnSQLite:
    """Answers `session.sql(query, params).collect()` as Snowflake does (DML -> a row of counts) by
    running the statement on a SQLite file; replicas are several of these on one file."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.create_function("LIFEBOAT_NOW", 0, lambda: float(clock()))
        self.db.create_function("GREATEST", 2, max)
        self.statements: list[str] = []
        self.fail_on: str | None = None
        self.closed = False

    def table(self, name: str) -> Any:
        return SimpleNamespace(columns=["NAME"])  # created beforehand: ensure_table finds them

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        return SimpleNamespace(collect=lambda: self._run(query, params or []))

    def _run(self, query: str, params: list[Any]) -> list[Row]:
        assert query.count("?") == len(params), query  # every `?` bound, nothing else
        self.statements.append(query)
        if self.fail_on and self.fail_on in query:
            raise RuntimeError(f"SQL compilation error: {self.fail_on} failed\nsecond line")
        if query.startswith("ALTER SESSION"):
            return [Row(status="Statement executed successfully.")]
        sql = query.replace(SNOWFLAKE_NOW, "LIFEBOAT_NOW()").replace("LIFEBOAT.PUBLIC.", "")
        sql = "BEGIN IMMEDIATE" if sql == "BEGIN TRANSACTION" else sql
        assert "::" not in sql
        cursor = self.db.execute(sql, params)
        verb = query.split()[0]
        if verb == "SELECT":
            names = [d[0].upper() for d in cursor.description]
            return [Row(**dict(zip(names, values, strict=True))) for values in cursor.fetchall()]
        if verb == "UPDATE":
            return [
                Row(**{"number of rows updated": cursor.rowcount, "number of multi-joined rows updated": 0})
            ]
        if verb in ("INSERT", "DELETE"):
            done = {"INSERT": "inserted", "DELETE": "deleted"}[verb]
            return [Row(**{f"number of rows {done}": cursor.rowcount})]
        return [Row(status="Statement executed successfully.")]

    def close(self) -> None:
        self.closed = True
        self.db.close()


@pytest.fixture
def account(tmp_path: Path, clock: Clock) -> Path:
    """One "account": a SQLite file with the run tables, as the store's DDL creates them."""
    path = tmp_path / "account.db"
    SQLiteSql(str(path), clock=clock).ensure(specs())
    return path


def test_start_is_one_transaction_that_begins_with_the_guard(account: Path, clock: Clock) -> None:
    session = SnowflakeOnSQLite(account, clock)
    run_store = SnowflakeRunStore(SessionSql(session), SETTINGS)  # type: ignore[arg-type]
    claim = run_store.start("ann", N, {"channel": "C1"})
    assert isinstance(claim, Acquired)
    verbs = [s.split(" WHERE")[0][:40] for s in session.statements]
    assert session.statements[0] == "BEGIN TRANSACTION"
    assert session.statements[1] == sf_runs.touch_guard(LOCKS, SNOWFLAKE_NOW)  # takes the table lock
    assert session.statements.index("COMMIT") == 5, verbs  # guard, read, lock row, run row
    assert session.statements[2] == sf_runs.select_lock(LOCKS, SNOWFLAKE_NOW)
    assert session.statements[3].startswith(f"INSERT INTO {LOCKS}")
    assert session.statements[4].startswith(f"INSERT INTO {RUNS}")
    assert session.statements[6] == sf_runs.select_holders(LOCKS)  # read back: who won
    run = claim.run
    assert (run.actor, run.status, run.step) == ("ann", RUNNING, "queued")
    assert (run.step_index, run.steps_total) == (0, N)
    assert run.started_at == clock.now and run.origin == {"channel": "C1"}


def test_a_failing_statement_rolls_the_transaction_back(account: Path, clock: Clock) -> None:
    session = SnowflakeOnSQLite(account, clock)
    run_store = SnowflakeRunStore(SessionSql(session), SETTINGS)  # type: ignore[arg-type]
    session.fail_on = f"INSERT INTO {RUNS}"
    with pytest.raises(SnowflakeUnavailable) as caught:
        run_store.start("ann", N)
    assert "\n" not in str(caught.value) and "use the retraining tables" in str(caught.value)
    assert session.statements[-1] == "ROLLBACK"
    session.fail_on = None
    assert run_store.current() is None  # the lock row written before the failure was rolled back
    assert isinstance(run_store.start("bob", N), Acquired)


def test_dml_counts_are_read_from_snowflakes_answer(account: Path, clock: Clock) -> None:
    session = SnowflakeOnSQLite(account, clock)
    run_store = SnowflakeRunStore(SessionSql(session), SETTINGS)  # type: ignore[arg-type]
    claim = run_store.start("ann", N)
    assert isinstance(claim, Acquired)
    assert run_store.heartbeat(claim.run.id) is True  # "number of rows updated" = 1
    assert run_store.heartbeat("someone-else") is False  # = 0


def test_replicas_racing_for_the_lock_get_exactly_one_run(account: Path, clock: Clock) -> None:
    sessions = [SnowflakeOnSQLite(account, clock) for _ in range(4)]
    stores = [SnowflakeRunStore(SessionSql(s), SETTINGS) for s in sessions]  # type: ignore[arg-type]
    barrier = threading.Barrier(len(stores))
    results: list[Acquired | Busy] = []

    def start(run_store: SnowflakeRunStore) -> None:
        barrier.wait()
        results.append(run_store.start("U_ADMIN", N))

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if isinstance(r, Acquired)]
    assert len(won) == 1
    assert {r.run.id for r in results if isinstance(r, Busy)} == {won[0].run.id}
    assert [r.id for r in stores[0].recent()] == [won[0].run.id]


def test_its_own_session_is_opened_on_first_use_with_a_lock_timeout(account: Path, clock: Clock) -> None:
    opened: list[SnowflakeOnSQLite] = []

    def connect() -> Any:
        opened.append(SnowflakeOnSQLite(account, clock))
        return opened[-1]

    sql = SessionSql(connect=connect)
    run_store = SnowflakeRunStore(sql, SETTINGS)
    assert opened == []  # creating the store (the bot starting) costs no login
    assert run_store.current() is None
    assert len(opened) == 1 and opened[0].statements[0] == "ALTER SESSION SET LOCK_TIMEOUT = 60"
    run_store.close()
    assert opened[0].closed


# -- the store's semantics (those of SQLiteRunStore), on a clock the test moves ---------------------------
def test_one_run_at_a_time_then_released(run_store: SnowflakeRunStore) -> None:
    first = run_store.start("ann", N)
    assert isinstance(first, Acquired)
    run_store.progress(first.run.id, "cross-validate", 2)
    busy = run_store.start("bob", N)
    assert isinstance(busy, Busy)
    assert (busy.run.id, busy.run.actor) == (first.run.id, "ann")
    assert (busy.run.step, busy.run.step_index) == ("cross-validate", 2)
    assert run_store.current() == busy.run
    run_store.finish(
        first.run.id,
        status=SUCCEEDED,
        version="V2",
        decision="promoted",
        promoted=True,
        result={"metrics": {"log_loss": 0.4}},
    )
    assert run_store.current() is None
    done = run_store.get(first.run.id)
    assert done is not None
    assert (done.status, done.version, done.decision, done.promoted) == (SUCCEEDED, "V2", "promoted", True)
    assert done.result == {"metrics": {"log_loss": 0.4}} and done.finished_at is not None
    assert isinstance(run_store.start("bob", N), Acquired)


def test_recent_origin_and_unknown_runs(run_store: SnowflakeRunStore, clock: Clock) -> None:
    ids = []
    for actor in ("ann", "bob", "cy"):
        claim = run_store.start(actor, N)
        assert isinstance(claim, Acquired)
        ids.append(claim.run.id)
        run_store.finish(claim.run.id, status=FAILED, error="boom")
        clock.now += 1
    assert [r.id for r in run_store.recent()] == ids[::-1]
    assert [r.id for r in run_store.recent(limit=2)] == ids[:0:-1]
    run_store.set_origin(ids[0], {"channel": "C1", "ts": "1.2"})
    run = run_store.get(ids[0])
    assert run is not None and run.origin == {"channel": "C1", "ts": "1.2"}
    assert run.promoted is None and run.error == "boom"
    assert run_store.get("nope") is None


def test_a_crashed_runs_lease_expires_and_it_is_marked_failed(
    run_store: SnowflakeRunStore, clock: Clock
) -> None:
    first = run_store.start("ann", N, lease=0.2)
    assert isinstance(first, Acquired)
    assert run_store.holds(first.run.id)
    clock.now += 0.3  # the holder never heart-beats: its lease runs out
    assert not run_store.holds(first.run.id)
    assert run_store.current() is None
    dead = run_store.get(first.run.id)
    assert dead is not None and dead.status == FAILED and dead.error == EXPIRED_ERROR
    assert dead.finished_at == clock.now
    assert isinstance(run_store.start("bob", N), Acquired)


def test_an_expired_lease_is_taken_over_by_start(run_store: SnowflakeRunStore, clock: Clock) -> None:
    first = run_store.start("ann", N, lease=0.2)
    assert isinstance(first, Acquired)
    clock.now += 1
    second = run_store.start("bob", N)
    assert isinstance(second, Acquired)
    assert run_store.get(first.run.id).status == FAILED  # type: ignore[union-attr]
    assert run_store.heartbeat(first.run.id) is False  # the dead run cannot renew what it lost


def test_heartbeats_keep_the_lease(run_store: SnowflakeRunStore, clock: Clock) -> None:
    claim = run_store.start("ann", N, lease=1.0)
    assert isinstance(claim, Acquired)
    for _ in range(5):
        clock.now += 0.8
        assert run_store.heartbeat(claim.run.id, lease=1.0)
    assert run_store.current() is not None and run_store.current().id == claim.run.id  # type: ignore[union-attr]
    run_store.finish(claim.run.id, status=SUCCEEDED)
    assert run_store.heartbeat(claim.run.id) is False
    assert not run_store.holds(claim.run.id)


def test_models_sharing_a_schema_do_not_block_each_other(clock: Clock) -> None:
    sql = SQLiteSql(clock=clock)
    titanic = SnowflakeRunStore(sql, SETTINGS)
    other = SnowflakeRunStore(sql, replace(SETTINGS, model_name="OTHER"))
    a, b = titanic.start("ann", N), other.start("bob", N)
    assert isinstance(a, Acquired) and isinstance(b, Acquired)
    assert [r.actor for r in titanic.recent()] == ["ann"] and [r.actor for r in other.recent()] == ["bob"]


def test_a_deleted_guard_row_is_put_back(run_store: SnowflakeRunStore) -> None:
    run_store.sql.count(f"DELETE FROM {run_store.locks} WHERE NAME = ?", [LOCK_GUARD])
    assert isinstance(run_store.start("ann", N), Acquired)
    guard = run_store.sql.rows(f"SELECT NAME FROM {run_store.locks} WHERE NAME = ?", [LOCK_GUARD])
    assert len(guard) == 1


class Intruding(SQLiteSql):
    """Another replica's lock and run appear between COMMIT and the read-back (what the guard
    prevents in Snowflake): the store must give way rather than run twice."""

    def rows(self, statement: str, params: Any = ()) -> list[dict[str, Any]]:
        if statement.startswith("SELECT HOLDER FROM") and not getattr(self, "intruded", False):
            self.intruded = True
            self.count(sf_runs.insert_lock("LIFEBOAT_LOCKS", self.now), ["retrain:TITANIC", "intruder", 30.0])
            self.count(
                sf_runs.insert_run("LIFEBOAT_RUNS", self.now),
                ["intruder", "TITANIC", "zed", RUNNING, "queued", 0, N, "{}", "{}"],
            )
        return super().rows(statement, params)


def test_a_run_that_sees_another_holder_after_commit_gives_way(clock: Clock) -> None:
    run_store = SnowflakeRunStore(Intruding(clock=clock), SETTINGS)
    claim = run_store.start("ann", N)
    assert isinstance(claim, Busy) and claim.run.id == "intruder"
    mine = [r for r in run_store.recent() if r.actor == "ann"]
    assert mine and mine[0].status == FAILED and mine[0].error == LOST_RACE_ERROR
    assert run_store.current() is not None and run_store.current().id == "intruder"  # type: ignore[union-attr]


# -- the warehouse work, with a stand-in job ----------------------------------------------------------
@dataclass
class FakeJob:
    """A procedure call: `polls` are the progress rows each poll returns; done after the last."""

    polls: list[list[str]]
    outcome: dict[str, Any] | None = None
    error: BaseException | None = None
    cancelled: bool = False
    polled: int = 0
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.polled >= len(self.polls)

    def poll(self) -> list[str]:
        if self.done:
            return []
        self.polled += 1
        return self.polls[self.polled - 1]

    def result(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome

    def cancel(self) -> None:
        self.cancelled = True


def test_progress_rows_become_steps_once_each_and_in_order() -> None:
    seen: list[int] = []
    mapper = StepMapper(seen.append, reported=0)
    mapper(["load data", "cross-validate"])
    mapper(["cross-validate"])  # a duplicate row
    mapper(["fit on all rows"])  # "evaluate on holdout" never arrived: reported before it
    mapper(["something else", DONE])
    assert seen == [1, 2, 3]
    mapper(["register"])
    assert seen == [1, 2, 3, 4, 5]


def test_follow_polls_until_done_and_fills_in_the_last_steps() -> None:
    seen: list[int] = []
    sleeps: list[float] = []
    polls = [["load data"], [], ["cross-validate", "evaluate on holdout"], ["fit on all rows"]]
    job = FakeJob(polls, outcome={"ok": 1})
    outcome = follow(job, StepMapper(seen.append, reported=0), poll_seconds=2.5, sleep=sleeps.append)
    assert outcome == {"ok": 1}
    assert seen == [1, 2, 3, 4, 5]  # decide and register: the procedure succeeded, so they began
    assert sleeps == [2.5] * 4 and not job.cancelled


def test_a_failure_on_this_side_cancels_the_procedure() -> None:
    job = FakeJob([["load data", "cross-validate"], ["evaluate on holdout"]], outcome={})

    def step(index: int) -> None:
        if STEPS[index] == "evaluate on holdout":
            raise RuntimeError("progress could not be recorded")

    with pytest.raises(RuntimeError, match="progress"):
        follow(job, StepMapper(step, reported=0), sleep=lambda s: None)
    assert job.cancelled


def test_the_outcome_json_round_trips(registry: SnowflakeRegistry) -> None:
    version = log_v1(registry)
    decision = Decision(
        True, "promoted: log loss 0.410 vs 0.420", {"log_loss": 0.41}, {"log_loss": 0.42}, "V0", 0.5
    )
    text = outcome_json("r1", Challenged(version, decision))
    back = challenged_from(json.loads(text), registry)
    assert back == Challenged(version, decision)
    with pytest.raises(RetrainError, match="without a version and a decision"):
        challenged_from({"version": "V1"}, registry)


def run_procedure(session: Session, run_id: str) -> Any:
    """The stored procedure's body, called as the CALL does, for run `run_id` of U_ADMIN."""
    return retrain_procedure(
        session,
        "LIFEBOAT",
        "PUBLIC",
        "TITANIC_DATA",
        "TITANIC",
        run_id,
        "U_ADMIN",
        json.dumps(asdict(FAST_CONFIG)),
        0.01,
    )


def log_v1(registry: SnowflakeRegistry) -> Any:
    return registry.log_model(
        fitted_model(),
        metrics={"holdout_log_loss": 0.41},
        params={"max_depth": 2},
        comment="champion",
        created_by="tests",
        data_fingerprint="sha256:abc",
    )


def test_the_snowflake_backend_retrains_in_the_warehouse_with_the_shared_store(
    registry: SnowflakeRegistry,
) -> None:
    service = open_backend(SETTINGS, registry=registry).retraining()
    assert isinstance(service.store, SnowflakeRunStore)
    assert service.work is not None
    local = open_backend(replace(SETTINGS, backend="local"), registry=registry)
    assert local.work is None  # the local backend keeps doing the steps in process


def test_a_run_with_a_stand_in_procedure(registry: SnowflakeRegistry, runs: SnowflakeRunStore) -> None:
    """execute_run + warehouse_work: the run record advances with the procedure's rows, and the
    JSON becomes the registered version and the decision."""
    run_store = runs
    claim = run_store.start("U_ADMIN", N)
    assert isinstance(claim, Acquired)
    version = log_v1(registry)  # what the "procedure" registered
    decision = Decision(
        False, "kept V0: log loss 0.500 vs 0.400", {"log_loss": 0.5}, {"log_loss": 0.4}, "V0", 0.6
    )
    job = FakeJob(
        [
            ["load data"],
            ["cross-validate"],
            ["evaluate on holdout", "fit on all rows"],
            ["decide", "register", DONE],
        ],
        outcome=json.loads(outcome_json(claim.run.id, Challenged(version, decision))),
    )
    records: list[tuple[str, int]] = []

    def start(session: Any, settings: Any, *, run: Run, config: Any, tolerance: float) -> FakeJob:
        job.args = {"session": session, "run": run.id, "config": config, "tolerance": tolerance}
        return job

    def progress(name: str) -> None:
        current = run_store.get(claim.run.id)
        assert current is not None
        records.append((current.step, current.step_index))

    work = warehouse_work(SETTINGS, registry, start=start, poll_seconds=0, sleep=lambda s: None)
    run = execute_run(
        claim.run.id, registry, run_store, config=FAST_CONFIG, progress=progress, tolerance=0.02, work=work
    )
    assert records == [(name, i + 1) for i, name in enumerate(STEPS)]
    assert job.args == {
        "session": registry.session,
        "run": claim.run.id,
        "config": FAST_CONFIG,
        "tolerance": 0.02,
    }
    assert (run.status, run.version, run.decision, run.promoted) == (SUCCEEDED, "V1", decision.reason, False)
    assert run.result["decision"] == decision.to_dict()
    assert run_store.current() is None
    audit = registry.history(1)[0]
    assert (audit.action, audit.to_version, audit.outcome) == ("retrain", "V1", "kept V0")


def test_a_failed_procedure_fails_the_run_with_one_line(
    registry: SnowflakeRegistry, runs: SnowflakeRunStore
) -> None:
    run_store = runs
    claim = run_store.start("U_ADMIN", N)
    assert isinstance(claim, Acquired)
    raised = RuntimeError(
        "100357 (P0000): Python Interpreter Error:\nTraceback (most recent call last):\n"
        '  File "x.py", line 1\nml.core.table.DataError: missing column survived\n in function LIFEBOAT_RETRAIN'
    )
    job = FakeJob(
        [["load data"], ["cross-validate"]], error=procedure_error(raised, "retraining in the warehouse")
    )
    work = warehouse_work(SETTINGS, registry, start=lambda *a, **k: job, poll_seconds=0, sleep=lambda s: None)
    run = execute_run(claim.run.id, registry, run_store, work=work)
    assert run.status == FAILED and run.step == "cross-validate"
    assert run.error == "retraining in the warehouse failed: ml.core.table.DataError: missing column survived"
    assert run_store.current() is None
    assert registry.history(1)[0].outcome == "failed"


# -- the procedure itself, run in process by the local testing session ---------------------------------
@pytest.fixture
def procedure_uses_fake_store(store: FakeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the procedure (run in process), the registry's Registry calls go to the same stand-in."""
    monkeypatch.setattr(
        sf_retrain,
        "procedure_registry",
        lambda session, settings: SnowflakeRegistry(
            session, settings, store=store, cache_dir=tmp_path / "procedure-cache"
        ),
    )


@pytest.mark.usefixtures("procedure_uses_fake_store")
def test_a_warehouse_run_end_to_end(
    loaded: Session, registry: SnowflakeRegistry, runs: SnowflakeRunStore
) -> None:
    log_v1(registry)
    run_store = runs
    claim = run_store.start("U_ADMIN", N)
    assert isinstance(claim, Acquired)
    seen: list[str] = []
    work = warehouse_work(SETTINGS, registry, poll_seconds=0)
    run = execute_run(claim.run.id, registry, run_store, config=FAST_CONFIG, progress=seen.append, work=work)
    assert run.status == SUCCEEDED, run.error
    assert seen == list(STEPS)
    assert run.version == "V2" and run.step_index == N
    version = registry.get_version("V2")
    assert version.created_by == "U_ADMIN"
    assert version.info["run_id"] == claim.run.id
    assert version.info["decision"]["reason"] == run.decision
    assert (registry.get_default() == "V2") == bool(run.promoted)
    rows = loaded.table("LIFEBOAT.PUBLIC.LIFEBOAT_TRAINING_PROGRESS").to_pandas().sort_values("SEQ")
    assert list(rows[rows["RUN_ID"] == claim.run.id]["STEP"]) == [*STEPS, DONE]
    assert [e.action for e in registry.history(2)] == ["retrain", "register"]
    assert run_store.current() is None


@pytest.mark.usefixtures("procedure_uses_fake_store")
def test_the_procedure_registers_nothing_without_the_lease(
    loaded: Session, registry: SnowflakeRegistry, runs: SnowflakeRunStore
) -> None:
    log_v1(registry)
    run_store = runs
    claim = run_store.start("U_ADMIN", N, lease=0.0)  # as if the worker stopped heart-beating at once
    assert isinstance(claim, Acquired)
    with pytest.raises(RetrainError, match="no longer holds the retraining lock"):
        run_procedure(loaded, claim.run.id)
    # Through the CALL and execute_run: one line, and still only V1.
    run = execute_run(
        claim.run.id, registry, run_store, config=FAST_CONFIG, work=warehouse_work(SETTINGS, registry)
    )
    assert run.status == FAILED and "\n" not in (run.error or "")
    assert run.error is not None and run.error.startswith("retraining in the warehouse failed: ")
    assert "no longer holds the retraining lock" in run.error
    assert [v.version for v in registry.list_versions()] == ["V1"]


# -- issue 11, finding 2: the lease is held through registering and promoting -------------------------
def forced_promotion(monkeypatch: pytest.MonkeyPatch) -> None:
    import ml.jobs.retrain

    decision = Decision(True, "promoted: forced by the test", {"log_loss": 0.4}, {"log_loss": 0.5}, "V1", 0.6)
    monkeypatch.setattr(ml.jobs.retrain, "gate", lambda *args, **kwargs: decision)


@pytest.mark.usefixtures("procedure_uses_fake_store")
def test_a_run_that_loses_its_lock_while_registering_registers_and_promotes_nothing(
    loaded: Session,
    registry: SnowflakeRegistry,
    runs: SnowflakeRunStore,
    store: FakeStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lease (30 s, renewed by the worker) was checked once before a log_model that takes
    minutes: meanwhile the worker died and another replica expired the run; the CALL went on."""
    from ml.io.registry import RegistryError

    log_v1(registry)
    forced_promotion(monkeypatch)
    claim = runs.start("U_ADMIN", N)
    assert isinstance(claim, Acquired)
    store.after_log = lambda version: runs.finish(claim.run.id, status=FAILED, error="expired")
    with pytest.raises((RetrainError, RegistryError), match="lost the retraining lock"):
        run_procedure(loaded, claim.run.id)
    assert registry.get_default() == "V1"
    assert [v.version for v in registry.list_versions()] == ["V1"]  # the upload was dropped


def test_a_promotion_made_after_the_lease_was_lost_is_taken_back(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    from ml.snowflake.registry import LeaseLostError

    log_v1(registry)
    answers = iter([True, False])  # after the upload: held; after SET DEFAULT_VERSION: gone
    registry.fence = lambda: next(answers)
    with pytest.raises(LeaseLostError, match="while promoting V2: V1 is the default again"):
        registry.log_model(
            fitted_model(),
            metrics={},
            params={},
            comment="c",
            created_by="t",
            data_fingerprint="f",
            make_default=True,
        )
    assert registry.get_default() == "V1"


def test_a_first_version_is_not_created_without_the_lease(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    """CREATE MODEL makes the first version the default by itself: the fence comes before it."""
    from ml.snowflake.registry import LeaseLostError

    registry.fence = lambda: False
    with pytest.raises(LeaseLostError, match="nothing registered"):
        log_v1(registry)
    assert store.stored == {} and registry.get_default() is None


def test_the_fence_reserves_the_lease_only_for_its_holder(run_store: SnowflakeRunStore, clock: Clock) -> None:
    claim = run_store.start("ann", N, lease=1.0)
    assert isinstance(claim, Acquired)
    assert run_store.fence(claim.run.id, 60.0)
    clock.now += 30  # the worker stopped heart-beating: the fence still holds the lock
    assert isinstance(run_store.start("bob", N), Busy)
    assert not run_store.fence("someone-else", 60.0)
    clock.now += 31
    assert not run_store.fence(claim.run.id, 60.0)  # expired: nothing to extend
    assert isinstance(run_store.start("bob", N), Acquired)
