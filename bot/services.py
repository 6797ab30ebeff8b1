"""What listeners need, built once and handed to the app (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.delivery import DeliveryStats
from bot.replay import MemoryRequestLedger, RequestLedger, open_ledger
from bot.settings import BotSettings
from ml.config import MLSettings
from ml.registry.base import ModelRegistry
from ml.scoring import Scorer

if TYPE_CHECKING:
    from bot.admins import AdminPolicy
    from bot.retrain_watch import RetrainWatcher
    from ml.retrain import RetrainService

CONTEXT_KEY = "lifeboat"


@dataclass
class Services:
    ml_settings: MLSettings
    bot_settings: BotSettings
    registry: ModelRegistry
    scorer: Any  # ml.scoring.Scorer or ml.snowflake.scoring.WarehouseScorer (same surface)
    retrain: RetrainService
    admins: AdminPolicy
    watcher: RetrainWatcher
    # Requests already processed (replays are acknowledged, not processed again): see bot.replay.
    ledger: RequestLedger = field(default_factory=MemoryRequestLedger)
    # Answers delivered / retried / lost / unconfirmed, shown on /healthz (see bot.delivery).
    delivery: DeliveryStats = field(default_factory=DeliveryStats)

    @classmethod
    def create(cls, ml_settings: MLSettings, bot_settings: BotSettings) -> Services:
        from ml.registry import open_registry

        registry = open_registry(ml_settings)
        scorer: Any
        if ml_settings.backend == "snowflake" and ml_settings.scoring == "warehouse":
            from ml.snowflake.scoring import WarehouseScorer

            scorer = WarehouseScorer(registry)
        else:
            scorer = Scorer(registry)
        from bot.admins import AdminPolicy
        from bot.retrain_watch import RetrainWatcher
        from ml.retrain import RetrainService

        retrain = RetrainService.from_settings(ml_settings, registry=registry)
        return cls(
            ml_settings,
            bot_settings,
            registry,
            scorer,
            retrain=retrain,
            admins=AdminPolicy(bot_settings.admins, bot_settings.admins_include_workspace_admins),
            # Reading a run's record is a warehouse query on Snowflake: poll it less often there,
            # and sweep for dead workers only while a run is followed (see bot.retrain_watch).
            watcher=RetrainWatcher(
                retrain.store,
                poll_seconds=2.0 if ml_settings.backend == "snowflake" else 0.25,
                sweep_seconds=30.0 if ml_settings.backend == "snowflake" else 10.0,
                idle_sweeps=ml_settings.backend != "snowflake",
            ),
            ledger=open_ledger(ml_settings.home),
        )

    @property
    def model_name(self) -> str:
        return self.registry.model_name

    @staticmethod
    def of(context: Any) -> Services:
        """The services from a Bolt listener's `context` (put there by the app's middleware)."""
        return context[CONTEXT_KEY]
