"""`lifeboat doctor`: a checklist of what the configured backend needs, each failure with its fix.

A check is a name, a function that returns what it found (or raises), and the checks it needs:
when one of those did not pass it is skipped, not run, so one missing grant is reported once and
not as ten errors downstream. `run_checks` runs them in order and reports each result as it comes
(a Snowflake round trip takes a while). Nothing here prints: the CLI does (bot/cli/doctor.py).

This module holds the runner and what every backend shares: the registry opens, its default version
loads and its checksum verifies, a passenger scores (the same passenger alone and in a frame, so
single and batch scoring agree), and the shipped data loads. `run_local` is the local backend's
doctor; the Snowflake one (ml.snowflake.doctor) adds the account's own checks in front of these.
ml.backend chooses between them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.config import MLSettings
from ml.core.passenger import Passenger
from ml.io.data import load_csv
from ml.io.local_registry import DB_FILE
from ml.io.registry import ModelRegistry
from ml.io.serving import PassengerScorer, Scorer

OK, FAIL, SKIP = "ok", "fail", "skip"
# Someone the model has to be able to answer for: first class, female, nothing else said.
PASSENGER = Passenger.create(pclass=1, sex="female")


class CheckFailed(Exception):
    """A check's own failure: what was found, and the one thing to do about it."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], str]  # what was found, when the check passes
    fix: str = ""  # for a failure that is not a CheckFailed (which carries its own)
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # OK, FAIL or SKIP
    detail: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _one_line(text: str, limit: int = 400) -> str:
    return " ".join(str(text).split())[:limit]


def run_check(check: Check, passed: set[str]) -> CheckResult:
    missing = [name for name in check.needs if name not in passed]
    if missing:
        return CheckResult(check.name, SKIP, f"needs: {', '.join(missing)}")
    try:
        return CheckResult(check.name, OK, _one_line(check.run()))
    except CheckFailed as failed:
        return CheckResult(check.name, FAIL, _one_line(failed.detail), failed.fix)
    except Exception as exc:  # any failure is a finding: report it and go on with the others
        return CheckResult(check.name, FAIL, _one_line(str(exc) or type(exc).__name__), check.fix)


def run_checks(
    checks: Iterable[Check], report: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run `checks` in order (skipping those whose needs did not pass); `report` sees each result
    as soon as it is known."""
    passed: set[str] = set()
    results = []
    for check in checks:
        result = run_check(check, passed)
        if result.ok:
            passed.add(check.name)
        results.append(result)
        if report is not None:
            report(result)
    return results


# -- shared by every backend ------------------------------------------------------------------------
class RegistryChecks:
    """The registry opens, its default version loads verified, and a passenger scores."""

    def __init__(
        self,
        open_registry: Callable[[], ModelRegistry],
        scorer: Callable[[ModelRegistry], PassengerScorer] = Scorer,
        needs: tuple[str, ...] = (),
    ) -> None:
        self.open_registry = open_registry
        self.make_scorer = scorer
        self.needs = needs
        self.registry: ModelRegistry | None = None
        self.default: str | None = None

    def checks(self) -> list[Check]:
        return [
            Check("registry opens", self.opens, needs=self.needs),
            Check("default version", self.has_default, needs=("registry opens",)),
            Check("default version loads, checksum verified", self.loads, needs=("default version",)),
            Check(
                "a passenger scores",
                self.scores,
                fix="retrain (`lifeboat retrain`) or promote another version (`lifeboat promote Vn`)",
                needs=("default version loads, checksum verified",),
            ),
        ]

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()

    def opens(self) -> str:
        self.registry = self.open_registry()
        versions = self.registry.list_versions()
        return f"{self.registry.backend} registry, {self.registry.model_name}: {len(versions)} version(s)"

    def has_default(self) -> str:
        assert self.registry is not None
        self.default = self.registry.get_default()
        if self.default is None:
            raise CheckFailed("no version is registered yet", "run `lifeboat train`")
        return f"{self.registry.model_name} {self.default}"

    def loads(self) -> str:
        assert self.registry is not None and self.default is not None
        try:
            self.registry.load_model(self.default)
        except Exception as exc:
            raise CheckFailed(
                str(exc),
                "promote a version that loads (`lifeboat promote Vn`) or retrain (`lifeboat retrain`)",
            ) from exc
        return f"{self.default} loaded; its files match the checksum registered with it"

    def scores(self) -> str:
        assert self.registry is not None
        scorer = self.make_scorer(self.registry)
        alone = scorer.predict(PASSENGER).probability
        batch = float(scorer.score_frame(pd.DataFrame([PASSENGER.to_dict()]))[0])
        if not (0.0 < alone < 1.0 and np.isclose(alone, batch, rtol=0, atol=1e-9)):
            raise CheckFailed(
                f"{PASSENGER.describe()}: {alone} alone, {batch} in a frame", "retrain (`lifeboat retrain`)"
            )
        return f"{PASSENGER.describe()}: {alone:.1%} ({scorer.version}, {scorer.status()['path']} scoring)"


def data_check(path: str | Path | None = None) -> Check:
    def loads() -> str:
        frame = load_csv(path)
        return f"{len(frame)} passengers from {path or 'the shipped data'}"

    return Check("passenger data loads", loads, fix="check the CSV's columns (see README, Using it)")


def home_check(home: Path) -> Check:
    """LIFEBOAT_HOME holds a registry and is writable (the doctor creates nothing: a missing home
    is reported, not made)."""

    def writable() -> str:
        if not (home / DB_FILE).is_file():
            raise CheckFailed(
                f"no registry in {home.resolve()}",
                "run `lifeboat train` (it creates the registry there), or point LIFEBOAT_HOME at yours",
            )
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
        return f"{home.resolve()} holds the registry and is writable"

    return Check(
        "LIFEBOAT_HOME",
        writable,
        fix=f"let user {os.getuid()} write to {home}, or point LIFEBOAT_HOME at a writable directory",
    )


def run_local(settings: MLSettings, report: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """The local backend's doctor: its home, its registry (SQLite + files), the shipped data."""
    from ml.io.local_registry import LocalRegistry

    registry = RegistryChecks(
        lambda: LocalRegistry(settings.home, settings.model_name), needs=("LIFEBOAT_HOME",)
    )
    try:
        return run_checks([home_check(Path(settings.home)), *registry.checks(), data_check()], report)
    finally:
        registry.close()


__all__ = [
    "FAIL",
    "OK",
    "SKIP",
    "Check",
    "CheckFailed",
    "CheckResult",
    "RegistryChecks",
    "data_check",
    "home_check",
    "run_checks",
    "run_local",
]
