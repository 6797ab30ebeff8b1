"""`lifeboat run`: Socket Mode, HTTP mode, or (with no Slack credentials) the local playground."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from bot.app import build_app
from bot.services import Services
from bot.settings import BotSettings
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
        return run_socket_mode(app, services, bot_settings.app_token, say)
    return run_http(app, services, port=port, workers=workers, say=say)


def run_socket_mode(app: App, services: Services, app_token: str, say: Say) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    say("Connecting to Slack in Socket Mode…")
    services.watcher.start_sweeping(app.client)  # HTTP mode starts it with the server (bot.transport.http)
    SocketModeHandler(app, app_token).start()
    return 0


def run_http(app: App, services: Services, *, port: int, workers: int, say: Say) -> int:
    import uvicorn

    from bot.transport.http import build_asgi

    say(f"Listening on http://0.0.0.0:{port}/slack/events (health: /healthz), {workers} worker(s)")
    # Several workers: each process builds its own app from the environment; they share the registry.
    target = "bot.transport.http:create_asgi" if workers > 1 else build_asgi(app, services)
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host="0.0.0.0",
        port=port,
        log_level="warning",
        access_log=False,
    )
    return 0
