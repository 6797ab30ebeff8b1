"""The playground server: the real bot, a fake Slack Web API, and a Slack-like page, on one local port.

``run_playground`` is what ``make run`` starts without Slack credentials. ``create_playground`` builds
the same thing without serving it, so tests can run it with ``serve_asgi_in_thread``.

How a click travels: the page POSTs to ``/playground/api/...``; the playground sends the bot what
Slack would (a signed slash command, ``block_actions``, ``view_submission``, ``view_closed`` or the ``app_home_opened`` event, via
``SlackClientSimulator``) to ``/slack/events`` on this same server; the bot acks and calls the Web API
(``chat.*``, ``views.*``, ``files.*``) or posts to the response URL, which land on the ``FakeSlackWebAPI``; its
subscriber turns each call into page events; the page long-polls ``/playground/api/events``.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_bolt import App
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.app import build_app
from bot.local import FakeSlackWebAPI, SlackClientSimulator
from bot.local.playground.state import CHANNEL, PlaygroundState, ResponseTarget
from bot.local.simulator import Response as SlackResponse
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings

JsonDict = dict[str, Any]

BOT_TOKEN = "xoxb-playground"
ADMIN = "U_ADMIN"
#: The people on the page's "You are" picker (their names come from the fake's users.info table).
USERS: dict[str, str] = {"U_ALICE": "Alice (guest)", "U_ADMIN": "Ada (admin)"}
#: Slash commands the playground's "app manifest" declares, with their usage hints.
COMMANDS: dict[str, str] = {
    "/survive": "1st class woman, 29, with my husband — or nothing for a form, or stats by class and sex",
    "/retrain": "admins: retrain the model (try /retrain help)",
}
STATIC = Path(__file__).parent / "static"
API = "/playground/api"
#: Slack shows ``operation_timeout`` when an app takes longer than this to acknowledge.
ACK_DEADLINE = 3.0
#: Longest a long-poll for events may wait, in seconds.
MAX_WAIT = 25.0


class PlaygroundError(Exception):
    """A bad request from the page: answered as ``{"ok": false, "error": ...}`` with ``status``."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


class _Simulator(SlackClientSimulator):
    """The simulator, plus: remember which user each trigger id was issued for (modals are personal)."""

    def __init__(
        self, request_url: str, signing_secret: str, fake: FakeSlackWebAPI, state: PlaygroundState
    ) -> None:
        super().__init__(request_url, signing_secret, fake)
        self._state = state
        self._acting = threading.local()

    @contextmanager
    def acting_as(self, user: str) -> Iterator[_Simulator]:
        """Trigger ids issued in this block (on this thread) belong to ``user``."""
        self._acting.user = user
        try:
            yield self
        finally:
            self._acting.user = None

    def _trigger_id(self) -> str:
        trigger = super()._trigger_id()
        user = getattr(self._acting, "user", None)
        if user:
            self._state.expect_trigger(trigger, user)
        return trigger


