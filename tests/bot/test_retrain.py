"""/retrain end to end: signed requests in, the fake Slack Web API out, a real worker process between."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.blocks import retrain as retrain_blocks
from bot.local import Call, FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings
from tests.support.bot import Bot, all_text, buttons
from tests.support.models import FAST_ENV

TOKEN = "xoxb-lifeboat-tests"
SECRET = "lifeboat-signing-secret"
ADMIN, GUEST = "U_ADMIN", "U_ALICE"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def bot(home: Path, fake: FakeSlackWebAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)  # the worker process inherits these
    fake.reset()
    settings = BotSettings(
        bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url, admins=frozenset({ADMIN})
    )
    services = Services.create(MLSettings.from_env(), settings)
    services.watcher.poll_seconds = 0.05
    app = build_app(services)
    with serve_asgi_in_thread(build_asgi(app, services)) as url:
        fake.clear()
        yield Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
    services.registry.close()


def retrain(bot: Bot, text: str = "", user: str = ADMIN) -> Any:
    resp = bot.sim.slash_command("/retrain", text, user_id=user)
    assert resp.status == 200
    return resp


def final_report(bot: Bot, timeout: float = 60.0) -> Call:
    """The chat.update that turns the progress message into the finished run's report."""
    return bot.fake.wait_for(
        "chat.update",
        lambda c: "Retraining done" in all_text(c) or "Retraining failed" in all_text(c),
        timeout=timeout,
    )[0]


def test_a_guest_is_refused_politely_and_nothing_runs(bot: Bot) -> None:
    resp = retrain(bot, user=GUEST)
    reply = bot.reply_to(resp)
    assert "only lifeboat admins" in all_text(reply).lower()
    assert bot.fake.calls("chat.postMessage") == []
    assert bot.services.retrain.store.recent() == []
    refused = bot.services.registry.history()[0]
    assert (refused.action, refused.actor, refused.outcome) == ("retrain-refused", GUEST, "refused")


def test_an_admin_run_reports_progress_and_a_decision(bot: Bot) -> None:
    started = time.perf_counter()
    resp = retrain(bot)
    assert resp.elapsed < 1.0 and time.perf_counter() - started < 1.5  # acked at once, not after training
    [posted] = bot.fake.wait_for("chat.postMessage", timeout=5)
    assert "Retraining" in all_text(posted) and "step 0 of 6" in all_text(posted)
    report = final_report(bot)
    text = all_text(report)
    assert "Retraining done: promoted V2" in text and "Frozen holdout" in text and "log loss" in text
    assert report.args["ts"] == posted.response["ts"]  # the same message, edited in place
    updates = bot.fake.calls("chat.update")
    assert len(updates) >= 3  # progress went through several steps before the report
    assert "Roll back to V1" in json.dumps(buttons(report.args["blocks"]))
    # The challenger's twin and the champion on the frozen holdout, side by side, as a picture.
    [chart] = [b for b in report.args["blocks"] if b["type"] == "image"]
    assert bot.fake.files[chart["slack_file"]["id"]]["completed"]
    assert (
        "V2 new (its twin): predicted" in chart["alt_text"]
        and "V1 now (as recorded): predicted" in chart["alt_text"]
    )
    assert bot.services.registry.get_default() == "V2"
    # /survive is answered by the new default without a restart.
    bot.services.scorer.refresh_seconds = 0
    answer = bot.reply_to(bot.sim.slash_command("/survive", "3rd class man, 30"))
    assert "V2" in all_text(answer)


def test_three_retrains_at_once_start_exactly_one_run(bot: Bot) -> None:
    import threading

    responses: list[Any] = []
    lock = threading.Lock()

    def send() -> None:
        r = retrain(bot)
        with lock:
            responses.append(r)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final_report(bot)
    assert len(bot.services.retrain.store.recent()) == 1
    assert len(bot.fake.calls("chat.postMessage")) == 1
    busy = [
        c
        for r in responses
        for c in bot.fake.calls("response_url")
        if c.args["url"] == r.sent["response_url"]
    ]
    assert len(busy) == 2 and all("already in progress" in all_text(c) for c in busy)
    assert "step" in all_text(busy[0]) and "started by U_ADMIN" in all_text(busy[0])


