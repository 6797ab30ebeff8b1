"""What listeners need, built once and handed to the app (no module globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.admins import AdminPolicy
from bot.home_refresh import HomeRefresher
from bot.home_store import HomeStore, open_home_store
from bot.retrain_watch import RetrainWatcher
from bot.settings import BotSettings
from bot.transport.delivery import DeliveryStats
from bot.transport.metrics import BotMetrics, ServingInfo
from bot.transport.replay import MemoryRequestLedger, RequestLedger, open_ledger
from bot.transport.uploads import UploadedImages
from ml.backend import Backend, open_backend
from ml.config import MLSettings
from ml.io.local_registry import default_actor
from ml.io.registry import ModelRegistry
from ml.io.serving import PassengerScorer
from ml.jobs.retrain import RetrainService
from ml.jobs.train import ensure_model

CONTEXT_KEY = "lifeboat"


@dataclass
class Services:
    ml_settings: MLSettings
    bot_settings: BotSettings
    backend: Backend
    scorer: PassengerScorer
    retrain: RetrainService
    admins: AdminPolicy
    watcher: RetrainWatcher
    # Each person's last answers and who has Home open (bot.home_store), beside the registry.
    home_store: HomeStore
    # Requests already processed (replays are acknowledged, not processed again): see bot.transport.replay.
    ledger: RequestLedger = field(default_factory=MemoryRequestLedger)
    # Answers delivered / retried / lost / unconfirmed, shown on /healthz (see bot.transport.delivery).
    delivery: DeliveryStats = field(default_factory=DeliveryStats)
    # What /metrics shows (see bot.transport.metrics).
    metrics: BotMetrics = field(default_factory=BotMetrics)
    # Every chart upload, counted by outcome; a version's card uploaded once per process.
    images: UploadedImages = field(default_factory=UploadedImages)
    # Republishes Home when the default changes (its `publish` is set by the app).
    home_refresher: HomeRefresher | None = None

    def __post_init__(self) -> None:
        if self.home_refresher is None:
            self.home_refresher = HomeRefresher(
                self.home_store, self._default_token, interval=self.backend.default_poll_seconds
            )
        self.delivery.observe(self.metrics.count_answer)
        self.images.observe(self.metrics.count_upload)
        self.watcher.on_finished(self.metrics.retrain_finished)
        self.metrics.read_at_scrape(ServingInfo(self.model_name, self.registry.backend, self.scorer))

    @classmethod
    def create(cls, ml_settings: MLSettings, bot_settings: BotSettings) -> Services:
        backend = open_backend(ml_settings)
        retrain = backend.retraining()
        return cls(
            ml_settings,
            bot_settings,
            backend,
            backend.scorer,
            retrain=retrain,
            admins=AdminPolicy(bot_settings.admins, bot_settings.admins_include_workspace_admins),
            watcher=RetrainWatcher(retrain.store, backend.run_polling),
            home_store=open_home_store(ml_settings.home),
            ledger=open_ledger(ml_settings.home),
        )

    def start_background(self, client: WebClient) -> None:
        """While the bot serves: dead retraining workers are noticed (the watcher's sweep), and Home
        is republished for whoever has it open when the default changes."""
        self.watcher.start_sweeping(client)
        if self.home_refresher is not None:
            self.home_refresher.start(client)

    def stop_background(self) -> None:
        self.watcher.stop_sweeping()
        if self.home_refresher is not None:
            self.home_refresher.stop()

    def _default_token(self) -> str | None:
        return self.registry.default_token()

    @property
    def registry(self) -> ModelRegistry:
        return self.backend.registry

    def ensure_model(self, say: Callable[[str], None]) -> None:
        """Make sure a model can be served (training the first one if there is none), and say which."""
        try:
            version = ensure_model(self.registry, actor=default_actor(), say=say)
            say(f"Serving {self.model_name} {version} from the {self.registry.backend} registry.")
        except Exception as exc:  # the bot stays up and tells users the model is unavailable
            say(f"Warning: no model can be served yet ({exc}); /survive will say so until one is registered.")

    @property
    def model_name(self) -> str:
        return self.registry.model_name

    @staticmethod
    def of(context: BoltContext) -> Services:
        """The services from a Bolt listener's `context` (put there by the app's middleware)."""
        return context[CONTEXT_KEY]
