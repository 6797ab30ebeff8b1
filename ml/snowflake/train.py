"""Training inside Snowflake: a stored procedure running the same `ml.core.training.train`.

The procedure reads TITANIC_DATA (`ml.snowflake.data.read_passengers`, rows in CSV order), runs
the recipe of `ml.core.training` with the settings' knobs, logs the model with the Snowflake registry
(`ml.snowflake.registry.SnowflakeRegistry`, the same code the bot uses) and returns a JSON summary.
The data never leaves Snowflake, and the booster is written by the warehouse's own xgboost, which
is therefore always a version the model's runtime can install.

The `ml` package goes with the procedure (`imports=`), the libraries come from Snowflake's Anaconda
channel (`PACKAGES`). The procedure is temporary (it lives as long as the session that created it)
and runs with the caller's rights, so the caller's grants are the only ones that matter.

Progress: each step is a row in LIFEBOAT_TRAINING_PROGRESS (see ml.snowflake.objects) under a run
id; `TrainingJob` calls the procedure asynchronously (`session.call(..., block=False)`) and polls
those rows. Snowpark's local testing mode runs procedures in process and returns at once; the
same code then just reports every step after the fact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import platform
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import xgboost
from snowflake.snowpark import Session  # at run time: Snowpark reads the handler's type hints

from ml.config import MLSettings
from ml.core.training import TrainConfig, TrainingResult, train
from ml.jobs.train import registration_info
from ml.snowflake import identifiers, objects
from ml.snowflake.data import read_passengers
from ml.snowflake.errors import SnowflakeUnavailable

if TYPE_CHECKING:
    from ml.io.registry import ModelVersion

log = logging.getLogger(__name__)

PROCEDURE = "LIFEBOAT_TRAIN"
# From Snowflake's Anaconda channel (ml.core.training needs scikit-learn for its CV splitters; the
# registry needs snowflake-ml-python). Unpinned ones get the channel's current version.
PACKAGES = ("snowflake-snowpark-python", "snowflake-ml-python", "xgboost", "pandas", "numpy", "scikit-learn")
# snowflake-ml-python is pinned to the release series this code is tested with (the contract tests
# autospec it; a model logged from here asks the warehouse for the same range). The APIs called
# need only 1.17 (Volatility 1.16, xgboost 3.x 1.17), but an unpinned solve may pick anything the
# other packages allow, including a 1.x without them. xgboost stays unpinned on purpose: training
# in the warehouse is the way out when the channel lacks this machine's xgboost, and a model
# trained there pins the channel's own version.
PINNED = ("snowflake-ml-python",)
POLL_SECONDS = 3.0
DONE = "done"

Progress = Callable[[str], None]


class ProgressWriter:
    """Appends the procedure's steps to the progress table; never fails the training over it."""

    def __init__(self, session: Session, table: str, run_id: str) -> None:
        self.session, self.table, self.run_id = session, table, run_id
        self.seq = 0

    def __call__(self, step: str, detail: str = "") -> None:
        from ml.io.local_registry import now_iso

        self.seq += 1
        try:
            objects.append_row(
                self.session,
                self.table,
                objects.progress_schema(),
                [self.run_id, self.seq, now_iso(), step, detail],
            )
        except Exception:  # progress is a courtesy; the result is what counts
            log.warning("could not record training step %s", step, exc_info=True)


def _registration_info(result: TrainingResult, table: str) -> dict[str, Any]:
    # The same record ml.jobs.train_and_register writes, plus where the training ran.
    return {
        **registration_info(result),
        "trained_in": "snowflake stored procedure",
        "table": table,
        "xgboost": xgboost.__version__,
        "python": platform.python_version(),
    }


def procedure_settings(database: str, schema: str, table: str, model_name: str) -> MLSettings:
    """The settings a procedure works with, from its arguments."""
    return MLSettings(
        backend="snowflake",
        home=Path(tempfile.gettempdir()) / "lifeboat",  # the procedure's writable scratch space
        model_name=model_name,
        snowflake_database=database,
        snowflake_schema=schema,
        snowflake_table=table,
    )


