"""Models and passengers the tests share."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd

from ml.core.evidence import EvidenceTable
from ml.core.features import columns_from_frame
from ml.core.model import SurvivalModel
from ml.core.passenger import Passenger, title_from_name
from ml.core.table import TARGET, fingerprint
from ml.core.training import TrainConfig, fit_recipe
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry

# Every step of the recipe (inner choice, nested CV, holdout twin, members), small enough to keep
# the suite fast: one grid point, 3 inner folds, 2 outer folds, 10 members.
FAST_CONFIG = TrainConfig(grid=((2, 3.0),), inner_folds=3, cv_folds=2, members=10)
# The knobs a worker process reads from the environment (the grid and inner folds are the recipe's).
FAST_ENV = {"LIFEBOAT_CV_FOLDS": "2", "LIFEBOAT_CV_REPEATS": "1", "LIFEBOAT_MEMBERS": "5"}


PASSENGERS = [
    Passenger.create(pclass=1, sex="female", age=29, sibsp=0, parch=0, fare=80, embarked="S", title="Miss"),
    Passenger.create(pclass=3, sex="male"),
    Passenger.create(pclass=2, sex="male", age=4, sibsp=1, parch=1),
    Passenger.create(pclass=3, sex="female", age=40, sibsp=1, parch=3, embarked="Q"),
    Passenger.create(pclass=1, sex="male", age=50, title="Dr", embarked="C"),
]


@functools.cache
def fitted_model() -> SurvivalModel:
    """One model for the whole session: the recipe on the shipped data, with its members and evidence
    (everything a version's files may hold), without the cross-validation train() adds."""
    frame = load_csv()
    evidence = EvidenceTable.from_frame(frame, fingerprint(frame))
    fitted = fit_recipe(
        columns_from_frame(frame), frame[TARGET].to_numpy(), FAST_CONFIG, members=True, evidence=evidence
    )
    return fitted.model


def passengers_of(frame: pd.DataFrame) -> list[Passenger]:
    """Each row of a passenger list as the person would describe themselves (the title from the
    passenger-list name)."""
    return [
        Passenger.create(
            pclass=row.pclass,
            sex=row.sex,
            age=row.age,
            sibsp=row.sibsp,
            parch=row.parch,
            fare=row.fare,
            embarked=None if pd.isna(row.embarked) else row.embarked,
            title=title_from_name(row.name),
        )
        for row in frame.itertuples()
    ]


def register_elsewhere_trained(registry: Any) -> Any:
    """A default version trained on a passenger list of 600 that this machine has no copy of."""
    return registry.log_model(
        fitted_model(),
        metrics={},
        params={},
        comment="trained elsewhere",
        created_by="ann",
        data_fingerprint="sha256:0123456789abcdef",
        info={"n_rows": 600},
        make_default=True,
    )


def log_copy_of_v1(registry: LocalRegistry, *, make_default: bool = False) -> None:
    """Register the next version as a copy of V1: a second version without training."""
    v1 = registry.get_version("V1")
    registry.log_model(
        registry.load_model("V1"),
        metrics=v1.metrics,
        params=v1.params,
        comment="a copy of V1",
        created_by="tests",
        data_fingerprint=v1.data_fingerprint,
        info=v1.info,
        make_default=make_default,
    )


def register_copy_of_v1(home: Path) -> None:
    """Register V2, a copy of V1 (not the default): a second version to promote."""
    registry = LocalRegistry(home)
    log_copy_of_v1(registry)
    registry.close()
