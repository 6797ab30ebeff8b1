"""What a request goes through before any code reads it as Slack data: size, signature, then shape.

The order is the point. Bolt (and slack_sdk's `SignatureVerifier`) parse the body, and raise on a
non-integer timestamp, before the signature is known to be good; whatever raises then reaches the
app's error handler with the *unverified* body. Here:

1. size: a `Content-Length` over the limit is refused (413) before a byte is read; a body without
   one (chunked) is read only until it passes the limit.
2. timestamp: `X-Slack-Request-Timestamp` must be ASCII digits within 5 minutes of now (401).
3. signature: `v0=` + HMAC-SHA256 of `v0:{ts}:{raw body}`, compared in constant time (401).
4. only then is the body decoded and parsed (by Bolt's own parser, so both agree on what it says),
   and it must have the shape Slack sends: objects where Slack sends objects, strings where it
   sends strings, bounded nesting (400). A verified request is marked in Bolt's context
   (`VERIFIED`), so the app's error handler can tell it from one that never was.

Bolt's own `RequestVerification` still runs afterwards, as defence in depth.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from slack_bolt.request import BoltRequest
from starlette.requests import Request
from starlette.responses import JSONResponse

MAX_BODY_BYTES = 1_000_000  # Slack's payloads are far smaller (a full modal's state is a few KB)
MAX_CLOCK_SKEW_SECONDS = 300  # Slack's own rule: older (or newer) requests may be replays
MAX_DEPTH = 32  # Slack's payloads nest ~10 deep (a modal's state); JSON 100k deep is an attack
TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"

#: Bolt context keys set here: only a request that passed the checks above carries VERIFIED.
VERIFIED = "lifeboat_verified"
REQUEST_ID = "lifeboat_request_id"
REQUEST_STARTED = "lifeboat_request_started"  # time.monotonic() when the request arrived

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() accepts "١٢٣"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_INTERACTIVE_WITH_USER = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
)


class Refusal(Exception):
    """A request refused before it reached Bolt: the HTTP status, a public word, a reason for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    @property
    def public(self) -> str:
        return {
            400: "malformed request",
            401: "invalid request",
            413: "request body too large",
        }.get(self.status, "refused")

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.public}, status_code=self.status)


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def is_verified(request: BoltRequest | None) -> bool:
    """True for a request this process may answer: verified over HTTP, or from Slack's socket."""
    if request is None:
        return False
    return request.mode == "socket_mode" or request.context.get(VERIFIED) is True


# -- 1. size ---------------------------------------------------------------------------------------
async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, never more than `limit` bytes of it held in memory."""
    lengths = request.headers.getlist("content-length")
    if len(lengths) > 1:
        raise Refusal(400, "several Content-Length headers")
    if lengths:
        if not re.fullmatch(r"[0-9]{1,18}", lengths[0].strip()):
            raise Refusal(400, "Content-Length is not a number")
        if int(lengths[0]) > limit:
            raise Refusal(413, f"Content-Length {int(lengths[0])} over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a chunked body has no Content-Length to check first
            raise Refusal(413, f"body passed the {limit}-byte limit while streaming")
        chunks.append(chunk)
    return b"".join(chunks)


# -- 2 and 3. timestamp and signature --------------------------------------------------------------
def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, timestamps: Sequence[str], signatures: Sequence[str], body: bytes, now: float
) -> None:
    """Raise `Refusal(401)` unless exactly one fresh timestamp and one matching signature came."""
    if not secret:
        raise Refusal(401, "no signing secret configured")
    if len(timestamps) != 1 or len(signatures) != 1:
        raise Refusal(401, "missing or repeated signing headers")
    timestamp, signature = timestamps[0].strip(), signatures[0].strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal(401, "timestamp is not an integer")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Refusal(
            401, "timestamp more than 5 minutes from now (if Slack's own requests get this, check this clock)"
        )
    if not _SIGNATURE.fullmatch(signature):
        raise Refusal(401, "signature is not v0=<hex>")
    # Both sides ASCII by now: compare_digest runs in constant time on them.
    if not hmac.compare_digest(expected_signature(secret, timestamp, body), signature):
        raise Refusal(
            401, "signature mismatch (if Slack's own requests get this, check SLACK_SIGNING_SECRET)"
        )


def verify_request(secret: str, headers: Any, body: bytes, now: float) -> None:
    """`verify_signature` on a Starlette `Headers` (repeated headers are seen, not merged)."""
    verify_signature(secret, headers.getlist(TIMESTAMP_HEADER), headers.getlist(SIGNATURE_HEADER), body, now)


# -- 4. parse and shape ----------------------------------------------------------------------------
def bolt_request(
    body: bytes, query: str, headers: Mapping[str, str], context: Mapping[str, Any]
) -> BoltRequest:
    """A verified body as Bolt's request, or `Refusal(400)` if it is not what Slack sends."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "body is not UTF-8") from None
    try:
        # Bolt parses (JSON, form, or payload=<json>) and reads ids from the result right away.
        request = BoltRequest(body=text, query=query, headers=dict(headers), context=dict(context))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        raise Refusal(400, f"body is not a Slack payload ({type(exc).__name__})") from None
    problem = shape_problem(request.body)
    if problem:
        raise Refusal(400, problem)
    return request


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 2048


