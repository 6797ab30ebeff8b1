"""The /survive form: validate on the server, show errors under fields, answer where it was asked."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import Ack
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks import form as survive_form
from bot.listeners.replies import NOT_POSTABLE, deliver, prediction_reply
from bot.services import Services
from bot.transport.ingress import REQUEST_ID
from ml.core.passenger import Passenger, PassengerError

__all__ = ["NOT_POSTABLE", "deliver", "survive_modal_submitted"]


def survive_modal_submitted(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
) -> None:
    state = view.get("state")
    raw, errors = survive_form.form_values(state.get("values") if isinstance(state, dict) else None)
    try:
        passenger = Passenger.create(**raw)
        passenger.validate(require=Passenger.REQUIRED)
    except PassengerError as exc:
        errors = {**exc.errors, **errors}  # an unreadable field's own message wins
    if errors:
        ack(response_action="errors", errors=errors)  # block ids are the field names
        return
    ack()
    services = Services.of(context)
    user = body["user"]["id"]
    channel = survive_form.channel_from_metadata(view.get("private_metadata", ""))
    reply = prediction_reply(services, passenger, asked_by=user)
    deliver(client, user, channel, reply, logger, stats=services.delivery, request_id=context.get(REQUEST_ID))
