"""Scoring: one passenger (`predict`), a file or a Snowflake table (`score`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from bot.cli.common import CliError, Subparsers, add_command, backend, say
from bot.cli.progress import row_progress
from ml.backend import Backend
from ml.config import MLSettings
from ml.core.evidence import Record
from ml.core.parser import parse
from ml.core.passenger import Passenger, PassengerError
from ml.io.batch import score_file
from ml.io.local_registry import default_actor
from ml.io.serving import PassengerScorer
from ml.jobs.train import ensure_model

PASSENGER_FLAGS = {  # flag -> Passenger field
    "pclass": "pclass",
    "sex": "sex",
    "age": "age",
    "sibsp": "sibsp",
    "parch": "parch",
    "fare": "fare",
    "port": "embarked",
    "title": "title",
    "child": "child",
}


def passenger_from_args(args: argparse.Namespace) -> Passenger:
    """Free text and flags -> one valid Passenger (flags win over what the text said)."""
    raw: dict[str, Any] = {}
    understood: tuple[str, ...] = ()
    if args.text:
        parsed = parse(" ".join(args.text))
        if parsed.contradictions:
            raise CliError(" ".join(parsed.contradictions))
        raw.update(parsed.values)
        understood = parsed.understood
    raw.update(
        {
            field: value
            for flag, field in PASSENGER_FLAGS.items()
            if (value := getattr(args, flag)) is not None
        }
    )
    try:
        passenger = Passenger.create(**raw)
        passenger.validate(require=Passenger.REQUIRED)
    except PassengerError as exc:
        hint = f" (understood: {', '.join(understood)})" if understood else ""
        raise CliError(f"{exc}{hint}") from None
    return passenger


def serving_scorer(opened: Backend) -> PassengerScorer:
    """The backend's scorer, after training a first version if the registry has none."""
    ensure_model(opened.registry, actor=default_actor(), say=say)
    return opened.scorer


def strict(args: argparse.Namespace, settings: MLSettings) -> MLSettings:
    """Someone who asked for warehouse scoring (LIFEBOAT_SCORING=warehouse) gets it or an error:
    answering from the local copy instead takes --allow-local-fallback."""
    return dataclasses.replace(settings, scoring_fallback=bool(args.allow_local_fallback))


def note_fallbacks(scorer: PassengerScorer) -> None:
    status = scorer.status()
    if status.get("fallbacks"):
        say(f"note: answered from the local copy, not the warehouse: {status.get('last_error')}")


def find_record(scorer: PassengerScorer, name: str) -> Record:
    """The one passenger of the served version's records called `name`, or an error saying who
    matches (several), who shares the surname, or which surnames are spelt like it."""
    serving = scorer.current()
    evidence = serving.model.evidence
    if evidence is None:
        raise CliError(f"{serving.version} keeps no names of the passengers it learnt from")
    search = evidence.names_index.search(name)
    if len(search.matches) == 1:
        return evidence.record(search.matches[0])
    if search.matches:
        names = "; ".join(str(evidence.names[row]) for row in search.matches[:8])
        raise CliError(f"{len(search.matches)} passengers match “{name}”: {names}: give more of the name")
    hint = ""
    if search.same_surname:
        hint = ": with that surname: " + "; ".join(str(evidence.names[r]) for r in search.same_surname[:8])
    elif search.suggestions:
        hint = f"; did you mean {' or '.join(search.suggestions)}?"
    raise CliError(f"no passenger called “{name}” in the records{hint}")


