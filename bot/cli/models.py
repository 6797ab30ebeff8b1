"""The registry and retraining: train, models, promote, retrain, history, rollback."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.blocks.survive import model_line
from bot.cli.common import EXIT_ERROR, CliError, Subparsers, add_command, backend, format_metrics
from bot.cli.progress import step_progress
from ml.config import MLSettings
from ml.io.local_registry import default_actor
from ml.io.registry import ModelRegistry, ModelVersion
from ml.jobs.retrain import STEPS, rollback


def cmd_train(args: argparse.Namespace, settings: MLSettings) -> int:
    with backend(settings) as opened, step_progress(args.quiet) as progress:
        version = opened.train(
            actor=default_actor(), data=args.data, comment=args.comment or "", progress=progress
        )
        default = opened.registry.get_default()
    if args.json:
        print(json.dumps({**version.to_dict(), "seconds": version.info.get("train_seconds")}, indent=2))
        return 0
    info = version.info
    state = " (default)" if version.is_default else f" (default stays {default})"
    print(f"Registered {version.model_name} {version.version}{state} in {info.get('train_seconds', 0):.1f}s")
    print(f"  model: {model_line(version.params)}, fitted on all {info.get('n_rows')} rows")
    print(f"  {info.get('cv', 'cross-validation')} on {info.get('n_rows')}:")
    print(f"    model            {format_metrics(version.metrics, 'cv_')}")
    print(f"    12-number table  {format_metrics(version.metrics, 'cv_table_')}")
    print(f"  frozen holdout ({info.get('n_holdout')} rows; a twin fitted without them):")
    print(f"    model            {format_metrics(version.metrics, 'holdout_')}")
    print(f"    12-number table  {format_metrics(version.metrics, 'holdout_table_')}")
    return 0


def cmd_models(args: argparse.Namespace, settings: MLSettings) -> int:
    with backend(settings) as opened:
        registry = opened.registry
        versions = registry.list_versions()
        default = registry.get_default()
        if args.plot:
            return write_plots(registry, versions, Path(args.plot))
        if args.json:
            print(json.dumps({"default": default, "versions": [v.to_dict() for v in versions]}, indent=2))
            return 0
        if not versions:
            print(f"{registry.model_name} has no versions yet. Run `lifeboat train`.")
            return 0
        print(f"{registry.model_name} ({registry.backend} registry), default {default}")
    for v in versions:
        mark = "*" if v.is_default else " "
        print(
            f"{mark} {v.version:<4} {v.created_at}  by {v.created_by:<10} {format_metrics(v.metrics, 'holdout_')}"
        )
        if v.comment:
            print(f"       {v.comment}")
    return 0


def write_plots(registry: ModelRegistry, versions: list[ModelVersion], directory: Path) -> int:
    """`lifeboat models --plot DIR`: each version's charts as the bot shows them (its card's
    reliability diagram and mean contributions; for a version a retraining run registered, its
    twin beside the champion on the frozen holdout). Versions that recorded nothing are named."""
    from bot import pictures  # draws with matplotlib: only this option pays for it

    directory.mkdir(parents=True, exist_ok=True)
    for version in versions:
        charts = [(name, png) for name, png, _title, _alt in pictures.card_charts(version)]
        decision = version.info.get("decision")
        if isinstance(decision, dict) and pictures.holdout_bins(version):
            champion = decision.get("champion_version")
            recorded = registry.get_version(champion) if isinstance(champion, str) else None
            panels = pictures.comparison_panels(version, recorded, decision)
            charts.append(
                (f"{version.version}-holdout.png", pictures.draw("comparison", panels, "Frozen holdout"))
            )
        if not charts:
            print(f"{version.version}: trained before charts were recorded (nothing to draw)")
        for name, png in charts:
            (directory / name).write_bytes(png)
            print(f"{version.version}: wrote {directory / name}")
    return 0


def cmd_promote(args: argparse.Namespace, settings: MLSettings) -> int:
    with backend(settings) as opened:
        registry = opened.registry
        previous = registry.set_default(args.version, actor=default_actor(), action="promote")
        print(f"{registry.model_name} default: {previous} → {registry.get_default()}")
    return 0


def cmd_retrain(args: argparse.Namespace, settings: MLSettings) -> int:
    if settings.backend == "snowflake" and args.data:
        raise CliError(
            "on Snowflake, retraining reads TITANIC_DATA: run `lifeboat load-data --data CSV` first"
        )
    with backend(settings) as opened, step_progress(args.quiet, STEPS) as progress:
        outcome = opened.retraining().run_blocking(actor=default_actor(), data=args.data, progress=progress)
    print(outcome.summary())
    return 0 if outcome.ok else EXIT_ERROR


def cmd_history(args: argparse.Namespace, settings: MLSettings) -> int:
    with backend(settings) as opened:
        events = opened.registry.history(args.limit)
    if args.json:
        print(json.dumps([e.to_dict() for e in events], indent=2))
        return 0
    if not events:
        print("No history yet.")
    for e in events:
        move = f"{e.from_version or '—'} → {e.to_version or '—'}"
        print(f"{e.at}  {e.actor:<12} {e.action:<16} {move:<12} {e.outcome}")
    return 0


def cmd_rollback(_args: argparse.Namespace, settings: MLSettings) -> int:
    with backend(settings) as opened:
        previous, current = rollback(opened.registry, actor=default_actor())
        print(f"{opened.registry.model_name} default rolled back: {previous} → {current}")
    return 0


def register(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "train", cmd_train, "train, evaluate and register a new model version")
    p.add_argument("--data", help="passenger CSV (default: the shipped 891 passengers)")
    p.add_argument("--comment", help="comment stored with the version")
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress (none is shown off a terminal)")

    p = add_command(subparsers, "models", cmd_models, "list model versions, their metrics and the default")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", metavar="DIR", help="write each version's charts (PNG) into DIR")

    p = add_command(subparsers, "promote", cmd_promote, "make a version the default")
    p.add_argument("version", help="e.g. V2")

    p = add_command(
        subparsers,
        "retrain",
        cmd_retrain,
        "retrain, register and promote if it beats the 12-number table and is not worse on the frozen holdout",
    )
    p.add_argument("--data", help="passenger CSV (default: the shipped data)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress (none is shown off a terminal)")

    p = add_command(
        subparsers, "history", cmd_history, "registrations, promotions, rollbacks and retraining runs"
    )
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    add_command(subparsers, "rollback", cmd_rollback, "make the previous default the default again")
