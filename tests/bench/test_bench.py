"""bench: the runner's arguments and table, and the quality bench's target rule (the benchmarks
themselves run with `make bench`, not in the test suite)."""

from __future__ import annotations

import pytest

from bench import format_table, row
from bench.__main__ import modules, parse
from bench.quality_bench import meets


def test_every_bench_module_is_found() -> None:
    assert modules() == ["batch_bench", "bot_bench", "ml_bench", "quality_bench", "retrain_bench"]


def test_names_may_leave_off_the_suffix() -> None:
    assert parse([]) is None
    assert parse(["ml", "quality_bench"]) == ["ml_bench", "quality_bench"]


def test_an_unknown_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["nope"])
    assert exited.value.code == 2
    assert "no benchmark named nope" in capsys.readouterr().err


def test_table_marks_missed_targets_only() -> None:
    table = format_table(
        [
            row("fast", 0.4, "ms", "≤ 0.5 ms", True),
            row("slow", 3, "s", "≤ 1 s", False),
            row("info", 7, "", "", True),
        ]
    ).splitlines()
    assert table[0].split() == ["benchmark", "value", "target", "ok", "detail"]
    assert (
        table[2].split()[-1] == "yes" and table[3].split()[-1] == "NO" and table[4].split() == ["info", "7"]
    )


def test_quality_targets_have_a_direction() -> None:
    assert meets("accuracy", 0.835) and not meets("accuracy", 0.8349)
    assert meets("ece", 0.04) and not meets("ece", 0.0401)
