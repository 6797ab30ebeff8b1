"""What the page shows, kept as an append-only event log built from what the bot did on the fake Slack.

The page replays the log (``GET /playground/api/events?after=N``), so a reload or a second tab shows
the same channel. Events are plain JSON:

* ``message`` / ``update``: ``{"message": {...}}``, the full page message (see ``PlaygroundState.post``)
* ``delete``: ``{"id": ...}``
* ``view``: ``{"op": "open" | "push" | "update", "user": ..., "view": {...}}``
* ``view_close``: ``{"user": ..., "view_id": ..., "all": bool}``
* ``view_errors``: ``{"user": ..., "view_id": ..., "errors": {block_id: message}}``
* ``home``: ``{"user": ..., "view": {...}}``, a Home tab the bot published (views.publish)
* ``api``: one Web API call or response-URL post the bot made (the page's traffic panel)
* ``clear``: the channel was cleared
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.local import Call, FakeSlackWebAPI

JsonDict = dict[str, Any]

CHANNEL = "C_GENERAL"

#: Web API methods whose failures are part of normal operation: no note on the page for them.
_QUIET_FAILURES = frozenset({"auth.test", "users.info", "conversations.info"})


@dataclass(frozen=True)
class ResponseTarget:
    """Where posts to one response URL go: the channel, the user who acted, and the page message the
    action came from (what ``replace_original`` / ``delete_original`` refer to)."""

    channel: str
    user: str
    source_id: str | None = None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _slack_ts() -> str:
    return f"{time.time():.6f}"


class PlaygroundState:
    """The channel as the page sees it, plus the bookkeeping that maps the bot's calls back to it.

    Thread-safe. ``on_call`` runs on the fake's server threads (under the fake's lock), so nothing here
    calls into the fake while holding this object's lock.
    """

    def __init__(self, fake: FakeSlackWebAPI) -> None:
        self.fake = fake
        self.session = secrets.token_hex(8)  # a new value tells the page the server restarted
        self.closed = False
        self._lock = threading.Lock()
        self._events: list[JsonDict] = []
        self._messages: dict[str, JsonDict] = {}
        self._response_urls: dict[str, ResponseTarget] = {}
        self._trigger_users: dict[str, str] = {}
        self._view_users: dict[str, str] = {}
        self._local_ids = itertools.count(1)

    # ------------------------------------------------------------------ the event log

    def emit(self, kind: str, **data: Any) -> JsonDict:
        """Append one event; returns it (with its ``seq``)."""
        with self._lock:
            return self._emit(kind, data)

    def _emit(self, kind: str, data: Mapping[str, Any]) -> JsonDict:
        event = {"seq": len(self._events) + 1, "kind": kind, "at": time.time(), **data}
        self._events.append(event)
        return event

    def events_after(self, seq: int) -> list[JsonDict]:
        """Events with ``seq`` greater than ``seq``, oldest first."""
        with self._lock:
            return list(self._events[max(seq, 0) :])

    @property
    def last_seq(self) -> int:
        with self._lock:
            return len(self._events)

    def clear(self) -> None:
        """Empty the channel on the page (the fake keeps its own state)."""
        with self._lock:
            self._messages.clear()
            self._emit("clear", {})

    # ------------------------------------------------------------------ bookkeeping

    def expect_response_url(self, url: str, target: ResponseTarget) -> None:
        with self._lock:
            self._response_urls[url] = target

    def expect_trigger(self, trigger_id: str, user: str) -> None:
        """Remember who a trigger id was issued for, so a modal it opens is shown to that user only."""
        with self._lock:
            self._trigger_users[trigger_id] = user

    def own_view(self, view_id: str, user: str) -> None:
        with self._lock:
            self._view_users[view_id] = user

    def view_owner(self, view_id: str) -> str | None:
        with self._lock:
            return self._view_users.get(view_id)

    def message(self, message_id: str) -> JsonDict | None:
        """A copy of the page message (``None`` if it is gone)."""
        with self._lock:
            found = self._messages.get(message_id)
            return dict(found) if found else None

    # ------------------------------------------------------------------ page messages

    def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: Any = None,
        user: str = "",
        ts: str | None = None,
        message_id: str | None = None,
        author: str = "bot",
        visible_to: str | None = None,
        ephemeral: bool = False,
    ) -> JsonDict:
        """Add a message to the page. ``author`` is ``bot``, ``user``, ``command`` or ``note``;
        ``visible_to`` limits it to one user (ephemerals, DMs, notes)."""
        ts = ts or _slack_ts()
        with self._lock:
            message: JsonDict = {
                "id": message_id or f"local:{next(self._local_ids)}",
                "channel": channel,
                "ts": ts,
                "user": user,
                "author": author,
                "text": text or "",
                "blocks": blocks if isinstance(blocks, list) else [],
                "visible_to": visible_to,
                "ephemeral": ephemeral,
                "edited": False,
            }
            self._messages[message["id"]] = message
            self._emit("message", {"message": dict(message)})
            return dict(message)

    def note(self, text: str, *, user: str | None = None) -> JsonDict:
        """A playground remark (not from the bot), only visible to ``user`` (everyone if ``None``)."""
        return self.post(
            channel=CHANNEL, text=text, author="note", visible_to=user, ephemeral=user is not None
        )

    def _update(self, message_id: str, args: Mapping[str, Any]) -> None:
        message = self._messages.get(message_id)
        if message is None:
            return
        if "text" in args:
            message["text"] = args.get("text") or ""
        if "blocks" in args:
            message["blocks"] = args["blocks"] if isinstance(args["blocks"], list) else []
        message["edited"] = True
        self._emit("update", {"message": dict(message)})

    def _delete(self, message_id: str) -> None:
        if self._messages.pop(message_id, None) is not None:
            self._emit("delete", {"id": message_id})

    # ------------------------------------------------------------------ the bot's calls -> the page

    def on_call(self, call: Call) -> None:
        """Subscriber for ``FakeSlackWebAPI``: turn one recorded call into page events."""
        error = call.response.get("error") or (None if call.ok else call.response.get("text"))
        self.emit("api", method=call.method, ok=call.ok, status=call.status, error=error)
        if not call.ok:
            if call.method not in _QUIET_FAILURES:
                what = "a response URL post" if call.method == "response_url" else call.method
                self.note(f":warning: The bot's {what} failed on the local Slack: `{error}`")
            return
        handler = {
            "chat.postMessage": self._on_post_message,
            "chat.postEphemeral": self._on_post_ephemeral,
            "chat.update": self._on_update,
            "chat.delete": self._on_delete,
            "views.open": self._on_view_open,
            "views.push": self._on_view_open,
            "views.update": self._on_view_update,
            "views.publish": self._on_view_publish,
            "response_url": self._on_response_url,
        }.get(call.method)
        if handler is not None:
            handler(call)

    def _on_post_message(self, call: Call) -> None:
        channel = str(call.response.get("channel", ""))
        message = call.response.get("message") or {}
        dm_user = channel[1:] if channel.startswith("D") else None
        self.post(
            channel=channel,
            ts=str(call.response.get("ts", "")),
            message_id=f"{channel}:{call.response.get('ts')}",
            user=str(message.get("user", "")),
            text=message.get("text", ""),
            blocks=message.get("blocks"),
            visible_to=dm_user,
        )

    def _on_post_ephemeral(self, call: Call) -> None:
        ts = str(call.response.get("message_ts", ""))
        user = str(call.args.get("user", ""))
        self.post(
            channel=self.fake_channel(call.args.get("channel")),
            ts=ts,
            message_id=f"eph:{ts}",
            user=self.fake.bot_user_id,
            text=call.args.get("text") or "",
            blocks=call.args.get("blocks"),
            visible_to=user,
            ephemeral=True,
        )

    def _on_update(self, call: Call) -> None:
        message = call.response.get("message") or {}
        with self._lock:
            self._update(f"{call.response.get('channel')}:{call.response.get('ts')}", message)

    def _on_delete(self, call: Call) -> None:
        with self._lock:
            self._delete(f"{call.response.get('channel')}:{call.response.get('ts')}")

    def _on_view_open(self, call: Call) -> None:
        view = call.response.get("view") or {}
        op = "push" if call.method == "views.push" else "open"
        with self._lock:
            user = self._trigger_users.pop(str(call.args.get("trigger_id")), None)
            if user is not None:
                self._view_users[str(view.get("id"))] = user
            self._emit("view", {"op": op, "user": user, "view": view})

    def _on_view_update(self, call: Call) -> None:
        view = call.response.get("view") or {}
        with self._lock:
            user = self._view_users.get(str(view.get("id")))
            self._emit("view", {"op": "update", "user": user, "view": view})

    def _on_view_publish(self, call: Call) -> None:
        self.emit("home", user=str(call.args.get("user_id") or ""), view=call.response.get("view") or {})

    def _on_response_url(self, call: Call) -> None:
        args = call.args
        with self._lock:
            target = self._response_urls.get(str(args.get("url")))
        if target is None:
            return
        if _truthy(args.get("delete_original")):
            if target.source_id:
                with self._lock:
                    self._delete(target.source_id)
            return
        if _truthy(args.get("replace_original")) and target.source_id:
            with self._lock:
                if target.source_id in self._messages:
                    self._update(target.source_id, args)
                    return
        if args.get("response_type") == "in_channel":
            # The fake appended it to the channel while recording this call (its lock is ours here),
            # so its ts is the one chat.update would need.
            latest = self.fake.messages(target.channel)[-1:]
            ts = latest[0]["ts"] if latest else _slack_ts()
            self.post(
                channel=target.channel,
                ts=ts,
                message_id=f"{target.channel}:{ts}",
                user=self.fake.bot_user_id,
                text=args.get("text") or "",
                blocks=args.get("blocks"),
            )
        else:
            latest = self.fake.ephemerals()[-1:]
            ts = latest[0]["ts"] if latest else _slack_ts()
            self.post(
                channel=target.channel,
                ts=ts,
                message_id=f"eph:{ts}",
                user=self.fake.bot_user_id,
                text=args.get("text") or "",
                blocks=args.get("blocks"),
                visible_to=target.user,
                ephemeral=True,
            )

    @staticmethod
    def fake_channel(channel: Any) -> str:
        """A user id posted to means their DM, as on Slack."""
        text = str(channel or "")
        return f"D{text}" if text[:1] in {"U", "W"} else text
