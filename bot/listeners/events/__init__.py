"""Events API events. Each listener is a plain function, guarded here."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.events.home_opened import home_opened
from bot.listeners.events.messages import direct_message, mentioned
from bot.listeners.guard import guarded


def register(app: App) -> None:
    app.event("app_home_opened")(guarded(home_opened))
    app.event("app_mention")(guarded(mentioned))
    app.event("message")(guarded(direct_message))  # the manifest subscribes to message.im only
