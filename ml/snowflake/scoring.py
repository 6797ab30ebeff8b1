"""Scoring in the warehouse: per passenger by one bound SQL statement, per table through SQL.

`WarehouseScorer` has the surface of `ml.io.serving.Scorer` (predict, score_frame, version,
model_card, status), so the bot and the CLI take either. The probability comes from the warehouse;
the reasons (SHAP) and assumptions come from the same version fetched locally, which is the same
booster and feature code, so both agree (a live test compares them).

One answer costs one statement: `SELECT MODEL(DB.S.TITANIC, Vn)!PREDICT_PROBA(?, ...)` with the
passenger's values bound, once the version's `ModelVersion` is known (looked up and checked once per
version; see `RegistryModelStore`). `mv.run` took about 17 (5 lookups, parameter reads, a temporary
stage, file format and table for the one row, and the model query executed twice). A frame
(`score_frame`) still goes through `mv.run`, which is built for many rows.

When the warehouse fails, what happens next depends on why:

- permanent (this version cannot run there: no such function, a signature that does not match,
  missing privilege, packages the channel lacks, SQL compilation errors): warehouse scoring is off
  for that version until the default changes or the process restarts; the error is logged once;
- transient (network, timeouts, a suspended warehouse, ...): after FAILURES_TO_PAUSE in a row the
  warehouse is not asked for PAUSE_SECONDS (so answers do not each wait for a timeout first), then
  one answer tries again, and a success resumes warehouse scoring.

With `fallback` (the bot's default) those answers come from the locally fetched copy of the same
version; `status()` says which path answers and how many fell back (/healthz and the model card
show it). Without it (the CLI's default) the failure is raised: someone who asked for warehouse
scoring gets warehouse scoring or an error.

`score_table` never pulls rows to the client: one CREATE TABLE ... AS SELECT runs in Snowflake.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ml.core.features import Columns, columns_from_frame, columns_from_passengers, invalid_rows
from ml.core.model import InvalidRowsError, Prediction
from ml.core.passenger import Passenger
from ml.io.registry import ModelVersion, RegistryError
from ml.io.serving import ModelUnavailableError, Scorer, Serving
from ml.snowflake import identifiers
from ml.snowflake.contract import SURVIVED
from ml.snowflake.errors import NotServableError, SnowflakeUnavailable

if TYPE_CHECKING:
    import pandas as pd

    from ml.config import MLSettings
    from ml.snowflake.registry import SnowflakeRegistry

log = logging.getLogger(__name__)

FAILURES_TO_PAUSE = 3
PAUSE_SECONDS = 60.0
# Snowflake error codes that no retry fixes for this version: invalid identifier, syntax error,
# object missing or not authorized, unknown function, insufficient privileges, a package or Python
# error inside the model (100357: e.g. a package the channel lacks).
PERMANENT_CODES = frozenset({904, 1003, 2003, 2140, 3001, 3003, 100357})


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying the same version cannot help (see the module docstring)."""
    if isinstance(exc, NotServableError | ValueError):  # mv.run: "no method ...", a missing result
        return True
    return getattr(exc, "code", None) in PERMANENT_CODES


