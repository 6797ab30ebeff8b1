"""`lifeboat run`: Socket Mode, HTTP mode, or (with no Slack credentials) the local playground."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltRequest

from bot.app import build_app
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.ingress import REQUEST_ID, REQUEST_STARTED
from bot.transport.metrics import MULTIPROC_ENV, multiprocess_dir, prepare_multiprocess_dir
from bot.transport.observe import request_done
from ml.config import MLSettings

Say = Callable[[str], None]


def run(
    ml_settings: MLSettings, *, http: bool, port: int | None, playground: bool, say: Say, workers: int = 1
) -> int:
    bot_settings = BotSettings.from_env()
    port = port or bot_settings.port
    if playground or not bot_settings.any_slack_credentials:
        from bot.local.playground.server import run_playground  # the local stand-in: not for Slack

        if not playground:
            say("No Slack credentials in the environment or .env: starting the local playground instead.")
        return run_playground(ml_settings, port=port, say=say)
    missing = bot_settings.missing_credentials(http=http)
    if missing:  # some Slack settings but not all: say what is missing rather than guess a mode
        raise ValueError(f"to connect to Slack, also set {' and '.join(missing)} (see .env.example)")
    services = Services.create(ml_settings, bot_settings)
    services.ensure_model(say)
    app = build_app(services)
    if bot_settings.socket_mode and not http:
        return run_socket_mode(app, services, bot_settings.app_token, say, ops=(bot_settings.ops_host, port))
    return run_http(app, services, port=port, workers=workers, say=say)


def run_socket_mode(app: App, services: Services, app_token: str, say: Say, *, ops: tuple[str, int]) -> int:
    """Slack's requests over the socket; `/healthz` and `/metrics` on `ops` (host, port) meanwhile."""
    say("Connecting to Slack in Socket Mode…")
    services.start_background(app.client)  # HTTP mode starts it with the server (bot.transport.http)
    host, port = ops
    with ops_server(services, port, say, host=host):
        socket_mode_handler(app, services, app_token).start()
    return 0


@contextmanager
def ops_server(services: Services, port: int, say: Say, host: str = "127.0.0.1") -> Iterator[str | None]:
    """`/healthz` and `/metrics` on `port` while the block runs, so a Socket Mode bot can be probed
    and scraped like an HTTP one; its URL, or None when the port is taken (the bot runs without)."""
    from bot.transport.http import build_ops_asgi
    from bot.transport.threaded import serve_asgi_in_thread

    with ExitStack() as stack:
        try:
            url = stack.enter_context(serve_asgi_in_thread(build_ops_asgi(services), host=host, port=port))
        except OSError as exc:
            say(
                f"Health and metrics are not served: port {port} is not free ({exc.strerror});"
                " set PORT or --port."
            )
            yield None
            return
        say(f"Health: {url}/healthz · metrics: {url}/metrics (keep them internal)")
        yield url


def socket_mode_handler(app: App, services: Services, app_token: str) -> Any:
    """Bolt's Socket Mode handler, each request logged and counted as bot.transport.http does over HTTP."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_bolt.adapter.socket_mode.internals import build_headers, send_response

    class ObservedSocketModeHandler(SocketModeHandler):
        def handle(self, client: Any, req: Any) -> None:
            started = time.monotonic()
            request = BoltRequest(
                mode="socket_mode",
                body=req.payload,
                headers=build_headers(req),
                context={REQUEST_STARTED: started},
            )
            response = self.app.dispatch(request)  # returns once the listener has acknowledged
            send_response(client, req, response, time.time())
            request_done(services, req.payload, response.status, started, request.context.get(REQUEST_ID))

    return ObservedSocketModeHandler(app, app_token)


def run_http(app: App, services: Services, *, port: int, workers: int, say: Say) -> int:
    import uvicorn

    from bot.transport.http import build_asgi

    say(
        f"Listening on http://0.0.0.0:{port}/slack/events (health: /healthz, metrics: /metrics), {workers} worker(s)"
    )
    # Several workers: each process builds its own app from the environment; they share the registry.
    with metrics_shared_by(workers):
        target = "bot.transport.http:create_asgi" if workers > 1 else build_asgi(app, services)
        uvicorn.run(
            target,
            factory=workers > 1,
            workers=workers,
            host="0.0.0.0",
            port=port,
            log_level="warning",
            log_config=None,  # uvicorn's lines go through the root logger: one format (bot.transport.logs)
            access_log=False,
        )
    return 0


@contextmanager
def metrics_shared_by(workers: int) -> Iterator[None]:
    """For several workers, a directory where each writes its metrics and /metrics reads them all
    (prometheus_client's multi-process mode): PROMETHEUS_MULTIPROC_DIR if set, else one made for
    this run and removed after it. Set before the workers start, so they import prometheus_client
    with it."""
    if workers <= 1:
        yield
        return
    given = multiprocess_dir()
    directory = given or Path(tempfile.mkdtemp(prefix="lifeboat-metrics-"))
    prepare_multiprocess_dir(directory)
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield
    finally:
        if given is None:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(directory, ignore_errors=True)
