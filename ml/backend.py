"""The one place a backend is chosen: `open_backend(settings)` gives the registry, the retraining
run store, who does a run's work, and the scorer, for the local backend or for Snowflake.

Everything else (the CLI, the bot, the retraining worker) asks for a `Backend` and never looks at
`settings.backend` itself. Snowflake's libraries are imported only when that backend is opened.
Parts other than the registry are built on first use: on Snowflake the run store opens a session
of its own, which `lifeboat models` has no reason to pay for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ml.config import MLSettings
from ml.core.training import TrainConfig
from ml.io.registry import ModelRegistry, ModelVersion
from ml.io.runs import RunPolling, RunStore, SQLiteRunStore
from ml.io.serving import PassengerScorer, Scorer
from ml.jobs.retrain import RetrainService, RunWork
from ml.jobs.train import train_and_register

if TYPE_CHECKING:
    from ml.core.stats import PassengerStats
    from ml.io.doctor import CheckResult
    from ml.snowflake.registry import SnowflakeRegistry


class Backend:
    """The configured backend's parts. Close it when done (it may hold connections)."""

    def __init__(
        self, settings: MLSettings, registry: ModelRegistry | None = None, runs: RunStore | None = None
    ) -> None:
        self.settings = settings
        # Parts the caller opened already (tests, bench): cached_property reads them from here.
        if registry is not None:
            self.__dict__["registry"] = registry
        if runs is not None:
            self.__dict__["runs"] = runs

    @property
    def kind(self) -> str:
        return self.settings.backend

    @cached_property
    def registry(self) -> ModelRegistry:
        if self.settings.backend == "snowflake":
            from ml.snowflake.registry import SnowflakeRegistry

            return SnowflakeRegistry.from_settings(self.settings)
        from ml.io.local_registry import LocalRegistry

        return LocalRegistry(self.settings.home, self.settings.model_name)

    def _snowflake_registry(self) -> SnowflakeRegistry:
        from ml.snowflake.registry import SnowflakeRegistry

        registry = self.registry
        if not isinstance(registry, SnowflakeRegistry):
            raise TypeError(f"the Snowflake backend needs a SnowflakeRegistry, not {type(registry).__name__}")
        return registry

    @cached_property
    def runs(self) -> RunStore:
        """Retraining runs and their one-at-a-time lock, where every replica sees them."""
        if self.settings.backend == "snowflake":
            from ml.snowflake.runs import SnowflakeRunStore

            return SnowflakeRunStore.for_registry(self._snowflake_registry())
        return SQLiteRunStore(self.registry)

    @cached_property
    def work(self) -> RunWork | None:
        """Who does a retraining run's steps: None is this process, on a CSV; on Snowflake a
        stored procedure in the warehouse, followed from here."""
        if self.settings.backend == "snowflake":
            from ml.snowflake.retrain import warehouse_work

            return warehouse_work(self.settings, self._snowflake_registry())
        return None

    @cached_property
    def scorer(self) -> PassengerScorer:
        """What answers a passenger: the default version scored in process, or in the warehouse
        when LIFEBOAT_SCORING=warehouse on Snowflake (answered locally when the warehouse fails
        only if LIFEBOAT_SCORING_FALLBACK allows it)."""
        if self.settings.backend == "snowflake" and self.settings.scoring == "warehouse":
            from ml.snowflake.scoring import WarehouseScorer

            return WarehouseScorer(self._snowflake_registry(), fallback=self.settings.scoring_fallback)
        return Scorer(self.registry)

    def train(
        self,
        *,
        actor: str,
        data: str | Path | None = None,
        comment: str = "",
        progress: Callable[[str], None] | None = None,
    ) -> ModelVersion:
        """Train and register a version. On Snowflake, with no file given, training runs inside the
        warehouse on TITANIC_DATA; a file is trained on here and registered there."""
        if self.settings.backend == "snowflake" and data is None:
            from ml.snowflake.train import train_in_warehouse

            return train_in_warehouse(self.settings, actor=actor, comment=comment, progress=progress)
        trained = train_and_register(
            self.registry,
            data=data,
            actor=actor,
            comment=comment,
            config=TrainConfig.from_settings(self.settings),
            progress=progress,
        )
        return trained.version

    def passenger_stats(self) -> PassengerStats:
        """Who was aboard and who survived, from the data the default version was trained on:
        one aggregate query on Snowflake's TITANIC_DATA, the passenger file here."""
        if self.settings.backend == "snowflake":
            from ml.snowflake.stats import warehouse_stats

            return warehouse_stats(self.settings, self._snowflake_registry())
        from ml.io.stats import local_stats

        return local_stats(self.registry)

    @property
    def run_polling(self) -> RunPolling:
        """On Snowflake reading a run's record is a warehouse query: read it less often, and look
        for dead workers only while a run is followed (a query every few seconds would keep the
        warehouse from ever suspending)."""
        if self.settings.backend == "snowflake":
            return RunPolling(poll_seconds=2.0, sweep_seconds=30.0, idle_sweeps=False)
        return RunPolling()

    @property
    def default_poll_seconds(self) -> float:
        """How often a bot may ask whether the default version changed, to refresh what it shows
        (Home). On Snowflake each ask is a query: seldom enough for the warehouse to suspend."""
        return 30.0 if self.settings.backend == "snowflake" else 2.0

    def retraining(self, config: TrainConfig | None = None) -> RetrainService:
        return RetrainService(
            self.registry,
            self.runs,
            self.settings,
            config or TrainConfig.from_settings(self.settings),
            work=self.work,
        )

    def doctor(self, report: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        """`lifeboat doctor`: this backend's checklist (each result also handed to `report` as it
        comes). It opens what it checks itself, on purpose: `registry` stops at the first problem,
        the doctor reports every one."""
        if self.settings.backend == "snowflake":
            from ml.snowflake.doctor import run_snowflake

            return run_snowflake(self.settings, report)
        from ml.io.doctor import run_local

        return run_local(self.settings, report)

    def close(self) -> None:
        if "runs" in self.__dict__:
            self.runs.close()
        if "registry" in self.__dict__:
            self.registry.close()


def open_backend(
    settings: MLSettings, registry: ModelRegistry | None = None, runs: RunStore | None = None
) -> Backend:
    """The backend `settings` name (LIFEBOAT_BACKEND); `registry` and `runs` reuse parts already open."""
    return Backend(settings, registry, runs)
