"""The playground's HTTP API, without a browser: the real bot behind it, signed requests, a fake Slack.

What the page shows is the event log; these tests read it the way the page does
(``GET /playground/api/events``, long-polling) and check what the bot's answers turn into.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.blocks import form as survive_form
from bot.blocks import survive as survive_blocks
from bot.local import SlackClientSimulator, serve_asgi_in_thread
from bot.local.playground import server as playground_server
from bot.local.playground.server import BOT_TOKEN, Playground, create_playground
from bot.local.playground.state import CHANNEL, ResponseTarget
from ml.config import MLSettings

ALICE, ADA = "U_ALICE", "U_ADMIN"
Event = dict[str, Any]


@dataclass
class Client:
    """The page's side of the API: post things, read the event log."""

    pg: Playground
    url: str
    http: httpx.Client
    seen: int = 0

    def post(self, path: str, body: Any, status: int = 200) -> dict[str, Any]:
        response = self.http.post(f"/playground/api/{path}", json=body)
        assert response.status_code == status, response.text
        return response.json()

    def command(self, text: str, user: str = ALICE) -> dict[str, Any]:
        return self.post("command", {"user": user, "text": text})

    def events(self, after: int = 0, wait: float = 0.0) -> dict[str, Any]:
        response = self.http.get("/playground/api/events", params={"after": after, "wait": wait})
        assert response.status_code == 200
        return response.json()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """The first new event matching ``predicate`` (events seen by earlier waits are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.events(self.seen, wait=min(1.0, max(deadline - time.monotonic(), 0)))
            for event in data["events"]:
                self.seen = event["seq"]
                try:
                    if predicate(event):
                        return event
                except (KeyError, TypeError):
                    pass
        raise AssertionError(f"no matching event within {timeout}s; last: {self.events()['events'][-5:]}")

    def all_of(self, *predicates: Callable[[Event], bool], timeout: float = 10.0) -> list[Event]:
        """New events matching each predicate, in whatever order they arrive (one per predicate)."""
        found: list[Event | None] = [None] * len(predicates)
        deadline = time.monotonic() + timeout
        while None in found and time.monotonic() < deadline:
            data = self.events(self.seen, wait=min(1.0, max(deadline - time.monotonic(), 0)))
            for event in data["events"]:
                self.seen = event["seq"]
                for i, predicate in enumerate(predicates):
                    with contextlib.suppress(KeyError, TypeError):
                        if found[i] is None and predicate(event):
                            found[i] = event
                            break
        assert None not in found, f"no matching events within {timeout}s: {found}"
        return [event for event in found if event is not None]

    def message(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """The next page message (new or updated) matching ``predicate``."""
        return self.wait_for(
            lambda e: e["kind"] in {"message", "update"} and predicate(e["message"]), timeout
        )["message"]


def text_of(message: Event) -> str:
    """Everything a person would read in a page message: its text and every text in its blocks."""
    parts = [message.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(parts)


def from_bot(message: Event) -> bool:
    return message["author"] == "bot"


def answer(message: Event) -> bool:
    return (
        from_bot(message)
        and re.search(r"\d+% \(likely \d+–\d+%\) chance of survival", text_of(message)) is not None
    )


def button(message: Event, action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise AssertionError(f"no {action_id} button in {message['blocks']}")


@pytest.fixture(scope="module")
def served(trained_home_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One playground for the module (its registry is only read here); each test reads new events."""
    home = tmp_path_factory.mktemp("playground") / "home"
    shutil.copytree(trained_home_template, home)
    playground = create_playground(MLSettings(home=home), say=lambda _: None)
    try:
        with serve_asgi_in_thread(playground.app) as url, httpx.Client(base_url=url, timeout=15) as http:
            try:
                yield Client(playground, url, http)
            finally:
                playground.state.closed = True  # end any long-poll before the server stops
    finally:
        playground.close()