class WarehouseScorer:
    """Scores the registry's default version in the warehouse (LIFEBOAT_SCORING=warehouse)."""

    def __init__(
        self,
        registry: SnowflakeRegistry,
        refresh_seconds: float = 2.0,
        *,
        fallback: bool = True,
        failures_to_pause: int = FAILURES_TO_PAUSE,
        pause_seconds: float = PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not hasattr(registry, "score_in_warehouse"):  # a caller without a type checker
            raise TypeError("WarehouseScorer needs the Snowflake registry (LIFEBOAT_BACKEND=snowflake)")
        self.registry = registry
        self.local = Scorer(registry, refresh_seconds)  # follows the default, holds the fetched model
        self.fallback = fallback
        self.failures_to_pause = failures_to_pause
        self.pause_seconds = pause_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self.answers = 0  # answers and frames scored, whichever path
        self.fallbacks = 0  # of those, answered locally because the warehouse failed or was off
        self._failures = 0  # transient failures in a row
        self._paused_until = 0.0
        self._off: dict[str, str] = {}  # version -> the permanent error that turned it off
        self._last_path = "warehouse"
        self._last_version: str | None = None
        self._last_error: str | None = None

    def current(self) -> Serving:
        return self.local.current()

    @property
    def version(self) -> str:
        return self.local.version

    def model_card(self) -> ModelVersion:
        return self.local.model_card()

    # -- when to ask the warehouse -------------------------------------------------------------
    def _skip_reason(self, version: str) -> str | None:
        with self._lock:
            if version in self._off:
                return f"warehouse scoring is off for {version}: {self._off[version]}"
            if self.clock() < self._paused_until:
                return (
                    f"warehouse scoring is paused after {self.failures_to_pause} failures: {self._last_error}"
                )
            return None

    def _failed(self, version: str, exc: BaseException) -> str:
        """Remember a failure; logged only when the answer falls back (else the caller raises it)."""
        message = str(exc) or type(exc).__name__
        with self._lock:
            self._last_error = message
            if is_permanent(exc):
                if version not in self._off and self.fallback:
                    log.error("%s cannot be scored in the warehouse; answering locally: %s", version, message)
                self._off[version] = message
            else:
                self._failures += 1
                if self._failures >= self.failures_to_pause:
                    self._paused_until = self.clock() + self.pause_seconds
                if self.fallback:
                    log.warning("warehouse scoring failed (%d in a row): %s", self._failures, message)
        return message

    def scoring_paths(self) -> dict[str, int]:
        with self._lock:
            return {"warehouse": self.answers - self.fallbacks, "fallback": self.fallbacks}

    def _count(self, version: str, path: str) -> None:
        with self._lock:
            self.answers += 1
            self._last_path, self._last_version = path, version
            if path == "fallback":
                self.fallbacks += 1
            else:
                self._failures = 0  # a success resumes warehouse scoring after a pause
                self._paused_until = 0.0

    def _scored(
        self, serving: Serving, columns: Columns, in_warehouse: Callable[[], np.ndarray]
    ) -> np.ndarray:
        reason = self._skip_reason(serving.version)
        if reason is None:
            try:
                probabilities = in_warehouse()
            except (RegistryError, SnowflakeUnavailable, ValueError) as exc:
                reason = self._failed(serving.version, exc)
            else:
                self._count(serving.version, "warehouse")
                return probabilities
        if not self.fallback:
            raise ModelUnavailableError(f"warehouse scoring failed: {reason}")
        self._count(serving.version, "fallback")
        return serving.model.predict_proba(columns)

    # -- scoring -------------------------------------------------------------------------------
    def predict(self, passenger: Passenger) -> Prediction:
        from ml.snowflake.model import bound_values

        serving = self.current()
        explained = serving.model.explain(passenger, version=serving.version)  # validates the passenger
        columns = columns_from_passengers([passenger])

        # The warehouse model takes a passenger list's columns: a child's age goes as a number.
        sent = serving.model.spec.with_child_ages(columns)

        def in_warehouse() -> np.ndarray:
            probability = self.registry.score_in_warehouse(serving.version, bound_values(sent))
            if probability is None:  # the passenger is valid (explained above): the model disagrees
                raise NotServableError(f"{serving.version} returned no probability for a valid passenger")
            return np.array([probability])

        probability = float(self._scored(serving, columns, in_warehouse)[0])
        return dataclasses.replace(explained, probability=probability)

    def score_frame(self, frame: Any) -> np.ndarray:
        """Like Scorer.score_frame: refuses invalid rows, else one mv.run for the whole frame. The
        titles sent are the ones ml.core.features resolved, so both scorers read the frame alike."""
        from ml.snowflake.model import input_frame

        columns = columns_from_frame(frame)
        problems = invalid_rows(columns)
        if problems:
            raise InvalidRowsError(problems)
        serving = self.current()
        return self._scored(
            serving,
            columns,
            lambda: frame_probabilities(
                self.registry.run_in_warehouse(
                    serving.version, input_frame(serving.model.spec.with_child_ages(columns))
                )
            ),
        )

    def status(self) -> dict[str, Any]:
        """Which path answers (warehouse, or fallback: the local copy), and how many fell back."""
        with self._lock:
            version = self._last_version
            if version in self._off:
                state = "off-for-version"
            elif self.clock() < self._paused_until:
                state = "paused"
            else:
                state = "ok"
            path = "fallback" if state != "ok" or self._last_path == "fallback" else "warehouse"
            return {
                "configured": "warehouse",
                "path": path,
                "state": state,
                "version": version,
                "answers": self.answers,
                "fallbacks": self.fallbacks,
                "fallback_allowed": self.fallback,
                "last_error": self._last_error,
            }


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
    found = [c for c in result.columns if str(c).strip('"').lower() == SURVIVED]
    if not found:
        raise NotServableError(f"the warehouse answered without {SURVIVED} (columns: {list(result.columns)})")
    return result[found[0]].to_numpy(dtype=np.float64)
