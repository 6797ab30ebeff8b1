"""Slash commands. Each listener is a plain function (tests call it with a mock `ack`), guarded here."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.retrain import retrain_command
from bot.listeners.commands.survive import survive_command
from bot.listeners.guard import guarded


def register(app: App) -> None:
    app.command("/survive")(guarded(survive_command))
    app.command("/retrain")(guarded(retrain_command))
