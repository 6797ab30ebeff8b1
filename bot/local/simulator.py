"""Send an app what Slack would send to its Request URL: signed, form-encoded, Slack-shaped.

Together with ``FakeSlackWebAPI`` this closes the loop without Slack: the simulator plays the Slack
client (a user typing ``/lifeboat`` or clicking a button), the app answers over HTTP, and its Web API
calls land on the fake. Only the standard library is used, so benchmarks can run it anywhere.
"""

from __future__ import annotations

import http.client
import itertools
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from bot.local.signing import sign
from bot.local.webapi import FakeSlackWebAPI

JsonDict = dict[str, Any]

FORM = "application/x-www-form-urlencoded"

#: Marks "make a fresh response URL on the fake" (``None`` means "send none").
FRESH = "__fresh__"

_SELECT_TYPES = frozenset({"static_select", "external_select", "radio_buttons"})


@dataclass(frozen=True)
class Response:
    """What the app answered: ``status``, raw ``body``, lower-cased ``headers``, ``elapsed`` seconds, and
    ``sent`` (the payload we sent: handy for its ``response_url``/``trigger_id``)."""

    status: int
    body: bytes
    headers: dict[str, str]
    elapsed: float
    sent: JsonDict = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body, which is what a bare ``ack()`` returns)."""
        return json.loads(self.body) if self.body.strip() else None

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")


class SlackClientSimulator:
    """Plays Slack's side of HTTP mode against an app's Request URL (e.g. ``http://127.0.0.1:8123/slack/events``).

    ``fake`` supplies response URLs, trigger ids, user names and receives view-submission outcomes, so
    the app's follow-up calls behave as on Slack. Thread-safe: one simulator can drive many threads.
    """

    def __init__(
        self,
        request_url: str,
        signing_secret: str,
        fake: FakeSlackWebAPI | None = None,
        *,
        api_app_id: str | None = None,
        verification_token: str = "legacy-verification-token",
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(request_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"request_url must be http://host:port/path, got {request_url!r}")
        self.request_url = request_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.team_id = fake.team_id if fake else "T_LIFEBOAT"
        self.team_domain = fake.team_domain if fake else "lifeboat"
        self.api_app_id = api_app_id or (fake.app_id if fake else "A_LIFEBOAT")
        self.verification_token = verification_token
        self.timeout = timeout
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    # ------------------------------------------------------------------ Slack payloads

    def slash_command(
        self,
        command: str,
        text: str = "",
        user_id: str = "U_ALICE",
        channel_id: str = "C_GENERAL",
        *,
        response_url: str | None = FRESH,
        trigger_id: str | None = None,
        **extra: str,
    ) -> Response:
        """A slash command, form-encoded exactly as Slack posts it."""
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(response_url, channel_id=channel_id, user_id=user_id),
            "trigger_id": trigger_id or self._trigger_id(),
            **extra,
        }
        return self.post_signed(urlencode(form).encode("utf-8"), sent=form)

    def block_action(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user_id: str = "U_ALICE",
        channel_id: str | None = "C_GENERAL",
        message: Mapping[str, Any] | None = None,
        view: Mapping[str, Any] | None = None,
        response_url: str | None = FRESH,
        block_id: str = "actions",
        action_type: str = "button",
        state_values: Mapping[str, Any] | None = None,
    ) -> Response:
        """A click in a message (``message``; ``None`` = an ephemeral one) or in a modal (``view``).

        Select-type actions carry ``selected_option`` instead of ``value``. Actions in a modal have no
        channel and no response URL, as on Slack.
        """
        ts = _action_ts()
        action: JsonDict = {
            "action_id": action_id,
            "block_id": block_id,
            "type": action_type,
            "action_ts": ts,
        }
        if action_type in _SELECT_TYPES:
            action["selected_option"] = {"text": {"type": "plain_text", "text": value or ""}, "value": value}
        else:
            action["value"] = value
            action["text"] = {"type": "plain_text", "text": value or "", "emoji": True}
        payload: JsonDict = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = _with_state(view, state_values)
        else:
            message_ts = message.get("ts") if message else _action_ts()
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": message is None,
            }
            if channel_id is not None:
                payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            if message is not None:
                payload["message"] = dict(message)
            payload["state"] = {"values": dict(state_values or {})}
            url = self._response_url(
                response_url,
                channel_id=channel_id,
                user_id=user_id,
                message_ts=message.get("ts") if message else None,
            )
            if url is not None:
                payload["response_url"] = url
        return self.post_payload(payload)

    def view_submission(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        user_id: str = "U_ALICE",
        private_metadata: str | None = None,
        response_urls: list[JsonDict] | None = None,
        apply: bool = True,
    ) -> Response:
        """Submit a modal. ``view`` is the opened view (e.g. ``fake.views[id]`` or a views.open response),
        ``values`` its ``state.values`` (``{block_id: {action_id: {"type": ..., "value": ...}}}``).
        ``private_metadata`` overrides the view's. With ``apply`` the fake closes/updates the modal as
        Slack would after seeing the app's answer."""
        sent_view = _with_state(view, values)
        if private_metadata is not None:
            sent_view["private_metadata"] = private_metadata
        payload: JsonDict = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(),
            "view": sent_view,
            "response_urls": list(response_urls or []),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        response = self.post_payload(payload)
        if apply and self.fake is not None and response.status == 200 and sent_view.get("id"):
            try:
                answer = response.json()
            except ValueError:
                answer = None
            self.fake.apply_view_response(sent_view["id"], answer if isinstance(answer, dict) else None)
        return response

    def view_closed(
        self, view: Mapping[str, Any], *, user_id: str = "U_ALICE", is_cleared: bool = False
    ) -> Response:
        """The user dismissed a modal (sent only for views opened with ``notify_on_close``)."""
        payload: JsonDict = {
            "type": "view_closed",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": _with_state(view, None),
            "is_cleared": is_cleared,
            "enterprise": None,
            "is_enterprise_install": False,
        }
        response = self.post_payload(payload)
        if self.fake is not None and view.get("id"):
            self.fake.apply_view_response(str(view["id"]), None)
        return response

    def event(self, event: Mapping[str, Any]) -> Response:
        """An Events API ``event_callback`` (JSON body), e.g. ``{"type": "app_mention", ...}``."""
        body: JsonDict = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": _action_ts(), **event},
            "type": "event_callback",
            # Unique across simulators and restarts, as Slack's are: the replay ledger outlives a run.
            "event_id": f"Ev{self._next_id():06d}{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": self.team_id,
                    "user_id": self.fake.bot_user_id if self.fake else "U_BOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
        return self.post_signed(json.dumps(body).encode("utf-8"), content_type="application/json", sent=body)

    # ------------------------------------------------------------------ transport

    def post_payload(self, payload: Mapping[str, Any]) -> Response:
        """An interactivity request: form-encoded ``payload=<json>``, signed."""
        body = urlencode({"payload": json.dumps(payload)}).encode("utf-8")
        return self.post_signed(body, sent=dict(payload))

    def post_signed(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        timestamp: int | None = None,
        sent: JsonDict | None = None,
    ) -> Response:
        """POST ``body`` signed with the app's secret (``timestamp`` to forge an old request)."""
        headers = {"Content-Type": content_type, **sign(self.signing_secret, body, timestamp)}
        return self.post(body, headers, sent=sent)

    def post(self, body: bytes, headers: Mapping[str, str], *, sent: JsonDict | None = None) -> Response:
        """Raw POST to the Request URL with exactly these headers (for unsigned/forged/stale tests)."""
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        start = time.perf_counter()
        try:
            conn.request("POST", self._path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = resp.read()
            elapsed = time.perf_counter() - start
            return Response(
                status=resp.status,
                body=data,
                headers={k.lower(): v for k, v in resp.getheaders()},
                elapsed=elapsed,
                sent=dict(sent or {}),
            )
        finally:
            conn.close()

    # ------------------------------------------------------------------ helpers

    def _next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    def _trigger_id(self) -> str:
        if self.fake is not None:
            return self.fake.issue_trigger_id()
        return f"{self._next_id()}.{int(time.time())}.{time.perf_counter_ns():x}"

    def _response_url(
        self, requested: str | None, *, channel_id: str | None, user_id: str, message_ts: str | None = None
    ) -> str | None:
        if requested != FRESH:
            return requested
        if self.fake is None:
            return f"http://127.0.0.1:9/response/{self._next_id()}"  # nothing listens on the discard port
        return self.fake.make_response_url(channel_id=channel_id, user_id=user_id, message_ts=message_ts)

    def _user_name(self, user_id: str) -> str:
        info = self.fake.users.get(user_id) if self.fake else None
        return str((info or {}).get("name") or user_id.lower())

    def _channel_name(self, channel_id: str | None) -> str:
        if channel_id is None:
            return ""
        if channel_id.startswith("D"):
            return "directmessage"
        name = self.fake.channels.get(channel_id) if self.fake else None
        return name or channel_id.lower()

    def _user(self, user_id: str) -> JsonDict:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}


def _with_state(view: Mapping[str, Any], values: Mapping[str, Any] | None) -> JsonDict:
    """A copy of ``view`` shaped like Slack sends it back, with ``state.values`` filled in."""
    sent = json.loads(json.dumps(dict(view)))  # deep copy, and proves it is JSON-serialisable
    sent.setdefault("type", "modal")
    sent.setdefault("private_metadata", "")
    sent.setdefault("callback_id", "")
    sent.setdefault("hash", "")
    sent["state"] = {"values": json.loads(json.dumps(dict(values or {})))}
    return sent


def _action_ts() -> str:
    return f"{time.time():.6f}"
