"""Nothing verified gets lost when Slack hiccups (issue 13, item 4).

The fake Slack fails a share of every kind of call the bot makes (5xx, 429 with Retry-After, a
connection dropped after the call was done) while users ask questions, open forms and submit them:
every answer must arrive, and arrive once. Outages (connections refused) are tested on their own:
a connection the kernel accepted just before the fake stops listening is reset after the request
was sent, which no client can tell from a reply Slack received, so mixing outages into the load
would make "exactly once" a matter of luck.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.local import FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.delivery import RetryPolicy
from bot.transport.http import build_asgi
from ml.config import MLSettings
from tests.support.bot import SECRET, TOKEN, Bot, all_text, form_state

# The production policy's shape with shorter waits, so the suite stays fast (Retry-After is still
# honoured in full: the fake asks for 1 s), and more attempts: with 3 in 10 calls failing, a call
# fails 3 times running once in ~70 (the production limits), 12 times in ~30 million.
FAST = RetryPolicy(
    max_attempts=12,
    base_delay=0.05,
    max_delay=0.2,
    deadline_seconds=60,
    web_api_retries=8,
    web_api_backoff=0.05,
)


@pytest.fixture
def bot(home: Path) -> Iterator[Bot]:
    # A new connection per request, so that an outage refuses them (kept-alive ones would survive it).
    with FakeSlackWebAPI(token=TOKEN, close_connections=True, trigger_ttl=None) as fake:
        settings = BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url)
        services = Services.create(MLSettings.from_env(), settings)
        app = build_app(services, retry_policy=FAST)
        with serve_asgi_in_thread(build_asgi(app, services)) as url:
            fake.clear()
            yield Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
        services.registry.close()


def healthz(bot: Bot) -> dict[str, Any]:
    with urllib.request.urlopen(f"{bot.url}/healthz", timeout=5) as resp:
        return json.loads(resp.read())


def in_parallel(jobs: list[Any], threads: int = 10) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: job(), jobs))


def wait_for(condition: Any, timeout: float = 30.0, what: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what() if what else ''}"
        time.sleep(0.05)


def test_no_answer_is_lost_or_doubled_when_slack_fails_a_share_of_calls(bot: Bot) -> None:
    fake = bot.fake
    # Forms to submit later, opened while Slack is well.
    opened = []
    for i in range(10):
        resp = bot.sim.slash_command("/survive", "", user_id=f"U_FORM{i}", channel_id="C_GENERAL")
        [call] = fake.wait_for("views.open", lambda c, t=resp.sent["trigger_id"]: c.args["trigger_id"] == t)
        opened.append(call.response["view"])
    fake.clear()

    texts = [
        f"{('1st', '2nd', '3rd')[i % 3]} class {'woman' if i % 2 else 'man'}, {20 + i % 40}"
        for i in range(100)
    ]
    fake.chaos(0.3, seed=13, retry_after=1)
    answers = in_parallel([lambda t=t: bot.survive(t) for t in texts])
    forms = in_parallel([lambda i=i: bot.survive("", user_id=f"U_OPEN{i}") for i in range(15)])
    submitted = in_parallel(
        [
            lambda i=i, view=view: bot.sim.view_submission(
                view, form_state(pclass=1 + i % 3, sex="female", age=30), user_id=f"U_FORM{i}"
            )
            for i, view in enumerate(opened)
        ]
    )
    time.sleep(1.0)  # keep failing while the first retries go out
    fake.chaos(0)

    # Every request was acknowledged, whatever Slack was doing meanwhile.
    assert [r.status for r in answers + forms + submitted] == [200] * 125

    def done(method: str, key: Any) -> Counter[Any]:
        return Counter(key(c) for c in fake.calls(method) if c.ok)

    urls = [r.sent["response_url"] for r in answers]
    with contextlib.suppress(AssertionError):  # counted below, so a failure says how many
        wait_for(lambda: set(done("response_url", lambda c: c.args["url"])) >= set(urls), timeout=20)
        wait_for(lambda: len(done("chat.postEphemeral", lambda c: c.args["user"])) >= len(opened), timeout=10)
    time.sleep(0.5)  # a duplicate, had one been sent, would be in by now

    replies = done("response_url", lambda c: c.args["url"])
    lost = [url for url in urls if replies[url] == 0]
    doubled = [url for url in urls if replies[url] > 1]
    assert (len(lost), len(doubled)) == (0, 0), f"{len(lost)} answers lost, {len(doubled)} posted twice"
    for resp in answers:  # and each is the answer to its own question
        [reply] = [
            c for c in fake.calls("response_url") if c.ok and c.args["url"] == resp.sent["response_url"]
        ]
        assert "chance of survival" in all_text(reply)

    forms_opened = done("views.open", lambda c: c.args["trigger_id"])
    assert [forms_opened[r.sent["trigger_id"]] for r in forms] == [1] * len(forms)

    shown = done("chat.postEphemeral", lambda c: c.args["user"])
    assert [shown[f"U_FORM{i}"] for i in range(10)] == [1] * 10

    stats = healthz(bot)["deliveries"]
    dropped = [
        c
        for c in fake.calls()
        if c.response.get("dropped") and c.method in ("response_url", "chat.postEphemeral")
    ]
    assert stats["lost"] == 0
    assert stats["retried"] > 0 and stats["web_api_retries"] > 0
    assert stats["unconfirmed"] == len(dropped)  # each was shown once, and not sent again
    assert stats["delivered"] + stats["unconfirmed"] == len(answers) + len(opened)
    faults = Counter(c.status for c in fake.calls() if not c.ok)
    assert faults[429] and faults[500] + faults[502] + faults[503]  # the mix did happen


def test_answers_and_forms_wait_out_an_outage(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack unreachable (connections refused): nothing was sent, so everything is sent again."""
    fake = bot.fake
    # What is tested is the retry, not the trigger's 3 s life: on a loaded machine the retried
    # views.open could land just after it (tests/bot/test_delivery.py tests that life on its own).
    monkeypatch.setattr(fake, "trigger_ttl", None)
    with fake.outage():
        answer = bot.survive("1st class woman, 29")
        form = bot.survive("", user_id="U_OPEN")
        assert (answer.status, form.status) == (200, 200)  # acknowledged all the same
        # The outage lasts until both were refused at least once (on a loaded machine a listener
        # may only get to its first try after a fixed pause).
        wait_for(
            lambda: (d := healthz(bot)["deliveries"])["retried"] >= 1 and d["web_api_retries"] >= 1,
            timeout=10,
            what=lambda: healthz(bot)["deliveries"],
        )
    reply = bot.reply_to(answer, timeout=10)
    assert "chance of survival" in all_text(reply)
    opened = fake.wait_for("views.open", lambda c: c.ok, timeout=10)
    assert opened[0].args["trigger_id"] == form.sent["trigger_id"]
    time.sleep(0.3)
    assert [c.ok for c in fake.calls()] == [True, True]  # once each: the refused tries never arrived
    stats = healthz(bot)["deliveries"]
    assert (stats["delivered"], stats["retried"], stats["lost"]) == (1, 1, 0)
    assert stats["web_api_retries"] >= 1


