"""bot.local against a REAL Bolt app served over HTTP: signing, Web API, response URLs, modals, load.

The Bolt app below is tiny on purpose; what is under test is that the local Slack stand-in speaks the
protocols Bolt and slack_sdk actually use (nothing of Bolt is mocked, token verification stays on).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.local import Call, FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread, sign

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"

SURVEY_VIEW_TITLE = "Would you survive?"


def build_bolt_app(fake: FakeSlackWebAPI) -> App:
    """A minimal Bolt app wired to the fake the way the real bot will be (client base_url)."""
    client = WebClient(token=TOKEN, base_url=fake.base_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    app = App(signing_secret=SECRET, client=client)  # calls auth.test on the fake right here

    @app.command("/echo")
    def echo(ack: Any, respond: Any, command: dict[str, Any], client: WebClient) -> None:
        ack()
        respond(text=f"echo: {command['text']}")
        client.chat_postMessage(
            channel=command["channel_id"], text=f"{command['user_id']} said {command['text']}"
        )

    @app.command("/whoami")
    def whoami(ack: Any, respond: Any, command: dict[str, Any], client: WebClient) -> None:
        ack()
        user = client.users_info(user=command["user_id"])["user"]
        respond(text=f"admin={user['is_admin']} owner={user['is_owner']}")

    @app.command("/survey")
    def survey(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "survey",
                "private_metadata": body["channel_id"],
                "title": {"type": "plain_text", "text": SURVEY_VIEW_TITLE},
                "submit": {"type": "plain_text", "text": "Board"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "age_block",
                        "optional": True,
                        "label": {"type": "plain_text", "text": "Age"},
                        "element": {"type": "plain_text_input", "action_id": "age"},
                    }
                ],
            },
        )

    @app.view("survey")
    def on_survey(ack: Any, view: dict[str, Any], client: WebClient) -> None:
        age = view["state"]["values"]["age_block"]["age"]["value"] or ""
        if not age.isdigit():
            ack(response_action="errors", errors={"age_block": "Age must be a number"})
            return
        ack()
        client.chat_postMessage(channel=view["private_metadata"], text=f"survey age {age}")

    @app.action("vote")
    def vote(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(
            channel=body["channel"]["id"],
            ts=body["message"]["ts"],
            text=f"voted {body['actions'][0]['value']}",
        )

    return app


def build_asgi(bolt_app: App) -> Starlette:
    """POST /slack/events -> Bolt's dispatch in a worker thread (it blocks until ack)."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_request = BoltRequest(
            body=body.decode("utf-8"), query=request.url.query, headers=dict(request.headers)
        )
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    return Starlette(routes=[Route("/slack/events", slack_events, methods=["POST"])])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def bolt_app(fake: FakeSlackWebAPI) -> App:
    return build_bolt_app(fake)


@pytest.fixture(scope="module")
def app_url(bolt_app: App) -> Iterator[str]:
    with serve_asgi_in_thread(build_asgi(bolt_app)) as base:
        yield base


@pytest.fixture
def sim(fake: FakeSlackWebAPI, app_url: str) -> Iterator[SlackClientSimulator]:
    fake.reset()
    fake.fail_channels.clear()
    yield SlackClientSimulator(f"{app_url}/slack/events", SECRET, fake)


@pytest.fixture
def web(fake: FakeSlackWebAPI) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.base_url)


def marker() -> str:
    return uuid.uuid4().hex[:10]


def text_contains(needle: str) -> Any:
    return lambda call: needle in (call.args.get("text") or "")


# ---------------------------------------------------------------------------- signing


def test_sign_is_accepted_by_slack_sdk_verifier() -> None:
    body = b"token=x&text=hello%20world"
    headers = sign(SECRET, body)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    old = sign(SECRET, body, timestamp=int(time.time()) - 360)
    assert not SignatureVerifier(SECRET).is_valid_request(body, old)


# ---------------------------------------------------------------------------- Bolt round trips


def test_bolt_startup_verifies_token_with_auth_test(fake: FakeSlackWebAPI) -> None:
    fake.clear()
    App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=fake.base_url))
    [call] = fake.calls("auth.test")
    assert call.ok and call.response["bot_id"] == fake.bot_id
    with pytest.raises(BoltError):
        App(signing_secret=SECRET, client=WebClient(token="xoxb-revoked", base_url=fake.base_url))


def test_signed_slash_command_posts_to_response_url_and_channel(
    sim: SlackClientSimulator, fake: FakeSlackWebAPI
) -> None:
    word = marker()
    resp = sim.slash_command("/echo", word)
    assert resp.status == 200
    assert resp.elapsed < 3.0  # the ack deadline Slack enforces

    [posted] = fake.wait_for("response_url", lambda c: c.args["url"] == resp.sent["response_url"])
    assert posted.args["text"] == f"echo: {word}"
    assert posted.ok

    [message] = fake.wait_for("chat.postMessage", text_contains(word))
    assert message.args["channel"] == "C_GENERAL"
    assert message.response["ts"] in [m["ts"] for m in fake.messages("C_GENERAL")]
    assert [e["text"] for e in fake.ephemerals("C_GENERAL", "U_ALICE")] == [f"echo: {word}"]


