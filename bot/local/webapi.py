"""A local, in-process stand-in for Slack's Web API, spoken over real HTTP on 127.0.0.1.

Why a server and not a mock: the bot's ``slack_sdk.WebClient`` (and Bolt's per-request copies of it,
and ``respond()``'s ``WebhookClient``) then run exactly the code they run against slack.com: URL
building, JSON vs form bodies, Bearer auth, ``ok: false`` -> ``SlackApiError``, 429 + ``Retry-After``
retry handlers. Point the client at ``FakeSlackWebAPI.base_url`` and everything it does is recorded.

State is deliberately small but real enough to catch the bugs that matter: messages get ``ts`` values
and can be updated/deleted, views get ids and ``hash`` values (stale hash -> ``hash_conflict``),
trigger ids are single-use and expire, response URLs allow a few uses, and failures (channel errors,
rate limits, arbitrary errors) can be injected per channel or per method.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import random
import secrets
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Request headers: http.server's Message, or a plain mapping in tests.
Headers = Mapping[str, str] | Message

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]

#: Form-encoded Web API calls carry these arguments as JSON strings; decode them so ``Call.args`` has
#: the same shape whichever encoding the client used.
_JSON_ARGS = frozenset({"blocks", "attachments", "view", "metadata", "files"})

#: Scopes reported in ``x-oauth-scopes`` (Bolt reads them from the ``auth.test`` response headers).
DEFAULT_SCOPES = "commands,chat:write,users:read,im:write,files:write,app_mentions:read,im:history"

DEFAULT_USERS: dict[str, JsonDict] = {
    "U_ALICE": {"name": "alice", "real_name": "Alice Liddell"},
    "U_BOB": {"name": "bob", "real_name": "Bob Ballard"},
    "U_ADMIN": {"name": "admin", "real_name": "Ada Admin", "is_admin": True},
    "U_OWNER": {
        "name": "owner",
        "real_name": "Olive Owner",
        "is_admin": True,
        "is_owner": True,
        "is_primary_owner": True,
    },
}

DEFAULT_CHANNELS: dict[str, str] = {"C_GENERAL": "general", "C_RANDOM": "random"}

# Limits Slack enforces on views (checked here so the bot fails in tests, not in production).
_MAX_VIEW_TITLE = 24
_MAX_VIEW_BUTTON = 24
_MAX_VIEW_BLOCKS = 100
_MAX_PRIVATE_METADATA = 3000
_MAX_CALLBACK_ID = 255


@dataclass(frozen=True)
class Call:
    """One request the fake received: a Web API method, or ``"response_url"`` for a response URL post.

    ``args`` are the decoded arguments (token removed; JSON-string fields such as ``blocks`` decoded),
    ``status``/``response`` what the fake answered.
    """

    method: str
    args: JsonDict
    time: float
    status: int = 200
    response: JsonDict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the call succeeded (HTTP 200 and ``ok: true``)."""
        return self.status == 200 and bool(self.response.get("ok"))

    def to_dict(self) -> JsonDict:
        """JSON-friendly form, e.g. for pushing to a browser."""
        return asdict(self)


