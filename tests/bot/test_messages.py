"""`@lifeboat ...` in a channel and a DM to the bot: signed Events API requests in, answers posted
where the question was asked (the fake Slack holds the person's message, as Slack would)."""

from __future__ import annotations

from typing import Any

from bot.local import FakeSlackWebAPI
from tests.support.bot import Bot, all_text

ALICE = "U_ALICE"
DM = f"D{ALICE}"  # the fake's id of Alice's DM with the bot


def mention(bot: Bot, text: str, **extra: Any) -> str:
    ts = bot.fake.post_as_user("C_GENERAL", ALICE, text)
    event = {"type": "app_mention", "user": ALICE, "text": text, "ts": ts, "channel": "C_GENERAL"}
    assert bot.sim.event({**event, **extra}).status == 200
    return ts


def dm(bot: Bot, text: str, **extra: Any) -> str:
    ts = bot.fake.post_as_user(ALICE, ALICE, text)
    event = {"type": "message", "channel_type": "im", "user": ALICE, "text": text, "ts": ts, "channel": DM}
    assert bot.sim.event({**event, **extra}).status == 200
    return ts


def posted(fake: FakeSlackWebAPI, **args: Any) -> dict[str, Any]:
    [call] = fake.wait_for(
        "chat.postMessage", lambda c: all(c.args.get(k) == v for k, v in args.items()), timeout=10
    )
    return call.args


def test_a_mention_is_answered_in_its_thread(bot: Bot) -> None:
    ts = mention(bot, "<@U_BOT> 1st class woman, 29")
    reply = all_text(posted(bot.fake, channel="C_GENERAL", thread_ts=ts)["blocks"])
    assert "chance of survival" in reply and "1st class female" in reply


def test_a_bare_mention_gets_the_help_and_one_inside_a_thread_is_answered_there(bot: Bot) -> None:
    ts = mention(bot, "<@U_BOT>")
    assert posted(bot.fake, thread_ts=ts)["text"] == "How to use lifeboat"
    parent = bot.fake.post_as_user("C_GENERAL", ALICE, "who survived?")
    mention(bot, "<@U_BOT> stats", thread_ts=parent)
    assert "passengers survived" in all_text(posted(bot.fake, thread_ts=parent)["blocks"])


def test_a_dm_is_answered_in_the_conversation(bot: Bot) -> None:
    dm(bot, "3rd class man, 30")
    reply = posted(bot.fake, channel=DM)
    assert "thread_ts" not in reply and "chance of survival" in all_text(reply["blocks"])
    dm(bot, "a walrus")  # nothing understood: the help, not an error
    assert posted(bot.fake, channel=DM, text="I couldn't find a passenger in that.")


def test_messages_of_bots_edits_and_odd_shapes_get_no_answer(bot: Bot) -> None:
    dm(bot, "3rd class man, 30", bot_id="B_OTHER")  # another bot (or this one) talking
    dm(bot, "3rd class man, 30", subtype="message_changed")
    in_channel = {"type": "message", "channel_type": "channel", "user": ALICE, "text": "1st class woman"}
    bot.sim.event({**in_channel, "ts": "1.2", "channel": "C_GENERAL"})  # not a DM, not a mention
    bot.sim.event({"type": "app_mention", "user": ALICE, "text": 5, "ts": "1.3", "channel": "C_GENERAL"})
    odd = {"type": "app_mention", "user": [ALICE], "text": "<@U_BOT> 1st class woman", "channel": "C_GENERAL"}
    assert bot.sim.event(odd).status in (200, 400)  # refused at the door or ignored: not answered
    # A question after them is answered, so they were all processed (and none of them answered).
    dm(bot, "2nd class girl, 8")
    posted(bot.fake, channel=DM)
    assert len(bot.fake.calls("chat.postMessage")) == 1
