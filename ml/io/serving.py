"""Serving: the default model version, loaded once and refreshed when the default changes."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ml.core.model import Prediction, SurvivalModel
from ml.core.passenger import Passenger
from ml.io.registry import ModelRegistry, ModelVersion, NoModelError, RegistryError

log = logging.getLogger(__name__)


class ModelUnavailableError(RuntimeError):
    """No model can be served right now (none registered, or the registry cannot be reached)."""


class PassengerScorer(Protocol):
    """What answers passengers: the bot and the CLI take any of these (in process or in the warehouse)."""

    @property
    def version(self) -> str: ...

    def predict(self, passenger: Passenger) -> Prediction: ...

    def score_frame(self, frame: Any) -> np.ndarray: ...

    def model_card(self) -> ModelVersion: ...

    def current(self) -> Serving:
        """The version being served and its model, held in process (files are scored with it)."""
        ...

    def status(self) -> dict[str, Any]:
        """Which scoring path answers (`path`: local, warehouse or fallback) and how many answers
        fell back to the local copy (`fallbacks`), for /healthz and the model card."""
        ...

    def scoring_paths(self) -> dict[str, int]:
        """Passengers scored so far in this process, by path (local, warehouse, fallback): the
        bot's metrics."""
        ...


@dataclass(frozen=True)
class Serving:
    version: str
    model: SurvivalModel
    token: str


class Scorer:
    """Scores passengers against the registry's default version.

    The model is loaded once and kept; at most every `refresh_seconds` the scorer asks the registry
    (a cheap query) whether the default changed, and swaps in the new model once it is loaded and
    ready to explain; meanwhile other callers are answered by the old one. If the registry fails,
    it keeps serving the model it has.
    """

    def __init__(self, registry: ModelRegistry, refresh_seconds: float = 2.0) -> None:
        self.registry = registry
        self.refresh_seconds = refresh_seconds
        self._serving: Serving | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._scored = 0
        self._count_lock = threading.Lock()

    def _load(self) -> Serving:
        token = self.registry.default_token()
        version = self.registry.get_default()
        if version is None or token is None:
            raise NoModelError("no model version is registered yet: run `lifeboat train`")
        model = self.registry.load_model(version)
        model.prepare()  # ready to explain before any caller sees it
        evidence = model.evidence
        if (
            evidence is not None
            and evidence.data_fingerprint != self.registry.get_version(version).data_fingerprint
        ):
            # "People like you" must be the people this version learnt from, or nobody.
            log.warning("%s's evidence is not its training data: answering without it", version)
            model.evidence = None
        return Serving(version, model, token)

    def current(self) -> Serving:
        serving = self._serving
        if serving is not None and time.monotonic() - self._checked_at < self.refresh_seconds:
            return serving
        # While one caller checks the registry (and loads a new default), the others keep being
        # answered by the model in hand instead of queueing behind the load.
        if serving is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return serving
        try:
            if self._serving is not None and time.monotonic() - self._checked_at < self.refresh_seconds:
                return self._serving
            try:
                token = self.registry.default_token()
                if self._serving is None or token != self._serving.token:
                    self._serving = self._load()
                    log.info("serving %s %s", self.registry.model_name, self._serving.version)
            except (RegistryError, OSError, Exception) as exc:  # the registry may fail in any way
                if self._serving is None:
                    raise ModelUnavailableError(str(exc)) from exc
                log.warning("registry check failed, still serving %s: %s", self._serving.version, exc)
            self._checked_at = time.monotonic()
            return self._serving
        finally:
            self._lock.release()

    @property
    def version(self) -> str:
        return self.current().version

    def predict(self, passenger: Passenger) -> Prediction:
        serving = self.current()
        prediction = serving.model.explain(passenger, version=serving.version)
        self._count(1)
        return prediction

    def score_frame(self, frame: Any) -> np.ndarray:
        probabilities = self.current().model.predict_frame(frame)
        self._count(len(probabilities))
        return probabilities

    def _count(self, passengers: int) -> None:
        with self._count_lock:
            self._scored += passengers

    def scoring_paths(self) -> dict[str, int]:
        with self._count_lock:
            return {"local": self._scored}

    def model_card(self) -> ModelVersion:
        return self.registry.get_version(self.current().version)

    def status(self) -> dict[str, Any]:
        return {"configured": "local", "path": "local", "fallbacks": 0}
