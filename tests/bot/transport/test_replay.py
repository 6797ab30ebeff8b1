"""Replays (issue 13, item 6): a signed request sent again within its 5-minute window is acknowledged
and not processed again, by the replica that saw it or by any other sharing the registry's home."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.local import FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread, sign
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings
from ml.io.local_registry import LocalRegistry
from tests.support.bot import SECRET, TOKEN, Bot, settle
from tests.support.models import log_copy_of_v1

ADMIN = "U_ADMIN"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI(token=TOKEN) as server:
        yield server


def replica(fake: FakeSlackWebAPI) -> Iterator[Bot]:
    """One bot process's worth: its own services, app and server, on the shared LIFEBOAT_HOME."""
    settings = BotSettings(
        bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url, admins=frozenset({ADMIN})
    )
    services = Services.create(MLSettings.from_env(), settings)
    with serve_asgi_in_thread(build_asgi(build_app(services), services)) as url:
        yield Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
    services.registry.close()


@pytest.fixture
def bots(home: Path, fake: FakeSlackWebAPI) -> Iterator[tuple[Bot, Bot]]:
    fake.reset()
    for first in replica(fake):
        for second in replica(fake):
            fake.clear()
            yield first, second


def command_body(fake: FakeSlackWebAPI, command: str, text: str, user: str = "U_ALICE") -> bytes:
    return urllib.parse.urlencode(
        {
            "command": command,
            "text": text,
            "user_id": user,
            "channel_id": "C_GENERAL",
            "team_id": fake.team_id,
            "api_app_id": fake.app_id,
            "trigger_id": fake.issue_trigger_id(),
            "response_url": fake.make_response_url(channel_id="C_GENERAL", user_id=user),
        }
    ).encode()


def posts_to(fake: FakeSlackWebAPI, body: bytes) -> list[Any]:
    url = urllib.parse.parse_qs(body.decode())["response_url"][0]
    return [c for c in fake.calls("response_url") if c.args["url"] == url]


def answers(bot: Bot, body: bytes) -> int:
    """How many answers the request in `body` got: wait for the first, then make sure every
    listener started before now has finished (settle), so a second one would be in too."""
    url = urllib.parse.parse_qs(body.decode())["response_url"][0]
    bot.fake.wait_for("response_url", lambda c: c.args["url"] == url)
    settle(bot)
    return len(posts_to(bot.fake, body))


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_the_same_signed_request_twice_is_answered_once(bots: tuple[Bot, Bot]) -> None:
    bot, _ = bots
    body = command_body(bot.fake, "/survive", "1st class woman, 29")
    headers = {**FORM, **sign(SECRET, body)}
    first, again = bot.sim.post(body, headers), bot.sim.post(body, headers)
    assert (first.status, again.status) == (200, 200)
    assert again.body == b""  # acknowledged, so Slack (or whoever) sees no error
    assert answers(bot, body) == 1


def test_a_replayed_admin_rollback_rolls_back_once_on_any_replica(
    bots: tuple[Bot, Bot], registry: LocalRegistry
) -> None:
    log_copy_of_v1(registry, make_default=True)
    assert registry.get_default() == "V2"
    a, b = bots
    body = command_body(a.fake, "/retrain", "rollback", user=ADMIN)
    headers = {**FORM, **sign(SECRET, body)}
    assert a.sim.post(body, headers).status == 200
    a.fake.wait_for("response_url", lambda c: "Rolled back" in c.args["text"])
    for bot in (a, b, b):  # the same bytes again, to the replica that saw them and to another one
        assert bot.sim.post(body, headers).status == 200
    settle(a)
    settle(b)
    assert answers(a, body) == 1
    assert registry.get_default() == "V1"
    rollbacks = [e for e in registry.history() if e.action == "rollback"]
    assert len(rollbacks) == 1


def test_copies_racing_to_two_replicas_are_processed_once(bots: tuple[Bot, Bot]) -> None:
    a, b = bots
    bodies = [command_body(a.fake, "/survive", f"3rd class man, {age}") for age in range(20, 30)]
    statuses: list[int] = []
    lock = threading.Lock()

    def send(bot: Bot, body: bytes) -> None:
        status = bot.sim.post(body, {**FORM, **sign(SECRET, body)}).status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send, args=(bot, body)) for body in bodies for bot in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(threads)
    settle(b)
    assert [answers(a, body) for body in bodies] == [1] * len(bodies)


def test_the_same_trigger_signed_again_later_is_not_processed_again(bots: tuple[Bot, Bot]) -> None:
    """A copy re-signed with a new timestamp (as an Events API retry or a Socket Mode redelivery
    carries a new envelope) is still the same interaction: its trigger_id says so."""
    bot, _ = bots
    body = command_body(bot.fake, "/survive", "2nd class woman, 40")
    assert bot.sim.post(body, {**FORM, **sign(SECRET, body)}).status == 200
    later = {**FORM, **sign(SECRET, body, timestamp=int(time.time()) + 2)}
    assert bot.sim.post(body, later).status == 200
    assert answers(bot, body) == 1


def test_different_requests_are_all_processed(bots: tuple[Bot, Bot]) -> None:
    bot, _ = bots
    bodies = [command_body(bot.fake, "/survive", "1st class woman, 29") for _ in range(5)]
    for body in bodies:
        assert bot.sim.post(body, {**FORM, **sign(SECRET, body)}).status == 200
    assert [answers(bot, body) for body in bodies] == [1] * 5


# -- the ledger itself ------------------------------------------------------------------------------
def test_of_many_threads_recording_one_key_exactly_one_wins(tmp_path: Path) -> None:
    from bot.transport.replay import SQLiteRequestLedger

    ledgers = [SQLiteRequestLedger(tmp_path / "requests.db") for _ in range(2)]  # two "replicas"
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def record(index: int) -> None:
        start.wait()
        won = ledgers[index % 2].first_sighting(["sig:v0=abc", f"trigger:{index % 3}"])
        with lock:
            results.append(won)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True]


def test_keys_expire_after_the_window(tmp_path: Path) -> None:
    from bot.transport.replay import WINDOW_SECONDS, MemoryRequestLedger, SQLiteRequestLedger

    for ledger in (SQLiteRequestLedger(tmp_path / "requests.db"), MemoryRequestLedger()):
        assert ledger.first_sighting(["sig:1"], now=1000.0)
        assert not ledger.first_sighting(["sig:1"], now=1000.0 + WINDOW_SECONDS - 1)
        assert not ledger.first_sighting(["trigger:x", "sig:1"], now=1000.0 + 1)
        assert ledger.first_sighting(["trigger:x"], now=1000.0 + 2)  # the refused one recorded nothing
        assert ledger.first_sighting(["sig:1"], now=1000.0 + WINDOW_SECONDS + 1)
        assert WINDOW_SECONDS >= 2 * 300  # a request is valid 5 minutes either side of its timestamp
