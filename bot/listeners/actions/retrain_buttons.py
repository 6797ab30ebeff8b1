"""Admin buttons that change the default: 'Promote anyway' and 'Roll back' on a finished run's
report, and Promote / Roll back on the versions in an admin's Home. One code path for all of them:
the admin check, the button's value checked, the change recorded in the audit trail (refusals too,
as /retrain records them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks.kit import escape
from bot.blocks.retrain import PROMOTE_ACTION, ROLLBACK_ACTION
from bot.services import Services
from ml.io.registry import RegistryError

VERSION_VALUE = re.compile(r"V[0-9]{1,9}")  # what report_blocks and home_blocks put in these buttons
REFUSED = "Only lifeboat admins can change the model."
STALE = "That button no longer works: see `/retrain history`."
REPORT_ACTIONS = {PROMOTE_ACTION: "promote", ROLLBACK_ACTION: "rollback"}


@dataclass(frozen=True)
class Change:
    """What came of a click: whether the default changed, and what to tell the person (mrkdwn)."""

    done: bool
    message: str


def change_default(
    services: Services, client: WebClient, user: str, kind: str, target: Any, *, via: str
) -> Change:
    """Make `target` the default (`kind`: promote or rollback) if `user` is an admin and `target`
    is a version a button of ours would carry. A rollback from Home must go to the version a
    rollback would return to now (else its view is out of date)."""
    if not services.admins.is_admin(user, client):
        services.retrain.record_refusal(user, f"{kind} {str(target)[:20]} (via {via})")
        return Change(False, REFUSED)
    if not isinstance(target, str) or not VERSION_VALUE.fullmatch(target):  # not a button we made
        return Change(False, STALE)
    registry = services.registry
    try:
        if via == "home" and kind == "rollback" and registry.previous_default() != target:
            return Change(
                False, f"{target} is no longer what a rollback returns to: the view was out of date."
            )
        previous = registry.set_default(target, actor=user, action=kind, details={"via": via})
    except RegistryError as exc:
        return Change(False, f":warning: {escape(str(exc))}")
    verb = "promoted" if kind == "promote" else "rolled back"
    return Change(True, f"<@{user}> {verb} {previous} → {target}.")


def report_button(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """'Promote anyway' / 'Roll back to ...' on a run's report: a change is told to the channel,
    a refusal only to the person who clicked."""
    ack()
    kind = REPORT_ACTIONS[action["action_id"]]
    user = body["user"]["id"]
    change = change_default(Services.of(context), client, user, kind, action.get("value"), via="button")
    if change.done:
        respond(text=change.message, response_type="in_channel", replace_original=False)
    else:
        respond(text=change.message, replace_original=False)
