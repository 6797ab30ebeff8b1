from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.survive import survive_command


def register(app: App) -> None:
    app.command("/survive")(survive_command)
    try:
        from bot.listeners.commands.retrain import retrain_command
    except ImportError:
        return
    app.command("/retrain")(retrain_command)
