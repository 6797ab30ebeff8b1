"""Socket Mode's `/healthz` and `/metrics`: served beside the socket on the configured port, with no
`/slack/events` to attack; a port already taken costs only those two, not the bot."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services import Services
from bot.settings import BotSettings
from bot.transport.server import ops_server
from ml.config import MLSettings
from tests.support.bot import TOKEN

APP_TOKEN = "xapp-1-lifeboat-tests"


@pytest.fixture
def services(home: Path) -> Iterator[Services]:
    created = Services.create(MLSettings.from_env(), BotSettings(bot_token=TOKEN, app_token=APP_TOKEN))
    yield created
    created.registry.close()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_health_and_metrics_are_served_and_nothing_else(services: Services) -> None:
    said: list[str] = []
    with ops_server(services, 0, said.append, host="127.0.0.1") as url:
        assert url is not None and said == [
            f"Health: {url}/healthz · metrics: {url}/metrics (keep them internal)"
        ]
        status, body = get(f"{url}/healthz")
        health = json.loads(body)
        assert status == 200 and health["ok"] is True and health["model_version"] == "V1"
        status, body = get(f"{url}/metrics")
        assert status == 200 and b"lifeboat_model_info" in body and b"lifeboat_requests_total" in body
        request = urllib.request.Request(f"{url}/slack/events", data=b"command=/survive", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 404
    with pytest.raises(urllib.error.URLError):  # stopped with the block
        urllib.request.urlopen(f"{url}/healthz", timeout=2)


def test_a_port_already_taken_costs_health_and_metrics_not_the_bot(services: Services) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        said: list[str] = []
        with ops_server(services, port, said.append, host="127.0.0.1") as url:
            assert url is None
        assert len(said) == 1 and f"port {port} is not free" in said[0] and "PORT" in said[0]


def test_socket_modes_health_and_metrics_stay_on_this_machine_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert BotSettings.from_env().ops_host == "127.0.0.1"
    monkeypatch.setenv("LIFEBOAT_OPS_HOST", "0.0.0.0")  # a container: probes and scrapes come from outside
    assert BotSettings.from_env().ops_host == "0.0.0.0"