@pytest.fixture
def client(served: Client) -> Iterator[Client]:
    """The shared playground, seen from now on: earlier tests' events are skipped."""
    served.pg.fake.fail_channels.clear()
    yield Client(served.pg, served.url, served.http, seen=served.pg.state.last_seq)
    served.pg.fake.fail_channels.clear()


@pytest.fixture
def pg(client: Client) -> Playground:
    return client.pg


# ---------------------------------------------------------------------------------------- the page


def test_root_redirects_to_the_page_and_everything_is_served_locally(client: Client) -> None:
    root = client.http.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/playground/"
    page = client.http.get("/playground/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/playground/static/[^"]+)"', page.text)
    assert {"/playground/static/app.js", "/playground/static/style.css"} <= set(assets)
    for asset in ("app.js", "blocks.js", "modal.js", "mrkdwn.js", "style.css"):
        response = client.http.get(f"/playground/static/{asset}")
        assert response.status_code == 200, asset
        # No CDN, no web fonts: the page works offline.
        assert not re.search(r"(?:src|href|url\(|from\s)\s*=?\s*[\"']?https?://", response.text), asset
    assert client.http.get("/healthz").json()["ok"] is True


def test_info_lists_the_people_the_commands_and_the_channel(client: Client) -> None:
    info = client.http.get("/playground/api/info").json()
    assert info["users"][ALICE]["label"] == "Alice (guest)" and info["users"][ALICE]["admin"] is False
    assert info["users"][ADA]["label"] == "Ada (admin)" and info["users"][ADA]["admin"] is True
    assert [c["command"] for c in info["commands"]] == ["/survive", "/retrain"]
    assert info["channel"] == {"id": CHANNEL, "name": "general"}
    assert info["session"] == client.events()["session"]


def test_the_bot_is_reached_only_through_signed_requests(pg: Playground, client: Client) -> None:
    other = create_playground(pg.services.ml_settings, say=lambda _: None, ensure=False)
    try:
        assert other.signing_secret != pg.signing_secret  # a new secret every run
    finally:
        other.close()
    forged = SlackClientSimulator(f"{client.url}/slack/events", "not-the-secret", pg.fake)
    assert forged.slash_command("/survive", "help").status == 401
    assert pg.services.bot_settings.api_url == pg.fake.base_url
    assert pg.services.bot_settings.admins == frozenset({ADA})


# ---------------------------------------------------------------------------------------- /survive


def test_survive_with_text_answers_only_the_person_who_asked(client: Client) -> None:
    before = len(client.pg.fake.calls("response_url"))
    result = client.command("/survive 1st class woman, 29, with my husband")
    assert result["ok"] and result["elapsed"] < 3.0
    typed = client.message(lambda m: m["author"] == "command")
    assert typed["visible_to"] == ALICE and typed["text"].startswith("/survive 1st class")
    reply = client.message(answer)
    assert reply["ephemeral"] and reply["visible_to"] == ALICE and reply["channel"] == CHANNEL
    assert len(client.pg.fake.calls("response_url")) == before + 1  # one respond() to the response URL


def test_an_ack_with_a_message_is_shown_as_ephemeral(client: Client) -> None:
    before = len(client.pg.fake.calls("response_url"))
    client.command("/survive help")
    reply = client.message(from_bot)
    assert reply["ephemeral"] and reply["visible_to"] == ALICE
    assert "Would you have survived the Titanic?" in text_of(reply)
    assert len(client.pg.fake.calls("response_url")) == before  # it came in the acknowledgement itself


def test_survive_stats_answers_with_its_tables(client: Client) -> None:
    result = client.command("/survive stats by class and sex")
    assert result["ok"] and result["elapsed"] < 3.0
    reply = client.message(lambda m: from_bot(m) and "Who survived the Titanic" in text_of(m))
    assert reply["ephemeral"] and reply["visible_to"] == ALICE
    assert "1st class  female   91 of 94   97%        91–99%" in text_of(reply)


