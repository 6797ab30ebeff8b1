"""`/survive`: help, model card, passenger statistics, the form, a passenger by name, or an answer
to free text."""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks import form as survive_form
from bot.blocks import survive as survive_blocks
from bot.listeners.commands.survive_names import asks_for_name, name_reply, suggestion_reply
from bot.listeners.commands.survive_stats import asks_for_stats, stats_reply, understand_stats
from bot.listeners.replies import (
    model_card_reply,
    open_view,
    prediction_reply,
    respond_with_pictures,
    understand,
)
from bot.services import Services
from bot.transport.ingress import REQUEST_ID
from ml.core.parser import parse

HELP_WORDS = frozenset({"help", "?", "-h", "--help", "usage"})
MODEL_WORDS = frozenset({"model", "version", "model card", "card"})


# How a reply leaves: Bolt's ack() and respond() for /survive, a thread's for a mention or a DM.
Send = Callable[..., Any]


def survive_command(
    ack: Ack,
    command: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    logger: Logger,
) -> None:
    text = (command.get("text") or "").strip()
    if not text:
        ack()  # the trigger id lives ~3 s: open the form before anything slow
        view = survive_form.survive_modal(command["channel_id"])
        open_view(client, command["trigger_id"], view, logger, context.get(REQUEST_ID))
        return
    answer(Services.of(context), text, command["user_id"], client, ack, respond)


def answer(services: Services, text: str, user: str, client: WebClient, ack: Send, respond: Send) -> None:
    """What /survive TEXT answers (a mention or a DM with TEXT too): help, the model card, passenger
    statistics, a passenger by name, or a description. `ack(...)` with a body answers at once;
    `respond(...)` answers after slower work."""
    keyword = text.lower()
    if keyword in HELP_WORDS:
        ack(text="How to use /survive", blocks=survive_blocks.help_blocks())
        return
    if keyword in MODEL_WORDS:
        ack()  # the card's charts may be drawn and uploaded: answer afterwards
        respond_with_pictures(respond, model_card_reply(services, client))
        return
    if asks_for_stats(text):
        question = understand_stats(text)
        if question.reply is not None:
            ack(**question.reply.as_kwargs())
            return
        ack()  # counting may be a warehouse query, the chart an upload: answer afterwards
        respond_with_pictures(respond, stats_reply(services, question.by, client))
        return
    answer_text(services, text, user, ack, respond)


def answer_text(services: Services, text: str, user: str, ack: Send, respond: Send) -> None:
    """A passenger by name, or a description: answered, refused, or helped along."""
    parsed = parse(text)  # once: both the name rule and the description need it
    name = asks_for_name(services, text, parsed)
    if name is not None:
        ack()
        respond(**name_reply(services, name, user).as_kwargs())
        return
    outcome = understand(text, parsed)
    if outcome.reply is not None:
        reply = suggestion_reply(services, text, outcome.reply) if outcome.not_understood else outcome.reply
        ack(**reply.as_kwargs())
        return
    ack()
    assert outcome.passenger is not None
    respond(**prediction_reply(services, outcome.passenger, asked_by=user).as_kwargs())
