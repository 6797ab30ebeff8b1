"""Buttons on the Home tab: 'Forget me', and an admin's Promote / Roll back on a version.

A click on Home has no response URL: the answer is the Home itself, published again with a line
saying what happened (and the new default, when it changed; the other viewers' Homes follow
through the refresher)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks.home import PROMOTE_ACTION, ROLLBACK_ACTION
from bot.listeners.actions.retrain_buttons import change_default
from bot.listeners.home import publish_home
from bot.services import Services

HOME_ACTIONS = {PROMOTE_ACTION: "promote", ROLLBACK_ACTION: "rollback"}


def forget_me(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    services = Services.of(context)
    user = body["user"]["id"]
    deleted = services.home_store.forget(user)
    notice = f":wastebasket: Forgotten: {deleted} answer{'s' if deleted != 1 else ''} deleted."
    publish_home(services, client, user, notice=notice)


def home_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """An admin's Promote / Roll back on a version in their Home."""
    ack()
    services = Services.of(context)
    user = body["user"]["id"]
    kind = HOME_ACTIONS[action["action_id"]]
    change = change_default(services, client, user, kind, action.get("value"), via="home")
    if change.done:  # this Home is published just below, with what happened: the refresher need not
        services.home_store.opened(user, services.registry.default_token())
    icon = ":white_check_mark:" if change.done else ":no_entry:"
    publish_home(services, client, user, notice=f"{icon} {change.message}")