def test_the_form_shows_errors_under_fields_then_answers(client: Client) -> None:
    client.command("/survive")
    opened = client.wait_for(lambda e: e["kind"] == "view")
    assert (opened["op"], opened["user"]) == ("open", ALICE)
    view = opened["view"]
    assert view["callback_id"] == survive_form.SURVIVE_MODAL and view["title"]["text"] == "Would you survive?"

    def values(age: str) -> dict[str, Any]:
        return {
            "pclass": {"value": {"type": "static_select", "selected_option": {"value": "1"}}},
            "sex": {"value": {"type": "radio_buttons", "selected_option": {"value": "female"}}},
            "age": {"value": {"type": "number_input", "value": age}},
        }

    bad = client.post("view", {"user": ALICE, "view_id": view["id"], "values": values("150")})
    assert bad["response_action"] == "errors" and set(bad["errors"]) == {"age"}
    shown = client.wait_for(lambda e: e["kind"] == "view_errors")
    assert shown["view_id"] == view["id"] and "age" in shown["errors"]
    assert view["id"] in client.pg.fake.views  # the dialog stays open

    good = client.post("view", {"user": ALICE, "view_id": view["id"], "values": values("29")})
    assert good == {"ok": True, "response_action": None}
    closed, replied = client.all_of(
        lambda e: e["kind"] == "view_close", lambda e: e["kind"] == "message" and answer(e["message"])
    )
    assert (closed["view_id"], closed["user"], closed["all"]) == (view["id"], ALICE, False)
    assert view["id"] not in client.pg.fake.views
    reply = replied["message"]
    assert reply["ephemeral"] and reply["visible_to"] == ALICE  # chat.postEphemeral in the channel
    client.post("view", {"user": ALICE, "view_id": view["id"], "values": values("29")}, status=404)


def test_closing_the_form_forgets_it(client: Client) -> None:
    client.command("/survive")
    view = client.wait_for(lambda e: e["kind"] == "view")["view"]
    closed = client.post("view_closed", {"user": ALICE, "view_id": view["id"]})
    assert closed == {"ok": True, "notified": False}  # the bot did not ask for view_closed
    assert client.wait_for(lambda e: e["kind"] == "view_close")["view_id"] == view["id"]
    assert view["id"] not in client.pg.fake.views


def test_view_closed_is_sent_when_the_view_asks_for_it(client: Client) -> None:
    trigger = client.pg.fake.issue_trigger_id()
    client.pg.state.expect_trigger(trigger, ALICE)
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Tell me when"},
        "notify_on_close": True,
        "blocks": [],
    }
    view = WebClient(token=BOT_TOKEN, base_url=client.pg.fake.base_url).views_open(
        trigger_id=trigger, view=modal
    )["view"]
    assert client.wait_for(lambda e: e["kind"] == "view")["user"] == ALICE
    closed = client.post("view_closed", {"user": ALICE, "view_id": view["id"]})
    assert closed["notified"] is True and view["id"] not in client.pg.fake.views


def test_share_in_channel_posts_a_message_everyone_sees(client: Client) -> None:
    client.command("/survive 3rd class man, 30, alone, from Southampton")
    reply = client.message(answer)
    share = button(reply, survive_blocks.SHARE_ACTION)
    result = client.post(
        "action",
        {
            "user": ALICE,
            "message_id": reply["id"],
            "action_id": share["action_id"],
            "block_id": share["block_id"],
            "value": share["value"],
            "type": "button",
        },
    )
    assert result == {"ok": True, "status": 200}
    shared = client.message(lambda m: from_bot(m) and "asked the Titanic model" in text_of(m))
    assert not shared["ephemeral"] and shared["visible_to"] is None
    assert f"<@{ALICE}>" in text_of(shared)
    # It is a real message of the fake Slack channel, under the same ts.
    assert shared["id"] == f"{CHANNEL}:{shared['ts']}"
    assert shared["ts"] in [m["ts"] for m in client.pg.fake.messages(CHANNEL)]


