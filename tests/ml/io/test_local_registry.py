"""ml.registry (local): immutable versions, the default, the audit trail, checksums, concurrent
writers, and atomicity when a real process is SIGKILLed at each step of a registration."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml.core.model import SurvivalModel
from ml.io import failpoints
from ml.io.artifacts import load_model
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry
from ml.io.registry import RegistryError, UnknownVersionError, parse_version

MODEL_DIR = ("models", "TITANIC")


@pytest.fixture(scope="module")
def model(trained_home_template: Path) -> SurvivalModel:
    return load_model(trained_home_template.joinpath(*MODEL_DIR, "V1"))


def register(registry: LocalRegistry, model: SurvivalModel, **overrides: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "metrics": {"cv_log_loss": 0.41, "cv_accuracy": 0.82},
        "params": {"max_depth": 2, "eta": 0.05},
        "comment": "a test version",
        "created_by": "tester",
        "data_fingerprint": "sha256:0123456789abcdef",
        "info": {"n_rows": 891},
    }
    fields.update(overrides)
    return registry.log_model(model, **fields)  # type: ignore[arg-type]


def versions(registry: LocalRegistry) -> list[str]:
    return [v.version for v in registry.list_versions()]


# ---------------------------------------------------------------------------------------------
# Versions and their metadata


def test_first_version_becomes_default_with_its_metadata(empty_home: Path, model: SurvivalModel) -> None:
    registry = LocalRegistry(empty_home)
    assert registry.list_versions() == [] and registry.get_default() is None
    assert registry.default_token() is None
    before = datetime.now(UTC).replace(microsecond=0)
    v1 = register(registry, model, comment="first", created_by="alice")
    assert v1.version == "V1" and v1.is_default and registry.get_default() == "V1"
    assert v1.model_name == "TITANIC"
    assert v1.metrics == {"cv_log_loss": 0.41, "cv_accuracy": 0.82}
    assert v1.params == {"max_depth": 2, "eta": 0.05}
    assert (v1.comment, v1.created_by) == ("first", "alice")
    assert v1.data_fingerprint == "sha256:0123456789abcdef"
    assert v1.info == {"n_rows": 891}
    created = datetime.fromisoformat(v1.created_at)
    assert created.tzinfo is not None and before <= created <= datetime.now(UTC)
    assert v1.to_dict()["version"] == "V1"
    registry.close()


def test_later_versions_do_not_take_the_default(registry: LocalRegistry, model: SurvivalModel) -> None:
    v2 = register(registry, model, comment="second")
    v3 = register(registry, model, comment="third")
    assert (v2.version, v3.version) == ("V2", "V3")
    assert registry.get_default() == "V1" and not v2.is_default
    assert versions(registry) == ["V1", "V2", "V3"]
    assert [v.is_default for v in registry.list_versions()] == [True, False, False]


def test_make_default_registers_and_promotes_in_one_step(
    registry: LocalRegistry, model: SurvivalModel
) -> None:
    token = registry.default_token()
    v2 = register(registry, model, make_default=True)
    assert v2.is_default and registry.get_default() == "V2"
    assert registry.default_token() != token
    event = registry.history(1)[0]
    assert (event.action, event.from_version, event.to_version) == ("register", "V1", "V2")
    assert event.details["default_changed"] is True
    assert registry.previous_default() == "V1"


def test_versions_are_immutable(registry: LocalRegistry, model: SurvivalModel) -> None:
    v1 = registry.get_version("V1")
    files = {p.name: p.read_bytes() for p in (registry.models_dir / "V1").iterdir()}
    with pytest.raises(dataclasses.FrozenInstanceError):
        v1.comment = "rewritten"  # type: ignore[misc]
    register(registry, model, comment="another")
    registry.set_default("V2", actor="bob")
    again = registry.get_version("V1")
    assert dataclasses.replace(again, is_default=True) == v1  # only which version serves changed
    assert {p.name: p.read_bytes() for p in (registry.models_dir / "V1").iterdir()} == files


def test_set_default_and_get_default(registry: LocalRegistry, model: SurvivalModel) -> None:
    register(registry, model)
    token = registry.default_token()
    assert registry.set_default("v2", actor="bob", details={"why": "better"}) == "V1"
    assert registry.get_default() == "V2" and registry.get_version("V2").is_default
    assert registry.default_token() not in (None, token)
    event = registry.history(1)[0]
    assert (event.actor, event.action, event.from_version, event.to_version) == ("bob", "promote", "V1", "V2")
    assert event.details == {"why": "better", "default_changed": True}
    # Setting the same default again is recorded and still changes the token (serving re-checks).
    token = registry.default_token()
    assert registry.set_default("V2") == "V2"
    assert registry.default_token() != token


def test_previous_default_follows_promotions_and_rollbacks(
    registry: LocalRegistry, model: SurvivalModel
) -> None:
    assert registry.previous_default() is None  # V1 was never promoted from anything
    register(registry, model)
    register(registry, model)
    registry.set_default("V2")
    assert registry.previous_default() == "V1"
    registry.set_default("V3")
    assert registry.previous_default() == "V2"
    registry.set_default("V2", action="rollback")
    assert registry.previous_default() == "V3"


def test_unknown_versions(registry: LocalRegistry) -> None:
    token, events = registry.default_token(), len(registry.history(100))
    with pytest.raises(UnknownVersionError, match="TITANIC has no version V9"):
        registry.get_version("V9")
    with pytest.raises(UnknownVersionError, match="TITANIC has no version V9"):
        registry.load_model("9")
    with pytest.raises(UnknownVersionError, match="TITANIC has no version V9"):
        registry.set_default("v9")
    with pytest.raises(UnknownVersionError, match="is not a version name"):
        registry.get_version("latest")
    assert registry.default_token() == token and len(registry.history(100)) == events


@pytest.mark.parametrize(("text", "version"), [("v3", "V3"), ("3", "V3"), ("V3", "V3"), (" v12 ", "V12")])
def test_parse_version(text: str, version: str) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize("text", ["x", "", "V", "V0", "0", "-1", "V3.1", "3a", "VV3", "version 3"])
def test_parse_version_refuses(text: str) -> None:
    with pytest.raises(UnknownVersionError, match="is not a version name"):
        parse_version(text)
    assert issubclass(UnknownVersionError, RegistryError)


def test_audit_trail(registry: LocalRegistry, model: SurvivalModel) -> None:
    register(registry, model, created_by="carol")
    registry.set_default("V2", actor="dave")
    registry.audit("erin", "retrain-refused", outcome="refused", details={"reason": "busy"})
    events = registry.history()
    assert [e.action for e in events] == ["retrain-refused", "promote", "register", "register"]
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
    newest = events[0]
    assert (newest.actor, newest.outcome, newest.details) == ("erin", "refused", {"reason": "busy"})
    register_v2 = events[2]
    assert (register_v2.actor, register_v2.to_version, register_v2.from_version) == ("carol", "V2", None)
    assert register_v2.details["default_changed"] is False
    assert register_v2.details["data_fingerprint"] == "sha256:0123456789abcdef"
    assert register_v2.details["metrics"] == {"cv_log_loss": 0.41, "cv_accuracy": 0.82}
    assert datetime.fromisoformat(newest.at).tzinfo is not None
    assert len(registry.history(2)) == 2
    assert newest.to_dict()["action"] == "retrain-refused"


def test_loaded_models_are_cached_and_score(registry: LocalRegistry, model: SurvivalModel) -> None:
    loaded = registry.load_model("V1")
    assert registry.load_model("v1") is loaded
    frame = load_csv()
    assert (loaded.predict_frame(frame) == model.predict_frame(frame)).all()


def test_damaged_artifacts_are_refused(home: Path) -> None:
    booster = home.joinpath(*MODEL_DIR, "V1", "booster.ubj")
    data = bytearray(booster.read_bytes())
    data[len(data) // 2] ^= 0xFF
    booster.write_bytes(bytes(data))
    registry = LocalRegistry(home)
    with pytest.raises(RegistryError, match=r"the files of TITANIC V1 are damaged \(checksum mismatch\)"):
        registry.load_model("V1")
    registry.close()


def test_missing_artifacts_are_refused(home: Path) -> None:
    home.joinpath(*MODEL_DIR, "V1", "features.json").unlink()
    registry = LocalRegistry(home)
    with pytest.raises(RegistryError, match="cannot load TITANIC V1"):
        registry.load_model("V1")
    registry.close()


@pytest.mark.parametrize("name", ["members.ubj", "evidence.json"])
def test_a_missing_optional_artifact_is_a_damaged_version(home: Path, name: str) -> None:
    """The members and the evidence are optional for a version saved without them, not for one
    saved with them: the recorded checksum covers every file the version was saved with."""
    home.joinpath(*MODEL_DIR, "V1", name).unlink()
    registry = LocalRegistry(home)
    with pytest.raises(RegistryError, match=r"damaged \(checksum mismatch\)"):
        registry.load_model("V1")
    registry.close()


def test_model_name_scopes_everything(home: Path, model: SurvivalModel) -> None:
    other = LocalRegistry(home, "OTHER")
    assert other.list_versions() == [] and other.get_default() is None
    assert register(other, model).version == "V1"
    assert other.get_default() == "V1"
    main = LocalRegistry(home)
    assert versions(main) == ["V1"]
    other.close()
    main.close()


# ---------------------------------------------------------------------------------------------
# Concurrent writers


def test_concurrent_registrations_from_four_threads(empty_home: Path, model: SurvivalModel) -> None:
    registry = LocalRegistry(empty_home)
    barrier = threading.Barrier(4)
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = register(registry, model, comment=f"thread {i}", created_by=f"t{i}").version
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            registry.close()  # this thread's connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results.values()) == ["V1", "V2", "V3", "V4"]
    listed = registry.list_versions()
    assert [v.version for v in listed] == ["V1", "V2", "V3", "V4"]
    assert {v.comment for v in listed} == {f"thread {i}" for i in range(4)}  # no lost write
    for v in listed:
        assert v.comment == f"thread {int(v.created_by[1:])}" and results[int(v.created_by[1:])] == v.version
        registry.load_model(v.version)
    assert registry.get_default() == "V1"
    assert sorted(e.to_version for e in registry.history(10) if e.action == "register") == [
        "V1",
        "V2",
        "V3",
        "V4",
    ]
    assert list(registry.models_dir.glob(".staging-*")) == []
    registry.close()


def test_concurrent_registrations_from_separate_registry_objects(home: Path, model: SurvivalModel) -> None:
    results: list[str] = []

    def worker(i: int) -> None:
        registry = LocalRegistry(home)
        results.append(register(registry, model, comment=f"writer {i}").version)
        registry.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["V2", "V3", "V4"]


# ---------------------------------------------------------------------------------------------
# Atomicity: a registering process killed at every step

CHILD = """
import sys
from pathlib import Path
from ml.io.artifacts import load_model
from ml.io.local_registry import LocalRegistry

