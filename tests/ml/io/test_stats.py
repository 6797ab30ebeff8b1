"""The local backend's passenger statistics: which data they are counted from, said plainly."""

from __future__ import annotations

from pathlib import Path

from ml.backend import open_backend
from ml.config import MLSettings
from ml.core.stats import count_passengers
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry
from ml.io.stats import local_stats, training_rows
from tests.support.models import register_elsewhere_trained


def test_the_default_version_trained_on_the_shipped_data_gets_its_figures(registry: LocalRegistry) -> None:
    stats = local_stats(registry)
    assert stats.version == "V1"
    assert stats.caveat is None
    assert stats.source == "the shipped passenger list (891 passengers), which TITANIC V1 was trained on"
    assert stats.counts == count_passengers(load_csv())


def test_a_default_trained_on_other_data_is_said_plainly(registry: LocalRegistry) -> None:
    register_elsewhere_trained(registry)
    stats = local_stats(registry)
    assert stats.version == "V2"
    assert stats.source == "the shipped passenger list (891 passengers)"
    assert stats.caveat is not None
    assert "TITANIC V2 was trained on a different passenger list (600 passengers" in stats.caveat
    assert "sha256:0123456789abcdef" in stats.caveat and "figures are from the shipped one" in stats.caveat


def test_no_model_yet_counts_the_data_the_first_one_will_learn_from(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "home")
    try:
        stats = local_stats(registry)
    finally:
        registry.close()
    assert stats.version is None and stats.counts.overall.total == 891
    assert stats.caveat is not None and "No model is trained yet" in stats.caveat


def test_training_rows_is_the_one_place_the_rows_are_chosen() -> None:
    rows = training_rows(None)
    assert len(rows.frame) == 891 and rows.source.startswith("the shipped passenger list")


def test_the_backend_counts_locally(home: Path) -> None:
    backend = open_backend(MLSettings.from_env())
    try:
        stats = backend.passenger_stats()
    finally:
        backend.close()
    assert stats.counts.breakdown(["sex"]).rows[0].rate.survived == 233
