"""Hostile input against the running HTTP app (issue 13): Hypothesis-generated slash texts, form
submissions, button clicks and raw bodies, signed and unsigned, sent as real HTTP requests to the
production app (`build_app` behind `build_asgi` on uvicorn), whose every outbound call lands on the
fake Slack (Web API and response URLs, recorded).

What must hold for every example:
- no 5xx, no traceback in any response;
- an unverified request is refused (401) and causes no outbound call of any kind;
- a verified request gets a helpful answer (or, if Slack would never send it, a 400);
- nothing the user typed comes back able to mention, broadcast or link.

Example counts are modest and the generation is derandomized, so the suite stays fast and gives the
same examples every run.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_app
from bot.blocks import form as survive_form
from bot.blocks import home as home_blocks
from bot.blocks import names as name_blocks
from bot.blocks import retrain as retrain_blocks
from bot.blocks import survive as survive_blocks
from bot.local import Call, FakeSlackWebAPI, Response, SlackClientSimulator, serve_asgi_in_thread, sign
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings
from tests.support.bot import SECRET, TOKEN, all_text

ADMIN = "U_ADMIN"
HYPOTHESIS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
LIVE_TOKENS = ("<!", "<@", "<#", "<http", "<mailto")  # what Slack would render as a mention or link
MENTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U_BOB>",
    "<#C_GENERAL|general>",
    "<https://x.example|y>",
]
_users = itertools.count()


class Hostile:
    def __init__(self, url: str, fake: FakeSlackWebAPI, services: Services) -> None:
        self.url, self.fake, self.services = url, fake, services
        self.sim = SlackClientSimulator(f"{url}/slack/events", SECRET, fake)

    def wait(self, method: str, predicate: Any, timeout: float = 5.0) -> Call:
        return self.fake.wait_for(method, predicate, timeout=timeout)[0]


@pytest.fixture(scope="module")
def hostile(trained_home_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    home = tmp_path_factory.mktemp("hostile") / "home"
    shutil.copytree(trained_home_template, home)
    with FakeSlackWebAPI(token=TOKEN, trigger_ttl=None) as fake:
        services = Services.create(
            MLSettings(home=home),
            BotSettings(
                bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url, admins=frozenset({ADMIN})
            ),
        )
        with serve_asgi_in_thread(build_asgi(build_app(services), services)) as url:
            yield Hostile(url, fake, services)
        services.registry.close()


def assert_safe_response(resp: Response) -> None:
    assert resp.status < 500, (resp.status, resp.text[:300])
    for leak in ("Traceback", 'File "', "Internal Server Error"):
        assert leak not in resp.text


def assert_inert(shown: str) -> None:
    for token in LIVE_TOKENS:
        assert token not in shown, shown[:500]


def shown_to_user(resp: Response) -> str:
    """What the user of a verified request sees: the acknowledgement's message, or what followed it
    (a reply on the response URL, or the form)."""
    if resp.body.strip():
        answer = resp.json()
        assert isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")), answer
        return all_text(answer)
    return ""


# -- text: free text, with mentions and markup mixed in -------------------------------------------
words = st.one_of(
    st.text(max_size=30),
    st.sampled_from(MENTIONS),
    st.sampled_from(
        ["1st", "2nd", "third", "class", "woman", "man", "girl", "boy", "29", "-3", "150", "£72"]
    ),
    st.sampled_from(["help", "model", "&lt;!channel&gt;", "&amp;", "`", "*", "_", "~", "\n", "\u202e"]),
)
texts = st.lists(words, max_size=8).map(" ".join)


@HYPOTHESIS
@given(text=texts)
def test_any_survive_text_gets_a_helpful_escaped_answer(hostile: Hostile, text: str) -> None:
    resp = hostile.sim.slash_command("/survive", text, user_id="U_ALICE", channel_id="C_GENERAL")
    assert_safe_response(resp)
    assert resp.status == 200
    shown = shown_to_user(resp)
    if not shown:  # a bare ack: the answer follows, or a form opens (empty text)
        url, trigger = resp.sent["response_url"], resp.sent["trigger_id"]
        if text.strip():
            reply = hostile.wait("response_url", lambda c: c.args["url"] == url)
            shown = all_text(reply)
            assert any(
                answer in shown
                for answer in ("chance of survival", "Model card", "unavailable", "No passenger called")
            ) or re.search(r"\d+ passengers in the records match", shown), shown[:300]
        else:
            assert hostile.wait("views.open", lambda c: c.args["trigger_id"] == trigger).ok
            shown = "(the form)"
    assert_inert(shown)


@HYPOTHESIS
@given(text=st.text(max_size=60) | st.sampled_from(MENTIONS).map(lambda m: f"promote {m}"))
def test_any_retrain_text_gets_an_escaped_answer(hostile: Hostile, text: str) -> None:
    for user in (ADMIN, "U_ALICE"):
        words = text.split()
        if user == ADMIN and (not words or words[0].lower() in ("run", "start", "now")):
            continue  # would start a real training run: covered by test_bot_retrain
        resp = hostile.sim.slash_command("/retrain", text, user_id=user, channel_id="C_GENERAL")
        assert_safe_response(resp)
        assert resp.status == 200
        shown = shown_to_user(resp)
        if not shown:
            url = resp.sent["response_url"]
            shown = all_text(hostile.wait("response_url", lambda c, u=url: c.args["url"] == u))
        assert shown.strip()
        assert_inert(shown)


# -- forms: well-formed, invalid and malformed state; odd private_metadata --------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
option_values = st.one_of(
    st.sampled_from(["1", "2", "3", "female", "male", "C", "Q", "S", "Mr", "Mrs", "Miss", "Master"]),
    st.text(max_size=12),
)
elements = st.one_of(
    st.builds(
        lambda v: {"type": "static_select", "selected_option": {"text": {}, "value": v}}, option_values
    ),
    st.builds(lambda v: {"type": "static_select", "selected_option": v}, json_values),
    st.builds(
        lambda v: {"type": "number_input", "value": v},
        st.none() | st.from_regex(r"-?[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True) | st.text(max_size=12),
    ),
    json_values,
)
state_values = st.dictionaries(
    st.sampled_from(survive_form.FORM_FIELDS) | st.text(max_size=6),
    st.builds(lambda e: {survive_form.VALUE: e}, elements) | json_values,
    max_size=10,
)
metadata = st.one_of(
    st.just(json.dumps({"channel": "C_RANDOM"})),
    st.builds(lambda c: json.dumps({"channel": c}), st.text(max_size=12) | st.sampled_from(MENTIONS)),
    st.text(max_size=40),
    json_values,
)


@HYPOTHESIS
@given(values=state_values, private_metadata=metadata)
def test_any_form_submission_gets_field_errors_or_an_answer(
    hostile: Hostile, values: dict[str, Any], private_metadata: Any
) -> None:
    user = f"U_FORM{next(_users)}"
    view = {"id": f"V{user}", "type": "modal", "callback_id": survive_form.SURVIVE_MODAL, "hash": "1"}
    resp = _submit(hostile, view, values, user, private_metadata)
    assert_safe_response(resp)
    assert resp.status == 200
    if resp.body.strip():
        answer = resp.json()
        assert answer["response_action"] == "errors"
        errors = answer["errors"]
        assert errors and set(errors) <= set(survive_form.FORM_FIELDS)  # under the form's own fields
        assert all(isinstance(m, str) and 0 < len(m) < 300 for m in errors.values())
        assert_inert(" ".join(errors.values()))
    else:  # the modal closes, and the answer goes to the channel, or by DM
        posted = hostile.wait(
            None, lambda c: c.method in ("chat.postEphemeral", "chat.postMessage") and _for(c, user)
        )
        assert posted.ok
        assert "chance of survival" in posted.args["text"] or "unavailable" in posted.args["text"]
        assert_inert(all_text(posted))


def _submit(
    hostile: Hostile, view: dict[str, Any], values: Any, user: str, private_metadata: Any
) -> Response:
    sent = {**view, "private_metadata": private_metadata, "state": {"values": values}}
    payload = {
        "type": "view_submission",
        "team": {"id": hostile.fake.team_id},
        "user": {"id": user},
        "api_app_id": hostile.fake.app_id,
        "trigger_id": hostile.fake.issue_trigger_id(),
        "view": sent,
        "response_urls": [],
    }
    return hostile.sim.post_payload(payload)


def _for(call: Call, user: str) -> bool:
    return call.args.get("user") == user or call.args.get("channel") == f"D{user}"


# -- buttons: ours and others, any value, admins and guests ---------------------------------------
HOME_ACTIONS = (home_blocks.FORGET_ACTION, home_blocks.PROMOTE_ACTION, home_blocks.ROLLBACK_ACTION)
action_ids = st.sampled_from(
    [
        survive_blocks.ADJUST_ACTION,
        survive_blocks.SHARE_ACTION,
        survive_blocks.OPEN_FORM_ACTION,
        retrain_blocks.PROMOTE_ACTION,
        retrain_blocks.ROLLBACK_ACTION,
        survive_blocks.CHART_ACTION,
        name_blocks.PICK_ACTION,
        *HOME_ACTIONS,
        "not_ours",
    ]
)
button_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(MENTIONS),
    st.sampled_from(["V1", "V2", "v1", "V" + "9" * 5000, "x" * 10_000]),
    st.builds(
        lambda v, r, n: json.dumps({"v": v, "r": r, "n": n}),
        st.sampled_from(["V1", "V2"]) | json_values,
        st.integers(-5, 2000) | json_values,
        st.sampled_from(["Astor, Mrs. John Jacob (Madeleine Talmadge Force)", "<!channel>"]) | json_values,
    ),
    st.builds(
        lambda d: json.dumps(d),
        st.dictionaries(st.sampled_from(["pclass", "sex", "age", "evil"]), json_values),
    ),
)


@HYPOTHESIS
@given(
    action_id=action_ids,
    value=button_values,
    user=st.sampled_from([ADMIN, "U_ALICE"]),
    in_channel=st.booleans(),
)
def test_any_button_click_is_acknowledged_and_answered_escaped(
    hostile: Hostile, action_id: str, value: str | None, user: str, in_channel: bool
) -> None:
    default = hostile.services.registry.get_default()
    if action_id in HOME_ACTIONS:
        _home_click(hostile, action_id, value, user, default)
        return
    resp = hostile.sim.block_action(
        action_id, value, user_id=user, channel_id="C_GENERAL" if in_channel else None
    )
    assert_safe_response(resp)
    if action_id == "not_ours":
        assert resp.status == 404  # Bolt: no listener for it (and nothing posted)
        return
    assert resp.status == 200
    if action_id in (survive_blocks.ADJUST_ACTION, survive_blocks.OPEN_FORM_ACTION):
        trigger = resp.sent["trigger_id"]
        assert hostile.wait("views.open", lambda c: c.args["trigger_id"] == trigger).ok
        return
    url = resp.sent["response_url"]
    reply = hostile.wait("response_url", lambda c: c.args["url"] == url)
    shown = all_text(reply)
    assert shown.strip()
    if action_id in (retrain_blocks.PROMOTE_ACTION, retrain_blocks.ROLLBACK_ACTION):
        assert len(shown) < 400
        if user != ADMIN:
            assert "Only lifeboat admins" in shown
            assert hostile.services.registry.get_default() == default
        assert_inert(shown.replace(f"<@{ADMIN}>", ""))  # the admin's own mention is ours, not echoed
    else:
        assert_inert(shown)


def _home_click(hostile: Hostile, action_id: str, value: str | None, user: str, default: str | None) -> None:
    """A click on Home is answered by publishing that person's Home again, saying what happened."""
    published = len([c for c in hostile.fake.calls("views.publish") if c.args["user_id"] == user])
    view = {"id": f"VHOME{user}", "type": "home", "callback_id": "", "hash": "1", "blocks": []}
    resp = hostile.sim.block_action(action_id, value, user_id=user, view=view, channel_id=None)
    assert_safe_response(resp)
    assert resp.status == 200
    call = hostile.fake.wait_for("views.publish", lambda c: c.args["user_id"] == user, count=published + 1)[
        -1
    ]
    assert call.ok, call.response
    shown = all_text(call)
    if action_id != home_blocks.FORGET_ACTION and user != ADMIN:
        assert "Only lifeboat admins" in shown and "Admin" not in shown
    assert hostile.services.registry.get_default() == default  # one version: nothing to change to
    assert_inert(shown.replace(f"<@{ADMIN}>", ""))


