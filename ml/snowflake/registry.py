"""The Snowflake Model Registry behind lifeboat's `ModelRegistry` interface.

Mapping, with the local registry's semantics:

- a version is a Snowflake model version V1, V2, ... of DB.SCHEMA.TITANIC, logged as
  `ml.snowflake.model.TitanicSurvivalModel` (booster.ubj + features.json + the `ml` package), so
  SQL and `mv.run` score exactly as the bot does;
- a version's record (creator, comment, metrics, parameters, data fingerprint, info and the
  checksum of the model files) is `lifeboat.json`, logged as one of the model's artifacts: the
  same CREATE MODEL / ADD VERSION statement writes it and the files it vouches for;
- the library writes a version's comment and metrics in statements of their own after the version
  exists (`SET COMMENT=$$...$$`, then `SET METADATA=$$...$$`, the text pasted in unescaped). So the
  record is also copied into the metrics (entry `lifeboat`, JSON with no `$` in it) for listing,
  the comment sent has no `$` (the original is in the record), and after logging the version is
  read back: a version whose copy did not arrive is written again once, else dropped. One that
  stays incomplete (the process was killed in between) is listed as such, is never promoted, and
  loads only if its files match the checksum in its own lifeboat.json;
- the retraining procedure gives the registry a `fence` (the run's lease, extended to cover what
  follows): checked after the long upload and before and after promoting, so a run that lost its
  lock meanwhile registers and promotes nothing;
- the default is `Model.default`; the audit trail is the table LIFEBOAT_AUDIT in the same schema;
- `load_model` exports a version's files once into a local cache (versions are immutable) and
  loads them as a SurvivalModel: serving then scores in process, without the warehouse.

Reading versions and the default uses SHOW commands, answered by Snowflake's metadata service
without a running warehouse, so the bot's polling (`default_token`) costs no warehouse time.

The calls into `snowflake.ml.registry` are isolated in `RegistryModelStore`; the logic here runs
against any `ModelStore`, which is how it is tested without an account (and `RegistryModelStore`
itself against autospecs of the library's classes).
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
from collections.abc import Callable, Sequence
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
from ml.snowflake.contract import RECORD_FILE
from ml.snowflake.errors import NotServableError, SnowflakeUnavailable

if TYPE_CHECKING:
    import pandas as pd
    from snowflake.ml.model import ModelVersion as SnowflakeModelVersion
    from snowflake.snowpark import Session

    from ml.config import MLSettings

log = logging.getLogger(__name__)

META_KEY = "lifeboat"  # the metrics entry holding the version's record (see module docstring)
RECORD_SCHEMA = 1
LOG_ATTEMPTS = 3  # version names taken by a concurrent writer are skipped this many times
INCOMPLETE = "incomplete"  # info key of a version listed without its record

Fence = Callable[[], bool]  # True: the caller still holds its lease, now extended to cover what follows


class VersionExistsError(RegistryError):
    """The version name was taken between listing and logging (another writer)."""


class LeaseLostError(RegistryError):
    """The retraining run lost its lock while registering: nothing was registered or promoted."""


# -- the record and its copy in the registry's metadata ----------------------------------------------
def dollar_safe_json(value: Any) -> str:
    """JSON with no `$` in it: the library pastes metadata between `$$` quotes, which nothing
    escapes. A `$` only occurs inside JSON strings, where `\\u0024` is the same character."""
    return json.dumps(value, sort_keys=True, default=str).replace("$", "\\u0024")


def dollar_safe_text(text: str) -> str:
    """A comment for `SET COMMENT=$$...$$`: `$` becomes the full-width ＄ (the original text is in
    the record, which is what lifeboat shows)."""
    return text.replace("$", "＄")


def parse_record(value: Any) -> dict[str, Any] | None:
    """The record as stored: a dict (older versions), or JSON text; None when absent or unreadable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def read_record(directory: Path) -> dict[str, Any] | None:
    path = directory / RECORD_FILE
    return parse_record(path.read_text()) if path.is_file() else None


def write_record(directory: Path, record: dict[str, Any]) -> None:
    (directory / RECORD_FILE).write_text(json.dumps(record, sort_keys=True, default=str))


@dataclass(frozen=True)
class StoredVersion:
    """One version as the store reports it."""

    name: str
    created_on: str
    comment: str
    metrics: dict[str, Any] = field(default_factory=dict)  # as stored, META_KEY included

    @property
    def record(self) -> dict[str, Any] | None:
        return parse_record(self.metrics.get(META_KEY))

    @property
    def checksum(self) -> str | None:
        record = self.record or {}
        value = record.get("artifact_sha256")
        return str(value) if value else None

    @property
    def complete(self) -> bool:
        """Registered whole: its record arrived (with the checksum of its files and its creator)."""
        return self.checksum is not None and bool((self.record or {}).get("created_by"))


