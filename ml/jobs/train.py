"""Jobs that tie data, training and the registry together (used by the CLI, the bot and retraining)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.core.training import TrainConfig, TrainingResult, train
from ml.io.data import load_csv
from ml.io.registry import ModelRegistry, ModelVersion


@dataclass(frozen=True)
class Trained:
    result: TrainingResult
    version: ModelVersion


def train_and_register(
    registry: ModelRegistry,
    *,
    data: str | Path | None = None,
    actor: str,
    comment: str = "",
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> Trained:
    """Load data, train, register a new version (the first becomes the default)."""
    frame = load_csv(data)
    result = train(frame, config, progress)
    version = registry.log_model(
        result.model,
        metrics=result.metrics(),
        params=result.params,
        comment=comment
        or f"trained on {result.n_rows} passengers ({Path(data).name if data else 'shipped data'})",
        created_by=actor,
        data_fingerprint=result.data_fingerprint,
        info=registration_info(result),
    )
    return Trained(result, version)


def registration_info(result: TrainingResult) -> dict[str, Any]:
    """What a version records about how it was trained (besides metrics and parameters)."""
    return {
        "n_rows": result.n_rows,
        "n_train": result.n_train,
        "n_holdout": result.n_holdout,
        "holdout_fingerprint": result.holdout_fingerprint,
        "train_seconds": round(result.seconds, 3),
        **result.info,
    }


def ensure_model(
    registry: ModelRegistry, *, actor: str, say: Callable[[str], None], config: TrainConfig | None = None
) -> str:
    """Make sure a default version exists, training the first one from the shipped data if needed."""
    default = registry.get_default()
    if default is not None:
        return default
    say("No model is registered yet: training the first version from the shipped Titanic data...")
    trained = train_and_register(
        registry, actor=actor, comment="first version, trained automatically", config=config
    )
    say(f"Registered {registry.model_name} {trained.version.version} (now the default).")
    return trained.version.version
