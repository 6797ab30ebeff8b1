from __future__ import annotations

from slack_bolt import App

from bot.blocks import ADJUST_ACTION, OPEN_FORM_ACTION, SHARE_ACTION
from bot.listeners.actions import retrain_buttons
from bot.listeners.actions.survive_buttons import open_form, share_in_channel


def register(app: App) -> None:
    app.action(ADJUST_ACTION)(open_form)
    app.action(OPEN_FORM_ACTION)(open_form)
    app.action(SHARE_ACTION)(share_in_channel)
    retrain_buttons.register(app)
