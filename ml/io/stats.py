"""Where the local backend's passenger statistics come from: the data the default version was
trained on, as far as this machine can know it.

Today a local version records only a fingerprint of its training rows, and the shipped data is
the only passenger list always at hand. `training_rows` is the one place that decides which rows to count,
so that once a version carries a stored copy of its training rows it can read those instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from ml.core.stats import PassengerStats, count_passengers
from ml.core.table import fingerprint
from ml.io.data import load_csv
from ml.io.registry import ModelRegistry, ModelVersion


@dataclass(frozen=True)
class TrainingRows:
    frame: pd.DataFrame
    source: str  # which data, said to a person
    caveat: str | None = None  # why these may not be the rows the version learnt from


@functools.cache
def _shipped() -> tuple[pd.DataFrame, str]:
    # Read once per process: the file ships with the package and never changes under it.
    frame = load_csv()
    return frame, fingerprint(frame)


def training_rows(version: ModelVersion | None) -> TrainingRows:
    """The passengers `version` (the default) was trained on: the shipped data when its fingerprint
    is the one the version recorded; otherwise the shipped data still, with a caveat saying so."""
    frame, shipped_fingerprint = _shipped()
    shipped = f"the shipped passenger list ({len(frame)} passengers)"
    if version is None:
        return TrainingRows(
            frame, shipped, "No model is trained yet: this is the data the first one will learn from."
        )
    name = f"{version.model_name} {version.version}"
    if version.data_fingerprint == shipped_fingerprint:
        return TrainingRows(frame, f"{shipped}, which {name} was trained on")
    size = f"{version.info['n_rows']} passengers, " if version.info.get("n_rows") else ""
    return TrainingRows(
        frame,
        shipped,
        f"{name} was trained on a different passenger list ({size}data fingerprint"
        f" {version.data_fingerprint}) that is not kept here: these figures are from the shipped one.",
    )


def default_version(registry: ModelRegistry) -> ModelVersion | None:
    default = registry.get_default()
    return registry.get_version(default) if default is not None else None


def local_stats(registry: ModelRegistry) -> PassengerStats:
    """Survival counts from the default version's training data (see `training_rows`)."""
    version = default_version(registry)
    rows = training_rows(version)
    return PassengerStats(
        count_passengers(rows.frame),
        rows.source,
        rows.caveat,
        version.version if version is not None else None,
    )
