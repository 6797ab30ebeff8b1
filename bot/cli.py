"""`lifeboat`: the one command line for training, the registry, scoring and running the bot.

Errors print one clear line and exit non-zero; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ml.config import MLSettings

EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def _registry(settings: MLSettings):  # type: ignore[no-untyped-def]
    from ml.registry import open_registry

    return open_registry(settings)


def _actor() -> str:
    from ml.registry.local import default_actor

    return default_actor()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _fmt_metrics(metrics: dict[str, float], prefix: str) -> str:
    names = ("accuracy", "roc_auc", "brier", "log_loss", "ece")
    return "  ".join(f"{n}={metrics[f'{prefix}{n}']:.3f}" for n in names if f"{prefix}{n}" in metrics)


# -- ML commands ---------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace, settings: MLSettings) -> int:
    if settings.backend == "snowflake" and not args.data:
        from ml.snowflake.train import train_in_warehouse

        version = train_in_warehouse(settings, actor=_actor(), comment=args.comment or "", progress=_say)
        print(json.dumps(version.to_dict(), indent=2) if args.json else f"Registered {version.version}")
        return 0
    from ml.jobs import train_and_register

    registry = _registry(settings)
    trained = train_and_register(
        registry,
        data=args.data,
        actor=_actor(),
        comment=args.comment or "",
        progress=lambda s: _say(f"… {s}"),
    )
    version, result = trained.version, trained.result
    if args.json:
        print(json.dumps({**version.to_dict(), "seconds": round(result.seconds, 2)}, indent=2))
        return 0
    default = " (default)" if version.is_default else f" (default stays {registry.get_default()})"
    print(f"Registered {registry.model_name} {version.version}{default} in {result.seconds:.1f}s")
    print(f"  params:   {result.params}")
    print(f"  CV ({result.info['cv']} on {result.n_rows}):  {_fmt_metrics(version.metrics, 'cv_')}")
    print(f"  holdout ({result.n_holdout} rows):     {_fmt_metrics(version.metrics, 'holdout_')}")
    return 0


def cmd_models(args: argparse.Namespace, settings: MLSettings) -> int:
    registry = _registry(settings)
    versions = registry.list_versions()
    default = registry.get_default()
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
            f"{mark} {v.version:<4} {v.created_at}  by {v.created_by:<10} {_fmt_metrics(v.metrics, 'holdout_')}"
        )
        if v.comment:
            print(f"       {v.comment}")
    return 0


def cmd_promote(args: argparse.Namespace, settings: MLSettings) -> int:
    registry = _registry(settings)
    previous = registry.set_default(args.version, actor=_actor(), action="promote")
    current = registry.get_default()
    print(f"{registry.model_name} default: {previous} → {current}")
    return 0


def _passenger_from_args(args: argparse.Namespace) -> Any:
    from ml.parser import parse
    from ml.passenger import Passenger, PassengerError

    raw: dict[str, Any] = {}
    understood: tuple[str, ...] = ()
    if args.text:
        parsed = parse(" ".join(args.text))
        if parsed.contradictions:
            raise CliError(" ".join(parsed.contradictions))
        raw.update(parsed.values)
        understood = parsed.understood
    flags = {
        "pclass": args.pclass,
        "sex": args.sex,
        "age": args.age,
        "sibsp": args.sibsp,
        "parch": args.parch,
        "fare": args.fare,
        "embarked": args.port,
        "title": args.title,
    }
    raw.update({k: v for k, v in flags.items() if v is not None})
    try:
        passenger = Passenger.create(**raw)
        passenger.validate(require=Passenger.REQUIRED)
    except PassengerError as exc:
        hint = f" (understood: {', '.join(understood)})" if understood else ""
        raise CliError(f"{exc}{hint}") from None
    return passenger


def _scorer(settings: MLSettings):  # type: ignore[no-untyped-def]
    from ml.jobs import ensure_model
    from ml.scoring import Scorer

    registry = _registry(settings)
    ensure_model(registry, actor=_actor(), say=_say)
    if settings.backend == "snowflake" and settings.scoring == "warehouse":
        from ml.snowflake.scoring import WarehouseScorer

        return WarehouseScorer(registry)
    return Scorer(registry)


def cmd_predict(args: argparse.Namespace, settings: MLSettings) -> int:
    passenger = _passenger_from_args(args)
    prediction = _scorer(settings).predict(passenger)
    if args.json:
        print(json.dumps(prediction.to_dict(), indent=2))
        return 0
    print(f"{prediction.percent}% — {prediction.verdict}")
    print(f"  {prediction.passenger.describe()}")
    print("  Why:")
    for reason in prediction.top_reasons(4):
        arrow = "▲" if reason.helped else "▼"
        print(f"    {arrow} {reason.text} ({reason.logit:+.2f} log-odds)")
    if prediction.assumptions:
        print(f"  Assumed: {', '.join(prediction.assumptions)}")
    print(f"  Model: {settings.model_name} {prediction.version}")
    return 0


def cmd_score(args: argparse.Namespace, settings: MLSettings) -> int:
    if args.table:
        if not args.into:
            raise CliError("--table needs --into TABLE for the scored rows")
        from ml.snowflake.scoring import score_table

        rows = score_table(settings, args.table, args.into, args.version)
        print(f"Scored {rows} rows of {args.table} into {args.into} in the warehouse")
        return 0
    if not args.input or not args.output:
        raise CliError("usage: lifeboat score IN.csv -o OUT.csv (or --table T --into T2 on Snowflake)")
    from ml.batch import score_csv

    scorer = _scorer(settings)
    rows = score_csv(scorer, args.input, args.output)
    print(f"Scored {rows} passengers with {settings.model_name} {scorer.version} → {args.output}")
    return 0


def cmd_load_data(args: argparse.Namespace, settings: MLSettings) -> int:
    if settings.backend != "snowflake":
        raise CliError("load-data writes to Snowflake: set LIFEBOAT_BACKEND=snowflake (see README)")
    from ml.snowflake.data import load_data

    rows = load_data(settings, args.data, args.replace)
    print(
        f"Wrote {rows} passengers to {settings.snowflake_database}.{settings.snowflake_schema}.{settings.snowflake_table}"
    )
    return 0


def cmd_sql(args: argparse.Namespace, settings: MLSettings) -> int:
    from ml.snowflake.sql import scoring_sql

    print(scoring_sql(settings, args.version, args.table))
    return 0


# -- retraining ----------------------------------------------------------------------------------
def cmd_retrain(args: argparse.Namespace, settings: MLSettings) -> int:
    from ml.retrain import RetrainService

    if settings.backend == "snowflake" and args.data:
        raise CliError(
            "on Snowflake, retraining reads TITANIC_DATA: run `lifeboat load-data --data CSV` first"
        )
    service = RetrainService.from_settings(settings)
    outcome = service.run_blocking(actor=_actor(), data=args.data, progress=lambda step: _say(f"… {step}"))
    print(outcome.summary())
    return 0 if outcome.ok else EXIT_ERROR


def cmd_history(args: argparse.Namespace, settings: MLSettings) -> int:
    registry = _registry(settings)
    events = registry.history(args.limit)
    if args.json:
        print(json.dumps([e.to_dict() for e in events], indent=2))
        return 0
    if not events:
        print("No history yet.")
    for e in events:
        move = f"{e.from_version or '—'} → {e.to_version or '—'}"
        print(f"{e.at}  {e.actor:<12} {e.action:<16} {move:<12} {e.outcome}")
    return 0


def cmd_rollback(args: argparse.Namespace, settings: MLSettings) -> int:
    from ml.retrain import rollback

    registry = _registry(settings)
    previous, current = rollback(registry, actor=_actor())
    print(f"{registry.model_name} default rolled back: {previous} → {current}")
    return 0


# -- running the bot -----------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: MLSettings) -> int:
    from bot.server import run

    return run(settings, http=args.http, port=args.port, playground=False, workers=args.workers)


def cmd_playground(args: argparse.Namespace, settings: MLSettings) -> int:
    from bot.server import run

    return run(settings, http=True, port=args.port, playground=True)


def _add_passenger_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="*", help='free text, e.g. "1st class woman 29 with 2 kids"')
    parser.add_argument("--class", dest="pclass", help="1, 2 or 3")
    parser.add_argument("--sex", help="female or male")
    parser.add_argument("--age")
    parser.add_argument("--sibsp", help="siblings/spouses aboard")
    parser.add_argument("--parch", help="parents/children aboard")
    parser.add_argument("--fare")
    parser.add_argument("--port", help="C, Q or S (Cherbourg, Queenstown, Southampton)")
    parser.add_argument("--title", help="Mr, Mrs, Miss, Master or Rare")
    parser.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lifeboat", description="Would you have survived the Titanic?")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace, MLSettings], int], help: str
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    p = add("train", cmd_train, "train, evaluate and register a new model version")
    p.add_argument("--data", help="passenger CSV (default: the shipped 891 passengers)")
    p.add_argument("--comment", help="comment stored with the version")
    p.add_argument("--json", action="store_true")

    p = add("models", cmd_models, "list model versions, their metrics and the default")
    p.add_argument("--json", action="store_true")

    p = add("promote", cmd_promote, "make a version the default")
    p.add_argument("version", help="e.g. V2")

    p = add("predict", cmd_predict, "score one passenger, with reasons")
    _add_passenger_flags(p)

    p = add("score", cmd_score, "score a CSV of passengers (or a Snowflake table)")
    p.add_argument("input", nargs="?", help="input CSV")
    p.add_argument("-o", "--output", help="output CSV")
    p.add_argument("--table", help="Snowflake table to score in the warehouse")
    p.add_argument("--into", help="Snowflake table to create with the scores")
    p.add_argument("--version", help="model version (default: the default version)")

    p = add("retrain", cmd_retrain, "retrain, register and promote if not worse on the frozen holdout")
    p.add_argument("--data", help="passenger CSV (default: the shipped data)")

    p = add("history", cmd_history, "registrations, promotions, rollbacks and retraining runs")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    add("rollback", cmd_rollback, "make the previous default the default again")

    p = add("load-data", cmd_load_data, "write the passengers into Snowflake (TITANIC_DATA)")
    p.add_argument("--data", help="passenger CSV (default: the shipped data)")
    p.add_argument("--replace", action="store_true", help="replace the table if it exists")

    p = add("sql", cmd_sql, "print the SQL that scores a table against the registered model")
    p.add_argument("--version", help="pin a version (default: the model's default version)")
    p.add_argument("--table", help="table to score (default: the configured TITANIC_DATA)")

    p = add("run", cmd_run, "run the Slack bot (Socket Mode, HTTP, or the local playground)")
    p.add_argument("--http", action="store_true", help="serve HTTP on /slack/events instead of Socket Mode")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1") or 1),
        help="HTTP worker processes (default $WEB_CONCURRENCY or 1)",
    )
    p.add_argument("--port", type=int, help="HTTP port (default $PORT or 3000)")

    p = add("playground", cmd_playground, "run the bot with a local Slack-like page in the browser")
    p.add_argument("--port", type=int, help="HTTP port (default $PORT or 3000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = MLSettings.from_env()
        return int(args.handler(args, settings))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if args.debug:
            raise
        # One line, and short: a message may quote a file's contents (a 200 MB line is possible).
        message = " ".join((str(exc) or exc.__class__.__name__).split())
        if len(message) > 500:
            message = message[:499] + "…"
        print(f"lifeboat: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
