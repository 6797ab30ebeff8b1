"""View submissions. Each listener is a plain function, guarded here."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.form import SURVIVE_MODAL
from bot.listeners.guard import guarded
from bot.listeners.views.survive_modal import survive_modal_submitted


def register(app: App) -> None:
    app.view(SURVIVE_MODAL)(guarded(survive_modal_submitted))
