"""Retraining runs: one at a time, with progress, a champion/challenger gate and an audit trail.

A run trains a challenger with the same recipe, judges it on the frozen holdout against the
12-number table and the current default (the champion), decides, and then registers the
challenger with its metrics and the decision, making it the default in that same atomic step when
it won. Anything that fails before that commit registers nothing and leaves the default untouched.

Holdout figures come from models that never learnt from the holdout: the challenger's from its
twin fitted without the holdout rows (the served model is fitted on all rows), the champion's as
it recorded them, compared only when they are on the same holdout rows. The champion's served
model is never scored on the holdout: it may have learnt from those very rows.

The bot starts runs in a separate worker process (`python -m ml.worker RUN_ID`) so training
never competes with Slack's listener threads for the GIL; the CLI runs them in process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.config import MLSettings
from ml.core.promotion import TOLERANCE, Decision, comparable_champion, gate, holdout_lines
from ml.core.training import STEPS as TRAINING_STEPS
from ml.core.training import TrainConfig, TrainingResult, train
from ml.io import failpoints
from ml.io.data import load_csv
from ml.io.registry import ModelRegistry, ModelVersion, NoModelError, RegistryError
from ml.io.runs import FAILED, SUCCEEDED, Acquired, Busy, Run, RunStore
from ml.jobs.train import registration_info

log = logging.getLogger(__name__)

STEPS = ("load data", *TRAINING_STEPS, "decide", "register")
HEARTBEAT_SECONDS = 5.0


class RetrainError(RuntimeError):
    pass


Step = Callable[[int], None]  # report that STEPS[index] has started


@dataclass(frozen=True)
class Challenged:
    version: ModelVersion
    decision: Decision


RunWork = Callable[[Run, Step, "TrainConfig | None", float], Challenged]


def challenge(
    frame: Any,
    registry: ModelRegistry,
    *,
    run: Run,
    step: Step,
    config: TrainConfig | None,
    tolerance: float,
) -> Challenged:
    """Train a challenger on `frame`, judge it against the tables and the default on the frozen
    holdout, and register it with the decision — as the default, in the same step, when it won.

    Runs wherever the data and registry are: in the worker process, or inside a Snowflake procedure."""
    champion_version = registry.get_default()

    def on_training_step(name: str) -> None:
        step(STEPS.index(name))

    result = train(frame, config, on_training_step)
    champion, incomparable = champion_figures(registry, champion_version, result)
    step(STEPS.index("decide"))
    decision = gate(
        result.holdout_metrics,
        champion,
        champion_version,
        result.holdout_sex_log_loss,
        result.holdout_table_metrics,
        tolerance,
        incomparable=incomparable,
    )
    step(STEPS.index("register"))
    version = registry.log_model(
        result.model,
        metrics=result.metrics(),
        params=result.params,
        comment=f"retraining run {run.id} by {run.actor}: {decision.reason}",
        created_by=run.actor,
        data_fingerprint=result.data_fingerprint,
        info={**registration_info(result), "run_id": run.id, "decision": decision.to_dict()},
        make_default=decision.promote,
    )
    return Challenged(version, decision)


def champion_figures(
    registry: ModelRegistry, champion_version: str | None, result: TrainingResult
) -> tuple[dict[str, float] | None, str]:
    """The champion's recorded holdout figures when they compare with the challenger's, and why not."""
    if champion_version is None:
        return None, "there is no champion"
    try:
        recorded = registry.get_version(champion_version)
    except RegistryError as exc:
        log.warning(
            "champion %s has no readable record (%s): judging the challenger alone", champion_version, exc
        )
        return None, "its record cannot be read"
    return comparable_champion(
        recorded.metrics,
        recorded.info,
        recorded.data_fingerprint,
        holdout_fingerprint=result.holdout_fingerprint,
        current_data_fingerprint=result.data_fingerprint,
        n_holdout=result.n_holdout,
    )


def local_work(registry: ModelRegistry, data: str | Path | None = None) -> RunWork:
    """The steps in this process, on a passenger CSV (the shipped data by default)."""

    def work(run: Run, step: Step, config: TrainConfig | None, tolerance: float) -> Challenged:
        step(0)
        frame = load_csv(data)
        return challenge(frame, registry, run=run, step=step, config=config, tolerance=tolerance)

    return work


@dataclass(frozen=True)
class RunOutcome:
    run: Run

    @property
    def ok(self) -> bool:
        return self.run.status == SUCCEEDED

    def summary(self) -> str:
        run = self.run
        if not self.ok:
            return f"Retraining run {run.id} failed at “{run.step}”: {run.error}"
        head = f"Retraining run {run.id}: registered {run.version} — {run.decision} ({run.duration:.1f}s)"
        decision = run.result.get("decision", {})
        champion = decision.get("champion_version")
        lines = holdout_lines(decision, str(run.version), champion)
        return "\n".join(
            [head, "Frozen holdout (challenger's twin, champion as recorded, 12-number table):", *lines]
        )


def execute_run(
    run_id: str,
    registry: ModelRegistry,
    store: RunStore,
    *,
    data: str | Path | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
    tolerance: float = TOLERANCE,
    work: RunWork | None = None,
) -> Run:
    """Do the work of an acquired run; always finishes it (succeeded or failed) and releases the lock.

    `work` does the steps themselves (by default: this process, on a CSV); everything around it —
    heartbeat, progress, the run record, the audit trail — is the same for every backend."""
    run = store.get(run_id)
    if run is None:
        raise RetrainError(f"no retraining run {run_id}")

    def step(index: int) -> None:
        name = STEPS[index]
        store.progress(run_id, name, index + 1)
        if progress:
            progress(name)
        failpoints.hit(f"retrain.{name.replace(' ', '_')}")

    with heartbeat(store, run_id):
        try:
            challenged = (work or local_work(registry, data))(run, step, config, tolerance)
            record_success(run, challenged, registry, store)
        except BaseException as exc:
            record_failure(run, exc, registry, store)
            if not isinstance(exc, Exception):
                raise
    final = store.get(run_id)
    assert final is not None
    return final


@contextmanager
def heartbeat(store: RunStore, run_id: str) -> Iterator[None]:
    """Renew the run's lease every HEARTBEAT_SECONDS while the block runs: a run whose process
    dies stops renewing, and its lock expires."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                store.heartbeat(run_id)
            except Exception:  # a missed beat is retried; the lease is several beats long
                log.warning("heartbeat failed", exc_info=True)

    threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True).start()
    try:
        yield
    finally:
        stop.set()


