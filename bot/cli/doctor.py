"""`lifeboat doctor`: the first command to run against a new setup, a checklist with a fix per failure."""

from __future__ import annotations

import argparse
import json

from bot.cli.common import EXIT_ERROR, Subparsers, add_command, backend
from bot.doctor import SlackChecks
from bot.settings import BotSettings
from ml.config import MLSettings
from ml.io.doctor import FAIL, OK, CheckResult, run_checks

MARKS = {OK: "[ok]  ", FAIL: "[FAIL]", "skip": "[skip]"}


def show(result: CheckResult) -> None:
    line = f"{MARKS[result.status]} {result.name}"
    if result.status == "skip":
        print(f"{line} ({result.detail})", flush=True)
        return
    print(f"{line}: {result.detail}" if result.detail else line, flush=True)
    if result.status == FAIL and result.fix:
        print(f"       fix: {result.fix}", flush=True)


def summary(results: list[CheckResult]) -> str:
    failed = sum(r.status == FAIL for r in results)
    skipped = sum(r.status == "skip" for r in results)
    if not failed and not skipped:
        return f"All {len(results)} checks passed."
    return f"{failed} of {len(results)} checks failed, {skipped} skipped (they need a failed one)."


def cmd_doctor(args: argparse.Namespace, settings: MLSettings) -> int:
    if not args.json:
        where = settings.home if settings.backend == "local" else settings.snowflake_database
        print(
            f"lifeboat doctor: {settings.backend} backend ({where}), model {settings.model_name}", flush=True
        )
    report = None if args.json else show
    with backend(settings) as opened:
        results = opened.doctor(report)
    results += run_checks(SlackChecks(BotSettings.from_env()).checks(), report)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(summary(results))
    return 0 if all(r.ok for r in results) else EXIT_ERROR


def register(subparsers: Subparsers) -> None:
    p = add_command(
        subparsers,
        "doctor",
        cmd_doctor,
        "check the configured backend (connection, grants, packages, a scoring round trip) and say what to fix",
    )
    p.add_argument("--json", action="store_true")
