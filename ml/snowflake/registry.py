"""The Snowflake Model Registry behind lifeboat's `ModelRegistry` interface.

Mapping, with the local registry's semantics:

- a version is a Snowflake model version V1, V2, ... of DB.SCHEMA.TITANIC, logged as
  `ml.snowflake.model.TitanicSurvivalModel` (booster.ubj + features.json + the `ml` package), so
  SQL and `mv.run` score exactly as the bot does;
- the metrics are the version's registry metrics; what else a `ModelVersion` carries (creator,
  parameters, data fingerprint, info, checksum of the files) is one extra metrics entry,
  `lifeboat`, so it is written in the same statement as the version and cannot go missing;
- the default is `Model.default`; the audit trail is the table LIFEBOAT_AUDIT in the same schema;
- `load_model` exports a version's files once into a local cache (versions are immutable) and
  loads them as a SurvivalModel: serving then scores in process, without the warehouse.

Reading versions and the default uses SHOW commands, answered by Snowflake's metadata service
without a running warehouse, so the bot's polling (`default_token`) costs no warehouse time.

The calls into `snowflake.ml.registry` are isolated in `RegistryModelStore`; the logic here runs
against any `ModelStore`, which is how it is tested without an account.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ml.core.model import BOOSTER_FILE, MODEL_FILES, SurvivalModel
from ml.io.artifacts import has_model_files, hash_files, load_model, model_files, save_model
from ml.io.local_registry import now_iso
from ml.io.registry import (
    AuditEvent,
    ModelRegistry,
    ModelVersion,
    RegistryError,
    UnknownVersionError,
    parse_version,
    version_number,
)
from ml.snowflake import identifiers, objects
from ml.snowflake.errors import SnowflakeUnavailable

if TYPE_CHECKING:
    import pandas as pd
    from snowflake.snowpark import Session

    from ml.config import MLSettings

log = logging.getLogger(__name__)

META_KEY = "lifeboat"  # the one metrics entry that is not a metric (see module docstring)
LOG_ATTEMPTS = 3  # version names taken by a concurrent writer are skipped this many times


class VersionExistsError(RegistryError):
    """The version name was taken between listing and logging (another writer)."""


@dataclass(frozen=True)
class StoredVersion:
    """One version as the store reports it."""

    name: str
    created_on: str
    comment: str
    metrics: dict[str, Any] = field(default_factory=dict)  # as stored, META_KEY included


class ModelStore(Protocol):
    """The registry operations lifeboat needs, for one model."""

    def versions(self) -> list[StoredVersion]: ...

    def default(self) -> str | None: ...

    def set_default(self, version: str) -> None: ...

    def log(self, model_dir: Path, *, version: str, comment: str, metrics: dict[str, Any]) -> None:
        """Register the files SurvivalModel.save wrote as `version`; VersionExistsError if taken."""

    def export(self, version: str, target: Path) -> None:
        """Write the version's files somewhere under the empty directory `target`."""

    def run(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        """predict_proba in the warehouse on the model's input frame."""


def find_model_files(root: Path) -> Path:
    """The directory holding booster.ubj and features.json (and the optional members.ubj and
    evidence.json beside them) somewhere under an exported version."""
    found = [p.parent for p in root.rglob(BOOSTER_FILE) if has_model_files(p.parent)]
    if len(found) != 1:
        raise RegistryError(
            f"expected one copy of {', '.join(MODEL_FILES)} in the exported version, found {len(found)}"
        )
    return found[0]


class RegistryModelStore:
    """`ModelStore` on snowflake.ml.registry.Registry (live only: needs an account)."""

    def __init__(self, session: Session, database: str, schema: str, model_name: str) -> None:
        from snowflake.ml.registry import Registry

        self.session = session
        self.model_name = model_name
        # mv.run warns about every NULL input; NULLs are expected here (the model imputes them).
        warnings.filterwarnings("ignore", message="Null value detected in column", category=UserWarning)
        try:
            self.registry = Registry(session, database_name=database, schema_name=schema)
        except Exception as exc:
            from ml.snowflake.session import current_role, explain

            raise explain(
                exc, f"open the model registry in {database}.{schema}", role=current_role(session)
            ) from None

    def _model_row(self) -> dict[str, Any] | None:
        shown = self.registry.show_models()
        if shown.empty:
            return None
        matches = shown[shown["name"].astype(str).str.upper() == self.model_name]
        return None if matches.empty else matches.iloc[0].to_dict()

    def versions(self) -> list[StoredVersion]:
        if self._model_row() is None:
            return []
        out = []
        for row in self.registry.get_model(self.model_name).show_versions().to_dict("records"):
            try:
                metadata = json.loads(row.get("metadata") or "{}")
            except (TypeError, ValueError):
                metadata = {}
            out.append(
                StoredVersion(
                    name=str(row["name"]).upper(),
                    created_on=str(row.get("created_on", "")),
                    comment=str(row.get("comment") or ""),
                    metrics=dict(metadata.get("metrics") or {}),
                )
            )
        return out

    def default(self) -> str | None:
        row = self._model_row()
        name = row.get("default_version_name") if row else None
        return str(name).upper() if name else None

    def set_default(self, version: str) -> None:
        self.registry.get_model(self.model_name).default = version

    def log(self, model_dir: Path, *, version: str, comment: str, metrics: dict[str, Any]) -> None:
        from ml.snowflake.model import log_arguments
        from ml.snowflake.package import stage_code

        with tempfile.TemporaryDirectory(prefix="lifeboat-code-") as code_root:
            arguments = log_arguments(model_dir, stage_code(Path(code_root)))
            model = arguments.pop("model")
            try:
                self.registry.log_model(
                    model,
                    model_name=self.model_name,
                    version_name=version,
                    comment=comment,
                    metrics=metrics,
                    **arguments,
                )
            except Exception as exc:
                text = str(exc)
                if "already exist" in text or "100132" in text:
                    raise VersionExistsError(f"{self.model_name} {version} exists already") from exc
                if "100357" in text:
                    raise RegistryError(
                        "Snowflake's package channel cannot provide this model's packages (100357): train in"
                        " the warehouse (`lifeboat train` without --data), so the model is written by the"
                        f" xgboost the warehouse has ({text.splitlines()[0][:200]})"
                    ) from exc
                raise

    def export(self, version: str, target: Path) -> None:
        self.registry.get_model(self.model_name).version(version).export(str(target))

    def run(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        from ml.snowflake.contract import FUNCTION_NAME

        mv = self.registry.get_model(self.model_name).version(version)
        return mv.run(inputs, function_name=FUNCTION_NAME)


class SnowflakeRegistry(ModelRegistry):
    backend = "snowflake"

    def __init__(
        self,
        session: Session,
        settings: MLSettings,
        *,
        store: ModelStore | None = None,
        cache_dir: Path | None = None,
        owns_session: bool = False,
    ) -> None:
        self.session = session
        self.settings = settings
        self.model_name = identifiers.identifier(settings.model_name, "model name (LIFEBOAT_MODEL_NAME)")
        database, schema = identifiers.database(settings), identifiers.schema(settings)
        self.qualified_name = f"{database}.{schema}.{self.model_name}"
        self.audit_table = objects.audit_table(settings)
        try:
            objects.ensure_table(session, self.audit_table, objects.audit_schema())
        except SnowflakeUnavailable:
            raise
        except Exception as exc:
            raise self._explain(exc, f"create {self.audit_table}") from None
        self.store: ModelStore = store or RegistryModelStore(session, database, schema, self.model_name)
        self.cache_dir = cache_dir or Path(settings.home) / "snowflake" / self.qualified_name
        self.owns_session = owns_session
        self._cache: dict[str, SurvivalModel] = {}
        self._load_lock = threading.Lock()
        self._audit_lock = threading.Lock()
        self._last_audit_id = 0

    @classmethod
    def from_settings(cls, settings: MLSettings) -> SnowflakeRegistry:
        from ml.snowflake.session import open_session

        session = open_session(settings)
        try:
            return cls(session, settings, owns_session=True)
        except BaseException:
            session.close()
            raise

    def _explain(self, exc: BaseException, doing: str) -> SnowflakeUnavailable:
        from ml.snowflake.session import current_role, explain

        return explain(exc, doing, role=current_role(self.session))

    def close(self) -> None:
        if self.owns_session:
            self.session.close()

    # -- versions ------------------------------------------------------------------------------
    def _stored(self) -> dict[str, StoredVersion]:
        out = {}
        for stored in self.store.versions():
            try:
                out[parse_version(stored.name)] = stored
            except UnknownVersionError:  # a version not named by lifeboat: not ours to serve
                continue
        return out

    def _to_version(self, stored: StoredVersion, default: str | None) -> ModelVersion:
        meta = stored.metrics.get(META_KEY) or {}
        if isinstance(meta, str):  # some metadata round-trips return nested JSON as text
            meta = json.loads(meta)
        metrics = {
            k: float(v)
            for k, v in stored.metrics.items()
            if k != META_KEY and isinstance(v, int | float) and not isinstance(v, bool)
        }
        return ModelVersion(
            model_name=self.model_name,
            version=parse_version(stored.name),
            created_at=str(meta.get("created_at") or stored.created_on),
            created_by=str(meta.get("created_by") or "unknown"),
            comment=stored.comment,
            metrics=metrics,
            params=dict(meta.get("params") or {}),
            data_fingerprint=str(meta.get("data_fingerprint") or ""),
            info=dict(meta.get("info") or {}),
            is_default=parse_version(stored.name) == default,
        )

    def log_model(
        self,
        model: SurvivalModel,
        *,
        metrics: dict[str, float],
        params: dict[str, Any],
        comment: str,
        created_by: str,
        data_fingerprint: str,
        info: dict[str, Any] | None = None,
        make_default: bool = False,
    ) -> ModelVersion:
        """Log V<n+1>; make it the default if asked or if it is the first. Snowflake cannot log and
        set the default in one transaction: if setting the default fails the version exists but does
        not serve, the error is raised, and `set_default` can finish the job."""
        with tempfile.TemporaryDirectory(prefix="lifeboat-model-") as tmp:
            files = Path(tmp) / "files"
            save_model(model, files)
            stored_metrics: dict[str, Any] = {
                **metrics,
                META_KEY: {
                    "created_at": now_iso(),
                    "created_by": created_by,
                    "params": params,
                    "data_fingerprint": data_fingerprint,
                    "info": info or {},
                    "artifact_sha256": hash_files(files),
                },
            }
            try:
                existing = self._stored()
                previous = self.store.default() if existing else None
                for attempt in range(LOG_ATTEMPTS):
                    version = f"V{1 + max((version_number(v) for v in existing), default=0)}"
                    try:
                        self.store.log(files, version=version, comment=comment, metrics=stored_metrics)
                        break
                    except VersionExistsError:
                        if attempt == LOG_ATTEMPTS - 1:
                            raise
                        existing = self._stored()
                becomes_default = make_default or not existing
                if becomes_default and self.store.default() != version:
                    self.store.set_default(version)
            except (RegistryError, SnowflakeUnavailable):
                raise
            except Exception as exc:
                raise self._explain(exc, f"register a version of {self.qualified_name}") from None
        self.audit(
            created_by,
            "register",
            from_version=previous if becomes_default else None,
            to_version=version,
            details={
                "metrics": metrics,
                "data_fingerprint": data_fingerprint,
                "default_changed": becomes_default,
            },
        )
        return self.get_version(version)

    def list_versions(self) -> list[ModelVersion]:
        default = self.get_default()
        stored = self._stored()
        return [self._to_version(stored[name], default) for name in sorted(stored, key=version_number)]

    def get_version(self, version: str) -> ModelVersion:
        name = parse_version(version)
        stored = self._stored().get(name)
        if stored is None:
            raise UnknownVersionError(f"{self.model_name} has no version {name}")
        return self._to_version(stored, self.get_default())

    def load_model(self, version: str) -> SurvivalModel:
        """Fetch the version's files once (versions are immutable), then score in process."""
        name = parse_version(version)
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        with self._load_lock:
            if name in self._cache:
                return self._cache[name]
            stored = self._stored().get(name)
            if stored is None:
                raise UnknownVersionError(f"{self.model_name} has no version {name}")
            meta = stored.metrics.get(META_KEY) or {}
            expected = meta.get("artifact_sha256") if isinstance(meta, dict) else None
            directory = self.cache_dir / name
            if not self._cached_files_match(directory, expected):
                self._fetch(name, directory, expected)
            try:
                model = load_model(directory)
            except (OSError, ValueError) as exc:
                raise RegistryError(f"cannot load {self.model_name} {name}: {exc}") from exc
            self._cache[name] = model
            return model

    @staticmethod
    def _cached_files_match(directory: Path, expected: str | None) -> bool:
        # The checksum also catches a model dropped and re-created with a different V1.
        if not has_model_files(directory):
            return False
        return expected is None or hash_files(directory) == expected

    def _fetch(self, name: str, directory: Path, expected: str | None) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=f".{name}-") as tmp:
            exported = Path(tmp) / "export"
            exported.mkdir()
            try:
                self.store.export(name, exported)
            except (RegistryError, SnowflakeUnavailable):
                raise
            except Exception as exc:
                raise self._explain(exc, f"export {self.qualified_name} {name}") from None
            files = find_model_files(exported)
            if expected is not None and hash_files(files) != expected:
                raise RegistryError(f"the files of {self.model_name} {name} are damaged (checksum mismatch)")
            staged = Path(tmp) / "files"
            staged.mkdir()
            for file_name in model_files(files):  # the members and evidence too, when it has them
                shutil.copyfile(files / file_name, staged / file_name)
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(staged, directory)  # whole or nothing for other processes sharing the cache

    def run_in_warehouse(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        """`ModelVersion.run(inputs, function_name="predict_proba")` on the version."""
        name = parse_version(version)
        try:
            return self.store.run(name, inputs)
        except (RegistryError, SnowflakeUnavailable):
            raise
        except Exception as exc:
            raise self._explain(exc, f"run {self.qualified_name} {name} in the warehouse") from None

    # -- default -------------------------------------------------------------------------------
    def get_default(self) -> str | None:
        try:
            default = self.store.default()
        except (RegistryError, SnowflakeUnavailable):
            raise
        except Exception as exc:
            raise self._explain(exc, f"read the default version of {self.qualified_name}") from None
        return parse_version(default) if default else None

    def default_token(self) -> str | None:
        """The default version's name: one SHOW MODELS, no warehouse. A change counter is not
        needed: versions are immutable, so the same name always means the same model."""
        return self.get_default()

    def set_default(
        self,
        version: str,
        *,
        actor: str = "system",
        action: str = "promote",
        details: dict[str, Any] | None = None,
    ) -> str | None:
        name = parse_version(version)
        if name not in self._stored():
            raise UnknownVersionError(f"{self.model_name} has no version {name}")
        previous = self.get_default()
        try:
            self.store.set_default(name)
        except Exception as exc:
            raise self._explain(exc, f"make {name} the default of {self.qualified_name}") from None
        self.audit(
            actor,
            action,
            from_version=previous,
            to_version=name,
            details={**(details or {}), "default_changed": True},
        )
        return previous

    # -- audit ---------------------------------------------------------------------------------
    def _next_audit_id(self) -> int:
        # Microseconds since the epoch, strictly increasing within this process: orders the trail
        # without a sequence object (one less thing to grant) and without a read before each write.
        with self._audit_lock:
            self._last_audit_id = max(self._last_audit_id + 1, time.time_ns() // 1000)
            return self._last_audit_id

    def audit(
        self,
        actor: str,
        action: str,
        *,
        from_version: str | None = None,
        to_version: str | None = None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        row = [
            self._next_audit_id(),
            self.model_name,
            now_iso(),
            actor,
            action,
            from_version,
            to_version,
            outcome,
            json.dumps(details or {}, sort_keys=True, default=str),
        ]
        try:
            objects.append_row(self.session, self.audit_table, objects.audit_schema(), row)
        except Exception as exc:
            raise self._explain(exc, f"write to {self.audit_table}") from None

    def history(self, limit: int = 20) -> list[AuditEvent]:
        from snowflake.snowpark.functions import col

        try:
            rows = (
                self.session.table(self.audit_table)
                .filter(col("MODEL_NAME") == self.model_name)
                .sort(col("ID").desc())
                .limit(limit)
                .collect()
            )
        except Exception as exc:
            raise self._explain(exc, f"read {self.audit_table}") from None
        return [
            AuditEvent(
                id=int(row["ID"]),
                at=row["AT"],
                actor=row["ACTOR"],
                action=row["ACTION"],
                from_version=row["FROM_VERSION"],
                to_version=row["TO_VERSION"],
                outcome=row["OUTCOME"],
                details=json.loads(row["DETAILS"] or "{}"),
            )
            for row in rows
        ]


__all__ = [
    "META_KEY",
    "ModelStore",
    "RegistryModelStore",
    "SnowflakeRegistry",
    "StoredVersion",
    "VersionExistsError",
]
