"""`lifeboat`: the one command line for training, the registry, scoring and running the bot.

Each command group is a module with `register(subparsers)`, as the bot's listeners are registered
by kind. Errors print one clear line and exit non-zero; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot.cli import doctor, models, scoring, serve, snowflake, stats
from bot.cli.common import EXIT_ERROR
from bot.transport.logs import LEVEL_ENV, configure_logging
from ml.config import MLSettings, load_env_file

GROUPS = (models, scoring, stats, snowflake, serve, doctor)
SERVING = frozenset({"run", "playground"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lifeboat", description="Would you have survived the Titanic?")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_env_file()  # .env may set the log format and level
    if args.debug:
        os.environ[LEVEL_ENV] = "DEBUG"  # for this process and the server's worker processes
    # A server logs each request (INFO); other commands only what goes wrong.
    configure_logging("INFO" if args.command in SERVING else "WARNING")
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
