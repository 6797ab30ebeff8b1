"""HTTP mode: a Starlette app around the Bolt app, served by uvicorn (not Bolt's dev server).

Bolt's own Starlette adapter calls the blocking `App.dispatch` on the event loop; here it runs in a
worker thread, so one slow request never stalls the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services

EVENTS_PATH = "/slack/events"


def build_asgi(bolt_app: App, services: Services, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    verifier = SignatureVerifier(services.bot_settings.signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        try:
            # Bolt parses the body before it checks the signature: garbage must not become a 500.
            # Invalid UTF-8 is replaced, so such a body can't match its signature: 401 from Bolt.
            bolt_request = BoltRequest(
                body=body.decode("utf-8", "replace"), query=request.url.query, headers=headers
            )
        except ValueError:
            if services.bot_settings.signing_secret and not verifier.is_valid_request(body, headers):
                return JSONResponse({"error": "invalid request"}, status_code=401)
            return JSONResponse({"error": "unreadable request body"}, status_code=400)
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
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


def health(services: Services) -> dict[str, Any]:
    """Liveness plus what is being served; 'degraded' (still 200) when no model can be loaded."""
    status: dict[str, Any] = {"ok": True, "backend": services.registry.backend, "model": services.model_name}
    try:
        status["model_version"] = services.scorer.version
    except Exception as exc:  # any registry failure: report it, stay up
        status.update(ok=False, model_version=None, error=str(exc)[:200])
    return status