class SlackError(Exception):
    """Raised inside a method implementation to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


#: Returned instead of an HTTP status: the call was done, and the connection is to be dropped unanswered.
DROP = -1


@dataclass
class _Chaos:
    rate: float
    rng: random.Random
    kinds: tuple[str, ...]
    retry_after: int
    methods: frozenset[str] | None


@dataclass
class _Fault:
    status: int
    error: str
    headers: dict[str, str]


class _InjectedFault(SlackError):
    """A fault queued by a test: Slack's error answered with the fault's HTTP status."""

    def __init__(self, fault: _Fault) -> None:
        super().__init__(fault.error)
        self.status = fault.status


@dataclass
class _ResponseURL:
    channel_id: str | None
    user_id: str | None
    message_ts: str | None
    uses: int = 0


def _truthy(value: Any) -> bool:
    """Slack form values arrive as strings: the WebClient turns ``True`` into ``"1"``."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Default backlog is 5: 20 clients connecting at once would overflow it and stall on SYN retries.
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeSlackWebAPI) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS lookup that can hang offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "FakeSlack/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid Nagle/delayed-ACK stalls
    timeout = 30  # idle keep-alive connections give their thread back eventually
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default one-line-per-request stderr logging."""

    def do_GET(self) -> None:
        self._route(b"")

    def do_POST(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(411, b"length required", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self._route(body)

    def _route(self, body: bytes) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        try:
            if parts.path.startswith("/api/"):
                status, payload, headers = fake._handle_api(
                    parts.path[len("/api/") :], parts.query, body, self.headers
                )
                if status == DROP:  # processed, then the connection dies before the answer
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode("utf-8")
                self._send(status, data, "application/json; charset=utf-8", headers)
            elif parts.path.startswith("/upload/") and self.command == "POST":
                status, text = fake._handle_upload(parts.path[len("/upload/") :], body)
                self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8")
            elif parts.path.startswith("/files/") and self.command == "GET":
                image = fake.file_bytes(parts.path[len("/files/") :].split("/")[0])
                if image is None:
                    self._send(404, b"file_not_found", "text/plain")
                else:
                    self._send(200, image, "image/png", {"Cache-Control": "max-age=3600"})
            elif parts.path.startswith("/response/"):
                status, text, headers = fake._handle_response_url(
                    parts.path[len("/response/") :], body, self.headers
                )
                if status == DROP:
                    self.close_connection = True
                    return
                self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers)
            else:
                self._send(404, b'{"ok": false, "error": "not_found"}', "application/json")
        except Exception as exc:  # a bug in the fake must not look like a hung Slack
            log.exception("FakeSlackWebAPI failed on %s", self.path)
            data = json.dumps({"ok": False, "error": "fake_internal_error", "detail": repr(exc)}).encode()
            self._send(500, data, "application/json")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.server.fake.close_connections:  # a new connection for every request (see outage())
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class FakeSlackWebAPI:
    """Slack's Web API (the methods lifeboat uses) plus response URLs, served on 127.0.0.1.

    Use as a context manager or call ``start()``/``stop()``. Give ``base_url`` to
    ``WebClient(base_url=...)``; use ``calls()``/``wait_for()`` to see what the app did.
    """

    def __init__(
        self,
        *,
        token: str | None = "xoxb-test",
        app_token: str | None = None,
        scopes: str = DEFAULT_SCOPES,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Mapping[str, str] | None = None,
        fail_channels: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = "T_LIFEBOAT",
        team_domain: str = "lifeboat",
        bot_user_id: str = "U_BOT",
        bot_id: str = "B_BOT",
        app_id: str = "A_LIFEBOAT",
        trigger_ttl: float | None = 3.0,
        response_url_uses: int = 5,
        latency: float = 0.0,
        close_connections: bool = False,
    ) -> None:
        """``token``: the only accepted token (``None`` accepts any non-empty one). ``app_token``: the
        app-level token ``apps.connections.open`` accepts (Socket Mode; ``None``: that call fails).
        ``scopes``: what ``x-oauth-scopes`` says the bot token has. ``fail_channels``:
        channel id -> error for chat.* and conversations.info (e.g. ``not_in_channel``). ``trigger_ttl``:
        seconds a trigger id issued by ``issue_trigger_id()`` stays valid (Slack: ~3 s; ``None`` = no
        expiry). ``latency``: seconds added to every Web API answer (benchmarks). ``close_connections``:
        answer every request with ``Connection: close``, so clients open a new connection each time
        (an ``outage()`` then refuses them, as a Slack that is down would)."""
        self.token = token
        self.app_token = app_token
        self.scopes = scopes
        self.users: dict[str, JsonDict] = {
            uid: dict(info) for uid, info in (DEFAULT_USERS if users is None else users).items()
        }
        self.channels: dict[str, str] = dict(DEFAULT_CHANNELS if channels is None else channels)
        self.fail_channels: dict[str, str] = dict(fail_channels or {})
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.trigger_ttl = trigger_ttl
        self.response_url_uses = response_url_uses
        self.latency = latency
        self.close_connections = close_connections
        self._address = (host, port)
        self._chaos: _Chaos | None = None

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._subscribers: list[Callable[[Call], None]] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._messages: dict[str, list[JsonDict]] = {}
        self._ephemerals: list[JsonDict] = []
        self._views: dict[str, JsonDict] = {}
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._response_urls: dict[str, _ResponseURL] = {}
        self._files: dict[str, JsonDict] = {}  # file id -> its record; "data" once the bytes came
        self._ids = itertools.count(1)
        self._last_ts_us = 0

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlackWebAPI:
        """Bind and serve in a daemon thread; returns self so ``fake = FakeSlackWebAPI().start()`` works."""
        if self._server is not None:
            return self
        self._server = _Server(self._address, self)
        self._address = (self._address[0], self._server.server_port)  # an outage comes back on it
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-slack-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @contextlib.contextmanager
    def outage(self) -> Any:
        """Slack unreachable for the duration of the block: the port refuses new connections (the
        listening socket is closed, and opened again on the same port afterwards). Connections
        already open are not cut; use ``close_connections`` so that clients need new ones."""
        server, thread = self._server, self._thread
        if server is None:
            raise RuntimeError("FakeSlackWebAPI is not started")
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        try:
            yield
        finally:
            self._server = self._thread = None
            self.start()

    def __enter__(self) -> FakeSlackWebAPI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (only meaningful after ``start()``)."""
        if self._server is None:
            raise RuntimeError("FakeSlackWebAPI is not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Root URL, ``http://127.0.0.1:{port}/``."""
        return f"http://{self._address[0]}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What ``WebClient(base_url=...)`` needs: ends with ``/api/`` (the client appends the method)."""
        return f"{self.url}api/"

    # ------------------------------------------------------------------ test helpers

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls, oldest first, optionally only one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str | None,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        count: int = 1,
    ) -> list[Call]:
        """Block until at least ``count`` recorded calls match; return all that match.

        Bolt acks first and runs the rest of a listener afterwards, so a test must wait for the calls a
        listener makes rather than expect them when the HTTP response arrives. A predicate raising
        KeyError/TypeError/IndexError counts as "no match".
        """

        def matches(call: Call) -> bool:
            if method is not None and call.method != method:
                return False
            if predicate is None:
                return True
            try:
                return bool(predicate(call))
            except (KeyError, TypeError, IndexError):
                return False

        with self._cond:
            done = self._cond.wait_for(lambda: sum(map(matches, self._calls)) >= count, timeout)
            found = [c for c in self._calls if matches(c)]
            if done:
                return found
            seen = [
                f"{c.method}({_brief(c.args)}) -> {c.status} {c.response.get('error', '')}".rstrip()
                for c in self._calls[-15:]
            ]
        what = f"{count} {method or 'any'} call(s)" + (" matching the predicate" if predicate else "")
        raise AssertionError(
            f"FakeSlackWebAPI: waited {timeout:.1f}s for {what}, got {len(found)}. "
            f"Last {len(seen)} of {len(self.calls())} recorded calls:\n  " + "\n  ".join(seen or ["(none)"])
        )

    def clear(self) -> None:
        """Forget recorded calls (state such as messages and views is kept; see ``reset()``)."""
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Forget calls and all state: messages, views, triggers, response URLs, injected faults."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._messages.clear()
            self._ephemerals.clear()
            self._views.clear()
            self._triggers.clear()
            self._used_triggers.clear()
            self._response_urls.clear()
            self._files.clear()

    def post_as_user(self, channel: str, user: str, text: str) -> str:
        """A person's own message in `channel` (a user id: their DM with the bot), as Slack would store
        it before sending the bot its event; returns its ts."""
        with self._lock:
            channel = self._dm_id(channel) if _is_user_id(channel) else channel
            message: JsonDict = {"type": "message", "ts": self._next_ts(), "user": user, "text": text}
            self._messages.setdefault(channel, []).append(message)
            return str(message["ts"])

    def messages(self, channel: str) -> list[JsonDict]:
        """Current (non-ephemeral) messages in a channel, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._messages.get(channel, []))

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[JsonDict]:
        """Ephemeral messages shown so far (via chat.postEphemeral or a response URL)."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._ephemerals
                if (channel is None or m["channel"] == channel) and (user is None or m["user"] == user)
            ]

    def file_bytes(self, file_id: str) -> bytes | None:
        """The bytes of a completed upload (what Slack would serve to someone who may see it)."""
        with self._lock:
            record = self._files.get(file_id)
            return record["data"] if record and record.get("completed") else None

    @property
    def files(self) -> dict[str, JsonDict]:
        """Uploads by file id, without their bytes: name, title, alt_txt, length, completed, channels."""
        with self._lock:
            return {fid: {k: v for k, v in r.items() if k != "data"} for fid, r in self._files.items()}

    @property
    def views(self) -> dict[str, JsonDict]:
        """Currently open views by view id (copies)."""
        with self._lock:
            return copy.deepcopy(self._views)

    def subscribe(self, callback: Callable[[Call], None]) -> Callable[[], None]:
        """Call ``callback(call)`` for every recorded call (from the server thread); returns an
        unsubscribe function. Meant for pushing live traffic to a browser playground."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        **extra: Any,
    ) -> None:
        """Add or replace a user in the ``users.info`` table."""
        with self._lock:
            self.users[user_id] = {
                "name": name or user_id.lower(),
                "is_admin": is_admin,
                "is_owner": is_owner,
                **extra,
            }

    def chaos(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: tuple[str, ...] = ("500", "502", "503", "429", "drop"),
        retry_after: int = 1,
        methods: frozenset[str] | None = None,
    ) -> None:
        """Fail a share ``rate`` of calls (Web API methods and response URL posts; ``methods`` to
        choose, ``"response_url"`` included), drawn from a seeded generator: ``"5xx"`` statuses and
        ``"429"`` (with ``Retry-After``) are answered without doing anything, as Slack does;
        ``"drop"`` does the call and then closes the connection without answering (the client cannot
        know it was done). ``rate=0`` stops it."""
        with self._lock:
            self._chaos = _Chaos(rate, random.Random(seed), kinds, retry_after, methods) if rate > 0 else None

    def _draw_chaos(self, method: str) -> str | None:
        """Lock held: the fault for this call, if any."""
        chaos = self._chaos
        if chaos is None or method in ("auth.test", "api.test"):
            return None
        if chaos.methods is not None and method not in chaos.methods:
            return None
        if chaos.rng.random() >= chaos.rate:
            return None
        return chaos.rng.choice(chaos.kinds)

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        self._inject(method, _Fault(429, "ratelimited", {"Retry-After": str(int(retry_after))}), times)

    def fail_next(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``
        (``"response_url"``: the next posts to any response URL, answered ``status`` and ``error``)."""
        self._inject(method, _Fault(status, error, {}), times)

    def _inject(self, method: str, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend([fault] * times)

    def issue_trigger_id(self) -> str:
        """A fresh, single-use trigger id that expires after ``trigger_ttl`` seconds (as Slack's do)."""
        trigger = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger] = time.monotonic()
        return trigger

    def make_response_url(
        self, *, channel_id: str | None = None, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """A unique ``http://127.0.0.1:{port}/response/{id}``. With ``channel_id`` (and ``message_ts``
        for replace/delete_original) posts there also change the fake's message state."""
        rid = secrets.token_hex(12)
        with self._lock:
            self._response_urls[rid] = _ResponseURL(channel_id, user_id, message_ts)
        return f"{self.url}response/{rid}"

    def apply_view_response(self, view_id: str, response: Mapping[str, Any] | None) -> None:
        """Do what Slack does with an app's answer to a view_submission: close the modal (empty ack or
        ``clear``), ``update``/``push`` it, or keep it open (``errors``)."""
        action = (response or {}).get("response_action")
        with self._lock:
            current = self._views.get(view_id)
            if current is None or action == "errors":
                return
            if action == "update" and response is not None:
                self._views[view_id] = self._store_view(dict(response["view"]), view_id=view_id, old=current)
            elif action == "push" and response is not None:
                new = self._store_view(dict(response["view"]), root_view_id=current["root_view_id"])
                new["previous_view_id"] = view_id
            elif action == "clear":
                root = current["root_view_id"]
                for vid in [v for v, d in self._views.items() if d.get("root_view_id") == root]:
                    del self._views[vid]
            else:
                del self._views[view_id]

    # ------------------------------------------------------------------ request plumbing

    def _handle_api(
        self, method: str, query: str, body: bytes, headers: Headers
    ) -> tuple[int, JsonDict, dict[str, str]]:
        now = time.time()
        if self.latency > 0:
            time.sleep(self.latency)
        extra_headers = {"x-oauth-scopes": self.scopes}
        try:
            args = _parse_args(query, body, headers.get("Content-Type", ""))
            token, parse_error = _token(args, headers), None
        except ValueError as exc:
            args, token, parse_error = {}, None, str(exc)
        with self._lock:
            status = 200
            kind: str | None = None
            try:
                if parse_error is not None:
                    raise SlackError(parse_error)
                self._authenticate(method, token)
                kind = self._draw_chaos(method)
                self._inject_chaos(kind, extra_headers)
                self._inject_fault(method, extra_headers)
                impl = self._methods.get(method)
                if impl is None:
                    raise SlackError("unknown_method")
                response = {"ok": True, **impl(args)}
            except SlackError as err:
                status = err.status if isinstance(err, _InjectedFault) else 200
                response = {"ok": False, "error": err.error, **err.extra}
            if kind == "drop":
                self._record(Call(method, args, now, status, {**response, "dropped": True}))
                return DROP, response, extra_headers
            self._record(Call(method, args, now, status, response))
        return status, response, extra_headers

    def _authenticate(self, method: str, token: str | None) -> None:
        if method == "api.test":
            return
        if not token:
            raise SlackError("not_authed")
        if method == "apps.connections.open":  # the app-level token (xapp-), not the bot's
            if self.app_token is None or token != self.app_token:
                raise SlackError("invalid_auth")
            return
        if self.token is not None and token != self.token:
            raise SlackError("invalid_auth")

    def _inject_chaos(self, kind: str | None, headers: dict[str, str]) -> None:
        """A drawn 5xx or 429 (with Retry-After) is answered instead of the call; "drop" is done
        and its connection dropped by the handler."""
        if kind is None or kind == "drop":
            return
        status = int(kind)
        if status == 429:
            headers["Retry-After"] = str(self._chaos.retry_after if self._chaos else 1)
        raise _InjectedFault(_Fault(status, "ratelimited" if status == 429 else "chaos_server_error", {}))

    def _inject_fault(self, method: str, headers: dict[str, str]) -> None:
        """A queued fault for `method` is raised as its error (with its status and headers)."""
        queue = self._faults.get(method)
        if queue:
            fault = queue.popleft()
            headers.update(fault.headers)
            raise _InjectedFault(fault)

    def _handle_upload(self, file_id: str, body: bytes) -> tuple[int, str]:
        """The POST of a file's bytes to the URL files.getUploadURLExternal gave (recorded as "upload")."""
        now = time.time()
        with self._lock:
            record = self._files.get(file_id)
            queue = self._faults.get("upload")
            kind = self._draw_chaos("upload")
            if kind is not None and kind != "drop":
                status, text = int(kind), "server_error"
            elif queue:
                fault = queue.popleft()
                status, text = fault.status, fault.error
            elif record is None or record.get("completed"):
                status, text = 404, "file_not_found"
            elif len(body) != record["length"]:
                status, text = 400, f"expected {record['length']} bytes, got {len(body)}"
            else:
                record["data"] = bytes(body)
                status, text = 200, f"OK - {len(body)}"
            self._record(
                Call("upload", {"file_id": file_id, "bytes": len(body)}, now, status, {"ok": status == 200})
            )
        return status, text

    def _handle_response_url(
        self, rid: str, body: bytes, headers: Headers
    ) -> tuple[int, str, dict[str, str]]:
        now = time.time()
        url = f"{self.url}response/{rid}"
        try:
            args = _parse_args("", body, headers.get("Content-Type", ""))
            if "payload" in args and isinstance(args["payload"], str):
                args = json.loads(args["payload"])
        except ValueError:
            args = {"raw": body.decode("utf-8", "replace")}
        with self._lock:
            target = self._response_urls.get(rid)
            kind = self._draw_chaos("response_url")
            answer_headers: dict[str, str] = {}
            queue = self._faults.get("response_url")
            if kind is not None and kind != "drop":  # Slack did nothing with it
                status, text = int(kind), "rate_limited" if kind == "429" else "server_error"
                if status == 429:
                    answer_headers["Retry-After"] = str(self._chaos.retry_after if self._chaos else 1)
            elif queue:  # fail_next("response_url", ...) / rate_limit("response_url", ...)
                fault = queue.popleft()
                status, text = fault.status, fault.error
                answer_headers.update(fault.headers)
            elif target is None:
                status, text = 404, "no_service"
            elif target.uses >= self.response_url_uses:
                status, text = 404, "used_url"
            elif self._file_problems(args.get("blocks")):
                status, text = 404, "invalid_blocks"  # as Slack answers a reply it cannot show
            else:
                target.uses += 1
                status, text = 200, "ok"
                self._apply_response_message(target, args)
            response = {"ok": status == 200, "text": text, **({"dropped": True} if kind == "drop" else {})}
            self._record(Call("response_url", {"url": url, **args}, now, status, response))
        return (DROP if kind == "drop" else status), text, answer_headers

    def _apply_response_message(self, target: _ResponseURL, args: JsonDict) -> None:
        channel = target.channel_id
        if channel is None:
            return
        original = self._find_message(channel, target.message_ts) if target.message_ts else None
        if _truthy(args.get("delete_original")):
            if original is not None:
                self._messages[channel].remove(original)
            return
        if _truthy(args.get("replace_original")) and original is not None:
            self._edit_message(original, args)
            return
        if args.get("response_type") == "in_channel":
            self._messages.setdefault(channel, []).append(self._new_message(args))
        else:
            self._ephemerals.append({**self._new_message(args), "channel": channel, "user": target.user_id})

    def _record(self, call: Call) -> None:
        # Caller holds the lock. Subscribers run under it too, so they see calls in order; keep them quick.
        self._calls.append(call)
        self._cond.notify_all()
        for callback in list(self._subscribers):
            try:
                callback(call)
            except Exception:
                log.exception("FakeSlackWebAPI subscriber failed")

    # ------------------------------------------------------------------ state helpers (lock held)

    def _next_ts(self) -> str:
        """Unique, increasing Slack-style ``ts`` ("1718000000.000123"), from integer microseconds."""
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _new_message(self, args: Mapping[str, Any]) -> JsonDict:
        message: JsonDict = {
            "type": "message",
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": args.get("text") or "",
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if args.get(key):
                message[key] = copy.deepcopy(args[key])
        return message

    def _edit_message(self, message: JsonDict, args: Mapping[str, Any]) -> None:
        if "text" in args:
            message["text"] = args["text"] or ""
        for key in ("blocks", "attachments"):
            if key in args:
                message[key] = copy.deepcopy(args[key])
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}

    def _find_message(self, channel: str, ts: str | None) -> JsonDict | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def _resolve_channel(self, channel: Any) -> str:
        """A user id posted to means "their DM", as on Slack; check injected channel failures."""
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        for candidate in (channel, self._dm_id(channel) if _is_user_id(channel) else channel):
            if candidate in self.fail_channels:
                raise SlackError(self.fail_channels[candidate])
        return self._dm_id(channel) if _is_user_id(channel) else channel

    @staticmethod
    def _dm_id(user_id: str) -> str:
        return f"D{user_id}"

    def _check_trigger(self, trigger_id: Any) -> None:
        if not trigger_id:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] missing trigger_id"]}
            )
        if trigger_id in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        issued = self._triggers.get(trigger_id)
        if (
            issued is not None
            and self.trigger_ttl is not None
            and time.monotonic() - issued > self.trigger_ttl
        ):
            raise SlackError("expired_trigger_id")
        self._used_triggers.add(trigger_id)

    def _store_view(
        self,
        view: JsonDict,
        *,
        view_id: str | None = None,
        old: JsonDict | None = None,
        root_view_id: str | None = None,
    ) -> JsonDict:
        vid = view_id or f"V{next(self._ids):010d}"
        stored: JsonDict = {
            "id": vid,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "blocks": copy.deepcopy(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": (old or {}).get("root_view_id") or root_view_id or vid,
            "previous_view_id": (old or {}).get("previous_view_id"),
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            if key in view:
                stored[key] = copy.deepcopy(view[key])
        self._views[vid] = stored
        return stored

    # ------------------------------------------------------------------ Web API methods (lock held)

    def _api_test(self, args: JsonDict) -> JsonDict:
        return {"args": args} if args else {}

    def _apps_connections_open(self, _args: JsonDict) -> JsonDict:
        """Socket Mode's WebSocket URL (nothing listens there: enough to check an app token)."""
        return {"url": "wss://wss-primary.slack.invalid/link/?ticket=lifeboat-fake"}

    def _auth_test(self, _args: JsonDict) -> JsonDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain.title(),
            "user": "lifeboat",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _files_get_upload_url(self, args: JsonDict) -> JsonDict:
        filename, length = args.get("filename"), str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._ids):010d}"
        self._files[file_id] = {
            "id": file_id,
            "name": str(filename),
            "title": str(filename),
            "alt_txt": args.get("alt_txt") or "",
            "length": int(length),
            "completed": False,
            "channels": [],
        }
        return {"upload_url": f"{self.url}upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: JsonDict) -> JsonDict:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        done = []
        for item in files:
            record = self._files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if record is None or record.get("data") is None:
                raise SlackError("file_not_found")
            channel = args.get("channel_id")
            if channel:
                self._resolve_channel(channel)
                record["channels"] = [channel]
            record.update(completed=True, title=str(item.get("title") or record["name"]))
            done.append(
                {
                    "id": record["id"],
                    "name": record["name"],
                    "title": record["title"],
                    "mimetype": "image/png" if record["name"].endswith(".png") else "",
                    "size": record["length"],
                    "url_private": f"{self.url}files/{record['id']}/{record['name']}",
                }
            )
        return {"files": done}

    def _file_problems(self, blocks: Any) -> list[str]:
        """Image blocks whose slack_file is not a completed upload: Slack refuses those blocks."""
        problems = []
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            slack_file = block.get("slack_file") if isinstance(block, dict) else None
            if slack_file is None:
                continue
            file_id = slack_file.get("id") if isinstance(slack_file, dict) else None
            record = self._files.get(file_id) if isinstance(file_id, str) else None
            if record is None or not record.get("completed"):
                problems.append(f"[ERROR] invalid slack file [json-pointer:/blocks/{index}/slack_file]")
        return problems

    def _check_files(self, blocks: Any) -> None:
        problems = self._file_problems(blocks)
        if problems:
            raise SlackError("invalid_blocks", errors=problems, response_metadata={"messages": problems})

    def _chat_post_message(self, args: JsonDict) -> JsonDict:
        channel = self._resolve_channel(args.get("channel"))
        self._check_files(args.get("blocks"))
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackError("no_text")
        thread_ts = args.get("thread_ts")
        if thread_ts and self._find_message(channel, thread_ts) is None:
            raise SlackError("thread_not_found")
        message = self._new_message(args)
        self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, args: JsonDict) -> JsonDict:
        channel = self._resolve_channel(args.get("channel"))
        self._check_files(args.get("blocks"))
        user = args.get("user")
        if not user:
            raise SlackError("user_not_found")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackError("no_text")
        message = {**self._new_message(args), "channel": channel, "user": user}
        self._ephemerals.append(message)
        return {"message_ts": message["ts"]}

    def _chat_update(self, args: JsonDict) -> JsonDict:
        channel = self._resolve_channel(args.get("channel"))
        self._check_files(args.get("blocks"))
        message = self._find_message(channel, args.get("ts"))
        if message is None:
            raise SlackError("message_not_found")
        self._edit_message(message, args)
        return {
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, args: JsonDict) -> JsonDict:
        channel = self._resolve_channel(args.get("channel"))
        message = self._find_message(channel, args.get("ts"))
        if message is None:
            raise SlackError("message_not_found")
        self._messages[channel].remove(message)
        return {"channel": channel, "ts": message["ts"]}

    def _views_open(self, args: JsonDict) -> JsonDict:
        view = _validate_view(args.get("view"))
        self._check_trigger(args.get("trigger_id"))
        return {"view": copy.deepcopy(self._store_view(view))}

    def _views_push(self, args: JsonDict) -> JsonDict:
        view = _validate_view(args.get("view"))
        self._check_trigger(args.get("trigger_id"))
        return {"view": copy.deepcopy(self._store_view(view))}

    def _views_update(self, args: JsonDict) -> JsonDict:
        view = _validate_view(args.get("view"))
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (v for v, d in self._views.items() if d["external_id"] == args["external_id"]), None
            )
        current = self._views.get(view_id) if view_id else None
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return {"view": copy.deepcopy(self._store_view(view, view_id=view_id, old=current))}

    def _views_publish(self, args: JsonDict) -> JsonDict:
        view = _validate_view(args.get("view"), home=True)
        self._check_files(view.get("blocks"))
        user_id = args.get("user_id")
        if not user_id:
            raise SlackError("invalid_arguments")
        home_id = f"VHOME{user_id}"
        current = self._views.get(home_id)
        if args.get("hash") and current is not None and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return {"view": copy.deepcopy(self._store_view(view, view_id=home_id, old=current))}

    def _users_info(self, args: JsonDict) -> JsonDict:
        user_id = args.get("user")
        info = self.users.get(user_id) if isinstance(user_id, str) else None
        if info is None:
            raise SlackError("user_not_found")
        name = info.get("name", str(user_id).lower())
        real_name = info.get("real_name", name)
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "tz": "Europe/London",
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_bot": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "profile": {"real_name": real_name, "display_name": info.get("display_name", name)},
        }
        user.update({k: v for k, v in info.items() if k not in {"display_name"}})
        return {"user": user}

    def _conversations_info(self, args: JsonDict) -> JsonDict:
        channel = args.get("channel")
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        if channel in self.fail_channels:
            raise SlackError(self.fail_channels[channel])
        if channel.startswith("D"):
            return {
                "channel": {
                    "id": channel,
                    "is_im": True,
                    "is_channel": False,
                    "user": channel[1:],
                    "is_open": True,
                }
            }
        name = self.channels.get(channel, channel.lower())
        return {
            "channel": {
                "id": channel,
                "name": name,
                "is_channel": True,
                "is_im": False,
                "is_private": channel.startswith("G"),
                "is_archived": False,
                "is_general": name == "general",
                "is_member": True,
            }
        }

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        if args.get("channel"):
            return {"channel": {"id": args["channel"]}}
        users = args.get("users")
        ids = (
            users
            if isinstance(users, list)
            else [u.strip() for u in str(users or "").split(",") if u.strip()]
        )
        if not ids:
            raise SlackError("users_list_not_supplied")
        if len(ids) == 1:
            return {"channel": {"id": self._dm_id(ids[0])}, "no_op": False, "already_open": False}
        return {"channel": {"id": "G" + "_".join(sorted(ids))}}


