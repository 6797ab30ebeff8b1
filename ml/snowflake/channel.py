"""Snowflake's package channel: does it have what a model or a procedure will ask for?

A model logged from this machine asks the warehouse for the packages the library derives from
`log_arguments` (xgboost, numpy, pandas, cloudpickle, snowflake-ml-python, relaxed to ranges where
`relax_version` allows) on this machine's Python. The library checks only snowflake-ml-python
against the channel; anything else missing fails with 100357 after the upload, or at the first
query. `check_model_packages` asks INFORMATION_SCHEMA.PACKAGES first, in one bound statement, and
refuses with what is missing and what the channel has.

The requirements come from the library's own packager (`ModelPackager.save`, what `log_model`
runs), so what is checked is what will be asked for. Packaging takes about a second; the answer
depends only on the dependency list and the installed library versions, so it is kept per process.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from ml.io.registry import RegistryError

if TYPE_CHECKING:
    from snowflake.snowpark import Session

log = logging.getLogger(__name__)

# The library embeds itself in the model when the channel lacks it (model_parameter_reconciler.py):
# a miss there costs a bigger upload, not a failure.
EMBEDDED_IF_MISSING = frozenset({"snowflake-ml-python"})

_requirements: dict[tuple[Any, ...], tuple[str, tuple[str, ...]]] = {}
_requirements_lock = threading.Lock()


@dataclass(frozen=True)
class Availability:
    """One requirement against the channel: the versions that satisfy it, and all it has."""

    requirement: str
    matching: tuple[str, ...]
    known: tuple[str, ...]

    @property
    def name(self) -> str:
        return Requirement(self.requirement).name

    @property
    def ok(self) -> bool:
        return bool(self.matching)

    def describe(self) -> str:
        if self.matching:
            return f"{self.requirement} (channel has {self.matching[-1]})"
        has = ", ".join(self.known[-5:]) or "none"
        return f"{self.requirement}: not in the channel (has: {has})"


def model_requirements(log_args: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """(Python version, conda requirements) the warehouse will be asked for by `log_model(**log_args)`
    (as `ml.snowflake.model.log_arguments` builds them), relaxed as the library relaxes them."""
    options = dict(log_args.get("options") or {})
    key = (tuple(log_args.get("conda_dependencies") or ()), bool(options.get("relax_version", True)))
    with _requirements_lock:
        if key not in _requirements:
            _requirements[key] = _package(log_args, options)
        return _requirements[key]


def _package(log_args: dict[str, Any], options: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    from snowflake.ml.model._packager import model_packager

    arguments = {k: v for k, v in log_args.items() if k not in ("options", "target_platforms")}
    with tempfile.TemporaryDirectory(prefix="lifeboat-requirements-") as tmp:
        packager = model_packager.ModelPackager(str(Path(tmp) / "package"))
        packager.save(name="LIFEBOAT_REQUIREMENTS", options=options, **arguments)
        assert packager.meta is not None
        env = packager.meta.env
        if options.get("relax_version", True):
            env.relax_version()  # what ModelManifest.save does before the upload
        return str(env.python_version), tuple(str(d) for d in env.conda_dependencies)


def channel_sql(database: str, count: int) -> str:
    """The packages query: one bound statement (names and runtime are `?`)."""
    marks = ", ".join("?" for _ in range(count))
    return (
        f"SELECT PACKAGE_NAME, VERSION FROM {database}.INFORMATION_SCHEMA.PACKAGES"
        f" WHERE LANGUAGE = 'python' AND PACKAGE_NAME IN ({marks})"
        " AND (RUNTIME_VERSION = ? OR RUNTIME_VERSION IS NULL)"
    )


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def channel_versions(
    session: Session, database: str, names: Iterable[str], python: str
) -> dict[str, tuple[str, ...]]:
    """Each package's versions in the channel for this Python, oldest first."""
    wanted = sorted({n.lower() for n in names})
    rows = session.sql(channel_sql(database, len(wanted)), params=[*wanted, python]).collect()
    found: dict[str, set[str]] = {name: set() for name in wanted}
    for row in rows:
        found.setdefault(str(row[0]).lower(), set()).add(str(row[1]))
    return {name: tuple(sorted(versions, key=_version_key)) for name, versions in found.items()}


def availability(requirements: Sequence[str], versions: dict[str, tuple[str, ...]]) -> list[Availability]:
    out = []
    for text in requirements:
        requirement = Requirement(text)
        known = versions.get(requirement.name.lower(), ())
        matching = tuple(v for v in known if requirement.specifier.contains(v, prereleases=False))
        out.append(Availability(text, matching, known))
    return out


def check_requirements(
    session: Session, database: str, requirements: Sequence[str], python: str
) -> list[Availability]:
    """The channel's answer for each requirement (one statement)."""
    names = [Requirement(r).name for r in requirements]
    return availability(requirements, channel_versions(session, database, names, python))


def check_model_packages(session: Session, database: str, log_args: dict[str, Any]) -> None:
    """Refuse, before anything is uploaded, a model the warehouse could not install."""
    python, requirements = model_requirements(log_args)
    try:
        found = check_requirements(session, database, requirements, python)
    except (
        Exception
    ) as exc:  # a check that cannot run must not block registering: log_model still fails on a miss
        from ml.snowflake.session import driver_message

        log.warning("could not ask the package channel (%s): logging without checking", driver_message(exc))
        return
    missing = [a for a in found if not a.ok and a.name not in EMBEDDED_IF_MISSING]
    for embedded in (a for a in found if not a.ok and a.name in EMBEDDED_IF_MISSING):
        log.warning("%s: the library will embed its own copy in the model", embedded.describe())
    if missing:
        raise RegistryError(
            f"Snowflake's package channel cannot run this model on Python {python}:"
            f" {'; '.join(a.describe() for a in missing)}. Train in the warehouse (`lifeboat train`"
            " without --data: the model is then written by the channel's own packages), or install"
            " versions the channel has here and train again"
        )


__all__ = [
    "Availability",
    "availability",
    "channel_sql",
    "channel_versions",
    "check_model_packages",
    "check_requirements",
    "model_requirements",
]
