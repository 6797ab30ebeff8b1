"""The bot end to end, through Slack's real protocol: signed HTTP requests in, Web API calls out.

A ``FakeSlackWebAPI`` plays slack.com (Web API + response URLs), ``SlackClientSimulator`` plays the
Slack client posting signed requests to ``/slack/events``, and the bot is the production app:
``build_app(services)`` behind ``build_asgi`` on uvicorn. Nothing is mocked inside the bot.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

from bot.blocks import form as survive_form
from bot.blocks import survive as survive_blocks
from bot.local import FakeSlackWebAPI, sign
from bot.settings import BotSettings
from ml.core.passenger import Passenger
from ml.io.local_registry import LocalRegistry
from ml.jobs.train import train_and_register
from tests.support.bot import (
    ACK_BUDGET,
    SECRET,
    Bot,
    all_text,
    buttons,
    form_state,
    open_form,
    settle,
    start_bot,
)
from tests.support.models import FAST_CONFIG

# ---------------------------------------------------------------------------------------------
# /survive <text>


def test_inline_answer_acks_empty_then_replies_with_probability_reasons_and_buttons(bot: Bot) -> None:
    resp = bot.survive("1st class woman, 29, travelling with my husband")
    assert resp.status == 200
    assert resp.body == b""  # a bare ack: the answer follows on the response URL
    assert resp.elapsed < ACK_BUDGET

    reply = bot.reply_to(resp)
    assert reply.ok
    assert reply.args.get("response_type", "ephemeral") == "ephemeral"
    text = all_text(reply)
    assert re.match(r"\d+% \(likely \d+–\d+%\) chance of survival", reply.args["text"])
    assert "*Why*" in text and "▰" in text
    assert "*People like you*\nOf the " in text and "In the records: " in text
    assert "Being a woman" in text and "raised your chances" in text
    assert "Model TITANIC V1" in text
    assert "Assumed:" in text  # fare and port were imputed and the user is told so

    actions = buttons(reply.args["blocks"])
    assert set(actions) == {
        survive_blocks.ADJUST_ACTION,
        survive_blocks.SHARE_ACTION,
        survive_blocks.CHART_ACTION,
    }
    for button in actions.values():
        said = survive_blocks.decode_passenger(button["value"])
        assert said == Passenger(pclass=1, sex="female", age=29.0, sibsp=1)


def test_inline_answer_matches_the_model(bot: Bot) -> None:
    resp = bot.survive("3rd class man, 30")
    reply = bot.reply_to(resp)
    expected = bot.services.scorer.predict(Passenger(pclass=3, sex="male", age=30.0))
    assert reply.args["text"].startswith(f"{expected.headline} chance of survival")
    # Issue 10: his sex (the title was inferred from it) and his class (the fare was assumed from it).
    why = next(
        b["text"]["text"] for b in reply.args["blocks"] if "*Why*" in b.get("text", {}).get("text", "")
    )
    assert "Being a man" in why and "Travelling 3rd class" in why
    assert "“Mr”" not in why and "fare" not in why


def test_help(bot: Bot) -> None:
    resp = bot.survive("help")
    assert resp.status == 200
    answer = resp.json()
    text = all_text(answer)
    assert "Examples" in text and "/survive 1st class woman, 29" in text
    assert "chance of survival" not in text
    settle(bot)
    assert not [c for c in bot.fake.calls("response_url") if c.args["url"] == resp.sent["response_url"]]


def test_model_card(bot: Bot) -> None:
    resp = bot.survive("model")
    assert resp.status == 200 and resp.body == b""
    text = all_text(bot.reply_to(resp))
    assert "Model card" in text
    assert "TITANIC V1 (default)" in text
    for metric in ("accuracy", "ROC AUC", "Brier", "log loss"):
        assert metric in text
    assert "Registry*\nlocal" in text


@pytest.mark.parametrize("text", ["banana spaceship", "what is the weather", "!!!"])
def test_nonsense_gets_help_with_examples_and_no_probability(bot: Bot, text: str) -> None:
    resp = bot.survive(text)
    assert resp.status == 200
    answer = resp.json()
    shown = all_text(answer)
    assert "couldn't find a passenger" in shown
    assert "/survive 3rd class man, 30, alone, from Southampton" in shown
    assert "%" not in shown


def test_out_of_range_is_refused_plainly(bot: Bot) -> None:
    resp = bot.survive("1st class man age 150")
    assert resp.status == 200
    shown = all_text(resp.json())
    assert "can't score that" in shown
    assert "Age must be between 0 and 100 (got 150)" in shown
    assert "%" not in shown and "chance" not in shown
    settle(bot)
    assert not [c for c in bot.fake.calls() if c.args.get("url") == resp.sent["response_url"]]


def test_contradictions_are_refused(bot: Bot) -> None:
    resp = bot.survive("1st class man, a woman, 30")
    shown = all_text(resp.json())
    assert "You said both “man” and “woman”." in shown
    assert "%" not in shown


def test_missing_class_or_sex_offers_a_prefilled_form(bot: Bot) -> None:
    resp = bot.survive("29, travelling with my husband")
    answer = resp.json()
    shown = all_text(answer)
    assert "I need your class and sex to answer." in shown
    assert "%" not in shown
    [button] = buttons(answer["blocks"]).values()
    assert button["action_id"] == survive_blocks.OPEN_FORM_ACTION

    click = bot.sim.block_action(survive_blocks.OPEN_FORM_ACTION, button["value"], channel_id="C_GENERAL")
    assert click.status == 200
    [opened] = bot.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == click.sent["trigger_id"])
    view = opened.args["view"]
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert by_id["age"]["element"]["initial_value"] == "29"
    assert by_id["sibsp"]["element"]["initial_value"] == "1"
    assert "initial_option" not in by_id["pclass"]["element"]
    assert survive_form.channel_from_metadata(view["private_metadata"]) == "C_GENERAL"


# ---------------------------------------------------------------------------------------------
# The form


def test_survive_alone_opens_the_form_with_the_trigger_id(bot: Bot) -> None:
    resp = bot.survive("", channel_id="C_RANDOM")
    assert resp.status == 200 and resp.body == b""
    [opened] = bot.fake.wait_for("views.open")
    assert opened.ok
    assert opened.args["trigger_id"] == resp.sent["trigger_id"]
    view = opened.args["view"]
    assert view["callback_id"] == survive_form.SURVIVE_MODAL
    assert [b["block_id"] for b in view["blocks"]] == list(survive_form.FORM_FIELDS)
    assert json.loads(view["private_metadata"]) == {"channel": "C_RANDOM"}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"pclass": 1, "sex": "female", "age": 150}, {"age"}),
        ({"pclass": 1, "sex": "female", "age": "abc"}, {"age"}),
        ({"pclass": 2, "sex": "male", "age": -1, "sibsp": 11}, {"age", "sibsp"}),
        ({"age": 30}, {"pclass", "sex"}),
        ({"pclass": 1, "sex": "male", "title": "Mrs"}, {"title"}),
    ],
)
def test_invalid_form_gets_errors_under_the_fields_and_nothing_is_posted(
    bot: Bot, fields: dict[str, Any], errors: set[str]
) -> None:
    view = open_form(bot)
    bot.fake.clear()
    resp = bot.sim.view_submission(view, form_state(**fields))
    assert resp.status == 200
    answer = resp.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == errors
    assert all(isinstance(m, str) and m for m in answer["errors"].values())
    assert view["id"] in bot.fake.views  # the modal stays open
    settle(bot)
    assert [c.method for c in bot.fake.calls()] == ["response_url"]  # only the settle() marker


def test_valid_form_answers_ephemerally_in_the_channel_it_came_from(bot: Bot) -> None:
    view = open_form(bot, channel_id="C_RANDOM", user_id="U_BOB")
    resp = bot.sim.view_submission(
        view, form_state(pclass=2, sex="female", age=8, parch=2, embarked="S"), user_id="U_BOB"
    )
    assert resp.status == 200 and resp.body == b""  # closes the modal
    assert view["id"] not in bot.fake.views
    [posted] = bot.fake.wait_for("chat.postEphemeral")
    assert posted.ok
    assert (posted.args["channel"], posted.args["user"]) == ("C_RANDOM", "U_BOB")
    assert "%) chance of survival" in posted.args["text"]
    assert "Model TITANIC V1" in all_text(posted)
    said = survive_blocks.decode_passenger(
        buttons(posted.args["blocks"])[survive_blocks.ADJUST_ACTION]["value"]
    )
    assert said == Passenger(pclass=2, sex="female", age=8.0, parch=2, embarked="S")
    assert [e["user"] for e in bot.fake.ephemerals("C_RANDOM")] == ["U_BOB"]


def test_form_answer_falls_back_to_a_dm_when_the_bot_is_not_in_the_channel(bot: Bot) -> None:
    view = open_form(bot, channel_id="C_SECRET")
    bot.fake.fail_channels["C_SECRET"] = "not_in_channel"
    resp = bot.sim.view_submission(view, form_state(pclass=3, sex="male", age=22))
    assert resp.status == 200
    [posted] = bot.fake.wait_for("chat.postMessage")
    assert posted.ok and posted.args["channel"] == "DU_ALICE"
    assert "%) chance of survival" in posted.args["text"]
    [failed] = bot.fake.calls("chat.postEphemeral")
    assert failed.response["error"] == "not_in_channel"
    [dm] = bot.fake.calls("conversations.open")
    assert dm.args["users"] == "U_ALICE"
    assert [m["text"] for m in bot.fake.messages("DU_ALICE")] == [posted.args["text"]]


# ---------------------------------------------------------------------------------------------
# Buttons under an answer


def test_adjust_opens_the_form_prefilled(bot: Bot) -> None:
    reply = bot.reply_to(bot.survive("1st class woman, 29, travelling with my husband, from Cherbourg"))
    adjust = buttons(reply.args["blocks"])[survive_blocks.ADJUST_ACTION]
    click = bot.sim.block_action(survive_blocks.ADJUST_ACTION, adjust["value"], channel_id="C_GENERAL")
    assert click.status == 200
    [opened] = bot.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == click.sent["trigger_id"])
    assert opened.ok
    by_id = {b["block_id"]: b["element"] for b in opened.args["view"]["blocks"]}
    assert by_id["pclass"]["initial_option"]["value"] == "1"
    assert by_id["sex"]["initial_option"]["value"] == "female"
    assert by_id["age"]["initial_value"] == "29"
    assert by_id["sibsp"]["initial_value"] == "1"
    assert by_id["embarked"]["initial_option"]["value"] == "C"
    assert "initial_value" not in by_id["fare"]

    # Submitting the pre-filled form unchanged gives the same answer as the text did.
    view = opened.response["view"]
    state = form_state(pclass=1, sex="female", age=29, sibsp=1, embarked="C")
    bot.sim.view_submission(view, state)
    [posted] = bot.fake.wait_for("chat.postEphemeral")
    assert posted.args["text"] == reply.args["text"]


def test_adjust_with_a_tampered_value_opens_an_empty_form(bot: Bot) -> None:
    click = bot.sim.block_action(
        survive_blocks.ADJUST_ACTION, '{"pclass": 9, "evil": 1}', channel_id="C_GENERAL"
    )
    assert click.status == 200
    [opened] = bot.fake.wait_for("views.open")
    assert opened.ok
    assert all(
        "initial_option" not in b["element"] and "initial_value" not in b["element"]
        for b in opened.args["view"]["blocks"]
    )


def test_share_posts_in_channel(bot: Bot) -> None:
    reply = bot.reply_to(bot.survive("3rd class man, 30, alone"))
    share = buttons(reply.args["blocks"])[survive_blocks.SHARE_ACTION]
    click = bot.sim.block_action(
        survive_blocks.SHARE_ACTION, share["value"], channel_id="C_GENERAL", user_id="U_BOB"
    )
    assert click.status == 200
    shared = bot.reply_to(click)
    assert shared.ok
    assert shared.args["response_type"] == "in_channel"
    text = all_text(shared)
    assert "<@U_BOB> asked the Titanic model." in text
    assert reply.args["text"] in shared.args["text"]
    assert not buttons(shared.args["blocks"])  # no Adjust/Share under a message everyone sees
    [message] = bot.fake.messages("C_GENERAL")
    assert message["text"] == shared.args["text"]


# ---------------------------------------------------------------------------------------------
# Request verification


@pytest.mark.parametrize("kind", ["forged", "stale", "unsigned"])
def test_unverified_requests_get_401_and_cause_nothing(bot: Bot, kind: str) -> None:
    response_url = bot.fake.make_response_url(channel_id="C_GENERAL", user_id="U_ALICE")
    form = (
        "command=%2Fsurvive&text=1st+class+woman+29&user_id=U_ALICE&channel_id=C_GENERAL"
        f"&team_id=T_LIFEBOAT&api_app_id=A_LIFEBOAT&trigger_id={bot.fake.issue_trigger_id()}"
        f"&response_url={response_url}"
    )
    body = form.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if kind == "forged":
        headers |= sign("not-the-secret", body)
    elif kind == "stale":
        headers |= sign(SECRET, body, timestamp=int(time.time()) - 6 * 60)
    resp = bot.sim.post(body, headers)
    assert resp.status == 401
    assert bot.fake.calls() == []
    # A form submission is refused the same way (and would otherwise have posted).
    payload = {"payload": json.dumps({"type": "view_submission", "user": {"id": "U_ALICE"}, "view": {}})}
    forged_view = urllib.parse.urlencode(payload).encode()
    assert bot.sim.post(forged_view, headers | sign("not-the-secret", forged_view)).status == 401
    settle(bot)  # had a listener run for them, its calls would have landed by now
    assert [c for c in bot.fake.calls() if c.args.get("url") == response_url] == []
    assert [c.method for c in bot.fake.calls()] == ["response_url"]  # the settle() marker only


@pytest.mark.parametrize(
    ("body", "signed", "status"),
    [
        (b"payload=not-json", False, 401),  # verified before it is parsed: a 401, not a 500
        (b"payload=not-json", True, 400),
        (b"command=%2Fsurvive&text=\xff\xfe", False, 401),  # not UTF-8
        (b"command=%2Fsurvive&text=\xff\xfe", True, 400),  # signed over its bytes, but not text
    ],
)
def test_unreadable_bodies_are_refused_without_a_server_error(
    bot: Bot, body: bytes, signed: bool, status: int
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers |= sign(SECRET if signed else "not-the-secret", body)
    resp = bot.sim.post(body, headers)
    assert resp.status == status
    assert b"Traceback" not in resp.body and b"Internal Server Error" not in resp.body
    assert bot.fake.calls() == []


# ---------------------------------------------------------------------------------------------
# Health, failures and the model going away or changing


def test_healthz_reports_the_model_served(bot: Bot) -> None:
    deliveries = {"delivered": 0, "retried": 0, "lost": 0, "unconfirmed": 0, "web_api_retries": 0}
    assert bot.healthz() == {
        "ok": True,
        "backend": "local",
        "model": "TITANIC",
        "model_version": "V1",
        "deliveries": deliveries,
        "uploads": {"uploaded": 0, "refused": 0, "failed": 0},
        "scoring": {"configured": "local", "path": "local", "fallbacks": 0},
    }
    bot.reply_to(bot.survive("3rd class man, 30"))
    deadline = time.monotonic() + 5  # counted once the bot has Slack's answer, just after the fake
    while bot.healthz()["deliveries"]["delivered"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bot.healthz()["deliveries"] == {**deliveries, "delivered": 1}


def test_without_a_model_the_bot_says_so_and_stays_up(bot_without_model: Bot) -> None:
    bot = bot_without_model
    health = bot.healthz()
    assert health["ok"] is False and health["model_version"] is None
    assert "lifeboat train" in health["error"]

    for text in ("1st class woman, 29", "model"):
        resp = bot.survive(text)
        assert resp.status == 200
        reply = bot.reply_to(resp)
        assert "The model is unavailable right now" in all_text(reply)
        assert "%" not in reply.args["text"]

    view = open_form(bot)
    assert bot.sim.view_submission(view, form_state(pclass=1, sex="female")).status == 200
    [posted] = bot.fake.wait_for("chat.postEphemeral")
    assert "The model is unavailable right now" in posted.args["text"]

    assert bot.survive("help").status == 200  # still serving
    assert bot.healthz()["ok"] is False


class ExplodingScorer:
    """A scorer whose predict fails the way an unexpected bug would."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def predict(self, passenger: Passenger) -> Any:
        raise RuntimeError("kaboom: secret internals /srv/lifeboat/model.py line 42")


