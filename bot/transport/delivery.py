"""Delivery that survives Slack: what is retried, when, for how long, and what is counted.

Safe to retry (Slack did not act on the request): an HTTP 5xx, a 429 (after its `Retry-After`),
and a connection that could not be made (refused, DNS, connect timeout) or broke while the request
was still being sent. Not retried: a read timeout or a connection dropped after the whole request
was sent. Slack may have posted that reply already, and a reply posted twice is worse than one
reported as unconfirmed; those are logged and counted as `unconfirmed`.

- `response_url` replies (every `/survive` answer) go through `bot.transport.respond.ReplyPoster`: the first
  attempt in the listener's thread, retries on a `Retrier` (a few threads of its own), so a
  listener never sleeps through a backoff and acknowledgements keep flowing during an outage.
  Backoff 0.5 s doubling to 30 s with jitter, or `Retry-After` when Slack gives one; at most 8
  attempts within 5 minutes. A `response_url` lives 30 minutes, but an answer that has not arrived
  after 5 minutes is stale, and a bound keeps an outage from piling up retries without end.
- Web API calls (views.open, chat.postEphemeral, chat.update, ...) use slack_sdk's retry handlers
  (`web_api_retry_handlers`), which retry inside the call: at most 3 retries, short backoff (a
  trigger id lives ~3 s, so views.open cannot wait long), a `Retry-After` of up to 10 s.

Every answer to a user (a reply to a `response_url`, an ephemeral or DM) is counted on `/healthz`:
delivered, retried (needed at least one retry), lost (gave up, or Slack refused it for good),
unconfirmed (may or may not have arrived); a lost or unconfirmed one is logged with its request id.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger("lifeboat.delivery")

# Errors raised after a request was sent in full, with no answer: Slack may have acted on it.
# (http.client's RemoteDisconnected is a ConnectionResetError; socket.timeout is TimeoutError.)
# urllib's URLError, by contrast, means the request never went out whole: safe to send again.
UNCONFIRMED_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

OUTCOMES = ("delivered", "retried", "lost", "unconfirmed")


class DeliveryStats:
    """Thread-safe counters of answers to users, plus the Web API's retry attempts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys((*OUTCOMES, "web_api_retries"), 0)
        self._observers: list[Callable[[str, int], None]] = []

    def observe(self, observer: Callable[[str, int], None]) -> None:
        """Also tell `observer(outcome, n)` of every count (the metrics count them too)."""
        self._observers.append(observer)

    def count(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            self._counts[outcome] += n
        for observer in self._observers:
            observer(outcome, n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a reply is tried (see the module docstring for the defaults' reasons)."""

    max_attempts: int = 8
    deadline_seconds: float = 300.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.2  # each wait is stretched by up to this fraction, so retries spread out
    web_api_retries: int = 3
    web_api_backoff: float = 0.25
    max_retry_after: float = 10.0  # a Web API call waits no longer in a listener's thread

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds before attempt `attempt + 1` (attempts count from 1)."""
        wait = (
            retry_after
            if retry_after is not None
            else min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        )
        return wait * (1 + self.jitter * rng.random())


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (Slack sends whole seconds); None if absent or not a number."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= 3600 else None


class Retrier:
    """Runs jobs at their due time on a few threads of its own; nothing sleeps in a listener."""

    def __init__(self, threads: int = 4, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reply-retry")
        self._thread: threading.Thread | None = None
        self._closed = False

    def schedule(self, delay: float, job: Callable[[], None]) -> bool:
        """Run `job` in `delay` seconds; False if closed or too many are waiting (the caller gives up)."""
        with self._cond:
            if self._closed or len(self._heap) >= self.max_pending:
                return False
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reply-retrier", daemon=True)
                self._thread.start()
            self._cond.notify()
        return True

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._closed:
                    return
                _, _, job = heapq.heappop(self._heap)
            self._pool.submit(job)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._pool.shutdown(wait=False)


# -- the Web API: slack_sdk's retry handlers, restricted to what is safe, and counted -------------
class _ProportionalJitter(Jitter):
    def recalculate(self, duration: float) -> float:
        return duration * (1 + 0.2 * random.random())


class _Counted(RetryHandler):
    stats: DeliveryStats | None = None

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if self.stats is not None:
            self.stats.count("web_api_retries")
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)


class ServerErrorRetry(_Counted):
    """Any 5xx (slack_sdk's own handler retries only 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600


class ConnectRetry(_Counted, ConnectionErrorRetryHandler):
    """Only errors raised before the request went out whole (urllib wraps those in URLError);
    a reset or timeout while waiting for the answer is not retried (see UNCONFIRMED_ERRORS)."""


class RateLimitRetry(_Counted):
    """A 429: wait `Retry-After` (up to `max_wait`, else give up: a listener thread is waiting)."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _retry_after(self, response: HttpResponse | None) -> float | None:
        if response is None or response.status_code != 429:
            return None
        for name, values in response.headers.items():
            if name.lower() == "retry-after":
                value = values[0] if isinstance(values, list | tuple) and values else values
                return retry_after_seconds(str(value))
        return 1.0  # a 429 without Retry-After: Slack always sends one, but be gentle

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        wait = self._retry_after(response)
        return wait is not None and wait <= self.max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if self.stats is not None:
            self.stats.count("web_api_retries")
        state.next_attempt_requested = True
        time.sleep((self._retry_after(response) or 1.0) * (1 + 0.1 * random.random()))
        state.increment_current_attempt()


def web_api_retry_handlers(stats: DeliveryStats, policy: RetryPolicy | None = None) -> list[RetryHandler]:
    """Handlers for a WebClient (Bolt copies them to every client it makes for a request)."""
    policy = policy or RetryPolicy()
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=policy.web_api_backoff, jitter=_ProportionalJitter()
    )
    handlers: list[Any] = [
        RateLimitRetry(policy.web_api_retries, policy.max_retry_after),
        ServerErrorRetry(max_retry_count=policy.web_api_retries, interval_calculator=backoff),
        ConnectRetry(
            max_retry_count=policy.web_api_retries, interval_calculator=backoff, error_types=[URLError]
        ),
    ]
    for handler in handlers:
        handler.stats = stats
    return handlers