@dataclass
class Playground:
    """Everything a running playground holds. Serve ``app``; call ``close()`` when done."""

    app: Starlette
    bolt_app: App
    services: Services
    fake: FakeSlackWebAPI
    state: PlaygroundState
    signing_secret: str
    _unsubscribe: Callable[[], None] = field(repr=False, default=lambda: None)
    _sim: _Simulator | None = field(default=None, repr=False)
    _sim_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ wiring

    def attach(self, base_url: str) -> None:
        """Tell the playground where the app is served (``http://127.0.0.1:PORT``). Optional: the first
        page request teaches it too."""
        url = base_url.rstrip("/") + "/slack/events"
        with self._sim_lock:
            self._sim = _Simulator(url, self.signing_secret, self.fake, self.state)

    def simulator(self, request: Request | None = None) -> _Simulator:
        """The Slack client simulator pointed at this server's ``/slack/events``."""
        with self._sim_lock:
            sim = self._sim
        if sim is None:
            server = request.scope.get("server") if request is not None else None
            if not server:
                raise PlaygroundError("the playground does not know its own address yet", 503)
            host, port = server[0], server[1]
            if host in {"0.0.0.0", "::", ""}:
                host = "127.0.0.1"
            self.attach(f"http://{host}:{port}")
            with self._sim_lock:
                sim = self._sim
        assert sim is not None
        return sim

    def close(self) -> None:
        """End long-polls, stop the fake Slack and close the registry (idempotent)."""
        self.state.closed = True
        self._unsubscribe()
        self.fake.stop()
        with suppress(Exception):
            self.services.registry.close()

    # ------------------------------------------------------------------ what the page can do

    def check_user(self, user: Any) -> str:
        if not isinstance(user, str) or user not in self.fake.users:
            raise PlaygroundError(f"unknown user {user!r}")
        return user

    def say(self, user: str, text: str) -> JsonDict:
        """A plain message from a person (the bot does not listen to messages; it is just shown)."""
        if not text.strip():
            raise PlaygroundError("empty message")
        message = self.state.post(channel=CHANNEL, text=_escape(text), user=user, author="user")
        return {"ok": True, "message_id": message["id"]}

    def command(self, sim: _Simulator, user: str, text: str) -> JsonDict:
        """A slash command typed in the message box, sent to the bot signed, as Slack sends it."""
        command, _, rest = text.strip().partition(" ")
        command = command.lower()
        if command not in COMMANDS:
            self.state.note(
                f"`{_escape(command)}` is not a valid command. Commands here: "
                + ", ".join(f"`{c}`" for c in COMMANDS)
                + ". In Slack, all messages that start with “/” are interpreted as commands.",
                user=user,
            )
            return {"ok": False, "error": "unknown_command"}
        self.state.post(
            channel=CHANNEL, text=_escape(text.strip()), user=user, author="command", visible_to=user
        )
        url = self.fake.make_response_url(channel_id=CHANNEL, user_id=user)
        self.state.expect_response_url(url, ResponseTarget(CHANNEL, user))
        trigger = self.fake.issue_trigger_id()
        self.state.expect_trigger(trigger, user)
        try:
            response = sim.slash_command(
                command, rest.strip(), user_id=user, channel_id=CHANNEL, response_url=url, trigger_id=trigger
            )
        except OSError as exc:
            self.state.note(
                f":warning: `{command}` failed with the error “operation_timeout” ({exc}).", user=user
            )
            return {"ok": False, "error": "operation_timeout"}
        self._show_ack(response, user, command)
        return {"ok": response.status == 200, "status": response.status, "elapsed": response.elapsed}

    def action(self, sim: _Simulator, user: str, body: Mapping[str, Any]) -> JsonDict:
        """A click on a button (or a pick in a select) in a message or a modal: ``block_actions``."""
        action_id = str(body.get("action_id") or "")
        if not action_id:
            raise PlaygroundError("action_id is required")
        kind = str(body.get("type") or "button")
        value = body.get("value")
        value = None if value is None else str(value)
        block_id = str(body.get("block_id") or "actions")
        with sim.acting_as(user):
            if body.get("view_id"):
                view = self.fake.views.get(str(body["view_id"]))
                if view is None:
                    raise PlaygroundError("that form is closed", 404)
                response = sim.block_action(
                    action_id,
                    value,
                    user_id=user,
                    channel_id=None,
                    view=view,
                    response_url=None,
                    block_id=block_id,
                    action_type=kind,
                    state_values=_values(body.get("values")),
                )
            else:
                message = self.state.message(str(body.get("message_id") or ""))
                if message is None:
                    raise PlaygroundError("that message is gone", 404)
                response = self._message_action(sim, user, message, action_id, value, block_id, kind)
        self._show_ack(response, user, "that button", show_body=False)
        return {"ok": response.status == 200, "status": response.status}

    def _message_action(
        self,
        sim: _Simulator,
        user: str,
        message: JsonDict,
        action_id: str,
        value: str | None,
        block_id: str,
        kind: str,
    ) -> SlackResponse:
        channel = message["channel"]
        ephemeral = bool(message["ephemeral"])
        url = self.fake.make_response_url(
            channel_id=channel, user_id=user, message_ts=None if ephemeral else message["ts"]
        )
        self.state.expect_response_url(url, ResponseTarget(channel, user, message["id"]))
        slack_message = None
        if not ephemeral:  # Slack sends no message for a click in an ephemeral one
            slack_message = {
                "type": "message",
                "ts": message["ts"],
                "user": message["user"],
                "text": message["text"],
                "blocks": message["blocks"],
                "team": self.fake.team_id,
            }
            if message["author"] == "bot":
                slack_message |= {"bot_id": self.fake.bot_id, "app_id": self.fake.app_id}
        return sim.block_action(
            action_id,
            value,
            user_id=user,
            channel_id=channel,
            message=slack_message,
            response_url=url,
            block_id=block_id,
            action_type=kind,
        )

    def submit_view(self, sim: _Simulator, user: str, view_id: str, values: Any) -> JsonDict:
        """Submit a modal (``view_submission``) and do what Slack does with the bot's answer."""
        view = self.fake.views.get(view_id)
        if view is None:
            raise PlaygroundError("that form is closed", 404)
        with sim.acting_as(user):
            try:
                response = sim.view_submission(view, _values(values), user_id=user)
            except OSError:
                response = None
        if response is None or response.status != 200 or response.elapsed > ACK_DEADLINE:
            problem = "We had some trouble connecting. Try again?"
            self.state.emit("view_problem", user=user, view_id=view_id, problem=problem)
            return {"ok": False, "status": getattr(response, "status", None), "error": "dispatch_failed"}
        answer = _json_or_none(response)
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "errors":
            errors = answer.get("errors") if isinstance(answer, dict) else None
            self.state.emit("view_errors", user=user, view_id=view_id, errors=errors or {})
            return {"ok": True, "response_action": action, "errors": errors or {}}
        views = self.fake.views
        if action == "update" and view_id in views:
            self.state.emit("view", op="update", user=user, view=views[view_id])
        elif action == "push":
            pushed = [v for v in views.values() if v.get("previous_view_id") == view_id]
            if pushed:
                self.state.own_view(pushed[-1]["id"], user)
                self.state.emit("view", op="push", user=user, view=pushed[-1])
        else:
            self.state.emit("view_close", user=user, view_id=view_id, all=action == "clear")
        return {"ok": True, "response_action": action}

    def open_home(self, sim: _Simulator, user: str) -> JsonDict:
        """The user opened the app's Home tab: Slack sends ``app_home_opened`` (with the view it
        shows, once the app published one); the bot publishes the Home with ``views.publish``."""
        event: JsonDict = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
        shown = self.fake.views.get(f"VHOME{user}")
        if shown is not None:
            event["view"] = shown
        try:
            response = sim.event(event)
        except OSError:
            return {"ok": False, "error": "the bot is not answering"}
        return {"ok": response.status == 200, "status": response.status}

    def close_view(self, sim: _Simulator, user: str, view_id: str) -> JsonDict:
        """The user dismissed a modal: ``view_closed`` if the bot asked for it, and it is gone."""
        view = self.fake.views.get(view_id)
        notified = False
        if view is not None:
            if view.get("notify_on_close"):
                with suppress(OSError):
                    sim.view_closed(view, user_id=user)  # the simulator closes it on the fake too
                    notified = True
            if not notified:
                self.fake.apply_view_response(view_id, None)
        all_views = bool(view and view.get("clear_on_close"))
        self.state.emit("view_close", user=user, view_id=view_id, all=all_views)
        return {"ok": True, "notified": notified}

    def _show_ack(self, response: SlackResponse, user: str, what: str, *, show_body: bool = True) -> None:
        """What Slack shows for an acknowledgement: its message (ephemeral unless in_channel) or a note."""
        if response.status == 404:
            self.state.note(
                f":thinking_face: The bot didn't answer {_code(what)}: nothing in the app handles it "
                "(yet). On Slack you would see “dispatch_failed”.",
                user=user,
            )
            return
        if response.status != 200:
            self.state.note(
                f":warning: {_code(what)} failed with the error “dispatch_failed” "
                f"(the bot answered HTTP {response.status}).",
                user=user,
            )
            return
        if response.elapsed > ACK_DEADLINE:
            self.state.note(
                f":hourglass: {_code(what)} failed with the error “operation_timeout”: the bot took "
                f"{response.elapsed:.1f}s to acknowledge (Slack waits {ACK_DEADLINE:.0f}s).",
                user=user,
            )
            return
        if not show_body:
            return
        answer = _json_or_none(response)
        if answer is None and response.body.strip():
            answer = {"text": response.text}
        if not isinstance(answer, dict) or not (answer.get("text") or answer.get("blocks")):
            return
        in_channel = answer.get("response_type") == "in_channel"
        self.state.post(
            channel=CHANNEL,
            text=str(answer.get("text") or ""),
            blocks=answer.get("blocks"),
            user=self.fake.bot_user_id,
            visible_to=None if in_channel else user,
            ephemeral=not in_channel,
        )


