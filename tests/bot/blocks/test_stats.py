"""The Block Kit of `/survive stats` and its text table, on their own (pure functions)."""

from __future__ import annotations

import itertools

import pytest

from bot.blocks.stats import stats_blocks, stats_question_blocks, table_text
from ml.core.stats import GROUPINGS, PassengerCounts, PassengerStats, StatsQuestionError, count_passengers
from ml.io.data import load_csv

SECTION_LIMIT = 3000  # Slack's limit on a section's text
MESSAGE_BLOCKS = 50  # and on a message's blocks


@pytest.fixture(scope="module")
def shipped() -> PassengerStats:
    return PassengerStats(count_passengers(load_csv()), "the shipped passenger list (891 passengers)")


def test_table_text_lines_up_columns(shipped: PassengerStats) -> None:
    assert table_text(shipped.counts.breakdown(["sex"])) == (
        "Sex       Survived  Rate  95% interval\n"
        "female  233 of 314   74%        69–79%\n"
        "male    109 of 577   19%        16–22%"
    )


def test_cross_table_names_the_first_group_once(shipped: PassengerStats) -> None:
    lines = table_text(shipped.counts.breakdown(["sex", "class"])).splitlines()
    assert lines[0].split() == ["Sex", "Class", "Survived", "Rate", "95%", "interval"]
    assert lines[1].startswith("female  1st class") and lines[2].startswith("        2nd class")
    assert lines[4].startswith("male    1st class")


def test_overview_blocks(shipped: PassengerStats) -> None:
    blocks = stats_blocks(shipped)
    assert [b["type"] for b in blocks] == ["header", "section", *["section"] * 5, "context", "context"]
    assert blocks[2]["text"]["text"].startswith("*By sex*\n```\nSex ")
    assert blocks[2]["text"]["text"].endswith("16–22%\n```")
    assert "Figures from the shipped passenger list (891 passengers)." in blocks[-2]["elements"][0]["text"]


def test_a_caveat_is_shown_escaped(shipped: PassengerStats) -> None:
    stats = PassengerStats(shipped.counts, "a <table>", caveat="V2 learnt from <@U1>'s file")
    texts = [e["text"] for b in stats_blocks(stats, ["sex"]) if b["type"] == "context" for e in b["elements"]]
    assert ":warning: V2 learnt from &lt;@U1&gt;'s file" in texts
    assert any("Figures from a &lt;table&gt;." in t for t in texts)


def test_every_question_fits_slacks_limits_even_for_millions_of_passengers(shipped: PassengerStats) -> None:
    huge = PassengerStats(
        PassengerCounts({k: (t * 10_000, s * 10_000) for k, (t, s) in shipped.counts.cells.items()}), "big"
    )
    # Every combination of bands present, so every cross table has all its rows.
    full = PassengerCounts.from_rows(
        (labels, 1_234_567, 123_456)
        for labels in itertools.product(*[(*g.labels, "unknown") for g in GROUPINGS])
    )
    questions = [(), *((g.name,) for g in GROUPINGS), *itertools.permutations([g.name for g in GROUPINGS], 2)]
    for stats in (huge, PassengerStats(full, "all")):
        for by in questions:
            blocks = stats_blocks(stats, by)
            assert len(blocks) <= MESSAGE_BLOCKS
            for block in blocks:
                if block["type"] == "section":
                    assert len(block["text"]["text"]) <= SECTION_LIMIT, by


def test_unknown_words_are_escaped_and_cut() -> None:
    blocks = stats_question_blocks(StatsQuestionError("", ("<!here>", "x" * 100)))
    problem = blocks[0]["text"]["text"]
    assert "“&lt;!here&gt;”" in problem and "x" * 39 + "…" in problem and "x" * 41 not in problem
