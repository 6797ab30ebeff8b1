"""`/survive stats` end to end (signed requests to the real app, replies on the fake Slack's response
URLs) and `lifeboat stats`, both pinned to the shipped 891's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from ml.io.registry import RegistryError
from tests.support.bot import ACK_BUDGET, Bot, all_text, settle
from tests.support.models import register_elsewhere_trained


def register_other_data_version(bot: Bot) -> None:
    """A default version trained on a passenger list this machine has no copy of."""
    register_elsewhere_trained(bot.services.registry)


# -- in Slack ------------------------------------------------------------------------------------------
def test_stats_acks_at_once_then_answers_every_grouping_with_counts_and_intervals(bot: Bot) -> None:
    resp = bot.survive("stats")
    assert resp.status == 200 and resp.body == b""  # a bare ack: the figures follow on the response URL
    assert resp.elapsed < ACK_BUDGET
    reply = bot.reply_to(resp)
    assert reply.args.get("response_type", "ephemeral") == "ephemeral"
    assert reply.args["text"] == "342 of 891 passengers survived (38%)."
    shown = all_text(reply)
    assert "342 of 891 passengers survived: 38% (95% interval 35–42%)" in shown
    for heading in ("*By sex*", "*By class*", "*By age*", "*By port*", "*By family size*"):
        assert heading in shown
    assert "female  233 of 314   74%        69–79%" in shown
    assert "male    109 of 577   19%        16–22%" in shown
    assert "unknown    52 of 177   29%        23–36%" in shown  # the 177 unknown ages: a row of their own
    assert "unknown          2 of 2  100%       34–100%" in shown  # and the 2 unknown ports
    assert "the shipped passenger list (891 passengers), which TITANIC V1 was trained on" in shown
    assert ":warning:" not in shown
    assert "`/survive stats by class and sex`" in shown


def test_stats_by_class_and_sex_is_the_cross_table(bot: Bot) -> None:
    reply = bot.reply_to(bot.survive("stats by class and sex"))
    shown = all_text(reply)
    assert reply.args["text"] == "Survival by class and sex. 342 of 891 passengers survived (38%)."
    assert "*By class and sex*" in shown
    assert "1st class  female   91 of 94   97%        91–99%" in shown
    assert "           male    47 of 347   14%        10–18%" in shown
    assert "*By sex*" not in shown
    # The cross table as a chart too: bars with their intervals as whiskers, said in words as well.
    [chart] = [b for b in reply.args["blocks"] if b["type"] == "image"]
    assert bot.fake.files[chart["slack_file"]["id"]]["completed"]
    assert "1st class · female: 97% of 94" in chart["alt_text"]


def test_unknown_groupings_get_the_valid_ones_at_once_and_nothing_else(bot: Bot) -> None:
    resp = bot.survive("stats by class and hair colour")
    shown = all_text(resp.json())
    assert "I don't know how to group by “hair”, “colour”." in shown
    for name in ("`sex`", "`class`", "`age`", "`port`", "`family` (family size)"):
        assert name in shown
    assert "under 13, 13–17, 18–34, 35–54, 55+" in shown
    settle(bot)
    assert not [c for c in bot.fake.calls("response_url") if c.args["url"] == resp.sent["response_url"]]


def test_words_quoted_back_are_escaped(bot: Bot) -> None:
    resp = bot.survive("stats by <!channel> and <https://evil.example|x>")
    shown = all_text(resp.json())
    assert "<!channel>" not in shown and "<https://" not in shown
    assert "“&lt;!channel&gt;”" in shown
    assert "<!channel>" not in resp.json()["text"]


def test_three_groupings_are_refused_plainly(bot: Bot) -> None:
    shown = all_text(bot.survive("stats by class, sex and age").json())
    assert "At most 2 groupings at a time" in shown


def test_a_default_trained_on_other_data_is_said_plainly(bot: Bot) -> None:
    register_other_data_version(bot)
    shown = all_text(bot.reply_to(bot.survive("stats by sex")))
    assert ":warning: TITANIC V2 was trained on a different passenger list (600 passengers" in shown
    assert "Figures from the shipped passenger list (891 passengers)." in shown
    assert "female  233 of 314" in shown


def test_figures_that_cannot_be_read_get_a_friendly_line(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable() -> None:
        raise RegistryError("the registry is locked")

    monkeypatch.setattr(bot.services.backend, "passenger_stats", unreachable)
    reply = bot.reply_to(bot.survive("stats"))
    assert "The passenger figures are unavailable right now" in all_text(reply)
    assert "locked" not in all_text(reply)


def test_help_mentions_stats(bot: Bot) -> None:
    assert "`/survive stats` shows who survived" in all_text(bot.survive("help").json())


# -- on the command line -----------------------------------------------------------------------------
def test_cli_prints_the_same_tables(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("342 of 891 passengers survived: 38% (95% interval 35–42%)\n")
    assert "\nBy sex\nSex       Survived  Rate  95% interval\nfemale  233 of 314   74%        69–79%\n" in out
    assert "which TITANIC V1 was trained on" in out and "Note:" not in out


def test_cli_cross_table_as_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--by", "class,sex", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by"] == ["class", "sex"] and data["version"] == "V1" and data["caveat"] is None
    [table] = data["breakdowns"]
    first = table["rows"][0]
    assert [first[k] for k in ("class", "sex", "survived", "total")] == ["1st class", "female", 91, 94]
    assert (first["low"], first["high"]) == pytest.approx((0.9103, 0.9891), abs=1e-4)
    assert sum(row["total"] for row in table["rows"]) == 891


def test_cli_unknown_grouping_is_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--by", "hair"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "lifeboat: error: I don't know how to group by “hair”. Groupings: sex, class, age, port, family.\n"
    )


def test_cli_without_a_model_says_whose_data_it_is(
    empty_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--by", "sex"]) == 0
    out = capsys.readouterr().out
    assert "Note: No model is trained yet" in out and "female  233 of 314" in out
