"""Socket Mode: the handler `lifeboat run` starts without `--http` (Slack sends requests over a
WebSocket it opened, authenticated by the app token). No socket here: the handler gets Slack's
envelopes directly, as slack_sdk's client would hand them over, and answers go to the fake Slack."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.app import build_app
from bot.local import FakeSlackWebAPI
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.server import socket_mode_handler
from ml.config import MLSettings
from tests.support.bot import TOKEN, all_text

APP_TOKEN = "xapp-1-lifeboat-tests"


def envelope(fake: FakeSlackWebAPI, text: str, envelope_id: str) -> tuple[SocketModeRequest, str]:
    url = fake.make_response_url(channel_id="C_GENERAL", user_id="U_ALICE")
    payload = {
        "command": "/survive",
        "text": text,
        "user_id": "U_ALICE",
        "channel_id": "C_GENERAL",
        "team_id": "T_LIFEBOAT",
        "trigger_id": fake.issue_trigger_id(),
        "response_url": url,
    }
    return SocketModeRequest(type="slash_commands", envelope_id=envelope_id, payload=payload), url


def test_a_socket_mode_request_is_acknowledged_answered_counted_and_logged(
    home: Path, fake: FakeSlackWebAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake.reset()
    services = Services.create(
        MLSettings.from_env(), BotSettings(bot_token=TOKEN, app_token=APP_TOKEN, api_url=fake.base_url)
    )
    try:
        handler = socket_mode_handler(build_app(services), services, APP_TOKEN)
        acks: list[Any] = []
        client = SimpleNamespace(send_socket_mode_response=acks.append, logger=logging.getLogger("t"))
        request, url = envelope(fake, "1st class woman, 29", "envelope-1")
        with caplog.at_level(logging.INFO, logger="lifeboat"):
            handler.handle(client, request)
            reply = fake.wait_for("response_url", lambda c: c.args["url"] == url, timeout=10)[0]
        assert [ack.envelope_id for ack in acks] == ["envelope-1"]  # acknowledged on the socket
        assert "chance of survival" in all_text(reply)

        # The listener counts its answer just after posting it.
        deadline = time.monotonic() + 10
        while 'lifeboat_answer_seconds_count{kind="slash_command"} 1.0' not in (
            scrape := services.metrics.exposition().decode()
        ):
            assert time.monotonic() < deadline, scrape
            time.sleep(0.02)
        assert 'lifeboat_requests_total{kind="slash_command",outcome="ok"} 1.0' in scrape
        assert 'lifeboat_scoring_total{path="local"} 1.0' in scrape
        [logged] = [r for r in caplog.records if r.getMessage().startswith("request")]
        assert "kind=slash_command" in logged.getMessage() and "user=U_ALICE" in logged.getMessage()
        assert "request_id=" in logged.getMessage()  # Socket Mode gets an id of its own for the logs
        assert APP_TOKEN not in caplog.text and TOKEN not in caplog.text
    finally:
        services.registry.close()
