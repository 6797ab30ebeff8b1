"""The App Home tab (views.publish, type "home"): pure functions, data in, the view out.

For everyone: the default model's card with its charts, a button that opens the /survive form,
and the last answers this person asked for (with "Forget me"). For admins, also: the last
retraining runs and their decisions, and the versions with Promote and Roll back buttons.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.blocks.kit import Block, button, context, escape, plain_text, section
from bot.blocks.retrain import status_blocks
from bot.blocks.survive import OPEN_FORM_ACTION, model_card_blocks, unavailable_blocks
from ml.io.registry import ModelVersion
from ml.io.runs import Run, iso

FORGET_ACTION = "home_forget"
PROMOTE_ACTION = "home_promote"
ROLLBACK_ACTION = "home_rollback"
MAX_BLOCKS = 100  # Slack's limit for a view
VERSIONS_SHOWN = 6
RUNS_SHOWN = 5


@dataclass(frozen=True)
class AdminPart:
    """What an admin sees besides: the newest versions, the default, what a rollback returns to,
    and the newest retraining runs."""

    versions: Sequence[ModelVersion]
    default: str | None
    previous: str | None
    runs: Sequence[Run] = ()
    running: Run | None = None


@dataclass(frozen=True)
class HomeData:
    """Everything one person's Home shows."""

    version: ModelVersion | None  # the default version; None: unavailable
    backend: str
    pictures: Sequence[Any] = ()
    recent: Sequence[Mapping[str, Any]] = ()
    admin: AdminPart | None = None
    notice: str | None = None
    scoring: Mapping[str, Any] | None = field(default=None)


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "?"
    return (iso(float(ts)) or "?").replace("T", " ")[:16] + " UTC"


def recent_blocks(recent: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The last answers this person asked for, newest first, and 'Forget me'."""
    if not recent:
        return [
            section(
                "*Your last answers*\nNothing yet: ask with the button above or `/survive` in any channel."
            ),
            context("lifeboat keeps your last five answers here, and nothing else about you."),
        ]
    lines = []
    for answer in recent:
        asked = escape(str(answer.get("label") or "?"), 120)
        headline = escape(str(answer.get("headline") or "?"), 40)
        version = escape(str(answer.get("version") or "?"), 12)
        lines.append(f"• *{headline}* — {asked} · {version} · {_when(answer.get('at'))}")
    forget = button("Forget me", FORGET_ACTION, "forget", style="danger")
    forget["confirm"] = {
        "title": plain_text("Forget your answers?"),
        "text": plain_text("Your last answers are deleted from lifeboat. This cannot be undone."),
        "confirm": plain_text("Forget me"),
        "deny": plain_text("Keep them"),
    }
    return [
        section("*Your last answers*\n" + "\n".join(lines)),
        {"type": "actions", "block_id": "home_forget", "elements": [forget]},
        context("Only you see these. “Forget me” deletes them."),
    ]


def _version_line(version: ModelVersion, default: str | None) -> str:
    loss = version.metrics.get("holdout_log_loss")
    figures = f"holdout log loss {loss:.3f}" if isinstance(loss, int | float) else "no holdout figures"
    mark = " · *default*" if version.version == default else ""
    return (
        f"*{version.version}*{mark} · {version.created_at.replace('T', ' ')[:16]} UTC by"
        f" {escape(version.created_by, 40)} · {figures}"
    )


def admin_blocks(admin: AdminPart) -> list[Block]:
    """Runs with their decisions, then each version with the buttons that change the default."""
    blocks: list[Block] = [
        {"type": "divider"},
        {"type": "header", "text": plain_text("Admin")},
        *status_blocks(admin.running, admin.runs[0] if admin.runs else None),
    ]
    if admin.runs:
        lines = [
            f"• `{run.id}` {_when(run.started_at)} by <@{escape(run.actor, 40)}>: "
            + (escape(run.decision or "", 200) if run.status == "succeeded" else f"{run.status}")
            for run in admin.runs[:RUNS_SHOWN]
        ]
        blocks.append(section("*Retraining runs*\n" + "\n".join(lines)))
    blocks.append(section("*Versions* (newest first) · the same checks and audit trail as `/retrain`"))
    for version in list(admin.versions)[::-1][:VERSIONS_SHOWN]:
        block = section(_version_line(version, admin.default))
        block["block_id"] = f"home_version_{version.version}"
        if version.version == admin.previous:
            block["accessory"] = button(f"Roll back to {version.version}", ROLLBACK_ACTION, version.version)
        elif version.version != admin.default:
            block["accessory"] = button("Promote", PROMOTE_ACTION, version.version, style="primary")
        blocks.append(block)
    return blocks


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home tab for one person."""
    blocks: list[Block] = [
        {"type": "header", "text": plain_text("Would you have survived the Titanic?")},
        section("Describe yourself as a passenger and the model tells you, with its reasons."),
        {
            "type": "actions",
            "block_id": "home_ask",
            "elements": [button("Would you survive?", OPEN_FORM_ACTION, "{}", style="primary")],
        },
    ]
    if data.notice:
        blocks.append(context(data.notice))
    blocks.append({"type": "divider"})
    if data.version is None:
        blocks += unavailable_blocks()
    else:
        blocks += model_card_blocks(
            data.version, backend=data.backend, scoring=data.scoring, pictures=data.pictures
        )
    blocks += [{"type": "divider"}, *recent_blocks(data.recent)]
    if data.admin is not None:
        blocks += admin_blocks(data.admin)
    blocks.append(context(f"Updated {_when(time.time())}"))
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}
