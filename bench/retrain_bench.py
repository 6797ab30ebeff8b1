"""Retraining: how long a run takes, how fast /retrain is acknowledged, and whether /survive keeps
its latency while a run trains in its worker process.

- local retrain: `RetrainService.run_blocking` (load, nested CV, holdout twin, fit, gate, register), default recipe;
- /retrain ack: signed `/retrain` (start) and `/retrain status` to `lifeboat run --http`;
- /survive reply p99 while a retraining run is in progress, against idle before it (same load). A
  p99 of a few hundred replies is decided by two or three of them, so the figure pools every reply
  sent while the run lasts, and IDLE_REQUESTS idle ones;
- /survive reply p99 just after the run, while the bot swaps in the new default.

Run alone with `python -m bench.retrain_bench` or with the others via `python -m bench`. Loopback only.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report, row
from bench.bot_bench import (
    SECRET,
    START_TIMEOUT_S,
    BotProcess,
    Replies,
    load,
    percentile,
    prepare_home,
    wait_healthy,
)
from bot.local import FakeSlackWebAPI, SlackClientSimulator

RETRAIN_TARGET_S = 10.0
ACK_TARGET_MS = 50.0
DURING_RUN_FACTOR = 2.0
IDLE_REQUESTS = 800
AFTER_REQUESTS = 400
DURING_BATCH = 100  # sent again and again while the run lasts
DURING_MAX = 2_000
SURVIVE_CONCURRENCY = 5
ADMIN = "U_ADMIN"


def local_retrain(home: Path) -> float:
    from ml.config import MLSettings
    from ml.core.training import TrainConfig
    from ml.io.local_registry import LocalRegistry
    from ml.io.runs import SQLiteRunStore
    from ml.jobs.retrain import RetrainService

    registry = LocalRegistry(home)
    try:
        service = RetrainService(registry, SQLiteRunStore(registry), MLSettings(home=home), TrainConfig())
        began = time.perf_counter()
        outcome = service.run_blocking("bench")
        seconds = time.perf_counter() - began
        if not outcome.ok:
            raise RuntimeError(outcome.summary())
        return seconds
    finally:
        registry.close()


def bot_during_run(home: Path, workdir: Path) -> dict[str, Any]:
    with FakeSlackWebAPI(token="xoxb-bench") as fake:
        replies = Replies(fake)
        bot = BotProcess(home, fake, workdir, env={"LIFEBOAT_ADMINS": ADMIN})
        try:
            wait_healthy(bot.url, START_TIMEOUT_S)
            load(bot.url, fake, replies, 40, SURVIVE_CONCURRENCY)  # warm-up
            before = load(bot.url, fake, replies, IDLE_REQUESTS, SURVIVE_CONCURRENCY)
            sim = SlackClientSimulator(f"{bot.url}/slack/events", SECRET, fake, timeout=10)
            start = sim.slash_command("/retrain", "", user_id=ADMIN)
            fake.wait_for("chat.postMessage", timeout=10)

            def done() -> bool:
                return any("Retraining done" in str(c.args) for c in fake.calls("chat.update"))

            during: dict[str, list[Any]] = {"replies": [], "errors": []}
            batches = overlapped = 0
            while not done() and len(during["replies"]) < DURING_MAX:
                batch = load(bot.url, fake, replies, DURING_BATCH, SURVIVE_CONCURRENCY)
                during["replies"] += batch["replies"]
                during["errors"] += batch["errors"]
                batches += 1
                overlapped += not done()  # this batch ended with the run still going
            status_acks = [
                sim.slash_command("/retrain", "status", user_id=ADMIN).elapsed * 1000 for _ in range(20)
            ]
            fake.wait_for("chat.update", lambda c: "Retraining done" in str(c.args), timeout=120)
            after = load(bot.url, fake, replies, AFTER_REQUESTS, SURVIVE_CONCURRENCY)
            return {
                "start_ack_ms": start.elapsed * 1000,
                "status_acks": status_acks,
                "idle": before,
                "after": after,
                "during": during,
                "batches": batches,
                "overlapped": overlapped,
            }
        finally:
            bot.stop()
            replies.unsubscribe()


def run() -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="lifeboat-retrain-bench-"))
    try:
        home = workdir / "home"
        prepare_home(home)
        seconds = local_retrain(home)
        result = bot_during_run(home, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    idle99 = percentile(result["idle"]["replies"], 99)
    during99 = percentile(result["during"]["replies"], 99)
    worst_ack = max(result["start_ack_ms"], *result["status_acks"])
    after99 = percentile(result["after"]["replies"], 99)
    errors = result["idle"]["errors"] + result["during"]["errors"] + result["after"]["errors"]
    return [
        row(
            "local retrain (nested CV + holdout twin + fit + gate + register)",
            round(seconds, 2),
            "s",
            f"≤ {RETRAIN_TARGET_S:.0f} s",
            seconds <= RETRAIN_TARGET_S,
            "default recipe, in process",
        ),
        row(
            "/retrain ack (start, then 20 × status)",
            round(worst_ack, 1),
            "ms",
            f"≤ {ACK_TARGET_MS:.0f} ms",
            worst_ack <= ACK_TARGET_MS,
            f"start {result['start_ack_ms']:.1f} ms, status p50 {percentile(result['status_acks'], 50):.1f} ms",
        ),
        row(
            "/survive reply p99 during a run ÷ idle",
            round(during99 / idle99, 2),
            "×",
            f"≤ {DURING_RUN_FACTOR:.0f}×",
            during99 <= DURING_RUN_FACTOR * idle99 and result["overlapped"] > 0,
            f"idle p99 {idle99:.1f} ms ({len(result['idle']['replies'])} replies before the run),"
            f" during {during99:.1f} ms ({len(result['during']['replies'])} replies, {SURVIVE_CONCURRENCY} at a"
            f" time; {result['overlapped']} of {result['batches']} batches ended before the run did)",
        ),
        row(
            "/survive reply p99 just after the run",
            round(after99, 1),
            "ms",
            "",
            True,
            f"{AFTER_REQUESTS} replies while the bot swaps in the new default (others keep the old one)",
        ),
        row("errors", len(errors), "", "0", not errors, "; ".join(errors[:3])),
    ]


def main() -> list[dict[str, Any]]:
    return report(run())


if __name__ == "__main__":
    main()
