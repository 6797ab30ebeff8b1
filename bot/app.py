"""Builds the Bolt app from settings and services: no globals, so tests build as many as they like."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context import BoltContext
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import pictures
from bot.blocks.kit import Block, image
from bot.listeners import register
from bot.listeners.guard import describe, tell_user
from bot.listeners.home import publish_home
from bot.listeners.replies import failure_reply
from bot.services import CONTEXT_KEY, Services
from bot.transport.delivery import RetryPolicy, web_api_retry_handlers
from bot.transport.ingress import REQUEST_ID, is_verified
from bot.transport.replay import replay_guard
from bot.transport.respond import ReplyPoster, pooled_respond_middleware
from ml.io.runs import Run

log = logging.getLogger("lifeboat.bot")


class SlackStartupError(RuntimeError):
    """Slack's Web API could not be reached, or refused the bot's token, when the bot started."""


def build_client(services: Services, policy: RetryPolicy | None = None) -> WebClient:
    settings = services.bot_settings
    # Bolt copies base_url and retry handlers from this client to every client it makes.
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=web_api_retry_handlers(services.delivery, policy),
        timeout=10,
    )


def build_app(
    services: Services, *, listener_threads: int = 16, retry_policy: RetryPolicy | None = None
) -> App:
    settings = services.bot_settings
    try:  # Bolt checks the token with auth.test here
        app = App(
            client=build_client(services, retry_policy),
            signing_secret=settings.signing_secret or None,
            # Listener work after ack() (scoring, respond) runs here, not on the server's threads.
            listener_executor=ThreadPoolExecutor(
                max_workers=listener_threads, thread_name_prefix="bolt-listener"
            ),
            request_verification_enabled=not settings.socket_mode or bool(settings.signing_secret),
        )
    except BoltError as exc:  # auth.test answered, and not ok: Bolt says "`token` is invalid (...)"
        refused = exc.__context__
        if not isinstance(refused, SlackApiError):
            raise
        raise SlackStartupError(
            f"Slack refused the bot token ({refused.response.get('error')}): check SLACK_BOT_TOKEN (it"
            " starts with xoxb-; reinstalling the app to the workspace gives a new one)."
        ) from exc
    except OSError as exc:  # urllib's URLError: Slack cannot be reached at all
        reason = getattr(exc, "reason", exc)
        raise SlackStartupError(
            f"could not reach Slack at {settings.api_url} to check the bot"
            f" token (auth.test): {reason}. Check the network (and SLACK_API_URL if you set it); the bot"
            " starts once Slack answers."
        ) from exc
    # First of ours, right after Bolt's own verification: a replay goes no further than this.
    app.middleware(replay_guard(services.ledger))
    app.middleware(provide(services))
    # Replies to response_url reuse kept-alive connections (one pool per app).
    poster = ReplyPoster(pool_size=listener_threads, policy=retry_policy, stats=services.delivery)
    app.middleware(pooled_respond_middleware(poster))
    register(app)
    app.error(on_error)
    # Home republished when the default changes, and a finished run's report with its chart.
    if services.home_refresher is not None:
        services.home_refresher.publish = lambda client, user: publish_home(services, client, user)
    services.watcher.report_pictures = lambda run, client: report_pictures(services, run, client)
    services.watcher.resume(app.client)  # a restart must not leave a run's message stuck mid-way
    return app


def report_pictures(services: Services, run: Run, client: WebClient) -> list[Block]:
    """A succeeded run's chart: the challenger's twin and the champion on the frozen holdout."""
    if run.status != "succeeded" or not run.version:
        return []
    decision = run.result.get("decision") or {}
    challenger = services.registry.get_version(run.version)
    champion_version = decision.get("champion_version")
    champion = services.registry.get_version(champion_version) if champion_version else None
    picture = pictures.comparison_image(services.images, client, challenger, champion, decision)
    return [] if picture is None else [image(picture.file_id, picture.alt, picture.title)]


def provide(services: Services) -> Callable[[BoltContext, Callable[[], None]], None]:
    """Middleware handing every listener the services (Services.of(context)), no globals."""

    def provide_services(context: BoltContext, next: Callable[[], None]) -> None:
        context[CONTEXT_KEY] = services
        next()

    return provide_services


def on_error(
    error: Exception,
    body: Any,
    context: BoltContext,
    client: WebClient,
    request: BoltRequest,
    response: BoltResponse | None,
) -> BoltResponse | None:
    """The app's error handler: it answers only verified requests, and never with a traceback."""
    request_id = context.get(REQUEST_ID) if context is not None else None
    if not is_verified(request):
        # Bolt reached this with a request nobody verified (e.g. its signature check raised on
        # a bad timestamp): whatever the body names, answer nothing and call nobody.
        log.warning("refused an unverified request %s (%s)", request_id, type(error).__name__)
        return BoltResponse(status=401, body='{"error": "invalid request"}') if response is not None else None
    try:
        return _answer_failure(error, body, context, client, response, request_id)
    except Exception:  # the failure path itself must never turn into a 500 with a traceback
        log.exception("the error handler failed (request %s)", request_id)
        return BoltResponse(status=200, body="") if response is not None else None


def _answer_failure(
    error: Exception,
    body: Any,
    context: BoltContext,
    client: WebClient,
    response: BoltResponse | None,
    request_id: str | None,
) -> BoltResponse | None:
    # Listeners are wrapped (bot.listeners.guard), so this sees failures before ack(), in
    # middleware, or in unwrapped listeners. The traceback goes to the log, never to Slack.
    log.error("listener failed: %s (%s, request %s)", error, describe(body), request_id, exc_info=error)
    if response is not None and isinstance(body, dict) and body.get("command"):
        # Not acknowledged yet: the apology is the acknowledgement (a 500 shows "dispatch_failed").
        return BoltResponse(
            status=200,
            body=json.dumps({"response_type": "ephemeral", **failure_reply().as_kwargs()}),
            headers={"content-type": "application/json;charset=utf-8"},
        )
    tell_user(body, context, client)
    return BoltResponse(status=200, body="") if response is not None else None
