"""HTTP mode: a Starlette app around the Bolt app, served by uvicorn (not Bolt's dev server).

Every request is checked before Bolt sees it (size, timestamp, signature, then shape: see
`bot.transport.ingress`); one that fails gets its 413/401/400 here and reaches nothing else. Every request is
logged and counted when it is answered (`bot.transport.observe`); `GET /metrics` is the Prometheus scrape
(`bot.transport.metrics`), `GET /healthz` the liveness check.

Bolt's own Starlette adapter calls the blocking `App.dispatch` on the event loop; here it runs in a
worker thread, so one slow request never stalls the others.

Answering at ack(): Bolt's dispatch thread looks for the listener's `ack()` only every 10 ms
(`ThreadListenerRunner` sleeps between looks), so every acknowledgement used to leave 0-10 ms late,
and the listener (scoring, posting the answer) competed with it for the GIL meanwhile. Each request
here gets an `Ack` that tells the event loop the moment it is called; the HTTP answer is whichever
comes first: that acknowledgement, or the end of `dispatch` (401, 404, errors before ack()). It is
the same response Bolt would return, minus two races in Bolt 1.30's runner when a listener raises
right after ack(): Slack got a 404 after 3 s, or a 500 (see `NotifyingAck`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.request import BoltRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services
from bot.transport import ingress
from bot.transport.ingress import REQUEST_ID, REQUEST_STARTED, VERIFIED, Refusal
from bot.transport.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.transport.observe import request_done

EVENTS_PATH = "/slack/events"

log = logging.getLogger("lifeboat.http")


class NotifyingAck(Ack):
    """Bolt's `ack()` that also resolves a future on the event loop with the response it sets."""

    def __init__(self) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self.acked: asyncio.Future[BoltResponse] = self._loop.create_future()

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        # A copy taken now, in the listener's thread: if the listener raises later, Bolt 1.30's
        # runner may set status 500 on this very object (a variable shared with the dispatch thread).
        headers: dict[str, str | Sequence[str]] = dict(response.first_headers_without_set_cookie())
        snapshot = BoltResponse(status=response.status, body=response.body, headers=headers)
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutting down): nobody waits
            self._loop.call_soon_threadsafe(self._resolve, snapshot)
        return response

    def _resolve(self, response: BoltResponse) -> None:
        if not self.acked.done():  # the first acknowledgement is the one Slack gets
            self.acked.set_result(response)

    async def dispatch(self, bolt_app: App, request: BoltRequest) -> BoltResponse:
        """`bolt_app.dispatch(request)` in a worker thread; returns as soon as the listener acks."""
        dispatched = asyncio.ensure_future(run_in_threadpool(bolt_app.dispatch, request))
        dispatched.add_done_callback(self._dispatch_done)
        # One future to await (cheaper than asyncio.wait on two): the ack, or dispatch's own answer.
        return await self.acked

    def _dispatch_done(self, task: asyncio.Future[BoltResponse]) -> None:
        """dispatch finished: if nothing was acknowledged, its response (or error) is the answer;
        after an ack it returns that same response, so only a failure is worth a log line."""
        if self.acked.done():
            _log_failure(task)
        elif task.cancelled():
            self.acked.cancel()
        elif (error := task.exception()) is not None:
            self.acked.set_exception(error)
        else:
            self.acked.set_result(task.result())


