"""Admin buttons on a finished run: 'Promote anyway' and 'Roll back'."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import retrain_blocks
from bot.services import Services
from ml.registry.base import RegistryError


def promote_anyway(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient, context: Any
) -> None:
    ack()
    services = Services.of(context)
    user = body["user"]["id"]
    if not services.admins.is_admin(user, client):
        respond(text="Only lifeboat admins can change the model.", replace_original=False)
        return
    try:
        previous = services.registry.set_default(
            action["value"], actor=user, action="promote", details={"via": "promote anyway"}
        )
    except RegistryError as exc:
        respond(text=f":warning: {exc}", replace_original=False)
        return
    respond(
        text=f"<@{user}> promoted {action['value']} (was {previous}).",
        response_type="in_channel",
        replace_original=False,
    )


def roll_back(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient, context: Any
) -> None:
    ack()
    services = Services.of(context)
    user = body["user"]["id"]
    if not services.admins.is_admin(user, client):
        respond(text="Only lifeboat admins can change the model.", replace_original=False)
        return
    try:
        previous = services.registry.set_default(action["value"], actor=user, action="rollback")
    except RegistryError as exc:
        respond(text=f":warning: {exc}", replace_original=False)
        return
    respond(
        text=f"<@{user}> rolled back {previous} → {action['value']}.",
        response_type="in_channel",
        replace_original=False,
    )


def register(app: App) -> None:
    app.action(retrain_blocks.PROMOTE_ACTION)(promote_anyway)
    app.action(retrain_blocks.ROLLBACK_ACTION)(roll_back)