def _is_user_id(value: str) -> bool:
    return value[:1] in {"U", "W"}


def _token(args: JsonDict, headers: Headers) -> str | None:
    """The token a call carries: the Authorization header's, else a `token` argument (removed)."""
    token = args.pop("token", None)
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[len("bearer ") :].strip()
    return token


def _parse_args(query: str, body: bytes, content_type: str) -> JsonDict:
    """Merge query string and body (JSON or form) into one dict, decoding JSON-string arguments."""
    args: JsonDict = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        pass
    elif ctype == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ValueError("invalid_json") from exc
        if not isinstance(data, dict):
            raise ValueError("invalid_json")
        args.update(data)
    elif ctype in {"application/x-www-form-urlencoded", ""}:
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError as exc:
            raise ValueError("invalid_form_data") from exc
        for key, value in form.items():
            if key in _JSON_ARGS and value[:1] in {"[", "{"}:
                with contextlib.suppress(ValueError):
                    form[key] = json.loads(value)
        args.update(form)
    else:
        raise ValueError("invalid_form_data")
    return args


def _validate_view(view: Any, *, home: bool = False) -> JsonDict:
    """Check the limits Slack rejects views for, answering ``invalid_arguments`` like Slack does."""
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            view = None
    if not isinstance(view, dict):
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] missing or invalid view"]}
        )
    kind = view.get("type")
    problems: list[str] = []
    if kind not in ({"home"} if home else {"modal"}):
        problems.append(f"[ERROR] unsupported type {kind!r} [json-pointer:/view/type]")
    if kind == "modal":
        problems += _modal_problems(view)
    problems += _blocks_problems(view.get("blocks"))
    if len(str(view.get("private_metadata", ""))) > _MAX_PRIVATE_METADATA:
        problems.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id", ""))) > _MAX_CALLBACK_ID:
        problems.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": problems})
    return view


def _modal_problems(view: JsonDict) -> list[str]:
    problems = []
    if not isinstance(view.get("title"), dict):
        problems.append("[ERROR] missing required field: title [json-pointer:/view/title]")
    elif _text_len(view["title"]) > _MAX_VIEW_TITLE:
        problems.append("[ERROR] must be less than 25 characters [json-pointer:/view/title/text]")
    for key in ("submit", "close"):
        if _text_len(view.get(key)) > _MAX_VIEW_BUTTON:
            problems.append(f"[ERROR] must be less than 25 characters [json-pointer:/view/{key}/text]")
    return problems


def _blocks_problems(blocks: Any) -> list[str]:
    if not isinstance(blocks, list):
        return ["[ERROR] missing required field: blocks [json-pointer:/view/blocks]"]
    problems = []
    if len(blocks) > _MAX_VIEW_BLOCKS:
        problems.append("[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]")
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        problems.append("[ERROR] duplicate block_id [json-pointer:/view/blocks]")
    return problems


def _brief(args: Mapping[str, Any], limit: int = 80) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in args.items() if k not in {"blocks", "view"})
    return text if len(text) <= limit else text[: limit - 3] + "..."
