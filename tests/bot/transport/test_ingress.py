"""Nothing unverified gets an answer (issue 13, items 1-3 and 5): size, timestamp and signature are
checked before the body is read as Slack data; a verified body of the wrong shape is a 400, never a
500; the app's error handler answers only requests that were verified.

The bot is the production app (`build_app` behind `build_asgi` on uvicorn) and every outbound call
lands on the fake Slack over HTTP, so "nothing was posted" means the fake recorded no call at all.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import BoltRequest

from bot.app import build_app
from bot.local import FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread, sign
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings
from tests.support.bot import SECRET, TOKEN, Bot, all_text, form_state, open_form, settle


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def bot(
    trained_home_template: Path, tmp_path_factory: pytest.TempPathFactory, fake: FakeSlackWebAPI
) -> Iterator[Bot]:
    """One bot for the module (starting one per test cost seconds); each test starts from a quiet
    fake (see `quiet`)."""
    home = tmp_path_factory.mktemp("ingress") / "home"
    shutil.copytree(trained_home_template, home)
    settings = BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url)
    services = Services.create(MLSettings(home=home), settings)
    with serve_asgi_in_thread(build_asgi(build_app(services), services)) as url:
        yield Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
    services.registry.close()


@pytest.fixture(autouse=True)
def quiet(request: pytest.FixtureRequest, fake: FakeSlackWebAPI) -> None:
    if "bot" in request.fixturenames:
        settle(request.getfixturevalue("bot"))  # the previous test's answers are all in
    fake.fail_channels.clear()
    fake.clear()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_BODY_BYTES = 1_000_000  # the documented limit; test_the_limit_is_the_documented_one checks it


def form_payload(payload: Any) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def hostile_view_submission(bot: Bot) -> dict[str, Any]:
    """A form submission naming a channel, a user to DM and a response_url: what an attacker would
    want the bot to post to."""
    return {
        "type": "view_submission",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "trigger_id": bot.fake.issue_trigger_id(),
        "view": {
            "type": "modal",
            "callback_id": "x",
            "private_metadata": json.dumps({"channel": "C0ANY"}),
            "state": {"values": {}},
        },
        "response_urls": [{"response_url": bot.fake.make_response_url(channel_id="C0ANY", user_id="U1")}],
    }


def assert_nothing_sent(bot: Bot) -> None:
    """No Web API call and no response_url post, apart from settle()'s own marker."""
    settle(bot)  # had a listener or the error handler run for them, their calls would be in by now
    assert [c.method for c in bot.fake.calls()] == ["response_url"], bot.fake.calls()


def assert_no_traceback(body: bytes) -> None:
    for leak in (b"Traceback", b'File "', b"Internal Server Error", b"Error:"):
        assert leak not in body


# -- item 1: a non-integer timestamp must not reach the error handler -------------------------------
@pytest.mark.parametrize(
    "timestamp",
    [b"abc", b"1.5", b"", "١٧٠٠٠٠٠٠٠٠".encode(), b"17000000000000000000000", b"-1", b" 0x10"],
)
def test_an_unsigned_request_with_an_odd_timestamp_is_refused_and_posts_nothing(
    bot: Bot, timestamp: bytes
) -> None:
    bodies = [
        form_payload(hostile_view_submission(bot)),
        form_payload(
            {
                "type": "block_actions",
                "user": {"id": "U1"},
                "actions": [{"action_id": "survive_share", "value": "{}"}],
                "response_url": bot.fake.make_response_url(channel_id="C0ANY", user_id="U1"),
            }
        ),
        urllib.parse.urlencode(
            {
                "command": "/survive",
                "text": "1st class woman",
                "user_id": "U1",
                "channel_id": "C0ANY",
                "response_url": bot.fake.make_response_url(channel_id="C0ANY", user_id="U1"),
            }
        ).encode(),
    ]
    for body in bodies:
        headers: dict[str, Any] = {
            **FORM,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": "v0=x",
        }
        resp = bot.sim.post(body, headers)
        assert resp.status == 401, resp.text
        assert resp.json() == {"error": "invalid request"}
    assert_nothing_sent(bot)


def test_the_error_handler_never_answers_a_request_that_was_not_verified(
    home: Path, fake: FakeSlackWebAPI
) -> None:
    """Defence in depth: the Bolt app itself, reached without the HTTP layer's checks, with a body
    and a timestamp that make Bolt's own verifier raise, answers 401 and calls nobody."""
    fake.reset()
    services = Services.create(
        MLSettings.from_env(), BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url)
    )
    app = build_app(services)
    fake.clear()
    for payload in (
        {
            "type": "view_submission",
            "user": {"id": "U1"},
            "view": {"type": "modal", "callback_id": "x", "private_metadata": '{"channel": "C0ANY"}'},
        },
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "actions": [{"action_id": "x"}],
            "response_url": fake.make_response_url(),
        },
    ):
        body = form_payload(payload).decode()
        request = BoltRequest(
            body=body,
            headers={**FORM, "x-slack-request-timestamp": "abc", "x-slack-signature": "v0=x"},
        )
        response = app.dispatch(request)
        assert response.status == 401
    time.sleep(0.3)  # the listener pool would have posted by now
    assert fake.calls() == []
    services.registry.close()


