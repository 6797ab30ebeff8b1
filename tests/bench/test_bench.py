"""bench: the runner's arguments and table, and the quality bench's travelling parties and target
rule (the benchmarks themselves run with `make bench`, not in the test suite)."""

from __future__ import annotations

import pandas as pd
import pytest

from bench import format_table, row
from bench.__main__ import modules, parse
from bench.quality_bench import split_rows, travelling_parties
from ml.core.evaluation import REFERENCE, Difference, Estimate, Row


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


def test_a_party_is_a_shared_ticket_or_a_family_name_class_and_port() -> None:
    frame = pd.DataFrame(
        {
            "name": ["Smith, Mr. A", "Smith, Mrs. B", "Smith, Mr. C", "Jones, Mr. D", "Brown, Miss. E"],
            "ticket": ["1", "2", "3", "3", "4"],
            "pclass": [3, 3, 3, 3, 1],
            "embarked": ["S", "S", "S", "S", "S"],
            "sibsp": [1, 1, 0, 0, 0],
            "parch": [0, 0, 0, 0, 0],
        }
    )
    party = travelling_parties(frame)
    # The Smith couple by name (with family), Smith C and Jones by ticket; C travels alone, so his
    # surname does not join him to the couple.
    assert party[0] == party[1] and party[2] == party[3]
    assert len({party[0], party[2], party[4]}) == 3


def test_the_recipe_must_beat_the_table_by_more_than_a_paired_se() -> None:
    metrics = {m: Estimate(0.4, 0.01) for m in ("accuracy", "roc_auc", "brier", "log_loss", "ece")}

    def rows(d_log_loss: float, d_brier: float) -> list[Row]:
        versus = {
            "log_loss": Difference(d_log_loss, 0.003, 0.008, 20, 25),
            "brier": Difference(d_brier, 0.001, 0.003, 20, 25),
        }
        return [Row(REFERENCE, metrics, {}), Row("recipe", metrics, versus)]

    ok = {r["name"]: r["ok"] for r in split_rows(rows(-0.004, -0.001), "s", 1.0)}
    assert ok == {
        f"s: {REFERENCE} log loss": True,
        "s: recipe log loss": True,
        "s: recipe − 12-number table, log loss": True,
        "s: recipe − 12-number table, Brier": True,
    }
    missed = {r["name"]: r["ok"] for r in split_rows(rows(-0.002, 0.001), "s", 1.0)}
    assert (
        not missed["s: recipe − 12-number table, log loss"]
        and not missed["s: recipe − 12-number table, Brier"]
    )
