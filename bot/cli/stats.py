"""`lifeboat stats`: who was aboard and who survived, as `/survive stats` shows it."""

from __future__ import annotations

import argparse
import json

from bot.blocks.stats import rate_line, table_text
from bot.cli.common import Subparsers, add_command, backend
from ml.config import MLSettings
from ml.core.stats import PassengerStats, parse_groupings, valid_groupings


def print_stats(stats: PassengerStats, by: tuple[str, ...]) -> None:
    counts = stats.counts
    print(rate_line(counts.overall))
    for breakdown in [counts.breakdown(by)] if by else counts.overview():
        print(f"\nBy {breakdown.title.lower()}\n{table_text(breakdown)}")
    print()
    if stats.caveat:
        print(f"Note: {stats.caveat}")
    print(f"Figures from {stats.source}. Intervals: 95% (Wilson).")


def cmd_stats(args: argparse.Namespace, settings: MLSettings) -> int:
    by = parse_groupings(args.by or "")  # before connecting: a typo costs nothing
    with backend(settings) as opened:
        stats = opened.passenger_stats()
    if args.json:
        print(json.dumps({"by": list(by), **stats.to_dict(by)}, indent=2, ensure_ascii=False))
    else:
        print_stats(stats, by)
    return 0


def register(subparsers: Subparsers) -> None:
    p = add_command(
        subparsers,
        "stats",
        cmd_stats,
        "survival by sex, class, age, port and family size, with counts and 95% intervals",
    )
    p.add_argument(
        "--by", metavar="A[,B]", help=f"one grouping, or two for a cross table (of: {valid_groupings()})"
    )
    p.add_argument("--json", action="store_true")
