"""`respond()` over kept-alive connections.

Bolt's `respond()` posts to the `response_url` with slack_sdk's `WebhookClient`, which opens a new
connection (and, against hooks.slack.com, a new TLS handshake) for every reply. Every `/survive`
answer goes that way, so this drop-in `Respond` posts the very same JSON through one shared
`urllib3` connection pool instead: the handshake is paid once per connection, not per answer.

The message is built by Bolt's and slack_sdk's own code (`_build_message`, `_build_body`), so what
reaches Slack is byte-for-byte what `Respond` would send (tested against it). With a proxy
configured (the client's, or HTTPS_PROXY/HTTP_PROXY), Bolt's own `Respond` is used unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import urllib3
from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.proxy_env_variable_loader import load_http_proxy_from_env
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.internal_utils import _build_body

log = logging.getLogger("lifeboat.bot")

TIMEOUT_SECONDS = 30.0  # WebhookClient's default
POOL_SIZE = 16  # one kept-alive connection per listener thread


class ReplyPoster:
    """Posts JSON to response URLs through one thread-safe pool of kept-alive connections."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS, pool_size: int = POOL_SIZE) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=4,  # one per host; replies all go to hooks.slack.com (or the local fake)
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=min(10.0, timeout), read=timeout),
            # Only a connection that could not be made is tried again: a reply whose request
            # may have reached Slack is never sent twice. (The pool itself replaces a kept-alive
            # connection the server has closed before using it.)
            retries=urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0),
        )

    def post(self, url: str, message: dict[str, Any]) -> WebhookResponse:
        body = json.dumps(_build_body(message))
        response = self._pool.request(
            "POST",
            url,
            body=body.encode("utf-8"),
            headers={"Content-Type": "application/json;charset=utf-8"},
        )
        text = response.data.decode("utf-8")
        if response.status >= 300:
            log.warning("response_url answered HTTP %s: %s", response.status, text[:200])
        return WebhookResponse(
            url=url, status_code=response.status, body=text, headers=dict(response.headers)
        )

    def close(self) -> None:
        self._pool.clear()


class PooledRespond(Respond):
    """Bolt's `Respond`, same arguments and result, posting through a `ReplyPoster`."""

    def __init__(self, *, response_url: str | None, poster: ReplyPoster) -> None:
        super().__init__(response_url=response_url)
        self.poster = poster

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
        return self.poster.post(self.response_url, message)


def pooled_respond_middleware(poster: ReplyPoster) -> Callable[..., None]:
    """Bolt middleware giving listeners a `PooledRespond` wherever the request has a response_url."""

    proxy_from_env = load_http_proxy_from_env()  # read once, as the process's environment is

    def use_pooled_respond(context: Any, next: Callable[[], None]) -> None:
        proxy = context.client.proxy if context.client is not None else None
        if context.response_url and not (proxy or proxy_from_env):
            context["respond"] = PooledRespond(response_url=context.response_url, poster=poster)
        next()

    return use_pooled_respond
