"""A new default shown on Home without anyone asking: every replica notices the change.

Home is published when someone opens it (`app_home_opened`), so a person who opens it later sees
the new default anyway. Who needs a refresh is whoever has it open when the default changes: the
people who opened Home recently. A small daemon thread asks the registry for the default's token
(the cheap value the Scorer polls too) every `interval` seconds, but only while someone opened
Home within `recent_seconds`; when the token is not the one a recent viewer was shown, that viewer
is claimed in the HomeStore (one replica wins each) and their Home published again, at most
`limit` people per change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient

from bot.home_store import HomeStore

log = logging.getLogger(__name__)

Publish = Callable[[WebClient, str], None]


class HomeRefresher:
    def __init__(
        self,
        store: HomeStore,
        token: Callable[[], str | None],
        *,
        interval: float = 2.0,
        recent_seconds: float = 3600.0,
        limit: int = 50,
    ) -> None:
        self.store = store
        self.token = token
        self.interval = interval
        self.recent_seconds = recent_seconds
        self.limit = limit
        self.publish: Publish | None = None  # set by the app: publishes one person's Home
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def check_once(self, client: WebClient, now: float | None = None) -> list[str]:
        """Republish Home for the recent viewers shown another default; returns who was refreshed."""
        if self.publish is None:
            return []
        since = (time.time() if now is None else now) - self.recent_seconds
        if not self.store.anyone_since(since):
            return []  # nobody has Home open: do not poll the registry
        token = self.token()
        if token is None:
            return []
        refreshed = []
        for user in self.store.claim_stale(token, since, self.limit):
            try:
                self.publish(client, user)
                refreshed.append(user)
            except Exception:  # one person's failure does not stop the others'
                log.warning("could not refresh %s's Home", user, exc_info=True)
        if refreshed:
            log.info("republished Home for %d people after the default changed", len(refreshed))
        return refreshed

    def start(self, client: WebClient) -> None:
        """Check every `interval` seconds in a daemon thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.check_once(client)
                except Exception:  # the registry or the store may be briefly unavailable
                    log.warning("Home refresh check failed", exc_info=True)

        self._thread = threading.Thread(target=loop, name="home-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
