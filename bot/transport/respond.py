"""`respond()` over kept-alive connections.

Bolt's `respond()` posts to the `response_url` with slack_sdk's `WebhookClient`, which opens a new
connection (and, against hooks.slack.com, a new TLS handshake) for every reply. Every `/survive`
answer goes that way, so this drop-in `Respond` posts the very same JSON through one shared
`urllib3` connection pool instead: the handshake is paid once per connection, not per answer.

The message is built by Bolt's and slack_sdk's own code (`_build_message`, `_build_body`), so what
reaches Slack is byte-for-byte what `Respond` would send (tested against it). With a proxy
configured (the client's, or HTTPS_PROXY/HTTP_PROXY), Bolt's own `Respond` is used unchanged
(and its replies are not retried).

A reply Slack could not take (5xx, 429, no connection) is tried again in the background; one that
may have reached Slack is never sent twice (the rules and limits are in `bot.transport.delivery`).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import urllib3
from slack_bolt.context import BoltContext
from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.proxy_env_variable_loader import load_http_proxy_from_env
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.internal_utils import _build_body
from urllib3.exceptions import ConnectTimeoutError, LocationValueError

from bot.transport.delivery import DeliveryStats, Retrier, RetryPolicy, retry_after_seconds
from bot.transport.ingress import REQUEST_ID

log = logging.getLogger("lifeboat.bot")

TIMEOUT_SECONDS = 30.0  # WebhookClient's default
POOL_SIZE = 16  # one kept-alive connection per listener thread


@dataclass(frozen=True)
class _Reply:
    url: str
    body: bytes
    request_id: str | None
    started: float  # time.monotonic() of the first attempt
    attempt: int = 1


class ReplyPoster:
    """Posts JSON to response URLs through one thread-safe pool of kept-alive connections, retrying
    what is safe to retry in the background (see bot.transport.delivery) and counting every outcome."""

    def __init__(
        self,
        *,
        timeout: float = TIMEOUT_SECONDS,
        pool_size: int = POOL_SIZE,
        policy: RetryPolicy | None = None,
        stats: DeliveryStats | None = None,
        seed: int | None = None,
    ) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=4,  # one per host; replies all go to hooks.slack.com (or the local fake)
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=min(10.0, timeout), read=timeout),
            # Retries are decided here, not by urllib3: its Retry cannot tell a reply Slack may have
            # received from one it cannot have. (The pool itself replaces a kept-alive connection
            # the server has closed before using it.)
            retries=False,
        )
        self.policy = policy or RetryPolicy()
        self.stats = stats or DeliveryStats()
        self._retrier = Retrier()
        self._rng = random.Random(seed)

    def post(self, url: str, message: dict[str, Any], *, request_id: str | None = None) -> WebhookResponse:
        """Post once now; if Slack could not take it, retry later. Returns the first attempt's answer
        (status 0 when there was no HTTP answer: retrying, or unconfirmed)."""
        body = json.dumps(_build_body(message)).encode("utf-8")
        return self._attempt(_Reply(url, body, request_id, time.monotonic()))

    def _attempt(self, reply: _Reply) -> WebhookResponse:
        try:
            response = self._pool.request(
                "POST", reply.url, body=reply.body, headers={"Content-Type": "application/json;charset=utf-8"}
            )
        except ConnectTimeoutError as exc:  # no connection (refused, DNS, timeout): nothing was sent
            return self._retry_or_give_up(reply, f"could not connect ({type(exc).__name__})", None, None)
        except LocationValueError:  # not a URL: nothing was sent, and nothing ever will be
            self.stats.count("lost")
            log.warning("reply to request %s lost: its response_url is not a URL", reply.request_id)
            return WebhookResponse(url=reply.url, status_code=0, body="invalid url", headers={})
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # sent, then no answer: maybe posted
            self.stats.count("unconfirmed")
            log.warning(
                "reply to request %s may or may not have reached Slack (%s): not sent again",
                reply.request_id,
                type(exc).__name__,
            )
            return WebhookResponse(url=reply.url, status_code=0, body="unconfirmed", headers={})
        text = response.data.decode("utf-8", "replace")
        result = WebhookResponse(
            url=reply.url, status_code=response.status, body=text, headers=dict(response.headers)
        )
        if response.status < 300:
            self.stats.count("delivered")
            return result
        if response.status == 429 or response.status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return self._retry_or_give_up(reply, f"HTTP {response.status}", retry_after, result)
        # Any other answer is Slack refusing this reply for good (used or expired URL, bad blocks).
        self.stats.count("lost")
        log.warning("reply to request %s refused: HTTP %s: %s", reply.request_id, response.status, text[:200])
        return result

    def _retry_or_give_up(
        self, reply: _Reply, why: str, retry_after: float | None, result: WebhookResponse | None
    ) -> WebhookResponse:
        answer = result or WebhookResponse(url=reply.url, status_code=0, body="retrying", headers={})
        delay = self.policy.delay(reply.attempt, retry_after, self._rng)
        spent = time.monotonic() - reply.started
        if reply.attempt >= self.policy.max_attempts or spent + delay > self.policy.deadline_seconds:
            self.stats.count("lost")
            log.warning(
                "reply to request %s lost after %d attempt(s) in %.0fs: %s",
                reply.request_id,
                reply.attempt,
                spent,
                why,
            )
            return answer
        if reply.attempt == 1:
            self.stats.count("retried")
        again = replace(reply, attempt=reply.attempt + 1)
        if not self._retrier.schedule(delay, lambda: self._attempt_quietly(again)):
            self.stats.count("lost")
            log.warning("reply to request %s lost: too many replies waiting for a retry", reply.request_id)
            return answer
        log.info("reply to request %s: %s, attempt %d in %.1fs", reply.request_id, why, again.attempt, delay)
        return answer

    def _attempt_quietly(self, reply: _Reply) -> None:
        try:
            self._attempt(reply)
        except Exception:  # a retry has no caller to raise to
            self.stats.count("lost")
            log.exception("reply to request %s lost: the retry failed", reply.request_id)

    def pending(self) -> int:
        """Replies waiting for a retry."""
        return self._retrier.pending()

    def close(self) -> None:
        self._retrier.close()
        self._pool.clear()


class PooledRespond(Respond):
    """Bolt's `Respond`, same arguments and result, posting through a `ReplyPoster`."""

    def __init__(
        self, *, response_url: str | None, poster: ReplyPoster, request_id: str | None = None
    ) -> None:
        super().__init__(response_url=response_url)
        self.poster = poster
        self.request_id = request_id

    def __call__(  # the same signature as Respond's, with modern annotations
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        elif isinstance(text, str):
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        else:
            raise ValueError(f"The arg is unexpected type ({type(text)})")
        return self.poster.post(self.response_url, message, request_id=self.request_id)


def pooled_respond_middleware(poster: ReplyPoster) -> Callable[..., None]:
    """Bolt middleware giving listeners a `PooledRespond` wherever the request has a response_url."""

    proxy_from_env = load_http_proxy_from_env()  # read once, as the process's environment is

    def use_pooled_respond(context: BoltContext, next: Callable[[], None]) -> None:
        proxy = context.client.proxy if context.client is not None else None
        if context.response_url and not (proxy or proxy_from_env):
            context["respond"] = PooledRespond(
                response_url=context.response_url, poster=poster, request_id=context.get(REQUEST_ID)
            )
        next()

    return use_pooled_respond