# -- events: app_home_opened with anything in it ---------------------------------------------------
home_events = st.fixed_dictionaries(
    {"type": st.just("app_home_opened")},
    optional={
        "user": st.sampled_from(["U_ALICE", ADMIN, "W0ANY", "U_ALICE\n", "<@U_BOB>"])
        | st.text(max_size=12)
        | json_values,
        "tab": st.sampled_from(["home", "messages"]) | st.text(max_size=8) | json_values,
        "channel": st.text(max_size=12) | json_values,
        "view": json_values,
    },
)


@settings(HYPOTHESIS, max_examples=20)
@given(event=home_events)
def test_any_home_event_is_acknowledged_and_publishes_only_a_real_users_home(
    hostile: Hostile, event: dict[str, Any]
) -> None:
    user = event.get("user")
    published = len([c for c in hostile.fake.calls("views.publish") if c.args.get("user_id") == user])
    resp = hostile.sim.event(event)
    assert_safe_response(resp)
    assert resp.status in (200, 400), resp.text[:200]
    if resp.status == 200 and event.get("tab") == "home" and user in ("U_ALICE", ADMIN, "W0ANY"):
        call = hostile.fake.wait_for(
            "views.publish", lambda c: c.args.get("user_id") == user, count=published + 1
        )[-1]
        assert call.ok and "Model card" in all_text(call)
        assert_inert(all_text(call).replace(f"<@{ADMIN}>", ""))
    # Nobody else's Home is ever published: not a malformed id, not a mention.
    assert all(
        re.fullmatch(r"[UW][A-Z0-9_]+", str(c.args.get("user_id")))
        for c in hostile.fake.calls("views.publish")
    )


