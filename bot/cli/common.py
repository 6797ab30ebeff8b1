"""What every command group shares: the one-line error, messages on stderr, the backend."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeAlias

from ml.backend import Backend, open_backend
from ml.config import MLSettings

EXIT_ERROR = 1

Handler = Callable[[argparse.Namespace, MLSettings], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def say(message: str) -> None:
    """Progress and notices go to stderr, so stdout stays the command's result (e.g. --json)."""
    print(message, file=sys.stderr, flush=True)


def add_command(subparsers: Subparsers, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    command = subparsers.add_parser(name, help=help, description=help)
    command.set_defaults(handler=handler)
    return command


@contextmanager
def backend(settings: MLSettings) -> Iterator[Backend]:
    opened = open_backend(settings)
    try:
        yield opened
    finally:
        opened.close()


def format_metrics(metrics: dict[str, float], prefix: str) -> str:
    names = ("accuracy", "roc_auc", "brier", "log_loss", "ece")
    return "  ".join(f"{n}={metrics[f'{prefix}{n}']:.3f}" for n in names if f"{prefix}{n}" in metrics)
