"""Progress on a terminal, and none elsewhere: `lifeboat score` under a real pseudo-terminal, the
step display of train/retrain on a stream that says it is one."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from bench.batch_bench import make_passengers_csv
from bot.cli import main
from bot.cli.progress import row_progress, step_progress


def lifeboat(*argv: str, home: Path, stderr: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**os.environ, "LIFEBOAT_HOME": str(home)},
    )


def open_terminal() -> tuple[int, int]:
    """A pseudo-terminal 120 columns wide (a new one has none: progress bars would be cut to nothing)."""
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    return master, terminal


def read_terminal(master: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def test_score_shows_rows_per_second_and_an_eta_on_a_terminal(home: Path, tmp_path: Path) -> None:
    source = make_passengers_csv(tmp_path / "in.csv", 120_000)
    master, terminal = open_terminal()
    process = lifeboat("score", str(source), "-o", str(tmp_path / "out.csv"), home=home, stderr=terminal)
    os.close(terminal)
    shown = read_terminal(master)
    out, _ = process.communicate(timeout=60)
    os.close(master)
    assert process.returncode == 0, shown
    assert "rows/s" in shown and "ETA" in shown
    assert "120k/120k rows" in shown and "100%" in shown
    assert out.decode().startswith("Scored 120000 passengers")  # the result alone on stdout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stderr", "quiet"), [(io.StringIO, ()), (Terminal, ("--quiet",))], ids=["not-a-terminal", "quiet"]
)
def test_score_is_silent_off_a_terminal_or_when_asked(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stderr: type[io.StringIO],
    quiet: tuple[str, ...],
) -> None:
    source = make_passengers_csv(tmp_path / "in.csv", 1_000)
    shown = stderr()
    monkeypatch.setattr(sys, "stderr", shown)
    assert main(["score", str(source), "-o", str(tmp_path / "out.csv"), *quiet]) == 0
    assert shown.getvalue() == ""


def test_steps_are_shown_as_they_start_with_how_many_are_done() -> None:
    screen = Terminal()
    with step_progress(False, ("load data", "search", "register"), stream=screen) as step:
        assert step is not None
        step("load data")
        step("search")
    text = screen.getvalue()
    assert "… load data [0/3 steps" in text and "… search [1/3 steps" in text
    assert text.rstrip().splitlines()[-1].strip().startswith("done [3/3 steps")


def test_steps_are_silent_off_a_terminal_and_when_quiet() -> None:
    with (
        step_progress(False, ("a",), stream=io.StringIO()) as off_terminal,
        step_progress(True, ("a",), stream=Terminal()) as quiet,
    ):
        assert off_terminal is None and quiet is None
    with row_progress(True, stream=Terminal()) as rows:
        assert rows is None