class ModelStore(Protocol):
    """The registry operations lifeboat needs, for one model."""

    def versions(self) -> list[StoredVersion]: ...

    def default(self) -> str | None: ...

    def set_default(self, version: str) -> None: ...

    def log(self, model_dir: Path, *, version: str, comment: str, metrics: dict[str, Any]) -> None:
        """Register the files in `model_dir` (SurvivalModel.save's and lifeboat.json) as `version`;
        VersionExistsError if taken."""

    def set_metric(self, version: str, name: str, value: Any) -> None:
        """Write one metrics entry of an existing version (repairs a missing record copy)."""

    def delete(self, version: str) -> None:
        """Drop the version (the model with it, when it is the only one: the default cannot be dropped)."""

    def export(self, version: str, target: Path) -> None:
        """Write the version's files somewhere under the empty directory `target`."""

    def run(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        """predict_proba in the warehouse on the model's input frame."""

    def score_one(self, version: str, values: Sequence[Any]) -> float | None:
        """predict_proba's survival probability for one row of INPUT_COLUMNS values (None for
        unknown), in the warehouse; None when the model refused the row."""


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
    """`ModelStore` on snowflake.ml.registry.Registry (needs an account; tested on autospecs).

    Versions are immutable, so each `ModelVersion` is looked up once (5 SHOW statements) and kept,
    with the checked one-row scoring statement built from its functions: after that, scoring one
    passenger is one bound SELECT."""

    def __init__(self, session: Session, database: str, schema: str, model_name: str) -> None:
        from snowflake.ml.registry import Registry

        self.session = session
        self.database = database
        self.model_name = model_name
        self.qualified_name = f"{database}.{schema}.{model_name}"
        self._versions: dict[str, SnowflakeModelVersion] = {}
        self._statements: dict[str, str] = {}
        self._lock = threading.Lock()
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

    def _version(self, version: str) -> SnowflakeModelVersion:
        with self._lock:
            if version not in self._versions:
                self._versions[version] = self.registry.get_model(self.model_name).version(version)
            return self._versions[version]

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
        from ml.snowflake.channel import check_model_packages
        from ml.snowflake.model import log_arguments
        from ml.snowflake.package import stage_code

        with tempfile.TemporaryDirectory(prefix="lifeboat-code-") as code_root:
            arguments = log_arguments(model_dir, stage_code(Path(code_root)))
            check_model_packages(self.session, self.database, arguments)  # before anything is uploaded
            model = arguments.pop("model")
            try:
                self.registry.log_model(
                    model,
                    model_name=self.model_name,
                    version_name=version,
                    comment=dollar_safe_text(comment),
                    metrics={k: self._safe(k, v) for k, v in metrics.items()},
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

    @staticmethod
    def _safe(name: str, value: Any) -> Any:
        # Numbers cannot hold a `$`; the record (a dict) goes as `$`-free JSON text.
        return dollar_safe_json(value) if name == META_KEY else value

    def set_metric(self, version: str, name: str, value: Any) -> None:
        self._version(version).set_metric(name, self._safe(name, value))

    def delete(self, version: str) -> None:
        names = {v.name for v in self.versions()}
        if names <= {version}:  # the only version is the default, which cannot be dropped
            self.registry.delete_model(self.model_name)
        else:
            self.registry.get_model(self.model_name).delete_version(version)
        with self._lock:
            self._versions.pop(version, None)
            self._statements.pop(version, None)

    def export(self, version: str, target: Path) -> None:
        self._version(version).export(str(target))

    def run(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        from ml.snowflake.contract import FUNCTION_NAME

        return self._version(version).run(inputs, function_name=FUNCTION_NAME)

    def scoring_statement(self, version: str) -> str:
        """The one-row statement for `version`, after checking (once) that the version has the
        function it calls, with the signature it binds: else NotServableError."""
        with self._lock:
            statement = self._statements.get(version)
        if statement is None:
            from ml.snowflake.sql import bound_scoring_sql

            check_function(self._version(version), f"{self.model_name} {version}")
            statement = bound_scoring_sql(self.qualified_name, version)
            with self._lock:
                self._statements[version] = statement
        return statement

    def score_one(self, version: str, values: Sequence[Any]) -> float | None:
        rows = self.session.sql(self.scoring_statement(version), params=list(values)).collect()
        value = rows[0][0] if rows else None
        return None if value is None else float(value)


def check_function(mv: SnowflakeModelVersion, what: str) -> None:
    """The version's PREDICT_PROBA is a scalar function returning an object, taking INPUT_COLUMNS
    with the types `contract.sql_type` casts to (show_functions: read with the version, no statement)."""
    from ml.snowflake.contract import FUNCTION_NAME
    from ml.snowflake.model import signatures

    functions = {str(f["name"]).upper(): f for f in mv.show_functions()}
    found = functions.get(FUNCTION_NAME.upper())
    if found is None:
        raise NotServableError(
            f"{what} has no {FUNCTION_NAME.upper()} function (it has: {', '.join(sorted(functions)) or 'none'})"
        )
    if found["target_method_function_type"] != "FUNCTION" or not found["is_object_output"]:
        raise NotServableError(
            f"{what}: {FUNCTION_NAME.upper()} is not a scalar function returning an object"
        )
    expected = [(f.name, f.as_snowpark_type()) for f in signatures()[FUNCTION_NAME].inputs]
    actual = [(f.name, f.as_snowpark_type()) for f in found["signature"].inputs]
    if actual != expected:
        shown = ", ".join(f"{name} {kind}" for name, kind in actual)
        raise NotServableError(f"{what}: {FUNCTION_NAME.upper()} takes ({shown}), not lifeboat's inputs")


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
        fence: Fence | None = None,
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
        self.fence = fence  # set by the retraining procedure: its run's lease (see module docstring)
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
        record = stored.record or {}
        metrics = {
            k: float(v)
            for k, v in {**(record.get("metrics") or {}), **stored.metrics}.items()
            if k != META_KEY and isinstance(v, int | float) and not isinstance(v, bool)
        }
        info = dict(record.get("info") or {})
        if not stored.complete:
            info[INCOMPLETE] = "registered without its record: not promoted, loaded only if its files verify"
        return ModelVersion(
            model_name=self.model_name,
            version=parse_version(stored.name),
            created_at=str(record.get("created_at") or stored.created_on),
            created_by=str(record.get("created_by") or "unknown"),
            comment=str(record.get("comment", stored.comment)),  # the original text (the registry's has no $)
            metrics=metrics,
            params=dict(record.get("params") or {}),
            data_fingerprint=str(record.get("data_fingerprint") or ""),
            info=info,
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
            record = {
                "schema": RECORD_SCHEMA,
                "created_at": now_iso(),
                "created_by": created_by,
                "comment": comment,
                "metrics": metrics,
                "params": params,
                "data_fingerprint": data_fingerprint,
                "info": info or {},
                "artifact_sha256": hash_files(files),
            }
            write_record(files, record)
            try:
                existing = self._stored()
                previous = self.store.default() if existing else None
                if not existing:  # CREATE MODEL makes V1 the default by itself: fence before it
                    self._hold_fence(None)
                version = self._log_new(files, existing, comment, {**metrics, META_KEY: record})
                self._hold_fence(version)
                becomes_default = make_default or not existing
                if becomes_default and self.store.default() != version:
                    self.store.set_default(version)
                    self._hold_promotion(version, previous)
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

    def _log_new(
        self, files: Path, existing: dict[str, StoredVersion], comment: str, metrics: dict[str, Any]
    ) -> str:
        """Log the files under the next free name; returns it once the version is complete."""
        for attempt in range(LOG_ATTEMPTS):
            version = f"V{1 + max((version_number(v) for v in existing), default=0)}"
            try:
                self.store.log(files, version=version, comment=comment, metrics=metrics)
            except VersionExistsError:
                if attempt == LOG_ATTEMPTS - 1:
                    raise
                existing = self._stored()
                continue
            except Exception as exc:
                self._complete_or_drop(version, metrics[META_KEY], exc)
                return version
            self._complete_or_drop(version, metrics[META_KEY], None)
            return version
        raise AssertionError("unreachable")

    def _complete_or_drop(self, version: str, record: dict[str, Any], failure: Exception | None) -> None:
        """After `store.log` returned or raised: the version is complete (its record copy written
        again if it did not arrive), or it is dropped and RegistryError raised; if logging failed
        before the version existed, that failure is raised."""
        stored = self._stored().get(version)
        if stored is None:
            raise failure or RegistryError(f"{self.model_name} {version} was logged but is not listed")
        if not stored.complete:
            log.warning("%s %s has no record copy (%s): writing it again", self.model_name, version, failure)
            try:
                self.store.set_metric(version, META_KEY, record)
                stored = self._stored().get(version)
            except Exception as exc:  # dropped below
                failure = failure or exc
        if stored is not None and stored.complete:
            if failure is not None:
                log.warning(
                    "%s %s is complete although logging it said: %s", self.model_name, version, failure
                )
            return
        self._drop(version, f"registering {version} stopped before its record was written ({failure})")

    def _drop(self, version: str, why: str, error: type[RegistryError] = RegistryError) -> None:
        """Drop a version that must not stay, then raise `error` saying why. If it cannot be dropped
        the message says how to; an incomplete version left so is listed as such and never promoted."""
        try:
            self.store.delete(version)
        except Exception as exc:
            raise error(
                f"{why}; dropping it failed too ({exc}): drop it with ALTER MODEL {self.qualified_name}"
                f" DROP VERSION {version}"
            ) from None
        raise error(f"{why}: it was dropped")

    def _fenced(self) -> bool:
        """No fence, or it holds. A fence that cannot be asked (the network) is not a held lease."""
        if self.fence is None:
            return True
        try:
            return self.fence()
        except Exception as exc:
            log.warning("could not check the retraining lock: %s", exc)
            return False

    def _hold_fence(self, version: str | None) -> None:
        if self._fenced():
            return
        why = "lost the retraining lock while registering (the run's worker stopped or it was finished)"
        if version is None:
            raise LeaseLostError(f"{why}: nothing registered")
        self._drop(version, f"{why}: {version} is not promoted", LeaseLostError)

    def _hold_promotion(self, version: str, previous: str | None) -> None:
        """After SET DEFAULT_VERSION: if the lease went meanwhile, put the previous default back."""
        if previous is None or self._fenced():
            return
        self.store.set_default(previous)
        raise LeaseLostError(
            f"lost the retraining lock while promoting {version}: {previous} is the default again"
        )

    def list_versions(self) -> list[ModelVersion]:
        default = self.get_default()
        stored = self._stored()
        return [self._to_version(stored[name], default) for name in sorted(stored, key=version_number)]

    def incomplete_versions(self) -> list[str]:
        """Versions registered without their record copy (a process killed between statements)."""
        return sorted((name for name, s in self._stored().items() if not s.complete), key=version_number)

    def get_version(self, version: str) -> ModelVersion:
        name = parse_version(version)
        stored = self._stored().get(name)
        if stored is None:
            raise UnknownVersionError(f"{self.model_name} has no version {name}")
        return self._to_version(stored, self.get_default())

    def load_model(self, version: str) -> SurvivalModel:
        """Fetch the version's files once (versions are immutable), verify them, score in process."""
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
            directory = self.cache_dir / name
            expected = stored.checksum
            # Without the registry's copy, only a fresh export's own lifeboat.json can vouch for the files.
            if expected is None or not self._cached_files_match(directory, expected):
                self._fetch(name, directory, expected)
            try:
                model = load_model(directory)
            except (OSError, ValueError) as exc:
                raise RegistryError(f"cannot load {self.model_name} {name}: {exc}") from exc
            self._cache[name] = model
            return model

    @staticmethod
    def _cached_files_match(directory: Path, expected: str) -> bool:
        # The checksum also catches a model dropped and re-created with a different V1.
        return has_model_files(directory) and hash_files(directory) == expected

    def _verified(self, name: str, files: Path, expected: str | None) -> None:
        record = read_record(files) or {}
        own = record.get("artifact_sha256")
        if expected is None and own is None:
            raise RegistryError(
                f"{self.model_name} {name} has no checksum: it was not registered completely; refusing to"
                " load it (`lifeboat doctor` lists such versions)"
            )
        actual = hash_files(files)
        if any(want is not None and actual != want for want in (expected, own)):
            raise RegistryError(f"the files of {self.model_name} {name} are damaged (checksum mismatch)")

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
            self._verified(name, files, expected)
            staged = Path(tmp) / "files"
            staged.mkdir()
            # The members and evidence too, when it has them, and the version's record.
            for file_name in (*model_files(files), RECORD_FILE):
                if (files / file_name).is_file():
                    shutil.copyfile(files / file_name, staged / file_name)
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(staged, directory)  # whole or nothing for other processes sharing the cache

    def _in_warehouse(self, name: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (RegistryError, SnowflakeUnavailable):
            raise
        except Exception as exc:
            raise self._explain(exc, f"run {self.qualified_name} {name} in the warehouse") from None

    def run_in_warehouse(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        """`ModelVersion.run(inputs, function_name="predict_proba")` on the version (batches)."""
        name = parse_version(version)
        return self._in_warehouse(name, lambda: self.store.run(name, inputs))

    def score_in_warehouse(self, version: str, values: Sequence[Any]) -> float | None:
        """One passenger's survival probability from the version in the warehouse: one statement
        once the version is known (see RegistryModelStore)."""
        name = parse_version(version)
        return self._in_warehouse(name, lambda: self.store.score_one(name, values))

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
        stored = self._stored().get(name)
        if stored is None:
            raise UnknownVersionError(f"{self.model_name} has no version {name}")
        if not stored.complete:
            raise RegistryError(
                f"{self.model_name} {name} was not registered completely (no record): it cannot become the"
                f" default; drop it with ALTER MODEL {self.qualified_name} DROP VERSION {name}"
            )
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
    "LeaseLostError",
    "ModelStore",
    "RegistryModelStore",
    "SnowflakeRegistry",
    "StoredVersion",
    "VersionExistsError",
]
