"""ml.io.serving.Scorer: load once, follow the default, survive registry failures."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.core.model import SurvivalModel
from ml.core.passenger import Passenger
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry
from ml.io.registry import RegistryError
from ml.io.serving import ModelUnavailableError, Scorer

PERSON = Passenger.create(pclass=2, sex="female", age=35)


class CountingLoads:
    """Wraps registry.load_model to count how often the scorer loads a model."""

    def __init__(self, registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        original = registry.load_model

        def load_model(version: str) -> SurvivalModel:
            self.calls.append(version)
            return original(version)

        monkeypatch.setattr(registry, "load_model", load_model)


def add_version(registry: LocalRegistry) -> str:
    model = registry.load_model("V1")
    version = registry.log_model(
        model,
        metrics={"cv_log_loss": 0.4},
        params={},
        comment="copy",
        created_by="tests",
        data_fingerprint="sha256:x",
    )
    return version.version


def test_evidence_from_other_data_than_the_versions_is_not_shown(registry: LocalRegistry) -> None:
    """V2 carries V1's files but records other training data: its people-like-you would not be the
    people it learnt from."""
    assert Scorer(registry).predict(PERSON).evidence is not None
    registry.set_default(add_version(registry))
    served = Scorer(LocalRegistry(registry.home)).predict(PERSON)
    assert served.version == "V2" and served.evidence is None and served.likely is not None


def test_loads_the_model_once(registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = CountingLoads(registry, monkeypatch)
    scorer = Scorer(registry, refresh_seconds=0)  # asks the registry on every call
    results = [scorer.predict(PERSON) for _ in range(20)]
    assert loads.calls == ["V1"]
    assert {r.version for r in results} == {"V1"}
    assert len({r.probability for r in results}) == 1
    scorer.score_frame(load_csv().head(5))
    assert loads.calls == ["V1"]


def test_follows_the_default(registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = CountingLoads(registry, monkeypatch)
    scorer = Scorer(registry, refresh_seconds=0)
    assert scorer.predict(PERSON).version == "V1"
    add_version(registry)
    assert scorer.predict(PERSON).version == "V1"  # registering alone does not change what serves
    registry.set_default("V2")
    assert scorer.predict(PERSON).version == "V2"
    assert scorer.version == "V2" and scorer.model_card().version == "V2"
    registry.set_default("V1", action="rollback")
    assert scorer.predict(PERSON).version == "V1"
    assert loads.calls[0] == "V1" and "V2" in loads.calls


def test_a_default_change_seen_from_another_process_handle(registry: LocalRegistry, home: Path) -> None:
    scorer = Scorer(registry, refresh_seconds=0)
    assert scorer.version == "V1"
    other = LocalRegistry(home)  # e.g. the retraining worker
    add_version(other)
    other.set_default("V2", actor="worker")
    other.close()
    assert scorer.version == "V2"


def test_checks_at_most_every_refresh_seconds(registry: LocalRegistry) -> None:
    scorer = Scorer(registry, refresh_seconds=3600)
    assert scorer.version == "V1"
    add_version(registry)
    registry.set_default("V2")
    assert scorer.version == "V1"  # still within the refresh window
    scorer._checked_at -= 3601  # the window has passed
    assert scorer.version == "V2"


@pytest.mark.parametrize(
    "failure",
    [
        RegistryError("registry unreachable"),
        sqlite3.OperationalError("database is locked"),
        OSError("disk gone"),
    ],
)
def test_keeps_serving_when_the_registry_fails(
    registry: LocalRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
) -> None:
    scorer = Scorer(registry, refresh_seconds=0)
    expected = scorer.predict(PERSON)

    def broken() -> str:
        raise failure

    monkeypatch.setattr(registry, "default_token", broken)
    monkeypatch.setattr(registry, "get_default", broken)
    with caplog.at_level(logging.WARNING, logger="ml.io.serving"):
        again = scorer.predict(PERSON)
    assert again.probability == expected.probability and again.version == "V1"
    assert "still serving V1" in caplog.text and str(failure) in caplog.text


def test_a_failed_load_keeps_the_current_model(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = Scorer(registry, refresh_seconds=0)
    assert scorer.version == "V1"
    add_version(registry)
    registry.set_default("V2")

    def damaged(version: str) -> SurvivalModel:
        raise RegistryError(f"the files of TITANIC {version} are damaged (checksum mismatch)")

    monkeypatch.setattr(registry, "load_model", damaged)
    assert scorer.version == "V1"
    monkeypatch.undo()
    assert scorer.version == "V2"  # once it can load, it does


def test_no_model_registered(empty_home: Path) -> None:
    registry = LocalRegistry(empty_home)
    scorer = Scorer(registry, refresh_seconds=0)
    with pytest.raises(ModelUnavailableError, match="no model version is registered yet"):
        scorer.predict(PERSON)
    with pytest.raises(ModelUnavailableError):
        scorer.score_frame(pd.DataFrame({"pclass": [1], "sex": ["female"]}))
    registry.close()


def test_registry_down_before_any_model_was_loaded(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(registry, "default_token", broken)
    scorer = Scorer(registry)
    with pytest.raises(ModelUnavailableError, match="unable to open database file"):
        scorer.predict(PERSON)


def test_concurrent_callers_share_one_model(registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = CountingLoads(registry, monkeypatch)
    scorer = Scorer(registry, refresh_seconds=3600)
    people = [Passenger.create(pclass=1 + i % 3, sex=("female", "male")[i % 2], age=5 + i) for i in range(8)]
    expected = [scorer.predict(p).probability for p in people]
    results: dict[int, list[float]] = {}
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = [scorer.predict(p).probability for p in people for _ in range(10)][::10]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert loads.calls == ["V1"]
    assert all(np.array_equal(r, expected) for r in results.values()) and len(results) == 8


def test_callers_are_answered_by_the_old_model_while_the_new_one_loads(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A promotion must not stall the bot: while one caller loads the new default, the others get
    answers from the model in hand; the new one is swapped in only once it can explain."""
    scorer = Scorer(registry, refresh_seconds=0)
    assert scorer.predict(PERSON).version == "V1"
    new = add_version(registry)
    registry.set_default(new)
    loading, release = threading.Event(), threading.Event()
    original = registry.load_model
    prepared: list[bool] = []

    def slow_load(version: str) -> SurvivalModel:
        model = original(version)
        loading.set()
        assert release.wait(30)
        prepare = model.prepare

        def recorded() -> SurvivalModel:
            prepared.append(True)
            return prepare()

        monkeypatch.setattr(model, "prepare", recorded)
        return model

    monkeypatch.setattr(registry, "load_model", slow_load)
    refreshed: dict[str, str] = {}
    loader = threading.Thread(target=lambda: refreshed.update(version=scorer.predict(PERSON).version))
    loader.start()
    assert loading.wait(30)
    meanwhile: list[str] = []
    other = threading.Thread(
        target=lambda: meanwhile.extend(scorer.predict(PERSON).version for _ in range(5))
    )
    other.start()
    other.join(10)  # with callers queued behind the load, this would still be waiting
    release.set()
    other.join(30)
    assert meanwhile == ["V1"] * 5
    loader.join(30)
    assert refreshed == {"version": new} and prepared == [True]
    assert scorer.predict(PERSON).version == new
