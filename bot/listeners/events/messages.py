"""`@lifeboat 1st class woman, 29` in a channel, or the same in a DM: answered as `/survive` answers it,
in the message's thread (a DM answers in the conversation, or in the thread it was asked in).

A message event carries no response URL and no trigger id: every reply is a `chat.postMessage`,
and "nothing said" gets the help (a form needs a trigger id; the help's button gives one).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import survive as survive_blocks
from bot.listeners.commands.survive import answer
from bot.listeners.home import is_user_id
from bot.listeners.replies import Reply
from bot.services import Services

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@[UW][A-Z0-9_]+(?:\|[^>]*)?>")
CHANNEL_ID = re.compile(r"[CDG][A-Z0-9_]{2,40}")  # as home.USER_ID (the local stand-in's ids have _)
TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
MAX_TEXT = 4000  # a slash command's text is at most 4,000 characters: the same for a message


class InThread:
    """`ack` and `respond` for a message: every reply is posted where the question was asked."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None) -> None:
        self.client, self.channel, self.thread_ts = client, channel, thread_ts

    def ack(self, **reply: Any) -> None:
        if reply.get("text") or reply.get("blocks"):  # an answer at once; a bare ack() is nothing here
            self.respond(**reply)

    def respond(self, **reply: Any) -> None:
        message = Reply(str(reply.get("text") or ""), list(reply.get("blocks") or []))
        try:
            self._post(message)
        except SlackApiError as exc:
            if exc.response.get("error") != "invalid_blocks" or not message.has_images:
                raise
            log.warning("a reply's pictures were refused: answering with text only")
            self._post(message.without_images())

    def _post(self, message: Reply) -> None:
        self.client.chat_postMessage(
            channel=self.channel, text=message.text, blocks=message.blocks or None, thread_ts=self.thread_ts
        )


def _question(event: dict[str, Any]) -> tuple[str, str, str] | None:
    """(user, channel, text) of a person's message, or None for anything else (a bot, an edit, a
    message of no one)."""
    user, channel, text = event.get("user"), event.get("channel"), event.get("text")
    if event.get("bot_id") or event.get("subtype") or not isinstance(text, str):
        return None
    if not isinstance(user, str) or not is_user_id(user):
        return None
    if not isinstance(channel, str) or not CHANNEL_ID.fullmatch(channel):
        return None
    return user, channel, MENTION.sub(" ", text[:MAX_TEXT]).strip()


def _ts(value: Any) -> str | None:
    return value if isinstance(value, str) and TS.fullmatch(value) else None


def _answer(event: dict[str, Any], thread_ts: str | None, client: WebClient, context: BoltContext) -> None:
    question = _question(event)
    if question is None:
        return
    user, channel, text = question
    thread = InThread(client, channel, thread_ts)
    if not text:
        thread.respond(text="How to use lifeboat", blocks=survive_blocks.help_blocks())
        return
    answer(Services.of(context), text, user, client, thread.ack, thread.respond)


def mentioned(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """`app_mention`: answered in the thread of the message that mentioned the bot."""
    _answer(event, _ts(event.get("thread_ts")) or _ts(event.get("ts")), client, context)


def direct_message(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """`message.im`: a DM to the bot, answered in the conversation (in its thread, if asked in one)."""
    if event.get("channel_type") != "im":
        return
    _answer(event, _ts(event.get("thread_ts")), client, context)
