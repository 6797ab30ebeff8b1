"""Scoring in the warehouse: per passenger through `ModelVersion.run`, per table through SQL.

`WarehouseScorer` has the surface of `ml.io.serving.Scorer` (predict, score_frame, version,
model_card), so the bot and the CLI take either. The probability comes from the warehouse; the
reasons (SHAP) and assumptions come from the same version fetched locally, which is the same
booster and feature code, so both agree (a live test compares them).

`score_table` never pulls rows to the client: one CREATE TABLE ... AS SELECT runs in Snowflake.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ml.core.features import Columns, columns_from_frame, columns_from_passengers, invalid_rows
from ml.core.model import InvalidRowsError, Prediction
from ml.core.passenger import Passenger
from ml.io.registry import ModelVersion, RegistryError
from ml.io.serving import ModelUnavailableError, Scorer, Serving
from ml.snowflake import identifiers
from ml.snowflake.contract import SURVIVED
from ml.snowflake.errors import SnowflakeUnavailable

if TYPE_CHECKING:
    import pandas as pd

    from ml.config import MLSettings
    from ml.snowflake.registry import SnowflakeRegistry

log = logging.getLogger(__name__)


class WarehouseScorer:
    """Scores the registry's default version in the warehouse (LIFEBOAT_SCORING=warehouse).

    With `fallback` (the default) a failed warehouse call is logged and the locally fetched copy
    of the same version answers instead, so a person in Slack still gets their (identical) answer;
    `fallbacks` counts those. With fallback=False the failure is raised.
    """

    def __init__(
        self, registry: SnowflakeRegistry, refresh_seconds: float = 2.0, *, fallback: bool = True
    ) -> None:
        if not hasattr(registry, "run_in_warehouse"):  # a caller without a type checker
            raise TypeError("WarehouseScorer needs the Snowflake registry (LIFEBOAT_BACKEND=snowflake)")
        self.registry = registry
        self.local = Scorer(registry, refresh_seconds)  # follows the default, holds the fetched model
        self.fallback = fallback
        self.fallbacks = 0

    def current(self) -> Serving:
        return self.local.current()

    @property
    def version(self) -> str:
        return self.local.version

    def model_card(self) -> ModelVersion:
        return self.local.model_card()

    def _probabilities(self, serving: Serving, columns: Columns) -> np.ndarray:
        from ml.snowflake.model import input_frame

        try:
            # The warehouse model takes a passenger list's columns: a child's age goes as a number.
            inputs = input_frame(serving.model.spec.with_child_ages(columns))
            return frame_probabilities(self.registry.run_in_warehouse(serving.version, inputs))
        except (RegistryError, SnowflakeUnavailable, StopIteration, ValueError) as exc:
            if not self.fallback:
                raise ModelUnavailableError(f"warehouse scoring failed: {exc}") from exc
            self.fallbacks += 1
            log.warning("warehouse scoring failed, answering with the fetched %s: %s", serving.version, exc)
            return serving.model.predict_proba(columns)

    def predict(self, passenger: Passenger) -> Prediction:
        serving = self.current()
        explained = serving.model.explain(passenger, version=serving.version)  # validates the passenger
        probability = float(self._probabilities(serving, columns_from_passengers([passenger]))[0])
        return dataclasses.replace(explained, probability=probability)

    def score_frame(self, frame: Any) -> np.ndarray:
        """Like Scorer.score_frame: refuses invalid rows, else one mv.run for the whole frame. The
        titles sent are the ones ml.core.features resolved, so both scorers read the frame alike."""
        columns = columns_from_frame(frame)
        problems = invalid_rows(columns)
        if problems:
            raise InvalidRowsError(problems)
        return self._probabilities(self.current(), columns)


def score_table(settings: MLSettings, table: str, into: str, version: str | None = None) -> int:
    """`lifeboat score --table T --into T2 [--version V]`: T2 = T + SURVIVAL_PROBABILITY, computed
    in the warehouse by the registered model (its default version unless one is given)."""
    from ml.snowflake.data import TableExistsError
    from ml.snowflake.objects import table_exists
    from ml.snowflake.session import current_role, explain, open_session, require_table
    from ml.snowflake.sql import create_scored_table_sql

    source = identifiers.data_table(settings, table)
    target = identifiers.in_schema(settings, into, "table to create")
    session = open_session(settings)
    try:
        columns = require_table(session, source, hint="check the table name")
        statement = create_scored_table_sql(settings, source, target, version, columns=columns)
        if table_exists(session, target):
            raise TableExistsError(f"{target} already exists: choose another --into or drop it first")
        try:
            session.sql(statement).collect()
            return int(session.table(target).count())
        except Exception as exc:
            raise explain(exc, f"score {source} into {target}", role=current_role(session)) from None
    finally:
        session.close()


def frame_probabilities(result: pd.DataFrame) -> np.ndarray:
    """output_feature_1 of an mv.run result, whatever case the column came back in."""
    column = next(c for c in result.columns if str(c).strip('"').lower() == SURVIVED)
    return result[column].to_numpy(dtype=np.float64)