def test_status_while_running_and_history_after(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_FAILPOINTS", "retrain.cross-validate=sleep:2")
    retrain(bot)
    bot.fake.wait_for("chat.update", lambda c: "step 2 of 6" in all_text(c), timeout=30)
    status = bot.reply_to(retrain(bot, "status"))
    assert "Retraining is running: step 2 of 6 (cross-validate)" in all_text(status)
    final_report(bot)
    history = all_text(bot.reply_to(retrain(bot, "history")))
    assert "*retrain* V1 → V2 by U_ADMIN: promoted V2" in history


@pytest.mark.parametrize("step", ["load_data", "cross-validate", "decide", "register"])
def test_a_failing_run_tells_the_admin_and_changes_nothing(
    bot: Bot, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFEBOAT_FAILPOINTS", f"retrain.{step}=raise")
    retrain(bot)
    text = all_text(final_report(bot))
    assert "Retraining failed" in text and "injected failure" in text and "unchanged" in text
    assert [v.version for v in bot.services.registry.list_versions()] == ["V1"]
    assert bot.services.registry.get_default() == "V1"
    assert bot.services.retrain.store.current() is None
    # Serving carried on throughout.
    assert "%" in all_text(bot.reply_to(bot.sim.slash_command("/survive", "2nd class woman, 40")))


def test_promote_and_rollback_by_command_and_button(bot: Bot) -> None:
    retrain(bot)
    report = final_report(bot)
    assert bot.services.registry.get_default() == "V2"
    rollback = buttons(report.args["blocks"])[retrain_blocks.ROLLBACK_ACTION]
    resp = bot.sim.block_action(
        retrain_blocks.ROLLBACK_ACTION,
        rollback["value"],
        user_id=ADMIN,
        channel_id="C_GENERAL",
        message={"ts": report.args["ts"], "blocks": report.args["blocks"]},
    )
    assert resp.status == 200
    assert "rolled back V2 → V1" in all_text(bot.reply_to(resp))
    assert bot.services.registry.get_default() == "V1"
    # A guest clicking the same button changes nothing.
    guest = bot.sim.block_action(retrain_blocks.ROLLBACK_ACTION, "V2", user_id=GUEST, channel_id="C_GENERAL")
    assert "Only lifeboat admins" in all_text(bot.reply_to(guest))
    assert bot.services.registry.get_default() == "V1"
    assert "V1 → V2" in all_text(bot.reply_to(retrain(bot, "promote v2")))
    assert "V2 → V1" in all_text(bot.reply_to(retrain(bot, "rollback")))
    assert "no version V7" in all_text(bot.reply_to(retrain(bot, "promote V7")))
    actions = [(e.action, e.from_version, e.to_version) for e in bot.services.registry.history()[:5]]
    assert actions == [
        ("rollback", "V2", "V1"),
        ("promote", "V1", "V2"),
        ("retrain-refused", None, None),  # the guest's click, recorded as /retrain records refusals
        ("rollback", "V2", "V1"),
        ("retrain", "V1", "V2"),
    ]


def test_help_needs_no_admin(bot: Bot) -> None:
    resp = retrain(bot, "help", user=GUEST)
    assert "/retrain status" in all_text(resp.json())


# -- two bot processes sharing one LIFEBOAT_HOME ----------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the bot process exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if json.loads(resp.read())["ok"]:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


def test_two_bot_processes_sharing_a_home_run_exactly_one_retrain(home: Path, fake: FakeSlackWebAPI) -> None:
    fake.reset()
    env = {
        **os.environ,
        **FAST_ENV,
        "LIFEBOAT_HOME": str(home),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "LIFEBOAT_ADMINS": ADMIN,
        "SLACK_APP_TOKEN": "",
    }
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--http", "--port", str(p)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc in zip(urls, procs, strict=True):
            _wait_healthy(url, proc)
        sims = [SlackClientSimulator(f"{url}/slack/events", SECRET, fake) for url in urls]
        import threading

        results: list[Any] = []
        threads = [
            threading.Thread(
                target=lambda s=s: results.append(s.slash_command("/retrain", "", user_id=ADMIN))
            )
            for s in sims
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status for r in results] == [200, 200]
        fake.wait_for("chat.update", lambda c: "Retraining done" in all_text(c), timeout=60)
        assert len(fake.calls("chat.postMessage")) == 1
        busy = fake.wait_for("response_url", lambda c: "already in progress" in all_text(c), timeout=10)
        assert len(busy) == 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def test_workspace_admins_may_retrain_when_allowed_and_are_looked_up_once(
    home: Path, fake: FakeSlackWebAPI
) -> None:
    fake.reset()
    settings = BotSettings(
        bot_token=TOKEN,
        signing_secret=SECRET,
        api_url=fake.base_url,
        admins=frozenset(),
        admins_include_workspace_admins=True,
    )
    services = Services.create(MLSettings.from_env(), settings)
    with serve_asgi_in_thread(build_asgi(build_app(services), services)) as url:
        bot = Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
        for _ in range(2):
            status = bot.reply_to(retrain(bot, "status", user="U_OWNER"))
            assert "No retraining run yet" in all_text(status)
        assert "only lifeboat admins" in all_text(bot.reply_to(retrain(bot, "status", user=GUEST))).lower()
        looked_up = [c.args.get("user") for c in fake.calls("users.info")]
        assert looked_up.count("U_OWNER") == 1 and looked_up.count(GUEST) == 1  # cached after the first
    services.registry.close()


def test_a_restarted_bot_finishes_the_report_of_a_run_it_was_following(
    home: Path, fake: FakeSlackWebAPI
) -> None:
    """The bot died while a run trained: the next bot process edits the run's message to its report."""
    from slack_sdk import WebClient

    from ml.io.local_registry import LocalRegistry
    from ml.io.runs import Acquired, SQLiteRunStore
    from ml.jobs.retrain import STEPS

    fake.reset()
    posted = WebClient(token=TOKEN, base_url=fake.base_url).chat_postMessage(
        channel="C_GENERAL", text="Retraining…"
    )
    store = SQLiteRunStore(LocalRegistry(home))
    claim = store.start(ADMIN, len(STEPS), {"channel": posted["channel"], "ts": posted["ts"]})
    assert isinstance(claim, Acquired)
    store.finish(claim.run.id, status="failed", error="the worker was stopped")  # while no bot watched
    settings = BotSettings(
        bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url, admins=frozenset({ADMIN})
    )
    services = Services.create(MLSettings.from_env(), settings)
    build_app(services)
    [update] = fake.wait_for("chat.update", timeout=10)
    assert update.args["ts"] == posted["ts"] and "Retraining failed" in all_text(update)
    deadline = time.monotonic() + 5
    while not (store.get(claim.run.id).origin.get("reported")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.get(claim.run.id).origin["reported"] is True
    build_app(services)  # a second start has nothing left to report
    time.sleep(0.3)
    assert len(fake.calls("chat.update")) == 1
    services.registry.close()


# -- what an admin typed is echoed escaped and cut short (issue 13, item 7) -------------------------
MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<@U_BOB>", "<#C_GENERAL>", "<https://evil.example|x>")


def assert_inert(text: str) -> None:
    """No mention, broadcast or link survives into what the bot posts."""
    for token in ("<!", "<@", "<#", "<http"):
        assert token not in text, text


@pytest.mark.parametrize("typed", [*MENTIONS, "&lt;!channel&gt;"])
def test_retrain_echoes_what_was_typed_escaped(bot: Bot, typed: str) -> None:
    for text in (f"promote {typed}", f"{typed} now", f"promote V{typed}"):
        reply = bot.reply_to(retrain(bot, text))
        shown = all_text(reply)
        assert_inert(shown)
        assert "&lt;" in shown  # still visible to the admin, as text
    assert bot.services.registry.get_default() == "V1"


@pytest.mark.parametrize("value", ["V" + "9" * 10_000, "x" * 10_000, "<!channel>", "V2<!here>", ""])
def test_a_tampered_button_value_is_refused_without_echoing_it(bot: Bot, value: str) -> None:
    for action in (retrain_blocks.PROMOTE_ACTION, retrain_blocks.ROLLBACK_ACTION):
        resp = bot.sim.block_action(action, value, user_id=ADMIN, channel_id="C_GENERAL")
        assert resp.status == 200
        reply = bot.reply_to(resp)
        shown = all_text(reply)
        assert_inert(shown)
        assert len(shown) < 300
    assert bot.services.registry.get_default() == "V1"
    assert {e.action for e in bot.services.registry.history()} <= {"register"}  # nothing changed


# -- a run whose worker died is reported without waiting for a /retrain (issue 13, item 8) ---------
def _stranded_run(home: Path, fake: FakeSlackWebAPI, lease: float) -> tuple[Any, Any, dict[str, Any]]:
    """A run in its "search" step whose message was posted, with nobody renewing its lease: its
    worker is dead (and whichever bot followed it)."""
    from slack_sdk import WebClient

    from ml.io.local_registry import LocalRegistry
    from ml.io.runs import Acquired, SQLiteRunStore
    from ml.jobs.retrain import STEPS

    posted = WebClient(token=TOKEN, base_url=fake.base_url).chat_postMessage(
        channel="C_GENERAL", text="Retraining…"
    )
    store = SQLiteRunStore(LocalRegistry(home))
    claim = store.start(ADMIN, len(STEPS), {"channel": posted["channel"], "ts": posted["ts"]}, lease=lease)
    assert isinstance(claim, Acquired)
    store.progress(claim.run.id, "search", 2)
    return store, claim.run, posted.data


def test_a_run_whose_bot_and_worker_died_is_reported_by_the_next_bot_without_a_command(
    home: Path, fake: FakeSlackWebAPI
) -> None:
    fake.reset()
    store, run, posted = _stranded_run(home, fake, lease=0.5)
    settings = BotSettings(
        bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url, admins=frozenset({ADMIN})
    )
    services = Services.create(MLSettings.from_env(), settings)
    services.watcher.poll_seconds, services.watcher.sweep_seconds = 0.05, 0.2
    with serve_asgi_in_thread(build_asgi(build_app(services), services)):
        died = fake.wait_for("chat.update", lambda c: "the worker died" in all_text(c), timeout=10)[-1]
        assert died.args["ts"] == posted["ts"] and died.args["channel"] == posted["channel"]
        assert died.args["text"] == "Retraining stopped: the worker died"
        assert "search" in all_text(died) and "unchanged" in all_text(died)
        deadline = time.monotonic() + 5
        while not store.get(run.id).origin.get("reported") and time.monotonic() < deadline:
            time.sleep(0.05)
    assert fake.calls("response_url") == []  # nobody typed /retrain
    final = store.get(run.id)
    assert (final.status, final.origin.get("reported")) == ("failed", True)
    assert store.current() is None  # the lock is free for the next run
    services.registry.close()


def test_a_followed_run_whose_worker_died_is_reported_stopped(home: Path, fake: FakeSlackWebAPI) -> None:
    """The bot is alive and following the run; only the worker died (kill -9)."""
    fake.reset()
    store, run, posted = _stranded_run(home, fake, lease=0.5)
    settings = BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url)
    services = Services.create(MLSettings.from_env(), settings)
    services.watcher.poll_seconds, services.watcher.sweep_seconds = 0.05, 0.2
    app = build_app(services)  # no server: no periodic sweep, only the follower's own checks
    followed = services.watcher.watch(run.id, app.client, posted["channel"], posted["ts"])
    assert followed.result(timeout=10).status == "failed"
    died = fake.wait_for("chat.update", lambda c: "the worker died" in all_text(c), timeout=5)[-1]
    assert died.args["ts"] == posted["ts"]
    assert store.get(run.id).origin.get("reported") is True
    services.registry.close()


def test_both_run_stores_mark_a_lapsed_lease_the_way_the_report_recognises() -> None:
    from ml.io import runs
    from ml.snowflake import runs as snowflake_runs

    assert snowflake_runs.EXPIRED_ERROR == runs.EXPIRED_ERROR