registry = LocalRegistry(Path(sys.argv[1]))
model = load_model(Path(sys.argv[2]))
version = registry.log_model(
    model,
    metrics={"cv_log_loss": 0.4},
    params={"max_depth": 2},
    comment="from a child process",
    created_by="child",
    data_fingerprint="sha256:child",
    make_default=True,
)
print(version.version, flush=True)
"""


def child_command(home: Path) -> list[str]:
    return [sys.executable, "-c", CHILD, str(home), str(home.joinpath(*MODEL_DIR, "V1"))]


def child_env(points: str) -> dict[str, str]:
    return {**os.environ, failpoints.ENV: points}


def snapshot(home: Path) -> tuple[list[str], str | None, str | None, int]:
    registry = LocalRegistry(home)
    try:
        return (
            versions(registry),
            registry.get_default(),
            registry.default_token(),
            len(registry.history(100)),
        )
    finally:
        registry.close()


def age_staging_dirs(models_dir: Path, seconds: float = 120.0) -> list[Path]:
    """Make leaked staging directories look like those of a writer that died `seconds` ago (the
    sweep leaves younger ones alone: they may belong to a writer still at work)."""
    staging = list(models_dir.glob(".staging-*"))
    old = time.time() - seconds
    for path in staging:
        os.utime(path, (old, old))
    return staging


def assert_recovers(
    home: Path, model: SurvivalModel, before: tuple[list[str], str | None, str | None, int]
) -> None:
    """The registry is exactly as before the killed writer; the next registration gets the next number,
    loads, and sweeps whatever the dead writer left behind."""
    assert snapshot(home) == before
    registry = LocalRegistry(home)
    with pytest.raises(UnknownVersionError):
        registry.load_model("V2")
    age_staging_dirs(registry.models_dir)
    v2 = register(registry, model, comment="after the crash")
    assert v2.version == "V2" and v2.comment == "after the crash"
    assert registry.get_default() == "V1"
    loaded = registry.load_model("V2")  # checksum verified against the row just committed
    frame = load_csv()
    assert (loaded.predict_frame(frame) == model.predict_frame(frame)).all()
    assert sorted(p.name for p in registry.models_dir.iterdir()) == ["V1", "V2"]
    registry.close()


@pytest.mark.parametrize(
    "point", ["registry.before_rename", "registry.after_rename", "registry.before_commit"]
)
def test_killed_registration_leaves_no_trace(home: Path, model: SurvivalModel, point: str) -> None:
    before = snapshot(home)
    models_dir = home.joinpath(*MODEL_DIR)
    result = subprocess.run(
        child_command(home), env=child_env(f"{point}=kill"), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert result.stdout == ""
    # What the dead writer left on disk: its staging directory, or the renamed but uncommitted V2.
    leftovers = sorted(p.name for p in models_dir.iterdir() if p.name != "V1")
    if point == "registry.before_rename":
        assert len(leftovers) == 1 and leftovers[0].startswith(".staging-")
    else:
        assert leftovers == ["V2"]
    assert_recovers(home, model, before)


def test_registration_killed_by_another_process_mid_transaction(home: Path, model: SurvivalModel) -> None:
    before = snapshot(home)
    models_dir = home.joinpath(*MODEL_DIR)
    child = subprocess.Popen(
        child_command(home),
        env=child_env("registry.before_commit=sleep:120"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (models_dir / "V2").exists():  # renamed into place; the row is not committed
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never reached the failpoint"
            time.sleep(0.05)
        # Readers see nothing of the half-done registration while the writer holds its transaction.
        assert snapshot(home) == before
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert_recovers(home, model, before)


@pytest.mark.parametrize(
    "point", ["registry.before_rename", "registry.after_rename", "registry.before_commit"]
)
def test_injected_exception_rolls_back(
    home: Path, model: SurvivalModel, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    before = snapshot(home)
    registry = LocalRegistry(home)
    monkeypatch.setenv(failpoints.ENV, f"{point}=raise")
    with pytest.raises(failpoints.InjectedFailure, match=point):
        register(registry, model, make_default=True)
    monkeypatch.delenv(failpoints.ENV)
    assert list(registry.models_dir.glob(".staging-*")) == []  # cleaned up by the writer itself
    registry.close()
    assert_recovers(home, model, before)


def test_young_staging_directories_are_left_alone(registry: LocalRegistry, model: SurvivalModel) -> None:
    in_progress = registry.models_dir / ".staging-someone-else"
    in_progress.mkdir()
    abandoned = registry.models_dir / ".staging-dead-writer"
    abandoned.mkdir()
    age_staging_dirs(registry.models_dir)
    os.utime(in_progress)  # touched just now: a writer may still be filling it
    register(registry, model)
    assert in_progress.exists() and not abandoned.exists()


def test_failpoints_parse_and_ignore_other_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(failpoints.ENV, "a=raise, b=sleep:0.01,c")
    failpoints.hit("unrelated")
    failpoints.hit("b")
    with pytest.raises(failpoints.InjectedFailure, match="injected failure at a"):
        failpoints.hit("a")
    with pytest.raises(failpoints.InjectedFailure):
        failpoints.hit("c")  # no action means raise
    monkeypatch.delenv(failpoints.ENV)
    failpoints.hit("a")