def assert_friendly(shown: str) -> None:
    assert "Something went wrong on our side" in shown
    for leak in ("kaboom", "Traceback", "RuntimeError", "line 42"):
        assert leak not in shown


def test_an_exception_in_a_listener_gives_a_friendly_message_and_no_traceback(bot: Bot) -> None:
    bot.services.scorer = ExplodingScorer(bot.services.scorer)
    resp = bot.survive("1st class woman, 29")
    assert resp.status == 200
    reply = bot.reply_to(resp)
    assert_friendly(all_text(reply))

    # A form has no response URL: the apology goes where the answer would have gone.
    view = open_form(bot, channel_id="C_RANDOM")
    assert bot.sim.view_submission(view, form_state(pclass=1, sex="female")).status == 200
    [posted] = bot.fake.wait_for("chat.postEphemeral")
    assert posted.args["channel"] == "C_RANDOM"
    assert_friendly(all_text(posted))

    # The Share button, too.
    value = survive_blocks.encode_passenger(Passenger(pclass=1, sex="female"))
    click = bot.sim.block_action(survive_blocks.SHARE_ACTION, value)
    assert_friendly(all_text(bot.reply_to(click)))
    assert bot.healthz()["ok"] is True


def test_an_exception_before_ack_still_answers_the_command(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> Any:
        raise ValueError("kaboom in the parser, line 42")

    monkeypatch.setattr("bot.listeners.commands.survive.understand", broken)
    resp = bot.survive("1st class woman, 29")
    assert resp.status == 200  # not a 500: Slack would show "dispatch_failed"
    assert resp.elapsed < ACK_BUDGET
    assert resp.json()["response_type"] == "ephemeral"
    assert_friendly(all_text(resp.json()))

    # A form: the modal closes and the apology goes to the channel it was opened from.
    view = open_form(bot, channel_id="C_RANDOM")
    monkeypatch.setattr("bot.blocks.form.form_values", broken)
    submitted = bot.sim.view_submission(view, form_state(pclass=1, sex="female"))
    assert submitted.status == 200 and submitted.body == b""
    [posted] = bot.fake.wait_for("chat.postEphemeral")
    assert posted.args["channel"] == "C_RANDOM"
    assert_friendly(all_text(posted))


def test_an_unwrapped_listener_failing_right_after_ack_is_still_acknowledged(
    home: Path, fake: FakeSlackWebAPI
) -> None:
    """Bolt 1.30 resets its ack when a listener raises after ack(); the HTTP layer answers at ack()
    and the app's error handler apologises, whatever the listener (e.g. one not using `guarded`)."""

    def customize(app: App) -> None:
        @app.command("/boom")
        def boom(ack: Any) -> None:
            ack()
            raise RuntimeError("kaboom right after ack, line 42")

    for bot in start_bot(fake, customize):
        for _ in range(5):
            resp = bot.sim.slash_command("/boom", "now")
            assert resp.status == 200 and resp.body == b""
            assert resp.elapsed < ACK_BUDGET
            assert_friendly(all_text(bot.reply_to(resp)))


def test_a_new_default_version_is_served_without_restart(bot: Bot, registry: LocalRegistry) -> None:
    bot.services.scorer.refresh_seconds = 0
    first = bot.reply_to(bot.survive("2nd class woman, 40"))
    assert "Model TITANIC V1" in all_text(first)

    trained = train_and_register(registry, actor="tests", comment="second", config=FAST_CONFIG)
    assert trained.version.version == "V2"
    assert registry.get_default() == "V1"  # registering does not promote
    assert "Model TITANIC V1" in all_text(bot.reply_to(bot.survive("2nd class woman, 40")))

    registry.set_default("V2")
    second = bot.reply_to(bot.survive("2nd class woman, 40"))
    assert "Model TITANIC V2" in all_text(second)
    assert bot.healthz()["model_version"] == "V2"
    card = all_text(bot.reply_to(bot.survive("model")))
    assert "TITANIC V2 (default)" in card


@pytest.mark.parametrize(
    ("value", "api_url"),
    [
        ("", "https://slack.com/api/"),  # set but empty: the default, not "/"
        ("http://127.0.0.1:9999/api", "http://127.0.0.1:9999/api/"),
        ("http://127.0.0.1:9999/api/", "http://127.0.0.1:9999/api/"),
    ],
)
def test_slack_api_url_setting(monkeypatch: pytest.MonkeyPatch, value: str, api_url: str) -> None:
    monkeypatch.setenv("SLACK_API_URL", value)
    assert BotSettings.from_env().api_url == api_url
