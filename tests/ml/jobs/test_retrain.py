"""Retraining runs: the decision on the frozen holdout, the lease lock across threads and processes,
failures, rollback, audit. (The gate's rules alone: tests/ml/core/test_promotion.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ml.config import MLSettings
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry
from ml.io.registry import RegistryError
from ml.io.runs import FAILED, SUCCEEDED, Acquired, Busy, SQLiteRunStore
from ml.jobs.retrain import STEPS, RetrainError, RetrainService, execute_run, rollback
from tests.support.models import FAST_CONFIG, FAST_ENV


def service_for(home: Path) -> RetrainService:
    registry = LocalRegistry(home)
    return RetrainService(registry, SQLiteRunStore(registry), MLSettings(home=home), FAST_CONFIG)


# -- runs ----------------------------------------------------------------------------------------
def test_a_run_registers_a_version_with_metrics_and_decision(home: Path) -> None:
    service = service_for(home)
    seen: list[str] = []
    outcome = service.run_blocking("U_ADMIN", progress=seen.append)
    assert outcome.ok, outcome.summary()
    assert seen == list(STEPS)
    run = outcome.run
    assert run.status == SUCCEEDED and run.version == "V2" and run.step_index == len(STEPS)
    version = service.registry.get_version("V2")
    assert version.created_by == "U_ADMIN"
    assert version.info["decision"]["reason"] == run.decision
    assert "holdout_log_loss" in version.metrics and "cv_roc_auc" in version.metrics
    # Same data, same seed: the challenger equals the champion, which is "not worse": promoted.
    assert run.promoted and service.registry.get_default() == "V2"
    assert service.store.current() is None  # lock released
    # Judged on the twin's holdout figures, against the champion's recorded ones and the table's.
    decision = version.info["decision"]
    champion = service.registry.get_version("V1")
    assert decision["challenger"]["log_loss"] == pytest.approx(version.metrics["holdout_log_loss"], abs=1e-6)
    assert decision["champion"]["log_loss"] == pytest.approx(champion.metrics["holdout_log_loss"], abs=1e-6)
    assert decision["table"]["log_loss"] == pytest.approx(version.metrics["holdout_table_log_loss"], abs=1e-6)
    assert decision["challenger"]["log_loss"] < decision["table"]["log_loss"]
    summary = outcome.summary().splitlines()
    assert summary[1].startswith("Frozen holdout") and summary[2].split() == ["V2", "V1", "table"]
    assert summary[3].split()[-1] == f"{decision['table']['log_loss']:.3f}"


def test_a_champion_trained_on_other_passengers_is_not_compared(home: Path, tmp_path: Path) -> None:
    """The champion's figures are on its own holdout, other people: comparing them would be noise,
    and scoring its model on this holdout could score it on rows it learnt from."""
    service = service_for(home)
    other = load_csv().iloc[::2]
    other.to_csv(tmp_path / "half.csv", index=False)
    outcome = service.run_blocking("U_ADMIN", data=tmp_path / "half.csv")
    assert outcome.ok, outcome.summary()
    decision = service.registry.get_version("V2").info["decision"]
    assert decision["champion"] is None and decision["champion_version"] == "V1"
    assert "V1 cannot be compared (its holdout figures are on other passengers)" in decision["reason"]


def test_a_worse_challenger_is_registered_but_not_promoted(home: Path) -> None:
    service = service_for(home)
    registry = service.registry
    assert service.run_blocking("U_ADMIN").ok  # V2, promoted
    service.tolerance = -1.0  # demand a log loss 1.0 better than the champion's: impossible, so kept
    kept = service.run_blocking("U_ADMIN")
    assert kept.ok and kept.run.version == "V3" and kept.run.promoted is False
    assert registry.get_default() == "V2"
    assert kept.run.decision.startswith("kept V2")


@pytest.mark.parametrize("step", [s.replace(" ", "_") for s in STEPS])
def test_a_failure_at_any_step_registers_nothing_and_keeps_the_default(
    home: Path, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_for(home)
    before = [v.version for v in service.registry.list_versions()]
    monkeypatch.setenv("LIFEBOAT_FAILPOINTS", f"retrain.{step}=raise")
    outcome = service.run_blocking("U_ADMIN")
    assert not outcome.ok
    assert outcome.run.status == FAILED and "injected failure" in (outcome.run.error or "")
    assert [v.version for v in service.registry.list_versions()] == before
    assert service.registry.get_default() == "V1"
    assert service.store.current() is None  # the lock is released
    failed = [e for e in service.registry.history() if e.action == "retrain"]
    assert failed and failed[0].outcome == "failed"


def test_a_failure_while_registering_rolls_back_the_registration(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_for(home)
    monkeypatch.setenv("LIFEBOAT_FAILPOINTS", "registry.before_commit=raise")
    outcome = service.run_blocking("U_ADMIN")
    assert not outcome.ok
    assert [v.version for v in service.registry.list_versions()] == ["V1"]
    assert service.registry.get_default() == "V1"


# -- one run at a time ---------------------------------------------------------------------------
def test_three_concurrent_starts_acquire_exactly_one_lock(home: Path) -> None:
    results: list[object] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        store = SQLiteRunStore(LocalRegistry(home))
        barrier.wait()
        results.append(store.start("U_ADMIN", len(STEPS)))

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Acquired) for r in results) == 1
    busy = [r for r in results if isinstance(r, Busy)]
    assert len(busy) == 2 and all(b.run.actor == "U_ADMIN" for b in busy)


def test_two_processes_sharing_a_home_get_exactly_one_run(home: Path) -> None:
    code = (
        "import sys; from ml.io.local_registry import LocalRegistry; from ml.io.runs import SQLiteRunStore, Acquired;"
        "import time; t = float(sys.argv[1]);"
        "store = SQLiteRunStore(LocalRegistry(sys.argv[2]));"
        "time.sleep(max(0, t - time.time()));"
        "print('won' if isinstance(store.start('proc', 6), Acquired) else 'busy')"
    )
    go = time.time() + 1.5
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(go), str(home)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    assert outputs == ["busy", "won"]


def test_a_busy_run_is_described_with_who_when_and_step(home: Path) -> None:
    service = service_for(home)
    claim = service.store.start("U_ADMIN", len(STEPS))
    assert isinstance(claim, Acquired)
    service.store.progress(claim.run.id, "cross-validate", 2)
    with pytest.raises(
        RetrainError, match=r"already in progress, started by U_ADMIN at .* step 2 of 6 \(cross-validate\)"
    ):
        service.run_blocking("U_OTHER")


def test_a_crashed_runs_lock_expires(home: Path) -> None:
    store = SQLiteRunStore(LocalRegistry(home))
    first = store.start("U_ADMIN", len(STEPS), lease=0.2)
    assert isinstance(first, Acquired)
    assert isinstance(store.start("U_ADMIN", len(STEPS)), Busy)
    time.sleep(0.3)  # the holder never heart-beats: its lease runs out
    second = store.start("U_ADMIN", len(STEPS))
    assert isinstance(second, Acquired)
    dead = store.get(first.run.id)
    assert dead is not None and dead.status == FAILED and "stopped responding" in (dead.error or "")


def test_the_worker_process_runs_to_completion(home: Path) -> None:
    """The bot's path: start() spawns `python -m ml.worker RUN_ID` and returns at once."""
    env_backup = dict(os.environ)
    os.environ.update(FAST_ENV)
    try:
        service = service_for(home)
        began = time.perf_counter()
        claim = service.start("U_ADMIN")
        assert time.perf_counter() - began < 1.0  # returns without waiting for training
        assert isinstance(claim, Acquired)
        deadline = time.monotonic() + 60
        while (
            (run := service.store.get(claim.run.id)) is not None
            and run.running
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    assert run is not None and run.status == SUCCEEDED, run
    assert run.version == "V2"


def test_a_killed_worker_leaves_the_default_untouched(home: Path) -> None:
    service = service_for(home)
    claim = service.store.start("U_ADMIN", len(STEPS), lease=1.0)
    assert isinstance(claim, Acquired)
    env = {
        **os.environ,
        "LIFEBOAT_HOME": str(home),
        "LIFEBOAT_FAILPOINTS": "retrain.cross-validate=kill",
        **FAST_ENV,
    }
    proc = subprocess.run([sys.executable, "-m", "ml.worker", claim.run.id], env=env, timeout=60)
    assert proc.returncode == -9
    assert service.registry.get_default() == "V1"
    assert [v.version for v in service.registry.list_versions()] == ["V1"]
    time.sleep(1.1)  # its lease runs out
    assert service.store.current() is None
    assert service.store.get(claim.run.id).status == FAILED  # type: ignore[union-attr]


# -- promote, rollback, audit --------------------------------------------------------------------
def test_promote_rollback_and_the_audit_trail(home: Path) -> None:
    service = service_for(home)
    registry = service.registry
    assert service.run_blocking("U_ADMIN").ok  # V2, promoted
    assert rollback(registry, actor="U_ADMIN") == ("V2", "V1")
    assert registry.get_default() == "V1"
    registry.set_default("V2", actor="U_ADMIN", action="promote")
    with pytest.raises(RegistryError):
        registry.set_default("V9", actor="U_ADMIN")
    service.record_refusal("U_GUEST", "/retrain")
    actions = [(e.action, e.actor, e.from_version, e.to_version, e.outcome) for e in registry.history()]
    assert actions[:4] == [
        ("retrain-refused", "U_GUEST", None, None, "refused"),
        ("promote", "U_ADMIN", "V1", "V2", "ok"),
        ("rollback", "U_ADMIN", "V2", "V1", "ok"),
        ("retrain", "U_ADMIN", "V1", "V2", "promoted V2"),
    ]
    retrain_event = registry.history()[3]
    assert retrain_event.details["data_fingerprint"].startswith("sha256:")
    assert "holdout_log_loss" in retrain_event.details["metrics"]


def test_rollback_with_no_previous_default_is_refused(home: Path) -> None:
    registry = LocalRegistry(home)
    with pytest.raises(RegistryError, match="nothing to roll back"):
        rollback(registry, actor="U_ADMIN")
    assert registry.get_default() == "V1"


def test_execute_run_refuses_an_unknown_run(home: Path) -> None:
    service = service_for(home)
    with pytest.raises(RetrainError):
        execute_run("nope", service.registry, service.store)


def test_the_worker_lowers_its_priority_before_the_heavy_imports() -> None:
    """Importing pandas, scikit-learn and xgboost is a second of CPU: it must already run niced."""
    probe = (
        "import os, sys\n"
        "real = os.nice\n"
        "def nice(n):\n"
        "    heavy = [m for m in ('pandas', 'sklearn', 'xgboost') if m in sys.modules]\n"
        "    print('nice', n, 'after', heavy, flush=True)\n"
        "    return real(n)\n"
        "os.nice = nice\n"
        "import ml.worker\n"
        "sys.exit(ml.worker.main(['--help']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "nice 10 after []"
    assert "usage: python -m ml.worker" in proc.stdout


def test_a_version_records_what_its_charts_need(registry: LocalRegistry) -> None:
    """Reliability bins (out of fold, and its twin's on the holdout), the mean |SHAP| per attribute,
    and each training row's out-of-fold probability: the card and Home refit nothing."""
    version = registry.get_version("V1")
    info = version.info
    assert sum(b["count"] for b in info["cv_reliability"]) == info["n_rows"]  # 1 repeat: each row once
    assert sum(b["count"] for b in info["holdout_reliability"]) == info["n_holdout"]
    means = info["mean_abs_contribution"]
    assert set(means) == {"sex", "pclass", "age", "family", "fare", "embarked", "title"}
    assert min(means.values()) >= 0 and max(means, key=means.__getitem__) in ("sex", "title")
    evidence = registry.load_model("V1").evidence
    cv = evidence.columns["cv_probability"]
    assert len(cv) == info["n_rows"] and cv.between(0, 1).all()
    assert evidence.fingerprint() == version.data_fingerprint  # the extra column changes no fingerprint
