"""Progress of long CLI work on a terminal: rows/s and an ETA for `score`, the current step for
`train` and `retrain`. Drawn with tqdm on stderr; nothing at all when stderr is not a terminal
(a pipe, a log file, CI) or with --quiet, so scripts and logs see only results.

Why tqdm: already installed with the project's dependencies (snowflake-ml-python uses it), one
small pure-Python package with no dependencies of its own, and it works out rate, ETA and
redraw throttling itself; rich would add a rendering stack this needs none of.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

ROWS_FORMAT = (
    "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} rows [{elapsed}, ETA {remaining}, {rate_fmt}]"
)
STEPS_FORMAT = "{desc} [{n}/{total} steps, {elapsed}]"
OPEN_STEPS_FORMAT = "{desc} [{elapsed}]"


def on_terminal(stream: TextIO, quiet: bool) -> bool:
    return not quiet and stream.isatty()


@contextmanager
def row_progress(
    quiet: bool, stream: TextIO | None = None
) -> Iterator[Callable[[int, int | None], None] | None]:
    """A `progress(rows, expected_rows)` callback drawing rows/s and an ETA; None off a terminal."""
    stream = stream or sys.stderr
    if not on_terminal(stream, quiet):
        yield None
        return
    with tqdm(
        total=None, unit=" rows", unit_scale=True, file=stream, bar_format=ROWS_FORMAT, smoothing=0.1
    ) as bar:

        def update(rows: int, expected: int | None) -> None:
            if expected is not None and expected != bar.total:
                bar.total = expected
            bar.update(rows - bar.n)

        yield update
        if bar.total is not None:
            bar.total = bar.n  # the estimate made exact: 100%


@contextmanager
def step_progress(
    quiet: bool, steps: Sequence[str] = (), stream: TextIO | None = None
) -> Iterator[Callable[[str], None] | None]:
    """A `progress(step)` callback showing the step under way and the time spent (and how many of
    `steps` are done, when they are known); None off a terminal."""
    stream = stream or sys.stderr
    if not on_terminal(stream, quiet):
        yield None
        return
    known = len(steps) > 0
    with tqdm(
        total=len(steps) if known else None,
        file=stream,
        bar_format=STEPS_FORMAT if known else OPEN_STEPS_FORMAT,
        mininterval=0.5,
    ) as bar:

        def step(name: str) -> None:
            if known and name in steps:
                bar.n = steps.index(name)
            bar.set_description_str(f"… {name}", refresh=True)

        yield step
        bar.set_description_str("done", refresh=False)
        if known:
            bar.n = len(steps)