def test_in_socket_mode_the_error_handler_still_answers(
    home: Path, fake: FakeSlackWebAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack authenticates the socket: a failure there is still answered with the apology."""
    fake.reset()
    services = Services.create(
        MLSettings.from_env(),
        BotSettings(bot_token=TOKEN, app_token="xapp-test", api_url=fake.base_url),
    )
    app = build_app(services)

    def broken(text: str) -> Any:
        raise ValueError("kaboom in the parser, line 42")

    monkeypatch.setattr("bot.listeners.commands.survive.understand", broken)
    command = {
        "command": "/survive",
        "text": "1st class woman",
        "user_id": "U_ALICE",
        "channel_id": "C_GENERAL",
        "team_id": "T_LIFEBOAT",
        "trigger_id": fake.issue_trigger_id(),
        "response_url": fake.make_response_url(),
    }
    response = app.dispatch(BoltRequest(body=command, mode="socket_mode"))
    assert response.status == 200
    assert "Something went wrong on our side" in all_text(json.loads(response.body))
    services.registry.close()


# -- item 2: garbage gets a 401 (unsigned) or a 400 (signed), never a 500 ----------------------------
DEEP = "[" * 100_000 + "]" * 100_000
GARBAGE: list[tuple[bytes, str]] = [
    *(
        (urllib.parse.urlencode({"payload": p}).encode(), "application/x-www-form-urlencoded")
        for p in ("[1]", "null", '"s"', "1", "true", '{"team":5}', '{"user":5}', "{", DEEP)
    ),
    (b"[1]", "application/json"),
    (b'{"team": {"id": 5}, "type": "block_actions"}', "application/json"),
    (DEEP.encode(), "application/json"),
    (b"command=%2Fsurvive&text=\xff\xfe", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), GARBAGE, ids=lambda v: repr(v)[:40])
def test_unsigned_garbage_gets_401_and_signed_garbage_400_without_a_traceback(
    bot: Bot, body: bytes, content_type: str
) -> None:
    unsigned = bot.sim.post(body, {"Content-Type": content_type, **sign("not-the-secret", body)})
    assert unsigned.status == 401
    assert_no_traceback(unsigned.body)
    signed = bot.sim.post(body, {"Content-Type": content_type, **sign(SECRET, body)})
    assert signed.status == 400, signed.text
    assert signed.json() == {"error": "malformed request"}
    assert_no_traceback(signed.body)
    assert bot.fake.calls() == []


# -- item 5 (the signed 500s): a verified body of the wrong shape is a 400 ------------------------
def _view_submission(bot: Bot, **changes: Any) -> dict[str, Any]:
    payload = {
        "type": "view_submission",
        "user": {"id": "U_ALICE"},
        "team": {"id": "T_LIFEBOAT"},
        "trigger_id": bot.fake.issue_trigger_id(),
        "view": {"id": "V1", "callback_id": "survive_modal", "private_metadata": "", "state": {"values": {}}},
    }
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    "changes",
    [
        {"view": None},
        {"user": 5},
        {"team": 5},
        {"channel": 5},
        {"user": {"id": 5}},
        {"type": "block_actions", "actions": []},
        {"type": "block_actions", "actions": [5]},
        {"type": "block_actions", "actions": None},
        {"view": {"callback_id": 5}},
        {"view": {"callback_id": "survive_modal"}},
        {"view": {"callback_id": "survive_modal", "state": []}},
        {"response_urls": "https://example.com/x"},
    ],
    ids=lambda c: json.dumps(c)[:40],
)
def test_a_signed_body_slack_would_never_send_is_a_400(bot: Bot, changes: dict[str, Any]) -> None:
    body = form_payload(_view_submission(bot, **changes))
    resp = bot.sim.post_signed(body)
    assert resp.status == 400, resp.text
    assert_no_traceback(resp.body)
    assert bot.fake.calls() == []


def test_a_slash_command_missing_what_slack_always_sends_is_a_400(bot: Bot) -> None:
    for form in (
        {"command": "/survive", "text": "x"},
        {"command": "/survive", "user_id": "U_ALICE", "channel_id": "C_GENERAL", "trigger_id": "1.2.3"},
        {
            "command": "/survive",
            "user_id": "U_ALICE",
            "channel_id": "C_GENERAL",
            "trigger_id": "1.2.3",
            "response_url": "file:///etc/passwd",
        },
    ):
        resp = bot.sim.post_signed(urllib.parse.urlencode(form).encode())
        assert resp.status == 400, (form, resp.text)
    assert bot.fake.calls() == []


# -- item 3: a body limit, on Content-Length and while streaming -----------------------------------
def raw_exchange(bot: Bot, head: bytes, chunks: list[bytes]) -> bytes:
    """Send `head` then `chunks` on one socket, tolerating a server that answers and closes early;
    returns everything the server said."""
    host, port = bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:  # it answered (and closed) before we finished: that is the point
            pass
        sock.shutdown(socket.SHUT_WR) if chunks else None
        answer = b""
        try:
            while not answer.endswith(b"}") and (data := sock.recv(65536)):
                answer += data
        except OSError:
            pass
    return answer


def test_the_limit_is_the_documented_one() -> None:
    from bot.transport import ingress

    assert ingress.MAX_BODY_BYTES == MAX_BODY_BYTES


def test_a_content_length_over_the_limit_is_refused_before_the_body_is_read(bot: Bot) -> None:
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"X-Slack-Request-Timestamp: abc\r\nX-Slack-Signature: v0=x\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    started = time.perf_counter()
    answer = raw_exchange(bot, head, [])  # not one byte of the 100 MB is sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'{"error":"request body too large"}' in answer
    assert time.perf_counter() - started < 2


def test_a_chunked_body_is_cut_off_at_the_limit(bot: Bot) -> None:
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"a" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer = raw_exchange(bot, head, [chunk] * (2 * MAX_BODY_BYTES // len(piece)) + [b"0\r\n\r\n"])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_signed_10_mb_command_is_refused_and_not_processed(bot: Bot) -> None:
    form = {
        "command": "/survive",
        "text": "1st class woman, 29 " + "x" * 10_000_000,
        "user_id": "U_ALICE",
        "channel_id": "C_GENERAL",
        "team_id": "T_LIFEBOAT",
        "trigger_id": bot.fake.issue_trigger_id(),
        "response_url": bot.fake.make_response_url(channel_id="C_GENERAL", user_id="U_ALICE"),
    }
    resp = bot.sim.post_signed(urllib.parse.urlencode(form).encode())
    assert resp.status == 413
    assert_nothing_sent(bot)


def test_a_body_just_under_the_limit_is_still_answered(bot: Bot) -> None:
    text = "1st class woman, 29"
    padding = "p" * (MAX_BODY_BYTES - 2000)  # Slack never sends this much, but it is within the limit
    resp = bot.survive(text, channel_name="general", padding=padding)
    assert resp.status == 200
    assert "chance of survival" in bot.reply_to(resp).args["text"]


# -- item 5: a malformed modal state gets errors under its fields; odd metadata still an answer ----
@pytest.mark.parametrize(
    "pclass_state",
    [
        "string",
        {"value": None},
        {"value": {"type": "static_select", "selected_option": 5}},
        {"value": {"type": "static_select", "selected_option": {"value": 3}}},
        {"value": {"type": "static_select", "selected_option": {"value": "1" * 100_000}}},
    ],
    ids=lambda v: json.dumps(v)[:40],
)
def test_a_malformed_modal_state_gets_an_error_under_that_field(bot: Bot, pclass_state: Any) -> None:
    view = open_form(bot)
    bot.fake.clear()
    state = form_state(sex="female", age=29)
    state["pclass"] = pclass_state
    resp = bot.sim.view_submission(view, state)
    assert resp.status == 200
    answer = resp.json()
    assert answer["response_action"] == "errors", answer
    assert set(answer["errors"]) == {"pclass"}
    assert "could not be read" in answer["errors"]["pclass"]
    assert view["id"] in bot.fake.views  # the modal stays open for the user to fix it
    assert_nothing_sent(bot)


@pytest.mark.parametrize(
    "metadata", [5, {"channel": "C_RANDOM"}, "[" * 100_000, ["C_RANDOM"], '{"channel": "<!channel>"}']
)
def test_a_form_with_odd_metadata_is_still_answered_by_dm(bot: Bot, metadata: Any) -> None:
    view = open_form(bot, channel_id="C_RANDOM")
    resp = bot.sim.view_submission(
        view, form_state(pclass=1, sex="female", age=29), private_metadata=metadata
    )
    assert resp.status == 200 and resp.body == b""
    [posted] = bot.fake.wait_for("chat.postMessage")
    assert posted.ok and posted.args["channel"] == "DU_ALICE"
    assert "chance of survival" in posted.args["text"]
    assert bot.fake.calls("chat.postEphemeral") == []
