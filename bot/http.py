"""HTTP mode: a Starlette app around the Bolt app, served by uvicorn (not Bolt's dev server).

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
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services

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
        snapshot = BoltResponse(
            status=response.status, body=response.body, headers=response.first_headers_without_set_cookie()
        )
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
        elif task.exception() is not None:
            self.acked.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            self.acked.set_result(task.result())


def _log_failure(task: asyncio.Future[BoltResponse]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dispatch failed after the request was acknowledged", exc_info=task.exception())


def build_asgi(bolt_app: App, services: Services, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    verifier = SignatureVerifier(services.bot_settings.signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        ack = NotifyingAck()
        try:
            # Bolt parses the body before it checks the signature: garbage must not become a 500.
            # Invalid UTF-8 is replaced, so such a body can't match its signature: 401 from Bolt.
            bolt_request = BoltRequest(
                body=body.decode("utf-8", "replace"),
                query=request.url.query,
                headers=headers,
                context={"ack": ack},
            )
        except ValueError:
            if services.bot_settings.signing_secret and not verifier.is_valid_request(body, headers):
                return JSONResponse({"error": "invalid request"}, status_code=401)
            return JSONResponse({"error": "unreadable request body"}, status_code=400)
        bolt_response = await ack.dispatch(bolt_app, bolt_request)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(health, services))

    routes: list[BaseRoute] = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        *extra_routes,
    ]
    return Starlette(routes=routes)


def create_asgi() -> Starlette:
    """Services, Bolt app and ASGI app from the environment, for one server process.

    For several worker processes (they share the registry: SQLite in WAL mode, or Snowflake), e.g.
    `uvicorn --factory bot.http:create_asgi --workers 2 --port 3000`; a model must already be
    registered (`lifeboat train`), since every worker only loads it."""
    from bot.app import build_app
    from bot.settings import BotSettings
    from ml.config import MLSettings

    services = Services.create(MLSettings.from_env(), BotSettings.from_env())
    return build_asgi(build_app(services), services)


def health(services: Services) -> dict[str, Any]:
    """Liveness plus what is being served; 'degraded' (still 200) when no model can be loaded."""
    status: dict[str, Any] = {"ok": True, "backend": services.registry.backend, "model": services.model_name}
    try:
        status["model_version"] = services.scorer.version
    except Exception as exc:  # any registry failure: report it, stay up
        status.update(ok=False, model_version=None, error=str(exc)[:200])
    status["scoring"] = services.scorer.status()  # local / warehouse / fallback, and answers that fell back
    return status
