"""Keeps a run's Slack message up to date: polls the run record and edits the message in place.

Runs on its own small thread pool, never on Bolt's listener threads. The run itself lives in a
worker process; this only reads its record, so a bot restart loses the live updates, not the run.

A run whose worker died stops renewing its lease. Nothing else would notice: the record says
"running" until someone asks for the lock (the next `/retrain`). So the watcher expires lapsed
leases itself: while it follows a run, and in a periodic sweep (`start_sweeping`, run by the
server for as long as it serves), which also reports the runs nobody follows any more (their bot
died too, or another replica started them). Such a run's message then says the worker died; how
late is at most the lease (30 s) plus one sweep. On Snowflake an idle bot does not sweep (each
sweep would be a warehouse query): a run nobody follows is reported when a bot starts (`resume`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import retrain as retrain_blocks
from bot.blocks.kit import without_images
from ml.io.runs import Run, RunPolling, RunStore
from ml.jobs.retrain import STEPS

log = logging.getLogger(__name__)


class RetrainWatcher:
    def __init__(
        self, store: RunStore, polling: RunPolling | None = None, *, timeout_seconds: float = 1800.0
    ) -> None:
        polling = polling or RunPolling()
        self.store = store
        self.poll_seconds = polling.poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sweep_seconds = polling.sweep_seconds  # how often lapsed leases are looked for
        self.idle_sweeps = polling.idle_sweeps  # False: sweep only while following a run
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="retrain-watch")
        self._following: set[str] = set()
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._finished: list[Callable[[Run], None]] = []
        # Pictures for a finished run's report (set by the app: the holdout comparison chart).
        self.report_pictures: Callable[[Run, WebClient], list[dict[str, Any]]] | None = None

    def on_finished(self, callback: Callable[[Run], None]) -> None:
        """Call `callback(run)` when a followed run has ended and its message got its report."""
        self._finished.append(callback)

    def watch(self, run_id: str, client: WebClient, channel: str, ts: str) -> Future[Run | None]:
        with self._lock:
            self._following.add(run_id)
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

    def sweep_once(self, client: WebClient, recent: int = 5) -> list[Future[Run | None]]:
        """Expire a lapsed lease (its run is marked failed) and report every finished run whose
        message nobody gave its final report and nobody here is following."""
        self.store.current()  # the store marks a run whose lease lapsed as failed
        followed = []
        for run in self.store.recent(recent):
            channel, ts = run.origin.get("channel"), run.origin.get("ts")
            with self._lock:
                mine = run.id in self._following
            if channel and ts and not run.running and not run.origin.get("reported") and not mine:
                followed.append(self.watch(run.id, client, channel, ts))
        return followed

    def start_sweeping(self, client: WebClient) -> None:
        """Sweep every `sweep_seconds` in a daemon thread until `stop_sweeping()`."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._stop.clear()

        def sweep() -> None:
            while not self._stop.wait(self.sweep_seconds):
                with self._lock:
                    idle = not self._following
                if idle and not self.idle_sweeps:
                    continue
                try:
                    self.sweep_once(client)
                except Exception:  # the registry may be briefly unavailable: try again next time
                    log.warning("retraining sweep failed", exc_info=True)

        self._sweeper = threading.Thread(target=sweep, name="retrain-sweep", daemon=True)
        self._sweeper.start()

    def stop_sweeping(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
            self._sweeper = None

    def _pictures(self, run: Run, client: WebClient) -> list[dict[str, Any]]:
        if run.running or self.report_pictures is None:
            return []
        try:
            return self.report_pictures(run, client)
        except Exception:  # a chart is never worth the report itself
            log.warning("could not draw the report's chart for run %s", run.id, exc_info=True)
            return []

    def _show(self, run: Run, client: WebClient, channel: str, ts: str) -> None:
        """The run's message: its progress, or its report (with its chart, when there is one)."""
        if run.running:
            blocks = retrain_blocks.progress_blocks(run, STEPS)
        else:
            blocks = retrain_blocks.report_blocks(run)
            pictures = self._pictures(run, client)
            blocks = (
                blocks[:-1] + pictures + blocks[-1:]
                if blocks[-1].get("type") == "actions"
                else blocks + pictures
            )
        text = retrain_blocks.report_text(run)
        for attempt in (blocks, without_images(blocks)):
            try:
                client.chat_update(channel=channel, ts=ts, text=text, blocks=attempt)
                return
            except SlackApiError as exc:
                error = exc.response.get("error")
                if (
                    error == "invalid_blocks"
                    and attempt is blocks
                    and len(without_images(blocks)) < len(blocks)
                ):
                    log.warning("the report's chart was refused: updating it with text only")
                    continue
                log.warning("could not update the retraining message: %s", error)
                return

    def _follow(self, run_id: str, client: WebClient, channel: str, ts: str) -> Run | None:
        try:
            return self._follow_until_done(run_id, client, channel, ts)
        finally:
            with self._lock:
                self._following.discard(run_id)

    def _follow_until_done(self, run_id: str, client: WebClient, channel: str, ts: str) -> Run | None:
        deadline = time.monotonic() + self.timeout_seconds
        next_expiry_check = time.monotonic() + self.sweep_seconds
        shown: tuple[int, str] | None = None
        run: Run | None = None
        while time.monotonic() < deadline:
            run = self.store.get(run_id)
            if run is None:
                return None
            if run.running and time.monotonic() >= next_expiry_check:
                # A worker that died never finishes its run: expire its lease here too.
                next_expiry_check = time.monotonic() + self.sweep_seconds
                self.store.current()
                run = self.store.get(run_id) or run
            state = (run.step_index, run.status)
            if state != shown:
                shown = state
                self._show(run, client, channel, ts)
            if not run.running:
                self.store.set_origin(run_id, {**run.origin, "reported": True})
                for callback in self._finished:
                    callback(run)
                return run
            time.sleep(self.poll_seconds)
        log.warning("stopped following run %s after %.0fs", run_id, self.timeout_seconds)
        return run
