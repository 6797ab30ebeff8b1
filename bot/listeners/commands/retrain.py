"""`/retrain` for admins: start a run, status, history, promote, rollback, help."""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.blocks import retrain as retrain_blocks
from bot.blocks.kit import escape, section
from bot.listeners.replies import post_or_dm
from bot.services import Services
from ml.io.registry import RegistryError
from ml.io.runs import Busy
from ml.jobs.retrain import STEPS, RetrainError, describe_busy, rollback


def retrain_command(
    ack: Ack,
    command: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    logger: Logger,
) -> None:
    words = (command.get("text") or "").split()
    sub = words[0].lower() if words else ""
    if sub in ("help", "?", "-h", "--help"):
        ack(text="How to use /retrain", blocks=retrain_blocks.help_blocks())
        return
    ack()  # the admin check may call users.info: answer Slack first
    services = Services.of(context)
    user = command["user_id"]
    if not services.admins.is_admin(user, client):
        services.retrain.record_refusal(user, f"/retrain {' '.join(words)}".strip()[:200])
        respond(text="Only lifeboat admins can retrain.", blocks=retrain_blocks.refused_blocks())
        return
    try:
        answer_admin(
            services,
            sub,
            words,
            user,
            respond,
            start=lambda: start_run(services, client, respond, user, command["channel_id"], logger),
        )
    except (RegistryError, RetrainError) as exc:  # the message may quote what was typed: escaped
        respond(text=f":warning: {escape(str(exc))}")


def answer_admin(
    services: Services, sub: str, words: list[str], user: str, respond: Respond, start: Callable[[], None]
) -> None:
    """One admin's `/retrain <sub> ...`: run, status, history, promote V, rollback."""
    registry = services.registry
    if sub in ("", "run", "start", "now"):
        start()
    elif sub == "status":
        recent = services.retrain.store.recent(1)
        current = services.retrain.store.current()
        respond(
            text="Retraining status",
            blocks=retrain_blocks.status_blocks(current, recent[0] if recent else None),
        )
    elif sub == "history":
        respond(text="Model history", blocks=retrain_blocks.history_blocks(registry.history(15)))
    elif sub == "promote" and len(words) == 2:
        previous = registry.set_default(words[1], actor=user, action="promote")
        respond(
            text=f"{services.model_name} default: {previous} → {registry.get_default()}",
            response_type="in_channel",
        )
    elif sub == "rollback":
        was, now = rollback(registry, actor=user)
        respond(text=f"Rolled back {services.model_name}: {was} → {now}", response_type="in_channel")
    else:
        respond(
            text="I didn't get that.",
            blocks=[section(f"Unknown: `/retrain {escape(' '.join(words))}`"), *retrain_blocks.help_blocks()],
        )


def start_run(
    services: Services, client: WebClient, respond: Respond, user: str, channel: str, logger: Logger
) -> None:
    claim = services.retrain.start(user, origin={"channel": channel})
    if isinstance(claim, Busy):
        message = describe_busy(claim.run)
        respond(text=message, blocks=retrain_blocks.busy_blocks(message))
        return
    run = claim.run
    blocks = retrain_blocks.progress_blocks(run, STEPS)
    started = {"text": "Retraining started", "blocks": blocks}
    # Not in that channel: the run is followed in a DM instead.
    posted = post_or_dm(client, user, channel, started, ephemeral=False, logger=logger)
    services.retrain.store.set_origin(run.id, {"channel": posted["channel"], "ts": posted["ts"]})
    services.watcher.watch(run.id, client, posted["channel"], posted["ts"])
