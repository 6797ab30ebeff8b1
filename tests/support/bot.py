"""The bot as Slack sees it: a running app behind uvicorn, the fake Slack it talks to, a signed sender."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from slack_bolt import App

from bot.app import build_app
from bot.blocks import form as survive_form
from bot.local import Call, FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings

TOKEN = "xoxb-lifeboat-tests"
SECRET = "lifeboat-signing-secret"
ACK_BUDGET = 1.5  # seconds; Slack's hard limit is 3 s, and a bare ack() takes milliseconds here


@dataclass
class Bot:
    """A running bot: its services, its URL, the fake Slack it talks to and a signed sender."""

    services: Services
    url: str
    fake: FakeSlackWebAPI
    sim: SlackClientSimulator

    def survive(self, text: str = "", **kwargs: Any) -> Any:
        return self.sim.slash_command("/survive", text, **kwargs)

    def reply_to(self, response: Any, timeout: float = 5.0) -> Call:
        """The (first) post to the response URL of the request that got ``response``."""
        url = response.sent["response_url"]
        return self.fake.wait_for("response_url", lambda c: c.args["url"] == url, timeout=timeout)[0]

    def healthz(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as resp:
            assert resp.status == 200
            return json.loads(resp.read())


def start_bot(fake: FakeSlackWebAPI, customize: Callable[[App], None] | None = None) -> Iterator[Bot]:
    fake.reset()
    fake.fail_channels.clear()
    services = Services.create(
        MLSettings.from_env(), BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url)
    )
    app = build_app(services)
    if customize is not None:
        customize(app)
    with serve_asgi_in_thread(build_asgi(app, services)) as url:
        fake.clear()  # forget the auth.test Bolt made at start-up: tests count the calls they cause
        yield Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
    services.registry.close()


def all_text(blocks_or_call: Any) -> str:
    """Every string inside a message (text + blocks), for "does the user see X" assertions."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks_or_call.args if isinstance(blocks_or_call, Call) else blocks_or_call)
    return "\n".join(found)


def buttons(message_blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in message_blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def form_state(**fields: Any) -> dict[str, Any]:
    """``view.state.values`` as Slack sends it for the /survive form (block id = field name)."""
    selects = {"pclass": "static_select", "embarked": "static_select", "title": "static_select"}
    values: dict[str, Any] = {}
    for name in survive_form.FORM_FIELDS:
        value = fields.get(name)
        if name in selects:
            option = (
                None
                if value is None
                else {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
            )
            values[name] = {survive_form.VALUE: {"type": selects[name], "selected_option": option}}
        elif name == "sex":
            option = (
                None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
            )
            values[name] = {survive_form.VALUE: {"type": "radio_buttons", "selected_option": option}}
        else:
            values[name] = {
                survive_form.VALUE: {"type": "number_input", "value": None if value is None else str(value)}
            }
    return values


def open_form(bot: Bot, channel_id: str = "C_GENERAL", user_id: str = "U_ALICE") -> dict[str, Any]:
    """``/survive`` with no text, as the user would; returns the opened view (as the fake stores it)."""
    resp = bot.survive("", channel_id=channel_id, user_id=user_id)
    assert resp.status == 200
    [opened] = bot.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == resp.sent["trigger_id"])
    assert opened.ok, opened.response
    return opened.response["view"]


def settle(bot: Bot) -> None:
    """Make sure every listener started so far has finished: a request handled after them (the
    listener pool runs in order) has been answered, so any call they would make is recorded."""
    marker = bot.survive("3rd class man, 31")
    bot.reply_to(marker)
