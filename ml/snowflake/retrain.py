"""Retraining runs on the Snowflake backend: the heavy steps run inside Snowflake.

`retrain_procedure` is a stored procedure handler: it reads TITANIC_DATA, runs `ml.jobs.retrain.challenge`
(train, score champion and challenger on the frozen holdout, decide, register) with a
`SnowflakeRegistry` on the procedure's own session, reports each step as a row of
LIFEBOAT_TRAINING_PROGRESS under the run's id, and returns the version and the decision as JSON.
The data and the model never leave Snowflake.

`warehouse_work(settings)` is the `RunWork` the worker process uses: it calls the procedure without
blocking (`session.call(..., block=False)`), polls the progress rows and turns them into `step(i)`
calls, so the run record (LIFEBOAT_RUNS) and the Slack message advance as the warehouse works, and
rebuilds the `Challenged` outcome from the JSON. Everything around the steps (heartbeat, the run
record, the audit trail) is `ml.jobs.retrain.execute_run`, the same for both backends.

A fence: registering takes minutes (packaging, upload, CREATE MODEL ... ADD VERSION) against a 30 s
lease renewed by the worker's heartbeat. The procedure checks that its run still holds an unexpired
lease in LIFEBOAT_LOCKS before it starts registering, and the registry checks again, reserving the
lease for FENCE_SECONDS each time, after the upload (before the version may be promoted) and after
promoting. If the worker died (its heartbeats stopped) or the run was finished as failed meanwhile,
the new version is dropped (or the previous default put back) and nothing is promoted, even though
a detached CALL keeps running.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from snowflake.snowpark import Session  # at run time: Snowpark reads the handler's type hints

from ml.core.training import TrainConfig
from ml.io.runs import RUNNING, Run
from ml.jobs.retrain import STEPS, Challenged, Decision, RetrainError, RunWork, Step, challenge
from ml.snowflake import identifiers, objects
from ml.snowflake.data import read_passengers
from ml.snowflake.train import (
    DONE,
    POLL_SECONDS,
    Job,
    ProgressWriter,
    TrainingJob,
    follow_procedure,
    procedure_settings,
    register_temporary_procedure,
    start_procedure,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ml.config import MLSettings
    from ml.io.registry import ModelRegistry
    from ml.snowflake.registry import SnowflakeRegistry
    from ml.snowflake.runs import SnowflakeRunStore

PROCEDURE = "LIFEBOAT_RETRAIN"
DOING = "retraining in the warehouse"
# How long a passed fence keeps the lock for this run, heartbeat or not: longer than the few
# statements (SHOW, ALTER MODEL ... SET DEFAULT_VERSION) until the next fence.
FENCE_SECONDS = 60.0


# -- inside Snowflake ----------------------------------------------------------------------------------
def procedure_registry(session: Session, settings: MLSettings) -> SnowflakeRegistry:
    """The registry the procedure judges and registers with (tests put a stand-in store behind it)."""
    from ml.snowflake.registry import SnowflakeRegistry

    return SnowflakeRegistry(session, settings)


def procedure_run_store(session: Session, settings: MLSettings) -> SnowflakeRunStore:
    """The run store the procedure checks its lease in (tests put SQLite behind it)."""
    from ml.snowflake.runs import SessionSql, SnowflakeRunStore

    return SnowflakeRunStore(SessionSql(session), settings)


def retrain_procedure(
    session: Session,
    database: str,
    schema: str,
    table: str,
    model_name: str,
    run_id: str,
    actor: str,
    config_json: str,
    tolerance: float,
) -> str:
    """The stored procedure's handler (runs inside Snowflake). Returns the outcome as JSON."""
    settings = procedure_settings(database, schema, table, model_name)
    report = ProgressWriter(session, objects.progress_table(settings), run_id)
    runs = procedure_run_store(session, settings)  # the lease, by the store's SQL and the server's clock

    def step(index: int) -> None:
        name = STEPS[index]
        if name == "register" and not runs.holds(run_id):
            raise RetrainError(
                f"run {run_id} no longer holds the retraining lock (its worker stopped or it was"
                " finished): nothing registered"
            )
        report(name)

    step(0)
    frame = read_passengers(session, settings)
    registry = procedure_registry(session, settings)
    registry.fence = lambda: runs.fence(run_id, FENCE_SECONDS)  # checked again around each registry change
    run = Run(
        id=run_id,
        actor=actor,
        started_at=time.time(),
        status=RUNNING,
        step=STEPS[0],
        step_index=1,
        steps_total=len(STEPS),
    )
    config = TrainConfig(**json.loads(config_json))
    challenged = challenge(frame, registry, run=run, step=step, config=config, tolerance=float(tolerance))
    outcome = outcome_json(run_id, challenged)
    report(DONE, challenged.version.version)
    return outcome