def test_views_open_is_retried_within_the_life_of_the_trigger(home: Path) -> None:
    with FakeSlackWebAPI(token=TOKEN) as fake:  # triggers expire after 3 s, as Slack's do
        settings = BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url)
        services = Services.create(MLSettings.from_env(), settings)
        with serve_asgi_in_thread(build_asgi(build_app(services), services)) as url:
            sim = SlackClientSimulator(f"{url}/slack/events", SECRET, fake)
            fake.fail_next("views.open", "internal_error", status=503, times=2)
            resp = sim.slash_command("/survive", "")
            opened = fake.wait_for("views.open", lambda c: c.ok, timeout=5)
            assert opened[0].args["trigger_id"] == resp.sent["trigger_id"]
            assert [c.status for c in fake.calls("views.open")] == [503, 503, 200]
        services.registry.close()


def test_a_lost_answer_is_logged_with_its_request_id_and_counted(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.fake.fail_next("response_url", "server_error", status=500, times=100)
    with caplog.at_level("WARNING", logger="lifeboat.bot"):
        resp = bot.survive("1st class woman, 29")
        assert resp.status == 200
        wait_for(lambda: healthz(bot)["deliveries"]["lost"] == 1)
    [line] = [r.getMessage() for r in caplog.records if "lost after" in r.getMessage()]
    assert line.startswith("reply to request ") and "12 attempt(s)" in line
    request_id = line.split()[3]
    assert len(request_id) == 12
    assert healthz(bot)["deliveries"]["retried"] == 1
