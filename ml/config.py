"""Settings from the environment (and a `.env` file beside the project), read once at start-up.

Secrets never appear here as defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

_ENV_LOADED = False


def load_env_file(path: str | Path = ".env") -> None:
    """Load `.env` once; variables already in the environment win."""
    global _ENV_LOADED
    if _ENV_LOADED:
        return
    _ENV_LOADED = True
    if Path(path).is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    return default if not value else value.lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    text = env(name)
    if not text:
        return default
    if not text.lstrip("-").isdigit() or int(text) < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum} (got “{text}”)")
    return int(text)


BackendName = Literal["local", "snowflake"]
ScoringPlace = Literal["local", "warehouse"]  # fetch the model once and score in process, or SQL


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env(name, default).lower()
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(choices)} (got “{value}”)")
    return value


@dataclass(frozen=True)
class MLSettings:
    backend: BackendName = "local"
    home: Path = Path(".lifeboat")
    model_name: str = "TITANIC"
    scoring: ScoringPlace = "local"
    # With warehouse scoring, answer from the fetched copy when the warehouse fails (the bot's
    # default: people still get their answer; /healthz counts them). The CLI turns it off.
    scoring_fallback: bool = True
    snowflake_connection: str = ""
    snowflake_database: str = "LIFEBOAT"
    snowflake_schema: str = "PUBLIC"
    snowflake_table: str = "TITANIC_DATA"
    snowflake_warehouse: str = ""
    # Training cost knobs (bigger = slower, steadier estimates); see ml.core.training.TrainConfig.
    seed: int = 42
    members: int = 50  # bootstrap members behind each answer's likely range
    cv_folds: int = 5  # nested cross-validation's outer folds and repeats
    cv_repeats: int = 1

    @classmethod
    def from_env(cls) -> MLSettings:
        load_env_file()
        backend = cast(BackendName, env_choice("LIFEBOAT_BACKEND", "local", get_args(BackendName)))
        scoring = cast(ScoringPlace, env_choice("LIFEBOAT_SCORING", "local", get_args(ScoringPlace)))
        return cls(
            backend=backend,
            home=Path(env("LIFEBOAT_HOME", ".lifeboat")),
            model_name=env("LIFEBOAT_MODEL_NAME", "TITANIC").upper(),
            scoring=scoring,
            scoring_fallback=env_bool("LIFEBOAT_SCORING_FALLBACK", True),
            snowflake_connection=env("LIFEBOAT_SNOWFLAKE_CONNECTION")
            or env("SNOWFLAKE_DEFAULT_CONNECTION_NAME"),
            snowflake_database=env("LIFEBOAT_SNOWFLAKE_DATABASE", "LIFEBOAT").upper(),
            snowflake_schema=env("LIFEBOAT_SNOWFLAKE_SCHEMA", "PUBLIC").upper(),
            snowflake_table=env("LIFEBOAT_SNOWFLAKE_TABLE", "TITANIC_DATA").upper(),
            snowflake_warehouse=env("LIFEBOAT_SNOWFLAKE_WAREHOUSE").upper(),
            seed=env_int("LIFEBOAT_SEED", 42),
            members=env_int("LIFEBOAT_MEMBERS", 50, minimum=2),
            cv_folds=env_int("LIFEBOAT_CV_FOLDS", 5, minimum=2),
            cv_repeats=env_int("LIFEBOAT_CV_REPEATS", 1, minimum=1),
        )