def test_adjust_reopens_the_form_for_the_person_who_clicked(client: Client) -> None:
    client.command("/survive 2nd class girl, 8, with my parents", user=ADA)
    reply = client.message(answer)
    adjust = button(reply, survive_blocks.ADJUST_ACTION)
    client.post(
        "action",
        {"user": ADA, "message_id": reply["id"], "action_id": adjust["action_id"], "value": adjust["value"]},
    )
    opened = client.wait_for(lambda e: e["kind"] == "view")
    assert opened["user"] == ADA
    age = next(b for b in opened["view"]["blocks"] if b["block_id"] == "age")
    assert age["element"]["initial_value"] == "8"


# ---------------------------------------------------------------------------------------- /retrain


def test_retrain_help_and_a_guest_refusal(client: Client) -> None:
    client.command("/retrain", user=ALICE)
    refusal = client.message(from_bot)
    assert refusal["ephemeral"] and refusal["visible_to"] == ALICE
    assert "only lifeboat admins" in text_of(refusal).lower()


def test_a_command_the_bot_does_not_handle_gets_a_gentle_note(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(playground_server.COMMANDS, "/unheard", "nothing handles this")
    result = client.command("/unheard of")
    assert result["status"] == 404 and result["ok"] is False
    note = client.message(lambda m: m["author"] == "note")
    assert note["visible_to"] == ALICE and "didn't answer `/unheard`" in note["text"]


# ---------------------------------------------------------------------------------------- plumbing


def test_plain_text_and_unknown_commands(client: Client) -> None:
    client.post("message", {"user": ADA, "text": "hello <@U_ALICE> & *all*"})
    said = client.message(lambda m: m["author"] == "user")
    assert said["user"] == ADA and said["visible_to"] is None
    assert said["text"] == "hello &lt;@U_ALICE&gt; &amp; *all*"  # typed text can't forge a mention
    assert client.command("/lifeboat now") == {"ok": False, "error": "unknown_command"}
    note = client.message(lambda m: m["author"] == "note")
    assert "is not a valid command" in note["text"] and note["visible_to"] == ALICE


def test_bad_requests_are_refused_plainly(client: Client) -> None:
    client.post("command", {"user": "U_NOBODY", "text": "/survive"}, status=400)
    client.post("command", {"user": ALICE, "text": "no slash"}, status=400)
    client.post("message", {"user": ALICE, "text": "   "}, status=400)
    client.post("action", {"user": ALICE, "message_id": "C_GENERAL:1.0", "action_id": "x"}, status=404)
    client.post("action", {"user": ALICE, "message_id": "C_GENERAL:1.0"}, status=400)
    client.post("view", {"user": ALICE, "view_id": "VNOPE"}, status=404)
    response = client.http.post("/playground/api/message", content=b"not json")
    assert response.status_code == 400 and response.json() == {"ok": False, "error": "the body must be JSON"}
    assert client.http.get("/playground/api/events", params={"after": "x"}).status_code == 400


def test_long_poll_returns_as_soon_as_something_happens(client: Client) -> None:
    last = client.events()["last"]
    start = time.monotonic()
    assert client.events(last, wait=0.3)["events"] == []
    assert 0.25 <= time.monotonic() - start < 2.0

    got: dict[str, Any] = {}
    poller = threading.Thread(target=lambda: got.update(client.events(last, wait=10)))
    poller.start()
    time.sleep(0.2)  # let the poll start waiting
    start = time.monotonic()
    client.post("message", {"user": ALICE, "text": "anyone there?"})
    poller.join(timeout=5)
    assert time.monotonic() - start < 1.0
    assert [e["message"]["text"] for e in got["events"]] == ["anyone there?"]
    assert got["last"] == got["events"][-1]["seq"]


def test_web_api_calls_and_response_urls_become_page_events(client: Client) -> None:
    """What a bot may do beyond /survive: chat.update/delete, views.update, replace/delete_original."""
    fake, state = client.pg.fake, client.pg.state
    web = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    posted = web.chat_postMessage(channel=CHANNEL, text="step 1 of 2")
    message_id = f"{CHANNEL}:{posted['ts']}"
    assert client.message(lambda m: m["id"] == message_id)["text"] == "step 1 of 2"
    web.chat_update(channel=CHANNEL, ts=posted["ts"], text="done: promoted V2")
    updated = client.wait_for(lambda e: e["kind"] == "update")["message"]
    assert (updated["id"], updated["text"], updated["edited"]) == (message_id, "done: promoted V2", True)

    url = fake.make_response_url(channel_id=CHANNEL, user_id=ALICE, message_ts=posted["ts"])
    state.expect_response_url(url, ResponseTarget(CHANNEL, ALICE, message_id))
    hook = WebhookClient(url)
    assert hook.send(text="replaced", replace_original=True).status_code == 200
    assert client.wait_for(lambda e: e["kind"] == "update")["message"]["text"] == "replaced"
    assert hook.send(text="for everyone", response_type="in_channel").status_code == 200
    public = client.message(lambda m: m["text"] == "for everyone")
    assert public["visible_to"] is None and public["id"] == f"{CHANNEL}:{public['ts']}"
    assert hook.send(text="just for Alice").status_code == 200
    private = client.message(lambda m: m["text"] == "just for Alice")
    assert private["ephemeral"] and private["visible_to"] == ALICE
    assert hook.send(delete_original=True).status_code == 200
    assert client.wait_for(lambda e: e["kind"] == "delete")["id"] == message_id
    web.chat_delete(channel=CHANNEL, ts=public["ts"])
    assert client.wait_for(lambda e: e["kind"] == "delete")["id"] == public["id"]

    trigger = fake.issue_trigger_id()
    state.expect_trigger(trigger, ADA)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "One"}, "blocks": []}
    view = web.views_open(trigger_id=trigger, view=modal)["view"]
    web.views_update(view_id=view["id"], view={**modal, "title": {"type": "plain_text", "text": "Two"}})
    changed = client.wait_for(lambda e: e["kind"] == "view" and e["op"] == "update")
    assert changed["user"] == ADA and changed["view"]["title"]["text"] == "Two"