def _escape(text: str) -> str:
    """User text shown as mrkdwn: escape Slack's control characters, as Slack does."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(what: str) -> str:
    return f"`{what}`" if what.startswith("/") else what


def _json_or_none(response: SlackResponse) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _values(values: Any) -> JsonDict:
    """``state.values`` from the page: ``{block_id: {action_id: {...}}}``; anything else is empty."""
    if not isinstance(values, dict):
        return {}
    return {
        str(block): {str(a): dict(v) for a, v in actions.items() if isinstance(v, dict)}
        for block, actions in values.items()
        if isinstance(actions, dict)
    }


# ---------------------------------------------------------------------------------------- routes


async def _json_object(request: Request) -> JsonDict:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise PlaygroundError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise PlaygroundError("the body must be a JSON object")
    return body


def _api(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """A JSON endpoint: the handler's dict, or {"ok": false, "error": ...} for a PlaygroundError."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except PlaygroundError as exc:
            return JSONResponse({"ok": False, "error": exc.error}, status_code=exc.status)

    return endpoint


async def _root(_request: Request) -> Response:
    return RedirectResponse("/playground/", status_code=307)


@dataclass
class PlaygroundAPI:
    """The page's JSON API: each endpoint a method, each a few lines over `Playground`."""

    pg: Playground

    async def index(self, request: Request) -> Response:
        with suppress(PlaygroundError):
            self.pg.simulator(request)  # learn our own address from the first page load
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def info(self, _request: Request) -> JsonDict:
        pg = self.pg
        users = {
            uid: {
                "label": label,
                "name": pg.fake.users.get(uid, {}).get("real_name", uid),
                "admin": uid in pg.services.bot_settings.admins,
            }
            for uid, label in USERS.items()
        }
        return {
            "ok": True,
            "session": pg.state.session,
            "channel": {"id": CHANNEL, "name": pg.fake.channels.get(CHANNEL, "general")},
            "bot": {"id": pg.fake.bot_user_id, "name": "lifeboat"},
            "users": users,
            "commands": [{"command": c, "hint": h} for c, h in COMMANDS.items()],
            "model": pg.services.model_name,
        }

    async def events(self, request: Request) -> JsonDict:
        """Events after `after`, waiting up to `wait` seconds for one (a long poll)."""
        try:
            after = int(request.query_params.get("after", "0"))
            wait = min(max(float(request.query_params.get("wait", "0")), 0.0), MAX_WAIT)
        except ValueError:
            raise PlaygroundError("after and wait must be numbers") from None
        state = self.pg.state
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        found = state.events_after(after)
        while not found and not state.closed and loop.time() < deadline:
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.05)
            found = state.events_after(after)
        last = found[-1]["seq"] if found else state.last_seq
        return {"ok": True, "session": state.session, "events": found, "last": last}

    async def message(self, request: Request) -> JsonDict:
        body = await _json_object(request)
        user = self.pg.check_user(body.get("user"))
        text = str(body.get("text") or "")
        if text.lstrip().startswith("/"):
            return await self._command(request, user, text)
        return self.pg.say(user, text)

    async def command(self, request: Request) -> JsonDict:
        body = await _json_object(request)
        user = self.pg.check_user(body.get("user"))
        text = str(body.get("text") or "").strip()
        if not text.startswith("/"):
            raise PlaygroundError("a command starts with /")
        return await self._command(request, user, text)

    async def _command(self, request: Request, user: str, text: str) -> JsonDict:
        return await run_in_threadpool(self.pg.command, self.pg.simulator(request), user, text.strip())

    async def action(self, request: Request) -> JsonDict:
        body = await _json_object(request)
        user = self.pg.check_user(body.get("user"))
        return await run_in_threadpool(self.pg.action, self.pg.simulator(request), user, body)

    async def view(self, request: Request) -> JsonDict:
        body = await _json_object(request)
        user = self.pg.check_user(body.get("user"))
        view_id = str(body.get("view_id") or "")
        return await run_in_threadpool(
            self.pg.submit_view, self.pg.simulator(request), user, view_id, body.get("values")
        )

    async def view_closed(self, request: Request) -> JsonDict:
        body = await _json_object(request)
        user = self.pg.check_user(body.get("user"))
        view_id = str(body.get("view_id") or "")
        return await run_in_threadpool(self.pg.close_view, self.pg.simulator(request), user, view_id)

    async def home(self, request: Request) -> JsonDict:
        body = await _json_object(request)
        user = self.pg.check_user(body.get("user"))
        return await run_in_threadpool(self.pg.open_home, self.pg.simulator(request), user)

    async def file(self, request: Request) -> Response:
        """An uploaded picture, as Slack serves a file to someone allowed to see it."""
        data = self.pg.fake.file_bytes(str(request.path_params["file_id"]))
        if data is None:
            return JSONResponse({"ok": False, "error": "file_not_found"}, status_code=404)
        return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    async def clear(self, _request: Request) -> JsonDict:
        self.pg.state.clear()
        return {"ok": True}