def cmd_predict(args: argparse.Namespace, settings: MLSettings) -> int:
    if args.name and (args.text or any(getattr(args, flag) is not None for flag in PASSENGER_FLAGS)):
        raise CliError("--name looks up a passenger of the records: give no description with it")
    passenger = None if args.name else passenger_from_args(args)
    with backend(strict(args, settings)) as opened:
        scorer = serving_scorer(opened)
        record = find_record(scorer, args.name) if args.name else None
        subject = record.passenger if record is not None else passenger
        assert subject is not None
        prediction = scorer.predict(subject)
        note_fallbacks(scorer)
        trained_on = len(scorer.current().model.evidence or ())
    if args.json:
        answer = prediction.to_dict()
        if record is not None:
            answer["record"] = {
                "name": record.name,
                "survived": record.survived,
                "cv_probability": record.cv_probability,
                "learnt_from_this_record": True,
            }
        print(json.dumps(answer, indent=2))
        return 0
    if record is not None:
        print_record(record, prediction.headline, trained_on, f"{settings.model_name} {prediction.version}")
    print(f"{prediction.headline} — {prediction.verdict}")
    print(f"  {prediction.passenger.describe()}")
    if prediction.likely is not None and prediction.likely.few_like_you:
        print(f"  Few like you: only {prediction.likely.like_you} in the records ({prediction.likely.kind}).")
    print("  Why:")
    for reason in prediction.top_reasons(4):
        arrow = "▲" if reason.helped else "▼"
        print(f"    {arrow} {reason.text} ({reason.logit:+.2f} log-odds)")
    if prediction.evidence is not None:
        print(f"  People like you: {prediction.evidence.sentence()}")
        if prediction.evidence.examples:
            print(f"    In the records: {' · '.join(e.text() for e in prediction.evidence.examples)}")
    if prediction.assumptions:
        print(f"  Assumed: {', '.join(prediction.assumptions)}")
    print(f"  Model: {settings.model_name} {prediction.version}")
    return 0


def print_record(record: Record, headline: str, trained_on: int, model: str) -> None:
    print(f"{record.name}: {'survived' if record.survived else 'died'}.")
    print(
        f"  The model learnt from this very record (one of the {trained_on} passengers {model} was trained on):"
        f" {headline} is not a prediction for someone it has not seen."
    )
    if record.cv_probability is not None:
        print(
            f"  A model that never saw this record (nested cross-validation) said {record.cv_probability:.0%}."
        )


def cmd_score(args: argparse.Namespace, settings: MLSettings) -> int:
    if args.table:
        if not args.into:
            raise CliError("--table needs --into TABLE for the scored rows")
        from ml.snowflake.scoring import score_table  # Snowflake's libraries: only for tables

        rows = score_table(settings, args.table, args.into, args.version)
        print(f"Scored {rows} rows of {args.table} into {args.into} in the warehouse")
        return 0
    if not args.input or not args.output:
        raise CliError("usage: lifeboat score IN.csv -o OUT.csv (or --table T --into T2 on Snowflake)")
    with backend(strict(args, settings)) as opened:
        scorer = serving_scorer(opened)
        # The file is scored in this process with the default version's model (on Snowflake the
        # fetched copy, which gives the warehouse's probabilities): --table scores in the warehouse.
        with row_progress(args.quiet) as progress:
            rows = score_file(scorer, args.input, args.output, progress=progress)
        print(f"Scored {rows} passengers with {settings.model_name} {scorer.version} → {args.output}")
    return 0


def register(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "predict", cmd_predict, "score one passenger, with reasons")
    p.add_argument("text", nargs="*", help='free text, e.g. "1st class woman 29 with 2 kids"')
    p.add_argument("--class", dest="pclass", help="1, 2 or 3")
    p.add_argument("--sex", help="female or male")
    p.add_argument("--age")
    p.add_argument("--sibsp", help="siblings/spouses aboard")
    p.add_argument("--parch", help="parents/children aboard")
    p.add_argument("--fare")
    p.add_argument("--port", help="C, Q or S (Cherbourg, Queenstown, Southampton)")
    p.add_argument("--title", help="Mr, Mrs, Miss, Master or Rare")
    p.add_argument("--child", action="store_const", const=True, help="a child (under 13), age not given")
    p.add_argument("--name", help='a passenger of the records, e.g. "Astor" or "Margaret Brown"')
    p.add_argument("--json", action="store_true")
    add_fallback_flag(p)

    p = add_command(
        subparsers, "score", cmd_score, "score a CSV or Parquet file of passengers (or a Snowflake table)"
    )
    p.add_argument("input", nargs="?", help="input CSV (or .parquet)")
    p.add_argument("-o", "--output", help="output CSV (or .parquet)")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar (none is shown off a terminal)"
    )
    p.add_argument("--table", help="Snowflake table to score in the warehouse")
    p.add_argument("--into", help="Snowflake table to create with the scores")
    p.add_argument("--version", help="model version (default: the default version)")
    add_fallback_flag(p)


def add_fallback_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-local-fallback",
        action="store_true",
        help="with LIFEBOAT_SCORING=warehouse: answer from the fetched copy if the warehouse fails",
    )
