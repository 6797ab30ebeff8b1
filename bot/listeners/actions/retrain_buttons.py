"""Admin buttons on a finished run: 'Promote anyway' and 'Roll back'."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks.kit import escape
from bot.services import Services
from ml.io.registry import RegistryError

VERSION_VALUE = re.compile(r"V[0-9]{1,9}")  # what report_blocks puts in these buttons


def _set_default(
    kind: str,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Make the button's version the default, if an admin clicked; recorded as `kind` in the audit trail."""
    services = Services.of(context)
    user = body["user"]["id"]
    if not services.admins.is_admin(user, client):
        respond(text="Only lifeboat admins can change the model.", replace_original=False)
        return
    target = action.get("value")
    if not isinstance(target, str) or not VERSION_VALUE.fullmatch(target):  # not a button we made
        respond(text="That button no longer works: see `/retrain history`.", replace_original=False)
        return
    try:
        previous = services.registry.set_default(target, actor=user, action=kind, details={"via": "button"})
    except RegistryError as exc:
        respond(text=f":warning: {escape(str(exc))}", replace_original=False)
        return
    verb = "promoted" if kind == "promote" else "rolled back"
    respond(
        text=f"<@{user}> {verb} {previous} → {target}.", response_type="in_channel", replace_original=False
    )


def promote_anyway(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    ack()
    _set_default("promote", body, action, respond, client, context)


def roll_back(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    ack()
    _set_default("rollback", body, action, respond, client, context)
