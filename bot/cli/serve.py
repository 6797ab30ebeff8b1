"""Running the bot: in Slack (Socket Mode or HTTP), or in the local playground."""

from __future__ import annotations

import argparse
import os

from bot.cli.common import Subparsers, add_command, say
from bot.transport.server import run
from ml.config import MLSettings


def cmd_run(args: argparse.Namespace, settings: MLSettings) -> int:
    return run(settings, http=args.http, port=args.port, playground=False, workers=args.workers, say=say)


def cmd_playground(args: argparse.Namespace, settings: MLSettings) -> int:
    return run(settings, http=True, port=args.port, playground=True, say=say)


def register(subparsers: Subparsers) -> None:
    p = add_command(
        subparsers, "run", cmd_run, "run the Slack bot (Socket Mode, HTTP, or the local playground)"
    )
    p.add_argument("--http", action="store_true", help="serve HTTP on /slack/events instead of Socket Mode")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1") or 1),
        help="HTTP worker processes (default $WEB_CONCURRENCY or 1)",
    )
    p.add_argument("--port", type=int, help="HTTP port (default $PORT or 3000)")

    p = add_command(
        subparsers, "playground", cmd_playground, "run the bot with a local Slack-like page in the browser"
    )
    p.add_argument("--port", type=int, help="HTTP port (default $PORT or 3000)")
