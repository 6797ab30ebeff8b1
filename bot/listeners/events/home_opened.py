"""`app_home_opened`: someone opened the app; on its Home tab, publish their Home."""

from __future__ import annotations

from typing import Any

from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.listeners.home import is_user_id, publish_home
from bot.services import Services


def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    # Slack sends this for the Messages tab too ("tab": "messages"): only Home is ours to draw.
    # Whatever else the event holds is ignored; a user id that is not one is not published to.
    user = event.get("user")
    if event.get("tab") != "home" or not isinstance(user, str) or not is_user_id(user):
        return
    publish_home(Services.of(context), client, user)
