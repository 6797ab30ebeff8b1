"""What every request leaves behind: a log line and its metrics, in HTTP mode (bot.transport.http) and Socket
Mode (bot.transport.server) alike.

- `request_done`: when Slack got its answer to the request (the ack): kind, user, command,
  HTTP status, outcome and latency; counted in `lifeboat_requests_total` and `lifeboat_ack_seconds`.
- `answer_done`: when a listener finished (its reply posted, or handed to the retrier): the
  latency from the request's arrival; `lifeboat_answer_seconds`.

Only ids and names reach a line: a user id, the slash command, never its text or any token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.services import CONTEXT_KEY, Services
from bot.transport.ingress import REQUEST_ID, REQUEST_STARTED
from bot.transport.logs import log_event
from bot.transport.metrics import seconds_since

log = logging.getLogger("lifeboat.requests")


def _text_or_none(value: Any) -> str | None:
    return value[:40] if isinstance(value, str) and value else None


def user_of(body: Any) -> str | None:
    """The user id of a request, whatever shape its body has (None if it names none)."""
    if not isinstance(body, Mapping):
        return None
    user = body.get("user")
    if isinstance(user, Mapping):
        return _text_or_none(user.get("id"))
    event = body.get("event")  # an Events API event names its user inside (app_home_opened)
    if user is None and isinstance(event, Mapping) and not isinstance(event.get("user"), Mapping):
        return _text_or_none(event.get("user"))
    return _text_or_none(user) or _text_or_none(body.get("user_id"))


def kind_of(body: Any) -> str:
    """slash_command, block_actions, view_submission, event_callback, ...; unknown otherwise."""
    if not isinstance(body, Mapping):
        return "unknown"
    kind = _text_or_none(body.get("type")) or ("slash_command" if body.get("command") else "unknown")
    return kind if kind.replace("_", "").isalnum() else "unknown"  # a label, not free text


def command_of(body: Any) -> str | None:
    return _text_or_none(body.get("command")) if isinstance(body, Mapping) else None


def describe(body: Any) -> str:
    """kind/user/command of a request, for log lines (never tokens or free text)."""
    if not isinstance(body, Mapping):
        return f"kind=unknown body={type(body).__name__}"
    return f"kind={kind_of(body)} user={user_of(body)} command={command_of(body)}"


def request_done(
    services: Services, body: Any, status: int, started: float | None, request_id: str | None
) -> None:
    seconds = seconds_since(started)
    kind = kind_of(body)
    outcome = services.metrics.request_done(kind, status, seconds)
    log_event(
        log,
        "request",
        request_id=request_id,
        kind=kind,
        user=user_of(body),
        command=command_of(body),
        status=status,
        outcome=outcome,
        latency_ms=round(seconds * 1000, 1),
    )


def answer_done(context: Any, body: Any, failed: bool) -> None:
    """After a listener: how long the whole answer took, and what was scored meanwhile."""
    services = context.get(CONTEXT_KEY) if context is not None else None
    if services is None:
        return
    seconds = seconds_since(context.get(REQUEST_STARTED))
    kind = kind_of(body)
    services.metrics.answered(kind, seconds, services.scorer)
    log_event(
        log,
        "answer",
        request_id=context.get(REQUEST_ID),
        kind=kind,
        user=user_of(body),
        command=command_of(body),
        outcome="failed" if failed else "answered",
        latency_ms=round(seconds * 1000, 1),
    )