@pytest.mark.parametrize("kind", ["forged", "stale", "missing"])
def test_bad_signatures_get_401_and_run_nothing(
    sim: SlackClientSimulator, fake: FakeSlackWebAPI, kind: str
) -> None:
    word = marker()
    form = f"command=%2Fecho&text={word}&user_id=U_ALICE&channel_id=C_GENERAL&team_id=T_LIFEBOAT"
    form += f"&trigger_id=1.2.3&response_url={fake.make_response_url()}"
    body = form.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if kind == "forged":
        headers |= sign("not-the-secret", body)
    elif kind == "stale":
        headers |= sign(SECRET, body, timestamp=int(time.time()) - 6 * 60)
    resp = sim.post(body, headers)
    assert resp.status == 401

    # A signed request sent afterwards is handled; by the time its calls land, a listener run for the
    # rejected one would have landed too.
    ok = sim.slash_command("/echo", "after")
    assert ok.status == 200
    fake.wait_for("chat.postMessage", text_contains("after"))
    assert not [c for c in fake.calls() if word in json.dumps(c.args)]


def test_view_submission_round_trip(sim: SlackClientSimulator, fake: FakeSlackWebAPI) -> None:
    resp = sim.slash_command("/survey", channel_id="C_RANDOM")
    assert resp.status == 200
    [opened] = fake.wait_for("views.open", lambda c: c.args["trigger_id"] == resp.sent["trigger_id"])
    view = opened.response["view"]
    assert fake.views[view["id"]]["private_metadata"] == "C_RANDOM"

    bad = sim.view_submission(view, {"age_block": {"age": {"type": "plain_text_input", "value": "old"}}})
    assert bad.status == 200
    assert bad.json() == {"response_action": "errors", "errors": {"age_block": "Age must be a number"}}
    assert view["id"] in fake.views  # errors keep the modal open

    good = sim.view_submission(view, {"age_block": {"age": {"type": "plain_text_input", "value": "29"}}})
    assert good.status == 200
    assert good.json() is None  # bare ack() closes the modal
    assert view["id"] not in fake.views
    [posted] = fake.wait_for("chat.postMessage", text_contains("survey age 29"))
    assert posted.args["channel"] == "C_RANDOM"


def test_block_action_updates_the_stored_message(
    sim: SlackClientSimulator, fake: FakeSlackWebAPI, web: WebClient
) -> None:
    posted = web.chat_postMessage(channel="C_GENERAL", text="Who survives?")
    [message] = fake.messages("C_GENERAL")
    assert message["ts"] == posted["ts"]

    resp = sim.block_action("vote", "women-and-children", channel_id="C_GENERAL", message=message)
    assert resp.status == 200
    fake.wait_for("chat.update", lambda c: c.ok)
    [updated] = fake.messages("C_GENERAL")
    assert updated["text"] == "voted women-and-children"
    assert updated["ts"] == message["ts"]

    with pytest.raises(SlackApiError) as err:
        web.chat_update(channel="C_GENERAL", ts="1.000001", text="nope")
    assert err.value.response["error"] == "message_not_found"


def test_users_info_admin_flag_through_bolt(sim: SlackClientSimulator, fake: FakeSlackWebAPI) -> None:
    replies = {}
    for user in ("U_ADMIN", "U_ALICE"):
        resp = sim.slash_command("/whoami", user_id=user)
        [reply] = fake.wait_for("response_url", lambda c, r=resp: c.args["url"] == r.sent["response_url"])
        replies[user] = reply.args["text"]
    assert replies == {"U_ADMIN": "admin=True owner=False", "U_ALICE": "admin=False owner=False"}


def test_users_info_get_and_unknown_user(fake: FakeSlackWebAPI, web: WebClient) -> None:
    fake.add_user("U_CAPTAIN", "smith", is_owner=True)
    # Slack documents users.info as GET with query parameters: the fake answers that too.
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    conn.request("GET", "/api/users.info?user=U_CAPTAIN", headers={"Authorization": f"Bearer {TOKEN}"})
    data = json.loads(conn.getresponse().read())
    conn.close()
    assert data["ok"] and data["user"]["is_owner"] is True and data["user"]["name"] == "smith"

    with pytest.raises(SlackApiError) as err:
        web.users_info(user="U_NOBODY")
    assert err.value.response["error"] == "user_not_found"


def test_rate_limited_once_then_retried(sim: SlackClientSimulator, fake: FakeSlackWebAPI) -> None:
    fake.rate_limit("chat.postMessage")  # next call: HTTP 429, Retry-After: 1
    word = marker()
    assert sim.slash_command("/echo", word).status == 200
    first, second = fake.wait_for("chat.postMessage", text_contains(word), count=2, timeout=6)
    assert (first.status, first.response["error"]) == (429, "ratelimited")
    assert second.ok
    assert second.time - first.time >= 1.0  # the handler honoured Retry-After
    assert len([m for m in fake.messages("C_GENERAL") if word in m["text"]]) == 1