def playground_routes(pg: Playground) -> list[BaseRoute]:
    """The page, its static files and its JSON API, all under ``/playground`` (``/`` redirects)."""
    api = PlaygroundAPI(pg)
    return [
        Route("/", _root, methods=["GET"]),
        Route("/playground", _root, methods=["GET"]),
        Route("/playground/", api.index, methods=["GET"]),
        Mount("/playground/static", app=StaticFiles(directory=STATIC), name="playground-static"),
        Route(f"{API}/info", _api(api.info), methods=["GET"]),
        Route(f"{API}/events", _api(api.events), methods=["GET"]),
        Route(f"{API}/message", _api(api.message), methods=["POST"]),
        Route(f"{API}/command", _api(api.command), methods=["POST"]),
        Route(f"{API}/action", _api(api.action), methods=["POST"]),
        Route(f"{API}/view", _api(api.view), methods=["POST"]),
        Route(f"{API}/view_closed", _api(api.view_closed), methods=["POST"]),
        Route(f"{API}/clear", _api(api.clear), methods=["POST"]),
        Route(f"{API}/home", _api(api.home), methods=["POST"]),
        Route(f"{API}/files/{{file_id}}", api.file, methods=["GET"]),
    ]


# ---------------------------------------------------------------------------------------- building


def create_playground(
    ml_settings: MLSettings,
    *,
    say: Callable[[str], None],
    ensure: bool = True,
) -> Playground:
    """Start the fake Slack, build the real bot against it and the playground around it (not served).

    ``ensure`` trains a first model if the registry has none (``Services.ensure_model``), telling
    ``say`` what it does.
    """
    fake = FakeSlackWebAPI(token=BOT_TOKEN).start()
    try:
        state = PlaygroundState(fake)
        unsubscribe = fake.subscribe(state.on_call)
        signing_secret = secrets.token_hex(16)  # new every run: only our signed requests get in
        bot_settings = BotSettings(
            bot_token=BOT_TOKEN,
            signing_secret=signing_secret,
            api_url=fake.base_url,
            admins=frozenset({ADMIN}),
        )
        services = Services.create(ml_settings, bot_settings)
        if ensure:
            services.ensure_model(say)
        bolt_app = build_app(services)  # calls auth.test on the fake
        pg = Playground(
            app=Starlette(),  # replaced below: the routes need the playground itself
            bolt_app=bolt_app,
            services=services,
            fake=fake,
            state=state,
            signing_secret=signing_secret,
            _unsubscribe=unsubscribe,
        )
        pg.app = build_asgi(bolt_app, services, extra_routes=playground_routes(pg))
        return pg
    except BaseException:
        fake.stop()
        raise


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"cannot listen on {host}:{port} ({exc.strerror}): try --port or PORT=…") from None
    sock.listen(128)
    return sock


def run_playground(ml_settings: MLSettings, port: int, say: Callable[[str], None]) -> int:
    """Serve the bot and its playground on http://127.0.0.1:PORT until interrupted; returns 0."""
    import uvicorn

    host = "127.0.0.1"
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    try:
        pg = create_playground(ml_settings, say=say)
    except BaseException:
        sock.close()
        raise
    pg.attach(f"http://{host}:{port}")
    url = f"http://{host}:{port}/"
    say(f"Playground: open {url} — a local Slack channel with the real bot in it.")
    say(
        f"  The bot serves /slack/events there (health: {url}healthz); its Slack Web API calls go to a "
        f"local fake at {pg.fake.base_url}. Ctrl-C stops."
    )
    config = uvicorn.Config(
        pg.app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=1
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after shutting down cleanly
        pass
    finally:
        pg.close()
        sock.close()
    say("Playground stopped.")
    return 0


def main() -> int:
    """``python -m bot.local.playground.server [PORT]``: the playground without the CLI."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    return run_playground(
        MLSettings.from_env(), port=port, say=lambda message: print(message, file=sys.stderr)
    )


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["ADMIN", "BOT_TOKEN", "COMMANDS", "USERS", "Playground", "create_playground", "run_playground"]
