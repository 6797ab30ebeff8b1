"""`lifeboat run`: Socket Mode, HTTP mode, or (with no Slack credentials) the local playground."""

from __future__ import annotations

import logging
import sys

from bot.settings import BotSettings
from ml.config import MLSettings

log = logging.getLogger("lifeboat.server")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(ml_settings: MLSettings, *, http: bool, port: int | None, playground: bool, workers: int = 1) -> int:
    bot_settings = BotSettings.from_env()
    port = port or bot_settings.port
    if playground or not bot_settings.any_slack_credentials:
        from bot.playground.server import run_playground

        if not playground:
            _say("No Slack credentials in the environment or .env: starting the local playground instead.")
        return run_playground(ml_settings, port=port)
    missing = bot_settings.missing_credentials(http=http)
    if missing:  # some Slack settings but not all: say what is missing rather than guess a mode
        raise ValueError(f"to connect to Slack, also set {' and '.join(missing)} (see .env.example)")

    from bot.app import build_app
    from bot.services import Services
    from ml.jobs import ensure_model
    from ml.registry.local import default_actor

    services = Services.create(ml_settings, bot_settings)
    try:
        ensure_model(services.registry, actor=default_actor(), say=_say)
        _say(
            f"Serving {services.model_name} {services.scorer.version} from the {services.registry.backend} registry"
        )
    except Exception as exc:  # the bot stays up and tells users the model is unavailable
        _say(f"Warning: no model can be served yet ({exc}); /survive will say so until one is registered.")
    app = build_app(services)
    if bot_settings.socket_mode and not http:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        _say("Connecting to Slack in Socket Mode…")
        services.watcher.start_sweeping(app.client)  # HTTP mode starts it with the server
        SocketModeHandler(app, bot_settings.app_token).start()
        return 0
    import uvicorn

    from bot.http import build_asgi

    _say(f"Listening on http://0.0.0.0:{port}/slack/events (health: /healthz), {workers} worker(s)")
    if workers > 1:  # each worker process builds its own app; they share the registry
        uvicorn.run(
            "bot.http:create_asgi",
            factory=True,
            workers=workers,
            host="0.0.0.0",
            port=port,
            log_level="warning",
            access_log=False,
        )
    else:
        uvicorn.run(
            build_asgi(app, services),
            workers=1,
            host="0.0.0.0",
            port=port,
            log_level="warning",
            access_log=False,
        )
    return 0