def test_channel_failures_and_dm_fallback(fake: FakeSlackWebAPI, web: WebClient) -> None:
    fake.fail_channels["C_PRIVATE"] = "channel_not_found"
    fake.fail_channels["C_LOCKED"] = "not_in_channel"
    for channel, error in (("C_PRIVATE", "channel_not_found"), ("C_LOCKED", "not_in_channel")):
        with pytest.raises(SlackApiError) as err:
            web.chat_postEphemeral(channel=channel, user="U_ALICE", text="hi")
        assert err.value.response["error"] == error
    dm = web.conversations_open(users="U_ALICE")["channel"]["id"]
    assert dm == "DU_ALICE"
    assert web.chat_postMessage(channel=dm, text="in your DMs")["channel"] == dm
    assert [m["text"] for m in fake.messages(dm)] == ["in your DMs"]


def test_auth_and_view_rules(fake: FakeSlackWebAPI, web: WebClient) -> None:
    for token, error in ((None, "not_authed"), ("xoxb-wrong", "invalid_auth")):
        with pytest.raises(SlackApiError) as err:
            WebClient(token=token, base_url=fake.base_url).chat_postMessage(channel="C_GENERAL", text="x")
        assert err.value.response["error"] == error

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Lifeboat"}, "blocks": []}
    trigger = fake.issue_trigger_id()
    view = web.views_open(trigger_id=trigger, view=modal)["view"]
    with pytest.raises(SlackApiError) as err:
        web.views_open(trigger_id=trigger, view=modal)
    assert err.value.response["error"] == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as err:
        web.views_update(view_id=view["id"], hash="stale-hash", view=modal)
    assert err.value.response["error"] == "hash_conflict"
    updated = web.views_update(view_id=view["id"], hash=view["hash"], view=modal)["view"]
    assert updated["hash"] != view["hash"]
    too_long = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as err:
        web.views_open(trigger_id=fake.issue_trigger_id(), view=too_long)
    assert err.value.response["error"] == "invalid_arguments"


# ---------------------------------------------------------------------------- recording helpers


def test_wait_for_timeout_message_and_subscribe(fake: FakeSlackWebAPI, web: WebClient) -> None:
    fake.clear()
    seen: list[Call] = []
    unsubscribe = fake.subscribe(seen.append)
    web.api_call("auth.test")
    unsubscribe()
    web.api_call("auth.test")
    assert [c.method for c in seen if c.method == "auth.test"] == ["auth.test"]
    with pytest.raises(AssertionError, match=r"(?s)waited 0\.2s for 1 chat\.delete call.*auth\.test"):
        fake.wait_for("chat.delete", timeout=0.2)


# ---------------------------------------------------------------------------- load


def test_twenty_concurrent_signed_requests_all_answered(
    sim: SlackClientSimulator, fake: FakeSlackWebAPI
) -> None:
    run = marker()
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda i: sim.slash_command("/echo", f"{run}-{i}"), range(20)))
    assert [r.status for r in responses] == [200] * 20
    fake.wait_for("response_url", lambda c: run in c.args["text"], count=20, timeout=8)
    fake.wait_for("chat.postMessage", text_contains(run), count=20, timeout=8)


def test_fake_web_api_keep_alive_under_load(fake: FakeSlackWebAPI) -> None:
    """20 clients x 20 requests on persistent HTTP/1.1 connections, as a benchmark would drive it."""
    errors: list[str] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
        try:
            for i in range(20):
                body = json.dumps({"channel": "C_LOAD", "text": f"{n}-{i}"}).encode()
                conn.request(
                    "POST",
                    "/api/chat.postMessage",
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
                )
                resp = conn.getresponse()
                if not json.loads(resp.read())["ok"]:
                    errors.append(f"{n}-{i}")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert errors == []
    messages = fake.messages("C_LOAD")
    assert len(messages) == 400
    assert len({m["ts"] for m in messages}) == 400  # ts values are unique
    assert elapsed < 4.0, f"400 requests took {elapsed:.2f}s"


def test_response_url_replace_delete_and_use_limit(fake: FakeSlackWebAPI, web: WebClient) -> None:
    ts = web.chat_postMessage(channel="C_RANDOM", text="original")["ts"]
    url = fake.make_response_url(channel_id="C_RANDOM", user_id="U_BOB", message_ts=ts)
    hook = WebhookClient(url)
    assert hook.send(text="replaced", replace_original=True).status_code == 200
    assert [m["text"] for m in fake.messages("C_RANDOM")] == ["replaced"]
    assert hook.send(text="everyone sees this", response_type="in_channel").status_code == 200
    assert hook.send(delete_original=True).status_code == 200
    assert [m["text"] for m in fake.messages("C_RANDOM")] == ["everyone sees this"]
    assert hook.send(text="just for Bob").status_code == 200
    assert [e["text"] for e in fake.ephemerals("C_RANDOM", "U_BOB")] == ["just for Bob"]
    assert hook.send(text="one too many").status_code == 200  # fifth use
    sixth = hook.send(text="rejected")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert WebhookClient(f"{fake.url}response/unknown").send(text="x").status_code == 404
