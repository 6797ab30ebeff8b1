"""Snowflake only: the passengers into TITANIC_DATA, and the SQL that scores a table."""

from __future__ import annotations

import argparse

from bot.cli.common import CliError, Subparsers, add_command
from ml.config import MLSettings


def cmd_load_data(args: argparse.Namespace, settings: MLSettings) -> int:
    if settings.backend != "snowflake":
        raise CliError("load-data writes to Snowflake: set LIFEBOAT_BACKEND=snowflake (see README)")
    from ml.snowflake.data import load_data  # Snowflake's libraries take seconds to import

    rows = load_data(settings, args.data, args.replace)
    print(
        f"Wrote {rows} passengers to {settings.snowflake_database}.{settings.snowflake_schema}.{settings.snowflake_table}"
    )
    return 0


def cmd_sql(args: argparse.Namespace, settings: MLSettings) -> int:
    from ml.snowflake.sql import scoring_sql

    print(scoring_sql(settings, args.version, args.table, replace_score=args.rescore))
    return 0


def register(subparsers: Subparsers) -> None:
    p = add_command(
        subparsers, "load-data", cmd_load_data, "write the passengers into Snowflake (TITANIC_DATA)"
    )
    p.add_argument("--data", help="passenger CSV (default: the shipped data)")
    p.add_argument("--replace", action="store_true", help="replace the table if it exists")

    p = add_command(
        subparsers, "sql", cmd_sql, "print the SQL that scores a table against the registered model"
    )
    p.add_argument("--version", help="pin a version (default: the model's default version)")
    p.add_argument("--table", help="table to score (default: the configured TITANIC_DATA)")
    p.add_argument(
        "--rescore",
        action="store_true",
        help="the table was scored before: replace its SURVIVAL_PROBABILITY (SELECT * EXCLUDE ...)",
    )