def _log_failure(task: asyncio.Future[BoltResponse]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dispatch failed after the request was acknowledged", exc_info=task.exception())


def build_asgi(bolt_app: App, services: Services, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    secret = services.bot_settings.signing_secret
    if not secret:  # without it no request can be verified, so none could ever be answered
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's requests")

    async def answer(request: Request, request_id: str, started: float) -> tuple[Response, Any]:
        """The response to one request, and its body as Slack data (None if never read as such)."""
        try:
            # Size, then timestamp and signature, and only then the body as Slack data (see
            # bot.transport.ingress): a request that fails gets its 413/401/400 here and reaches no listener,
            # no error handler, no Web API call.
            body = await ingress.read_body(request)
            ingress.verify_request(secret, request.headers, body, time.time())
            ack = NotifyingAck()
            bolt_request = ingress.bolt_request(
                body,
                request.url.query,
                request.headers,
                {"ack": ack, VERIFIED: True, REQUEST_ID: request_id, REQUEST_STARTED: started},
            )
        except Refusal as refusal:
            log.info(ingress.describe_refusal(refusal, request_id))
            return refusal.response(), None
        try:
            bolt_response = await ack.dispatch(bolt_app, bolt_request)
        except Exception:  # the app's error handler failed too: say nothing more than that
            log.exception("request %s: dispatch failed", request_id)
            return JSONResponse({"error": "internal error"}, status_code=500), bolt_request.body
        response = Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )
        return response, bolt_request.body

    async def slack_events(request: Request) -> Response:
        request_id = ingress.new_request_id()
        started = time.monotonic()
        services.metrics.in_flight.inc()
        try:
            response, body = await answer(request, request_id, started)
        finally:
            services.metrics.in_flight.dec()
        request_done(services, body, response.status_code, started, request_id)
        return response

    routes: list[BaseRoute] = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        *ops_routes(services),
        *extra_routes,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # While this serves, runs whose worker died get their message updated (bot.retrain_watch),
        # and Home shows a new default to whoever has it open (bot.home_refresh).
        services.start_background(bolt_app.client)
        try:
            yield
        finally:
            services.stop_background()

    return Starlette(routes=routes, lifespan=lifespan)


def ops_routes(services: Services) -> list[BaseRoute]:
    """`GET /healthz` (liveness and what is served) and `GET /metrics` (a Prometheus scrape)."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(health, services))

    async def metrics(_request: Request) -> Response:
        return Response(await run_in_threadpool(scrape, services), media_type=METRICS_CONTENT_TYPE)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]


def build_ops_asgi(services: Services) -> Starlette:
    """Only `/healthz` and `/metrics`: what Socket Mode serves beside its socket (Slack's requests
    arrive on the socket, so there is no `/slack/events` to attack)."""
    return Starlette(routes=ops_routes(services))


def create_asgi() -> Starlette:
    """Services, Bolt app and ASGI app from the environment, for one server process.

    For several worker processes (they share the registry: SQLite in WAL mode, or Snowflake), e.g.
    `uvicorn --factory bot.transport.http:create_asgi --workers 2 --port 3000`; a model must already be
    registered (`lifeboat train`), since every worker only loads it."""
    from bot.app import build_app
    from bot.settings import BotSettings
    from bot.transport.logs import configure_logging
    from ml.config import MLSettings

    configure_logging("INFO")  # a worker process: `lifeboat run` configured only its parent
    services = Services.create(MLSettings.from_env(), BotSettings.from_env())
    return build_asgi(build_app(services), services)


def scrape(services: Services) -> bytes:
    """/metrics: what this process's scorer counted is added first, then every series read."""
    services.metrics.sync_scoring(services.scorer)
    return services.metrics.exposition()


def health(services: Services) -> dict[str, Any]:
    """Liveness plus what is being served; 'degraded' (still 200) when no model can be loaded."""
    status: dict[str, Any] = {
        "ok": True,
        "backend": services.registry.backend,
        "model": services.model_name,
        "deliveries": services.delivery.snapshot(),  # answers delivered / retried / lost / unconfirmed
        "uploads": services.images.counts(),  # charts uploaded / refused by Slack / failed
    }
    try:
        status["model_version"] = services.scorer.version
    except Exception as exc:  # any registry failure: report it, stay up
        status.update(ok=False, model_version=None, error=str(exc)[:200])
    status["scoring"] = services.scorer.status()  # local / warehouse / fallback, and answers that fell back
    return status