# -- raw bodies: anything at all, unsigned and signed ----------------------------------------------
raw_bodies = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(lambda v: urllib.parse.urlencode({"payload": json.dumps(v)}).encode(), json_values),
    st.builds(
        lambda d: urllib.parse.urlencode(d).encode(),
        st.dictionaries(
            st.sampled_from(["command", "text", "user_id", "channel_id", "payload", "ssl_check"]),
            st.text(max_size=20),
        ),
    ),
    st.builds(
        lambda v: urllib.parse.urlencode(
            {
                "payload": json.dumps(
                    {
                        "type": "view_submission",
                        "user": {"id": "U1"},
                        "view": {
                            "type": "modal",
                            "callback_id": "x",
                            "private_metadata": json.dumps({"channel": "C0ANY"}),
                        },
                        **v,
                    }
                )
            }
        ).encode(),
        st.dictionaries(
            st.sampled_from(["team", "user", "view", "actions", "trigger_id", "response_url"]), json_values
        ),
    ),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "",
        "multipart/form-data; boundary=x",
    ]
)
forgeries = st.sampled_from(
    ["none", "bad-secret", "stale", "future", "timestamp-abc", "timestamp-float", "no-signature"]
)


def forged_headers(kind: str, body: bytes) -> dict[str, str]:
    now = int(time.time())
    return {
        "none": {},
        "bad-secret": sign("not-the-secret", body),
        "stale": sign(SECRET, body, timestamp=now - 301),
        "future": sign(SECRET, body, timestamp=now + 301),
        "timestamp-abc": {
            "X-Slack-Request-Timestamp": "abc",
            "X-Slack-Signature": sign(SECRET, body)["X-Slack-Signature"],
        },
        "timestamp-float": {"X-Slack-Request-Timestamp": f"{now}.0", "X-Slack-Signature": "v0=" + "0" * 64},
        "no-signature": {"X-Slack-Request-Timestamp": str(now)},
    }[kind]


