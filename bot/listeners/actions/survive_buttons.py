"""Buttons under an answer: 'Adjust' re-opens the form pre-filled; 'Share in channel' posts it."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks import form as survive_form
from bot.blocks import survive as survive_blocks
from bot.listeners.replies import open_view, prediction_reply
from bot.services import Services
from bot.transport.ingress import REQUEST_ID
from ml.core.passenger import Passenger, PassengerError


def _passenger(action: dict[str, Any]) -> Passenger:
    try:
        return survive_blocks.decode_passenger(action.get("value", "{}"))
    except (PassengerError, ValueError, TypeError):
        return Passenger()  # a stale or tampered button still opens an empty form


def open_form(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
) -> None:
    ack()
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
    view = survive_form.survive_modal(channel, _passenger(action))
    open_view(client, body["trigger_id"], view, logger, context.get(REQUEST_ID))


def share_in_channel(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    ack()
    passenger = _passenger(action)
    if passenger.missing():
        respond(
            text="That answer can no longer be shared.", replace_original=False, response_type="ephemeral"
        )
        return
    reply = prediction_reply(Services.of(context), passenger, shared_by=body["user"]["id"])
    respond(response_type="in_channel", replace_original=False, **reply.as_kwargs())
