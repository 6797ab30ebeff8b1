"""The /survive form: validate on the server, show errors under fields, answer where it was asked."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.answers import Reply, prediction_reply
from bot.services import Services
from ml.passenger import Passenger, PassengerError

# Errors that mean "the bot can't post there": answer in a DM instead.
NOT_POSTABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action"})


def survive_modal_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: Any, logger: Logger
) -> None:
    raw = blocks.form_values(view["state"]["values"])
    try:
        passenger = Passenger.create(**raw)
        passenger.validate(require=Passenger.REQUIRED)
    except PassengerError as exc:
        ack(response_action="errors", errors=exc.errors)  # block ids are the field names
        return
    ack()
    services = Services.of(context)
    user = body["user"]["id"]
    channel = blocks.channel_from_metadata(view.get("private_metadata", ""))
    deliver(client, user, channel, prediction_reply(services, passenger), logger)


def deliver(client: WebClient, user: str, channel: str | None, reply: Reply, logger: Logger) -> None:
    """Ephemeral in the channel the form came from; a DM when the bot can't post there."""
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=user, **reply.as_kwargs())
            return
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_POSTABLE:
                raise
            logger.info("cannot post in %s (%s): answering by DM", channel, exc.response.get("error"))
    dm = client.conversations_open(users=user)["channel"]["id"]
    client.chat_postMessage(channel=dm, **reply.as_kwargs())