@pytest.fixture
def quiet_fake(hostile: Hostile) -> Iterator[FakeSlackWebAPI]:
    time.sleep(0.3)  # let answers to earlier tests' requests land first
    hostile.fake.clear()
    yield hostile.fake
    time.sleep(0.3)  # anything an unverified request set off would have been sent by now
    assert hostile.fake.calls() == [], "an unverified request caused an outbound call"


@HYPOTHESIS
@given(body=raw_bodies, content_type=content_types, forgery=forgeries)
def test_an_unverified_body_is_refused_and_causes_no_call(
    hostile: Hostile, quiet_fake: FakeSlackWebAPI, body: bytes, content_type: str, forgery: str
) -> None:
    resp = hostile.sim.post(body, {"Content-Type": content_type, **forged_headers(forgery, body)})
    assert_safe_response(resp)
    assert resp.status == 401
    assert resp.json() == {"error": "invalid request"}


@HYPOTHESIS
@given(body=raw_bodies, content_type=content_types)
def test_a_signed_body_of_any_shape_gets_no_server_error(
    hostile: Hostile, body: bytes, content_type: str
) -> None:
    resp = hostile.sim.post(body, {"Content-Type": content_type, **sign(SECRET, body)})
    assert_safe_response(resp)
    assert resp.status in (200, 400, 404), resp.text[:200]
