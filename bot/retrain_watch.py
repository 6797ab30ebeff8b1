"""Keeps a run's Slack message up to date: polls the run record and edits the message in place.

Runs on its own small thread pool, never on Bolt's listener threads. The run itself lives in a
worker process; this only reads its record, so a bot restart loses the live updates, not the run.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import retrain_blocks
from ml.io.runs import Run, RunStore
from ml.jobs.retrain import STEPS

log = logging.getLogger(__name__)


class RetrainWatcher:
    def __init__(
        self, store: RunStore, *, poll_seconds: float = 0.25, timeout_seconds: float = 1800.0
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="retrain-watch")

    def watch(self, run_id: str, client: WebClient, channel: str, ts: str) -> Future[Run | None]:
        return self._pool.submit(self._follow, run_id, client, channel, ts)

    def resume(self, client: WebClient, recent: int = 5) -> list[Future[Run | None]]:
        """After a restart: follow again the runs whose message was never given its final report
        (still running, or finished while no bot was watching)."""
        followed = []
        for run in self.store.recent(recent):
            channel, ts = run.origin.get("channel"), run.origin.get("ts")
            if channel and ts and not run.origin.get("reported"):
                followed.append(self.watch(run.id, client, channel, ts))
        return followed

    def _follow(self, run_id: str, client: WebClient, channel: str, ts: str) -> Run | None:
        deadline = time.monotonic() + self.timeout_seconds
        shown: tuple[int, str] | None = None
        run: Run | None = None
        while time.monotonic() < deadline:
            run = self.store.get(run_id)
            if run is None:
                return None
            state = (run.step_index, run.status)
            if state != shown:
                shown = state
                blocks = (
                    retrain_blocks.report_blocks(run)
                    if not run.running
                    else retrain_blocks.progress_blocks(run, STEPS)
                )
                text = run.decision or run.error or f"Retraining: {run.step}"
                try:
                    client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
                except SlackApiError as exc:
                    log.warning("could not update the retraining message: %s", exc.response.get("error"))
            if not run.running:
                self.store.set_origin(run_id, {**run.origin, "reported": True})
                return run
            time.sleep(self.poll_seconds)
        log.warning("stopped following run %s after %.0fs", run_id, self.timeout_seconds)
        return run
