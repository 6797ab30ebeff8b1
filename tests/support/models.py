"""Models and passengers the tests share."""

from __future__ import annotations

import functools

import pandas as pd

from ml.core.features import columns_from_frame
from ml.core.model import SurvivalModel
from ml.core.passenger import Passenger, title_from_name
from ml.core.table import TARGET
from ml.core.training import DEFAULT_PARAMS, TrainConfig, fit_model
from ml.io.data import load_csv

# Enough search and CV to exercise every step, small enough to keep the suite fast.
FAST_CONFIG = TrainConfig(candidates=2, search_repeats=1, cv_repeats=1)


PASSENGERS = [
    Passenger.create(pclass=1, sex="female", age=29, sibsp=0, parch=0, fare=80, embarked="S", title="Miss"),
    Passenger.create(pclass=3, sex="male"),
    Passenger.create(pclass=2, sex="male", age=4, sibsp=1, parch=1),
    Passenger.create(pclass=3, sex="female", age=40, sibsp=1, parch=3, embarked="Q"),
    Passenger.create(pclass=1, sex="male", age=50, title="Dr", embarked="C"),
]


@functools.cache
def fitted_model() -> SurvivalModel:
    """One booster for the whole module: the default recipe parameters on the shipped data."""
    frame = load_csv()
    return fit_model(columns_from_frame(frame), frame[TARGET].to_numpy(), DEFAULT_PARAMS, seed=7, nthread=1)


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