def train_procedure(
    session: Session,
    database: str,
    schema: str,
    table: str,
    model_name: str,
    run_id: str,
    actor: str,
    comment: str,
    config_json: str,
    register: bool,
) -> str:
    """The stored procedure's handler (runs inside Snowflake). Returns the summary as JSON."""
    settings = procedure_settings(database, schema, table, model_name)
    source = identifiers.data_table(settings)
    report = ProgressWriter(session, objects.progress_table(settings), run_id)
    report("load data", source)
    frame = read_passengers(session, settings)
    result = train(frame, TrainConfig(**json.loads(config_json)), report)
    info = _registration_info(result, source)
    summary: dict[str, Any] = {
        "run_id": run_id,
        "metrics": result.metrics(),
        "params": result.params,
        "data_fingerprint": result.data_fingerprint,
        "info": info,
        "version": None,
    }
    if register:
        from ml.snowflake.registry import SnowflakeRegistry

        report("register", f"{model_name} in {database}.{schema}")
        registry = SnowflakeRegistry(session, settings)
        version = registry.log_model(
            result.model,
            metrics=result.metrics(),
            params=result.params,
            comment=comment or f"trained in the warehouse on {result.n_rows} passengers ({source})",
            created_by=actor,
            data_fingerprint=result.data_fingerprint,
            info=info,
        )
        summary["version"] = version.version
        summary["is_default"] = version.is_default
    report(DONE, summary["version"] or "")
    return json.dumps(summary, default=str)


def tested_range(distribution: str) -> str:
    """'snowflake-ml-python>=2.6,<3' from the installed 2.6.x: this major series, from this minor on."""
    from importlib.metadata import version

    major, minor = version(distribution).split(".")[:2]
    return f"{distribution}>={major}.{minor},<{int(major) + 1}"


def procedure_packages() -> list[str]:
    """PACKAGES as the procedure asks for them (Snowpark checks them against the channel when it
    creates the procedure, before any work is done)."""
    return [tested_range(name) if name in PINNED else name for name in PACKAGES]


def register_temporary_procedure(
    session: Session, handler: Callable[..., str], name: str, input_types: list[Any], code_dir: Path
) -> str:
    """Create a temporary procedure running `handler`, with `code_dir` (a staged copy of `ml`) as
    its import and the packages the `ml` code needs from Snowflake's channel."""
    from snowflake.snowpark.types import StringType

    session.sproc.register(
        handler,
        name=name,
        return_type=StringType(),
        input_types=input_types,
        packages=list[str | ModuleType](procedure_packages()),
        imports=[(str(code_dir), "ml")],
        is_permanent=False,
        replace=True,
        execute_as="caller",
    )
    return name


def register_procedure(session: Session, code_dir: Path) -> str:
    """The training procedure."""
    from snowflake.snowpark.types import BooleanType, StringType

    return register_temporary_procedure(
        session, train_procedure, PROCEDURE, [StringType()] * 8 + [BooleanType()], code_dir
    )


def procedure_error(exc: BaseException, doing: str = "training in the warehouse") -> SnowflakeUnavailable:
    """A failed CALL -> the Python exception line from the procedure's traceback, on one line."""
    from ml.snowflake.session import driver_message

    text = str(getattr(exc, "message", None) or exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Unavailable)\b.*:", line)]
    return SnowflakeUnavailable(f"{doing} failed: {(raised[-1] if raised else driver_message(exc))[:400]}")


class Job(Protocol):
    """What following a procedure needs (ml.snowflake.train.TrainingJob)."""

    @property
    def done(self) -> bool: ...

    def poll(self) -> list[str]: ...

    def result(self) -> dict[str, Any]: ...

    def cancel(self) -> None: ...


class TrainingJob:
    """One call of the procedure, started without waiting; `poll()` returns the new steps."""

    def __init__(
        self,
        session: Session,
        settings: MLSettings,
        job: Any,
        run_id: str,
        code: tempfile.TemporaryDirectory[str],
        doing: str = "training in the warehouse",
    ) -> None:
        self.session, self.settings, self.run_id = session, settings, run_id
        self.doing = doing
        self._job = job
        self._code = code  # the staged imports must outlive the call (local testing reads them late)
        self._seen = 0

    @property
    def done(self) -> bool:
        # Local testing has no async jobs: the call already ran and `job` is its result.
        return isinstance(self._job, str) or bool(self._job.is_done())

    def poll(self) -> list[str]:
        from snowflake.snowpark.functions import col

        rows = (
            self.session.table(objects.progress_table(self.settings))
            .filter((col("RUN_ID") == self.run_id) & (col("SEQ") > self._seen))
            .sort(col("SEQ"))
            .collect()
        )
        if rows:
            self._seen = int(rows[-1]["SEQ"])
        return [str(row["STEP"]) for row in rows]

    def result(self) -> dict[str, Any]:
        try:
            raw = self._job if isinstance(self._job, str) else self._job.result()
        except Exception as exc:
            raise procedure_error(exc, self.doing) from None
        finally:
            self._code.cleanup()
        return json.loads(raw)

    def cancel(self) -> None:
        if not isinstance(self._job, str):
            self._job.cancel()
        self._code.cleanup()