def test_a_failed_post_shows_a_note_and_the_dm_fallback_reaches_the_person(client: Client) -> None:
    client.command("/survive")
    view = client.wait_for(lambda e: e["kind"] == "view")["view"]
    client.pg.fake.fail_channels[CHANNEL] = "not_in_channel"
    values = {
        "pclass": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
        "sex": {"value": {"type": "radio_buttons", "selected_option": {"value": "male"}}},
    }
    client.post("view", {"user": ALICE, "view_id": view["id"], "values": values})
    note = client.message(lambda m: m["author"] == "note")
    assert "chat.postEphemeral" in note["text"] and "not_in_channel" in note["text"]
    dm = client.message(answer)
    assert (dm["channel"], dm["visible_to"], dm["ephemeral"]) == (f"D{ALICE}", ALICE, False)


def test_clear_empties_the_channel(client: Client) -> None:
    said = client.post("message", {"user": ALICE, "text": "to be cleared"})
    assert client.pg.state.message(said["message_id"]) is not None
    client.post("clear", {})
    assert client.wait_for(lambda e: e["kind"] == "clear")
    assert client.pg.state.message(said["message_id"]) is None


# ---------------------------------------------------------------------------------------- run_playground


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=rf"cannot listen on 127\.0\.0\.1:{port}.*--port"):
            playground_server._bind("127.0.0.1", port)


def test_run_playground_serves_the_page_and_stops_on_ctrl_c(home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LIFEBOAT_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.local.playground.server", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("Playground: open"):
                break
        assert f"http://127.0.0.1:{port}/" in lines[-1], lines
        assert any("Serving TITANIC V1" in line for line in lines), lines
        page = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=5)
        assert page.status_code == 200 and "app.js" in page.text
        result = httpx.post(
            f"http://127.0.0.1:{port}/playground/api/command",
            json={"user": ALICE, "text": "/survive help"},
            timeout=10,
        ).json()
        assert result["ok"] is True  # the playground found its own /slack/events
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0