def register_retrain_procedure(session: Session, code_dir: Path) -> str:
    """The retraining procedure."""
    from snowflake.snowpark.types import DoubleType, StringType

    return register_temporary_procedure(
        session, retrain_procedure, PROCEDURE, [StringType()] * 7 + [DoubleType()], code_dir
    )


# -- the JSON between the two sides --------------------------------------------------------------------
def outcome_json(run_id: str, challenged: Challenged) -> str:
    return json.dumps(
        {
            "run_id": run_id,
            "version": challenged.version.version,
            "is_default": challenged.version.is_default,
            "decision": challenged.decision.to_dict(),
        },
        default=str,
    )


def challenged_from(outcome: dict[str, Any], registry: ModelRegistry) -> Challenged:
    """The procedure's JSON -> what `execute_run` records (the version as the registry has it)."""
    try:
        version, decision = outcome["version"], Decision(**outcome["decision"])
    except (KeyError, TypeError) as exc:
        raise RetrainError(
            f"{DOING}: the procedure answered without a version and a decision ({exc})"
        ) from None
    return Challenged(registry.get_version(version), decision)


# -- on the worker -------------------------------------------------------------------------------------
Start = Callable[..., Job]


def start_retraining(
    session: Session, settings: MLSettings, *, run: Run, config: TrainConfig, tolerance: float
) -> TrainingJob:
    """Create the procedure and call it for `run` without blocking; its steps go under run.id."""
    return start_procedure(
        session,
        settings,
        register=register_retrain_procedure,
        arguments=lambda run_id: [
            identifiers.database(settings),
            identifiers.schema(settings),
            identifiers.data_table(settings),
            identifiers.identifier(settings.model_name, "model name"),
            run_id,
            run.actor,
            json.dumps(dataclasses.asdict(config)),
            float(tolerance),
        ],
        run_id=run.id,
        doing=DOING,
    )


class StepMapper:
    """Progress rows (step names, oldest first) -> `step(i)` calls, each index once and in order:
    a step whose row went missing is reported when a later one shows up."""

    def __init__(self, step: Step, reported: int = -1) -> None:
        self.step = step
        self.reported = reported  # the last index reported

    def __call__(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in STEPS:  # "done", or anything else the procedure says
                continue
            for index in range(self.reported + 1, STEPS.index(name) + 1):
                self.reported = index
                self.step(index)


def follow(
    job: Job,
    mapper: StepMapper,
    *,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the procedure ends; returns its outcome (see ml.snowflake.train.follow)."""
    outcome = follow_procedure(job, mapper, poll_seconds=poll_seconds, sleep=sleep)
    mapper([STEPS[-1]])  # it succeeded, so every step began, whether or not its row arrived
    return outcome


def warehouse_work(
    settings: MLSettings,
    registry: SnowflakeRegistry | None = None,
    *,
    start: Start = start_retraining,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> RunWork:
    """The steps inside Snowflake. Uses `registry`'s session (else opens one per run)."""

    def work(run: Run, step: Step, config: TrainConfig | None, tolerance: float) -> Challenged:
        step(0)  # staging the code and creating the procedure are part of loading
        from ml.snowflake.registry import SnowflakeRegistry

        used = registry if registry is not None else SnowflakeRegistry.from_settings(settings)
        try:
            job = start(
                used.session,
                settings,
                run=run,
                config=config or TrainConfig.from_settings(settings),
                tolerance=tolerance,
            )
            outcome = follow(job, StepMapper(step, reported=0), poll_seconds=poll_seconds, sleep=sleep)
            return challenged_from(outcome, used)
        finally:
            if registry is None:
                used.close()

    return work


__all__ = [
    "PROCEDURE",
    "StepMapper",
    "challenged_from",
    "follow",
    "outcome_json",
    "register_retrain_procedure",
    "retrain_procedure",
    "start_retraining",
    "warehouse_work",
]
