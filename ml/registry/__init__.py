"""Model registries: one interface (`ModelRegistry`), a local and a Snowflake implementation."""

from __future__ import annotations

from ml.config import MLSettings
from ml.registry.base import (
    AuditEvent,
    ModelRegistry,
    ModelVersion,
    NoModelError,
    RegistryError,
    UnknownVersionError,
    parse_version,
)


def open_registry(settings: MLSettings) -> ModelRegistry:
    """The configured registry. Snowflake libraries are imported only for the Snowflake backend."""
    if settings.backend == "snowflake":
        from ml.registry.snowflake import SnowflakeRegistry

        return SnowflakeRegistry.from_settings(settings)
    from ml.registry.local import LocalRegistry

    return LocalRegistry(settings.home, settings.model_name)


__all__ = [
    "AuditEvent",
    "ModelRegistry",
    "ModelVersion",
    "NoModelError",
    "RegistryError",
    "UnknownVersionError",
    "open_registry",
    "parse_version",
]
