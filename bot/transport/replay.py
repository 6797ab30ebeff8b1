"""Replays: a request already processed is acknowledged and not processed again.

A signed request stays valid for 5 minutes, so anyone who saw one (a proxy's log, a shared
network) can send it again within that window: an admin's `/retrain rollback` would roll back
twice. Slack also delivers an Events API event again (with a new signature, the same `event_id`)
when it thinks the first delivery failed. So every verified request is recorded under the keys
that identify it: its signature, its `trigger_id`, each action's `action_ts`, its `event_id`.
Recording is an INSERT that only one caller can win (a primary key), so across threads, processes
and replicas sharing the store exactly one copy is processed; the others get an empty 200.

Where it is recorded: a small SQLite database (`requests.db`) in `LIFEBOAT_HOME`, beside the
registry's, shared by every replica that shares the home. Not the registry's own database: a
registration holds that one's write lock while it fsyncs a model's files, and every request would
queue behind it before its ack. On the Snowflake backend the same file is used, so replicas on one
host share it and replicas on different hosts do not. A Snowflake table is not a good fit for this:
Snowflake does not enforce PRIMARY KEY or UNIQUE, so "one INSERT wins" needs a MERGE inside a
transaction that holds a lock, a warehouse round trip of ~0.1-0.5 s before every ack; a shared
key-value store with an atomic set-if-absent (Redis `SET NX EX`) would slot in as another
`RequestLedger` instead.

If the ledger cannot be reached the request is processed (logged): an outage of the ledger must
not silence the bot; replays are the rarer harm.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.context import BoltContext

from bot.transport.ingress import REQUEST_ID, SIGNATURE_HEADER, new_request_id
from ml.io.sqlite_file import SQLiteFile

log = logging.getLogger("lifeboat.replay")

# A request is valid while its timestamp is within 5 minutes of now, either side: a copy can arrive
# up to 10 minutes after the first sighting of the original.
WINDOW_SECONDS = 600.0
PRUNE_EVERY = 256  # first sightings between two deletions of expired keys
DB_FILE = "requests.db"


def request_keys(body: Any, headers: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """What identifies one delivery of a request (a verified body and its normalized headers)."""
    keys: list[str] = []
    signature = (headers or {}).get(SIGNATURE_HEADER) or []
    if signature and isinstance(signature[0], str):
        keys.append(f"sig:{signature[0]}")
    if not isinstance(body, Mapping):
        return keys
    trigger = body.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        keys.append(f"trigger:{trigger}")
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else user
    actions = body.get("actions")
    if body.get("type") == "block_actions" and isinstance(actions, list):
        for action in actions:
            if isinstance(action, Mapping) and isinstance(action.get("action_ts"), str):
                keys.append(f"action:{user_id}:{action.get('action_id')}:{action['action_ts']}")
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        keys.append(f"event:{event_id}")
    return keys


class RequestLedger(ABC):
    """Which requests were seen in the last `window` seconds, shared by whoever shares the store."""

    window: float = WINDOW_SECONDS

    @abstractmethod
    def first_sighting(self, keys: Sequence[str], now: float | None = None) -> bool:
        """Record `keys`; False if any of them was recorded within the window (a replay)."""

    def close(self) -> None:  # noqa: B027  # nothing to release by default
        """Release what the ledger holds (connections)."""


class MemoryRequestLedger(RequestLedger):
    """One process's memory: for tests and single-process use."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_sighting(self, keys: Sequence[str], now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            if any(now - self._seen.get(key, -self.window) < self.window for key in keys):
                return False
            for key in keys:
                self._seen[key] = now
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.window}
        return True


class _Replay(Exception):
    """A key was recorded within the window: the transaction is rolled back."""


class SQLiteRequestLedger(RequestLedger):
    """A table with the key as primary key: of concurrent INSERTs of one key, exactly one wins."""

    def __init__(self, path: str | Path, window: float = WINDOW_SECONDS) -> None:
        # No fsync per request: after a power cut the last few keys may be forgotten, and a replay of
        # those few would be processed. Everything else survives a crash.
        self._file = SQLiteFile(path, timeout=2.0, synchronous="NORMAL")
        self.path = self._file.path
        self.window = window
        self._count = 0
        self._file.connection().executescript(
            "CREATE TABLE IF NOT EXISTS seen_requests (key TEXT PRIMARY KEY, seen_at REAL NOT NULL);"
            "CREATE INDEX IF NOT EXISTS seen_requests_at ON seen_requests (seen_at);"
        )

    def first_sighting(self, keys: Sequence[str], now: float | None = None) -> bool:
        if not keys:
            return True
        now = time.time() if now is None else now
        try:
            with self._file.write() as db:
                for key in keys:
                    # A new key is inserted; an expired one is taken over; a live one changes nothing.
                    changed = db.execute(
                        "INSERT INTO seen_requests (key, seen_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                        " SET seen_at = excluded.seen_at WHERE seen_requests.seen_at <= ?",
                        (key, now, now - self.window),
                    ).rowcount
                    if changed == 0:
                        raise _Replay
                self._count += 1
                if self._count % PRUNE_EVERY == 0:
                    db.execute("DELETE FROM seen_requests WHERE seen_at <= ?", (now - self.window,))
        except _Replay:
            return False
        return True

    def close(self) -> None:
        self._file.close()


def open_ledger(home: str | Path) -> RequestLedger:
    return SQLiteRequestLedger(Path(home) / DB_FILE)


def replay_guard(ledger: RequestLedger) -> Callable[..., BoltResponse | None]:
    """Bolt middleware: a request whose keys were already recorded is acknowledged (empty 200) and
    goes no further. Runs after Bolt's verification, in HTTP and Socket Mode alike."""

    def skip_replays(req: BoltRequest, context: BoltContext, next: Callable[[], None]) -> BoltResponse | None:
        if not context.get(REQUEST_ID):  # Socket Mode: no HTTP layer gave it an id for the logs
            context[REQUEST_ID] = new_request_id()
        keys = request_keys(req.body, req.headers)
        try:
            first = ledger.first_sighting(keys)
        except Exception:  # see the module docstring: process it rather than drop it
            log.warning(
                "replay ledger unavailable: processing request %s", context.get(REQUEST_ID), exc_info=True
            )
            first = True
        if not first:
            log.warning(
                "request %s was already processed: acknowledged, not processed again", context.get(REQUEST_ID)
            )
            return BoltResponse(status=200, body="")
        next()
        return None

    return skip_replays
