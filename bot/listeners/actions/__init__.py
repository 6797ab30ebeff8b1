"""Buttons. Each listener is a plain function, guarded here."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.retrain import PROMOTE_ACTION, ROLLBACK_ACTION
from bot.blocks.survive import ADJUST_ACTION, OPEN_FORM_ACTION, SHARE_ACTION
from bot.listeners.actions.retrain_buttons import promote_anyway, roll_back
from bot.listeners.actions.survive_buttons import open_form, share_in_channel
from bot.listeners.guard import guarded


def register(app: App) -> None:
    app.action(ADJUST_ACTION)(guarded(open_form))
    app.action(OPEN_FORM_ACTION)(guarded(open_form))
    app.action(SHARE_ACTION)(guarded(share_in_channel))
    app.action(PROMOTE_ACTION)(guarded(promote_anyway))
    app.action(ROLLBACK_ACTION)(guarded(roll_back))