def record_success(run: Run, challenged: Challenged, registry: ModelRegistry, store: RunStore) -> None:
    version, decision = challenged.version, challenged.decision
    outcome = f"promoted {version.version}" if decision.promote else f"kept {decision.champion_version}"
    registry.audit(
        run.actor,
        "retrain",
        from_version=decision.champion_version,
        to_version=version.version,
        outcome=outcome,
        details={
            "run_id": run.id,
            "reason": decision.reason,
            "metrics": version.metrics,
            "data_fingerprint": version.data_fingerprint,
            "seconds": round(time.time() - run.started_at, 2),
        },
    )
    store.finish(
        run.id,
        status=SUCCEEDED,
        version=version.version,
        decision=decision.reason,
        promoted=decision.promote,
        result={
            "decision": decision.to_dict(),
            "metrics": version.metrics,
            "champion_version": decision.champion_version,
        },
    )


def record_failure(run: Run, exc: BaseException, registry: ModelRegistry, store: RunStore) -> None:
    """The run record says it failed, and why; the audit trail too, if it can be written."""
    message = (str(exc) or exc.__class__.__name__)[:500]
    log.warning("retraining run %s failed: %s", run.id, message)
    store.finish(run.id, status=FAILED, error=message)
    try:
        registry.audit(
            run.actor,
            "retrain",
            from_version=registry.get_default(),
            outcome="failed",
            details={"run_id": run.id, "error": message},
        )
    except Exception:  # the run record above already says it failed
        log.warning("could not audit the failed run", exc_info=True)


def rollback(registry: ModelRegistry, *, actor: str) -> tuple[str, str]:
    """Make the previous default the default again; returns (from, to)."""
    current = registry.get_default()
    if current is None:
        raise NoModelError("there is no default version to roll back from")
    previous = registry.previous_default()
    if previous is None:
        raise RegistryError(f"{current} is the first default: there is nothing to roll back to")
    registry.set_default(previous, actor=actor, action="rollback")
    return current, previous


class RetrainService:
    """Starts, runs and reports retraining runs against one registry."""

    def __init__(
        self,
        registry: ModelRegistry,
        store: RunStore,
        settings: MLSettings,
        config: TrainConfig | None = None,
        tolerance: float = TOLERANCE,
        work: RunWork | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.settings = settings
        self.config = config
        self.tolerance = tolerance
        self.work = work  # who does the steps: None = this process, on a CSV (local_work)

    def start(self, actor: str, *, origin: dict[str, Any] | None = None) -> Acquired | Busy:
        """Take the lock and launch a worker process; returns at once."""
        claim = self.store.start(actor, len(STEPS), origin)
        if isinstance(claim, Acquired):
            try:
                self._spawn(claim.run.id)
            except OSError as exc:
                self.store.finish(claim.run.id, status=FAILED, error=f"could not start the worker: {exc}")
                raise RetrainError(f"could not start the retraining worker: {exc}") from exc
        return claim

    def _spawn(self, run_id: str) -> None:
        env = dict(os.environ)
        env["LIFEBOAT_HOME"] = str(self.settings.home)
        env["LIFEBOAT_BACKEND"] = self.settings.backend
        subprocess.Popen(
            [sys.executable, "-m", "ml.worker", run_id],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None,
            start_new_session=True,  # a bot restart does not kill a run halfway
        )

    def run_blocking(
        self, actor: str, *, data: str | Path | None = None, progress: Callable[[str], None] | None = None
    ) -> RunOutcome:
        claim = self.store.start(actor, len(STEPS), {"via": "cli"})
        if isinstance(claim, Busy):
            raise RetrainError(describe_busy(claim.run))
        run = execute_run(
            claim.run.id,
            self.registry,
            self.store,
            data=data,
            config=self.config,
            progress=progress,
            tolerance=self.tolerance,
            work=self.work,
        )
        return RunOutcome(run)

    def record_refusal(self, actor: str, why: str) -> None:
        self.registry.audit(actor, "retrain-refused", outcome="refused", details={"why": why})


def describe_busy(run: Run) -> str:
    started = time.strftime("%H:%M:%S UTC", time.gmtime(run.started_at))
    return (
        f"A retraining run is already in progress, started by {run.actor} at {started}: "
        f"step {run.step_index} of {run.steps_total} ({run.step})."
    )