def start_procedure(
    session: Session,
    settings: MLSettings,
    *,
    register: Callable[[Session, Path], str],
    arguments: Callable[[str], list[Any]],
    run_id: str | None = None,
    doing: str = "training in the warehouse",
) -> TrainingJob:
    """Stage the `ml` package, (re)create a procedure with `register(session, code_dir)` and call it
    with `arguments(run_id)` without blocking. The procedure reports its steps under `run_id`."""
    from ml.snowflake.package import stage_code
    from ml.snowflake.session import current_role, explain, require_table

    require_table(session, identifiers.data_table(settings))
    run_id = run_id or uuid.uuid4().hex[:12]
    code = tempfile.TemporaryDirectory(prefix="lifeboat-sproc-")
    try:
        objects.ensure_table(session, objects.progress_table(settings), objects.progress_schema())
        name = register(session, stage_code(Path(code.name)))
        job = session.call(name, *arguments(run_id), block=False)
    except SnowflakeUnavailable:
        code.cleanup()
        raise
    except Exception as exc:
        code.cleanup()
        if "Python Interpreter Error" in str(exc):  # local testing runs the call right here
            raise procedure_error(exc, doing) from None
        raise explain(exc, f"start {doing}", role=current_role(session)) from None
    return TrainingJob(session, settings, job, run_id, code, doing)


def start_training(
    session: Session,
    settings: MLSettings,
    *,
    actor: str,
    comment: str = "",
    register: bool = True,
    config: TrainConfig | None = None,
) -> TrainingJob:
    """Register the procedure and call it without blocking."""
    source = identifiers.data_table(settings)
    config = config or TrainConfig.from_settings(settings)
    return start_procedure(
        session,
        settings,
        register=register_procedure,
        arguments=lambda run_id: [
            identifiers.database(settings),
            identifiers.schema(settings),
            source,
            identifiers.identifier(settings.model_name, "model name"),
            run_id,
            actor,
            comment,
            json.dumps(dataclasses.asdict(config)),
            register,
        ],
    )


def follow_procedure(
    job: Job,
    report: Callable[[list[str]], None],
    *,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll a procedure until it ends, handing each batch of new progress rows to `report`; returns
    its outcome. Anything failing here (`report`, the poll, an interrupt) cancels the procedure
    first: a detached CALL must not go on registering for a client that gave up."""
    try:
        while not job.done:
            report(job.poll())
            sleep(poll_seconds)
        report(job.poll())
    except BaseException:
        with contextlib.suppress(Exception):
            job.cancel()
        raise
    return dict(job.result())  # a failed procedure raises one line (procedure_error)


def run_training(
    session: Session,
    settings: MLSettings,
    *,
    actor: str,
    comment: str = "",
    progress: Progress | None = None,
    register: bool = True,
    config: TrainConfig | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, Any]:
    """Start the procedure and report its steps until it finishes; returns its summary."""
    report = progress or (lambda _step: None)
    job = start_training(session, settings, actor=actor, comment=comment, register=register, config=config)

    def each(steps: list[str]) -> None:
        for step in steps:
            report(step)

    return follow_procedure(job, each, poll_seconds=poll_seconds)


def train_in_warehouse(
    settings: MLSettings, actor: str, comment: str, progress: Progress | None = None
) -> ModelVersion:
    """`lifeboat train` on the Snowflake backend: train and register inside Snowflake."""
    from ml.snowflake.registry import SnowflakeRegistry
    from ml.snowflake.session import open_session

    session = open_session(settings)
    try:
        summary = run_training(session, settings, actor=actor, comment=comment, progress=progress)
        return SnowflakeRegistry(session, settings).get_version(summary["version"])
    finally:
        session.close()
