"""Block Kit for /retrain: progress, the final report with the decision, history. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.kit import Block, button, context, escape, section
from ml.core.promotion import holdout_lines
from ml.io.registry import AuditEvent
from ml.io.runs import EXPIRED_ERROR, FAILED, Run, iso

PROMOTE_ACTION = "retrain_promote"
ROLLBACK_ACTION = "retrain_rollback"


def _time(ts: float | None) -> str:
    text = iso(ts) or "?"
    return text.replace("T", " ").replace("+00:00", " UTC")


def progress_blocks(run: Run, steps: Sequence[str]) -> list[Block]:
    lines = []
    for index, name in enumerate(steps, start=1):
        if index < run.step_index or (index == run.step_index and not run.running):
            mark = ":white_check_mark:"
        elif index == run.step_index:
            mark = ":hourglass_flowing_sand:"
        else:
            mark = ":white_circle:"
        lines.append(f"{mark} {name}")
    return [
        section(
            f":gear: *Retraining* started by <@{run.actor}> — step {run.step_index} of {run.steps_total}"
        ),
        section("\n".join(lines)),
        context(f"Run `{run.id}` · started {_time(run.started_at)}"),
    ]


def _metric_table(decision: Mapping[str, Any], challenger: str, champion: str | None) -> str:
    return "```" + "\n".join(holdout_lines(decision, challenger, champion)) + "```"


def worker_died(run: Run) -> bool:
    return run.status == FAILED and run.error == EXPIRED_ERROR


def report_text(run: Run) -> str:
    """The notification text of a run's message (the blocks say the rest)."""
    if worker_died(run):
        return "Retraining stopped: the worker died"
    return run.decision or run.error or f"Retraining: {run.step}"


def report_blocks(run: Run) -> list[Block]:
    """The finished run: decision, the challenger's figures beside the champion's and the 12-number
    table's on the frozen holdout, admin buttons."""
    if worker_died(run):
        return [
            section(
                f":x: *Retraining stopped: the worker died* during “{run.step}”"
                f" (step {run.step_index} of {run.steps_total})."
            ),
            context(
                f"It stopped heart-beating and its lease lapsed ({_time(run.finished_at)}). Nothing was"
                f" registered and the serving model is unchanged; `/retrain` starts a new run. Run `{run.id}`."
            ),
        ]
    if run.status == "failed":
        return [
            section(f":x: *Retraining failed* at “{run.step}”: {escape(run.error or '', 500)}"),
            context(f"Nothing was registered and the serving model is unchanged. Run `{run.id}`."),
        ]
    decision: Mapping[str, Any] = run.result.get("decision", {})
    champion = decision.get("champion_version")
    icon = ":rocket:" if run.promoted else ":shield:"
    headline = f"promoted {run.version}" if run.promoted else f"kept {champion}"
    blocks: list[Block] = [
        section(f"{icon} *Retraining done: {headline}.* Registered {run.version}."),
        section(f"*Decision:* {run.decision}"),
        section(
            "*Frozen holdout*\n"
            + _metric_table(decision, f"{run.version} new", champion and f"{champion} now")
        ),
        context(
            "new: its twin, fitted without the holdout rows · now: as that version recorded them"
            " · table: the 12-number table (sex × class × child) fitted without them"
        ),
        context(
            f"Sex-only baseline log loss {decision.get('baseline_log_loss', float('nan')):.3f} · "
            f"took {run.duration:.1f}s · run `{run.id}`"
        ),
    ]
    elements = []
    if not run.promoted and run.version:
        elements.append(button("Promote anyway", PROMOTE_ACTION, run.version, style="danger"))
    if run.promoted and champion:
        elements.append(button(f"Roll back to {champion}", ROLLBACK_ACTION, champion))
    if elements:
        blocks.append({"type": "actions", "block_id": "retrain_actions", "elements": elements})
    return blocks


def busy_blocks(message: str) -> list[Block]:
    return [section(f":hourglass: {message}")]


def status_blocks(current: Run | None, last: Run | None) -> list[Block]:
    if current is not None:
        return [
            section(
                f":gear: Retraining is running: step {current.step_index} of {current.steps_total} "
                f"({current.step}), started by <@{current.actor}> at {_time(current.started_at)}."
            )
        ]
    if last is None:
        return [section("No retraining run yet. Start one with `/retrain`.")]
    outcome = last.decision if last.status == "succeeded" else f"failed: {escape(last.error or '', 500)}"
    return [
        section(
            f"Nothing is running. Last run `{last.id}` by <@{last.actor}> at {_time(last.started_at)}: {outcome}"
        )
    ]


def history_blocks(events: Sequence[AuditEvent]) -> list[Block]:
    if not events:
        return [section("No history yet.")]
    lines = []
    for e in events:
        move = f"{e.from_version or '—'} → {e.to_version or '—'}"
        extra = ""
        if e.details.get("seconds") is not None:
            extra = f" · {e.details['seconds']}s"
        metrics = e.details.get("metrics") or {}
        if "holdout_log_loss" in metrics:
            extra += f" · log loss {metrics['holdout_log_loss']:.3f}"
        lines.append(
            f"• `{e.at[:16].replace('T', ' ')}` *{e.action}* {move} by {escape(e.actor, 80)}: "
            f"{escape(e.outcome, 200)}{extra}"
        )
    return [section("*Model history* (newest first)\n" + "\n".join(lines))]


def help_blocks() -> list[Block]:
    return [
        section(
            "*/retrain* (admins)\n"
            "• `/retrain` — train a challenger; promote it if it beats the 12-number table and is not"
            " worse than the current default on the frozen holdout\n"
            "• `/retrain status` — is a run in progress?\n"
            "• `/retrain history` — runs, promotions and rollbacks\n"
            "• `/retrain promote V3` — make a version the default\n"
            "• `/retrain rollback` — back to the previous default"
        )
    ]


def refused_blocks() -> list[Block]:
    return [
        section(
            ":lock: Sorry, only lifeboat admins can retrain or change the model. "
            "Ask an admin if you think the model needs an update."
        )
    ]
