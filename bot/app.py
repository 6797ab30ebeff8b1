"""Builds the Bolt app from settings and services: no globals, so tests build as many as they like."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot import blocks
from bot.listeners import register
from bot.services import CONTEXT_KEY, Services

log = logging.getLogger("lifeboat.bot")


def build_client(services: Services) -> WebClient:
    settings = services.bot_settings
    # Bolt copies base_url and retry handlers from this client to every client it makes.
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
        timeout=10,
    )


def build_app(services: Services, *, listener_threads: int = 16) -> App:
    settings = services.bot_settings
    app = App(
        client=build_client(services),
        signing_secret=settings.signing_secret or None,
        # Listener work after ack() (scoring, respond) runs here, not on the server's threads.
        listener_executor=ThreadPoolExecutor(
            max_workers=listener_threads, thread_name_prefix="bolt-listener"
        ),
        request_verification_enabled=not settings.socket_mode or bool(settings.signing_secret),
    )

    @app.middleware
    def provide_services(context: Any, next: Any) -> None:
        context[CONTEXT_KEY] = services
        next()

    register(app)

    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], respond: Any, logger: logging.Logger
    ) -> BoltResponse | None:
        kind = body.get("type") or ("slash_command" if body.get("command") else "unknown")
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        log.exception(
            "listener failed: %s (kind=%s user=%s command=%s)", error, kind, user, body.get("command")
        )
        if respond is not None and (body.get("response_url") or body.get("response_urls")):
            try:
                respond(
                    text="Something went wrong on our side.",
                    blocks=blocks.failure_blocks(),
                    replace_original=False,
                )
            except Exception:  # the user-facing note is best effort; the log above has the cause
                log.warning("could not tell the user about the failure", exc_info=True)
        return None

    return app