def _id_or_object(value: Any, *, object_only: bool = False) -> bool:
    """Slack sends some ids as a string, or as an object with a string `id` (or none)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not object_only
    return isinstance(value, dict) and isinstance(value.get("id", ""), str | type(None))


def shape_problem(body: Any) -> str | None:
    """Why `body` is not shaped like anything Slack sends (None: it is). Checks what Bolt and the
    listeners read without looking: a listener may still refuse a value, politely."""
    if not isinstance(body, dict):
        return f"payload is a JSON {type(body).__name__}, not an object"
    if _too_deep(body):
        return f"payload nested more than {MAX_DEPTH} deep"
    if "command" in body:  # Bolt treats any body with a `command` as a slash command
        return _command_problem(body)
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "type is not text"
    for check in (
        _ids_problem,
        _urls_problem,
        _user_problem,
        _view_part_problem,
        _actions_problem,
        _event_problem,
    ):
        problem = check(body, kind)
        if problem:
            return problem
    return None


def _command_problem(body: dict[str, Any]) -> str | None:
    for key in ("command", "user_id", "channel_id", "trigger_id"):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"slash command without {key}"
    if not all(isinstance(value, str) for value in body.values()):
        return "slash command with a value that is not text"
    if not _is_url(body.get("response_url")):
        return "slash command without a response_url"
    return None


def _ids_problem(body: dict[str, Any], kind: str | None) -> str | None:
    interactive = kind in _INTERACTIVE_WITH_USER
    for key in ("team", "enterprise", "channel"):
        # Interactive payloads carry these as objects (listeners read channel["id"]); events as ids.
        if not _id_or_object(body.get(key), object_only=interactive):
            return f"{key} is neither an id nor an object with one"
    for key in ("team_id", "user_id", "channel_id", "enterprise_id", "trigger_id", "api_app_id", "token"):
        if not isinstance(body.get(key, ""), str | type(None)):
            return f"{key} is not text"
    for key in ("container", "message", "state", "event"):
        if not isinstance(body.get(key, {}), dict):
            return f"{key} is not an object"
    return None


def _urls_problem(body: dict[str, Any], _kind: str | None) -> str | None:
    if "response_url" in body and not _is_url(body["response_url"]):
        return "response_url is not a URL"
    urls = body.get("response_urls", [])
    if not isinstance(urls, list) or not all(
        isinstance(u, dict) and _is_url(u.get("response_url", "https://")) for u in urls
    ):
        return "response_urls is not a list of URLs"
    return None


def _user_problem(body: dict[str, Any], kind: str | None) -> str | None:
    user = body.get("user")
    if kind not in _INTERACTIVE_WITH_USER:
        return None if _id_or_object(user) else "user is neither an id nor an object with one"
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        return f"{kind} without a user id"
    if kind in ("block_actions", "view_submission", "shortcut") and not body.get("trigger_id"):
        return f"{kind} without a trigger_id"
    return None


def _view_part_problem(body: dict[str, Any], kind: str | None) -> str | None:
    if "view" not in body and kind not in ("view_submission", "view_closed"):
        return None
    return _view_problem(body.get("view"), submitted=kind in ("view_submission", "view_closed"))


def _actions_problem(body: dict[str, Any], kind: str | None) -> str | None:
    if kind != "block_actions":
        return None
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block_actions without actions"
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
            return "an action without an action_id"
        for key in ("block_id", "action_ts", "type"):
            if not isinstance(action.get(key, ""), str):
                return f"an action's {key} is not text"
    return None


def _event_problem(body: dict[str, Any], kind: str | None) -> str | None:
    if kind != "event_callback":
        return None
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "event_callback without an event type"
    for key in ("user", "channel", "item"):
        if not _id_or_object(event.get(key)):
            return f"event {key} is neither an id nor an object with one"
    authorizations = body.get("authorizations", [])
    if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
        return "authorizations is not a list of objects"
    return None


def _view_problem(view: Any, *, submitted: bool) -> str | None:
    if not isinstance(view, dict):
        return "view is not an object"
    # Bolt reads view["type"] and view["callback_id"] of every submission (workflow-step checks)
    # while it builds any listener's or error handler's arguments: both must be there.
    if submitted and not (isinstance(view.get("type"), str) and isinstance(view.get("callback_id"), str)):
        return "view without a type and callback_id"
    for key in ("id", "callback_id", "hash", "team_id", "app_installed_team_id"):
        if not isinstance(view.get(key, ""), str | type(None)):
            return f"view {key} is not text"
    state = view.get("state", {})
    if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
        return "view state is not an object"
    return None  # private_metadata and the values inside the state are the listener's to judge


def describe_refusal(refusal: Refusal, request_id: str) -> str:
    """One log line, never the body or the signature."""
    return f"refused request {request_id}: {refusal.status} ({refusal.reason})"
