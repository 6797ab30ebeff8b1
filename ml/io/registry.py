"""One model-registry interface, with Snowflake Model Registry semantics.

A registry holds one named model (`TITANIC`) with immutable versions `V1, V2, ...`; each version
carries metrics, parameters, a comment, creation time and creator, and a fingerprint of its
training data. One version is the default: the one that serves. The local implementation keeps
this in SQLite + files; the Snowflake one maps it onto `snowflake.ml.registry.Registry`.

The same store also keeps the operational records a team needs around a registry: an audit trail
of every registration, promotion and rollback, and retraining runs with a lease-based lock.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from ml.core.model import SurvivalModel

_VERSION = re.compile(r"^V([1-9][0-9]*)$")


class RegistryError(RuntimeError):
    """A registry operation failed; the message is meant for the person who asked."""


class UnknownVersionError(RegistryError):
    pass


class NoModelError(RegistryError):
    """The registry has no versions (or no default) yet."""


def parse_version(text: str) -> str:
    """'v3', 'V3', '3' -> 'V3'; anything else is refused."""
    candidate = text.strip().upper()
    if candidate.isdigit():
        candidate = f"V{candidate}"
    if not _VERSION.match(candidate):
        raise UnknownVersionError(f"“{text}” is not a version name (expected V1, V2, ...)")
    return candidate


def version_number(version: str) -> int:
    match = _VERSION.match(version)
    if not match:
        raise UnknownVersionError(f"“{version}” is not a version name")
    return int(match.group(1))


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: str
    created_at: str  # ISO 8601, UTC
    created_by: str
    comment: str
    metrics: dict[str, float]
    params: dict[str, Any]
    data_fingerprint: str
    info: dict[str, Any] = field(default_factory=dict)
    is_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    actor: str
    action: str  # "register", "promote", "rollback", "retrain", "retrain-refused", ...
    from_version: str | None
    to_version: str | None
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelRegistry(ABC):
    """What the rest of the system needs from a model registry."""

    model_name: str
    backend: str

    @abstractmethod
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
        """Register a new immutable version. The first version ever registered becomes the default;
        `make_default` makes this one the default in the same step (atomically where the backend can)."""

    @abstractmethod
    def list_versions(self) -> list[ModelVersion]:
        """All versions, oldest first."""

    @abstractmethod
    def get_version(self, version: str) -> ModelVersion: ...

    @abstractmethod
    def load_model(self, version: str) -> SurvivalModel: ...

    @abstractmethod
    def get_default(self) -> str | None: ...

    @abstractmethod
    def set_default(
        self,
        version: str,
        *,
        actor: str = "system",
        action: str = "promote",
        details: dict[str, Any] | None = None,
    ) -> str | None:
        """Make `version` the default; returns the previous default. Recorded in the audit trail."""

    @abstractmethod
    def default_token(self) -> str | None:
        """A cheap value that changes whenever the default changes (for serving processes to poll)."""

    @abstractmethod
    def audit(
        self,
        actor: str,
        action: str,
        *,
        from_version: str | None = None,
        to_version: str | None = None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None: ...

    @abstractmethod
    def history(self, limit: int = 20) -> list[AuditEvent]:
        """Audit events, newest first."""

    def previous_default(self) -> str | None:
        """The default before the current one, from the audit trail (what a rollback returns to)."""
        current = self.get_default()
        for event in self.history(500):
            if event.details.get("default_changed") and event.to_version == current:
                return event.from_version
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
