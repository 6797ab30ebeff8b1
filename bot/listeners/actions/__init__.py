"""Buttons. Each listener is a plain function, guarded here."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import home as home_blocks
from bot.blocks.names import PICK_ACTION
from bot.blocks.retrain import PROMOTE_ACTION, ROLLBACK_ACTION
from bot.blocks.survive import ADJUST_ACTION, CHART_ACTION, OPEN_FORM_ACTION, SHARE_ACTION
from bot.listeners.actions.home_buttons import forget_me, home_button
from bot.listeners.actions.retrain_buttons import report_button
from bot.listeners.actions.survive_buttons import (
    open_form,
    pick_passenger,
    share_in_channel,
    show_chart,
)
from bot.listeners.guard import guarded


def register(app: App) -> None:
    app.action(ADJUST_ACTION)(guarded(open_form))
    app.action(OPEN_FORM_ACTION)(guarded(open_form))
    app.action(SHARE_ACTION)(guarded(share_in_channel))
    app.action(CHART_ACTION)(guarded(show_chart))
    app.action(PICK_ACTION)(guarded(pick_passenger))
    app.action(PROMOTE_ACTION)(guarded(report_button))
    app.action(ROLLBACK_ACTION)(guarded(report_button))
    app.action(home_blocks.FORGET_ACTION)(guarded(forget_me))
    app.action(home_blocks.PROMOTE_ACTION)(guarded(home_button))
    app.action(home_blocks.ROLLBACK_ACTION)(guarded(home_button))
