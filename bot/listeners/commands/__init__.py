from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.retrain import retrain_command
from bot.listeners.commands.survive import survive_command


def register(app: App) -> None:
    app.command("/survive")(survive_command)
    app.command("/retrain")(retrain_command)
