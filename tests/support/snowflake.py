"""Stand-ins for what only a Snowflake account has: the Registry's calls (`FakeStore`), and settings."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from snowflake.snowpark import Session

from ml.config import MLSettings
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.model import TitanicSurvivalModel, model_context, signatures
from ml.snowflake.registry import StoredVersion, VersionExistsError

SETTINGS = MLSettings(backend="snowflake")
TABLE = "LIFEBOAT.PUBLIC.TITANIC_DATA"


class Unclosable:
    """The test's session handed to code that closes what it opened."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def close(self) -> None:
        pass


class FakeStore:
    """The ModelStore protocol in memory and on disk, with Snowflake's visible behaviour: the first
    version becomes the default, names are unique, export writes a model directory tree, and
    `run` goes through the packaged model with the warehouse's type casting."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stored: dict[str, StoredVersion] = {}
        self.default_version: str | None = None
        self.taken_by_others: set[str] = set()
        self.exports = 0
        self.runs = 0
        self.fail_runs = False

    def versions(self) -> list[StoredVersion]:
        return [replace(v, metrics=json.loads(json.dumps(v.metrics))) for v in self.stored.values()]

    def default(self) -> str | None:
        return self.default_version

    def set_default(self, version: str) -> None:
        assert version in self.stored
        self.default_version = version

    def log(self, model_dir: Path, *, version: str, comment: str, metrics: dict[str, Any]) -> None:
        if version in self.taken_by_others:  # another writer logged it between list and log
            self.taken_by_others.discard(version)
            self.stored[version] = StoredVersion(version, "2026-01-01", "someone else's", {})
            raise VersionExistsError(version)
        assert version not in self.stored
        shutil.copytree(model_dir, self.root / version)
        self.stored[version] = StoredVersion(
            version, "2026-01-01 00:00:00", comment, json.loads(json.dumps(metrics))
        )
        if self.default_version is None:
            self.default_version = version

    def export(self, version: str, target: Path) -> None:
        self.exports += 1
        shutil.copytree(self.root / version, target / "model" / "models" / "TITANIC" / "artifacts")

    def run(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        self.runs += 1
        if self.fail_runs:
            raise SnowflakeUnavailable("cannot run the model: warehouse suspended")
        model = TitanicSurvivalModel(model_context(self.root / version))
        features = signatures()["predict_proba"].inputs
        typed = inputs[[f.name for f in features]].astype({f.name: f.as_dtype() for f in features})
        return pd.concat(
            [inputs.reset_index(drop=True), model.predict_proba(typed).reset_index(drop=True)], axis=1
        )
