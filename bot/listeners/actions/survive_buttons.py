"""Buttons under an answer: 'Adjust' re-opens the form pre-filled; 'Share in channel' posts it;
'Show chart' draws its reasons; in a list of passengers of the records, 'This one' answers for them."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks import form as survive_form
from bot.blocks import survive as survive_blocks
from bot.listeners.commands.survive_names import picked_record, record_reply
from bot.listeners.replies import chart_reply, open_view, prediction_reply, respond_with_pictures
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


def show_chart(
    ack: Ack,
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    ack()
    passenger = _passenger(action)
    if passenger.missing():
        respond(text="That answer's chart can no longer be drawn.", replace_original=False)
        return
    reply = chart_reply(Services.of(context), client, passenger)
    respond_with_pictures(respond, reply, replace_original=False)


def pick_passenger(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    ack()
    services = Services.of(context)
    picked = picked_record(services, action.get("value"))
    if picked is None:
        respond(text="That list is out of date: ask again with `/survive <name>`.", replace_original=False)
        return
    serving, record = picked
    reply = record_reply(services, serving, record, body["user"]["id"])
    respond(replace_original=False, **reply.as_kwargs())
