"""bot.transport.respond: replies to response_url over kept-alive connections, sending exactly what Bolt's own
`respond()` sends; Bolt's own is used when a proxy is configured."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import DividerBlock, SectionBlock

from bot.local import FakeSlackWebAPI
from bot.transport.delivery import RetryPolicy
from bot.transport.respond import PooledRespond, ReplyPoster, pooled_respond_middleware


@pytest.fixture
def fake() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI(token="xoxb-test", response_url_uses=100) as api:
        yield api


@pytest.fixture
def poster() -> Iterator[ReplyPoster]:
    replies = ReplyPoster(timeout=5)
    yield replies
    replies.close()


def posted(fake: FakeSlackWebAPI, url: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in c.args.items() if k != "url"}
        for c in fake.calls("response_url")
        if c.args["url"] == url
    ]


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("plain text",), {}),
    (
        ("with blocks",),
        {
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi* <!channel> & £"}}],
            "response_type": "in_channel",
            "replace_original": False,
        },
    ),
    (("",), {"blocks": [SectionBlock(text="from a model object"), DividerBlock()], "unfurl_links": False}),
    (({"text": "a whole message", "delete_original": True},), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_sends_what_bolts_respond_sends(
    fake: FakeSlackWebAPI, poster: ReplyPoster, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    theirs, ours = fake.make_response_url(), fake.make_response_url()
    expected = Respond(response_url=theirs)(*args, **kwargs)
    got = PooledRespond(response_url=ours, poster=poster)(*args, **kwargs)
    assert posted(fake, ours) == posted(fake, theirs) and len(posted(fake, ours)) == 1
    assert (got.status_code, got.body) == (expected.status_code, expected.body) == (200, "ok")
    assert got.api_url == ours


def test_replies_reuse_one_connection(fake: FakeSlackWebAPI, poster: ReplyPoster) -> None:
    urls = [fake.make_response_url() for _ in range(8)]
    for url in urls:
        assert PooledRespond(response_url=url, poster=poster)(f"answer for {url}").status_code == 200
    pool = poster._pool.connection_from_url(urls[0])
    assert (pool.num_connections, pool.num_requests) == (1, 8)
    assert [posted(fake, url)[0]["text"] for url in urls] == [f"answer for {url}" for url in urls]


def test_a_refused_reply_is_returned_and_logged(
    fake: FakeSlackWebAPI, poster: ReplyPoster, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = f"{fake.url}response/nope"
    with caplog.at_level(logging.WARNING, logger="lifeboat.bot"):
        response = PooledRespond(response_url=unknown, poster=poster)("late")
    assert (response.status_code, response.body) == (404, "no_service")
    assert "HTTP 404: no_service" in caplog.text


def test_no_response_url_or_a_bad_argument_is_refused(poster: ReplyPoster) -> None:
    with pytest.raises(ValueError, match="no response_url"):
        PooledRespond(response_url=None, poster=poster)("hi")
    with pytest.raises(ValueError, match="unexpected type"):
        PooledRespond(response_url="http://127.0.0.1:9/x", poster=poster)(42)  # type: ignore[arg-type]


FAST = RetryPolicy(max_attempts=4, deadline_seconds=20, base_delay=0.05, max_delay=0.2)


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on (once this socket is closed)
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_url_is_retried_then_counted_lost(caplog: pytest.LogCaptureFixture) -> None:
    poster = ReplyPoster(timeout=2, policy=FAST, seed=0)
    url = f"http://127.0.0.1:{free_port()}/response/x"
    with caplog.at_level(logging.INFO, logger="lifeboat.bot"):
        response = PooledRespond(response_url=url, poster=poster, request_id="req42")("hi")
        assert response.status_code == 0  # no HTTP answer (yet)
        wait_until(lambda: poster.stats.snapshot()["lost"] == 1)
    assert poster.stats.snapshot() == {**ZERO, "retried": 1, "lost": 1}
    assert "reply to request req42 lost after 4 attempt(s)" in caplog.text
    poster.close()


ZERO = {"delivered": 0, "retried": 0, "lost": 0, "unconfirmed": 0, "web_api_retries": 0}


@pytest.mark.parametrize(
    ("status", "error"), [(500, "server_error"), (503, "unavailable"), (429, "ratelimited")]
)
def test_what_slack_could_not_take_is_delivered_once_by_a_retry(
    fake: FakeSlackWebAPI, status: int, error: str
) -> None:
    poster = ReplyPoster(timeout=5, policy=FAST, seed=0)
    url = fake.make_response_url()
    if status == 429:
        fake.rate_limit("response_url", times=1, retry_after=1)
    else:
        fake.fail_next("response_url", error, status=status, times=2)
    first = PooledRespond(response_url=url, poster=poster)("the answer")
    assert first.status_code == status
    wait_until(lambda: poster.stats.snapshot()["delivered"] == 1)
    calls = fake.calls("response_url")
    refused = 1 if status == 429 else 2
    assert [c.status for c in calls] == [status] * refused + [200]
    assert [c.args["url"] for c in calls] == [url] * (refused + 1)  # the refused posts were ours
    assert posted(fake, url)[-1]["text"] == "the answer"
    assert poster.stats.snapshot() == {**ZERO, "delivered": 1, "retried": 1}
    if status == 429:  # Retry-After: 1 was honoured
        assert calls[1].time - calls[0].time >= 1.0
    poster.close()


def test_a_reply_slack_may_have_received_is_never_sent_twice(fake: FakeSlackWebAPI) -> None:
    """The post arrived and was shown; the connection then died before Slack's answer."""
    poster = ReplyPoster(timeout=5, policy=FAST, seed=0)
    url = fake.make_response_url()
    fake.chaos(1.0, kinds=("drop",), methods=frozenset({"response_url"}))
    try:
        response = PooledRespond(response_url=url, poster=poster)("shown once")
    finally:
        fake.chaos(0)
    assert response.status_code == 0
    time.sleep(0.5)  # a retry, had one been scheduled, would have gone out by now
    assert len(posted(fake, url)) == 1
    assert poster.stats.snapshot() == {**ZERO, "unconfirmed": 1}
    poster.close()


def test_a_read_timeout_is_not_retried() -> None:
    """A server that takes the whole request and never answers: it may have acted on it."""
    received: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(5)
        port = server.getsockname()[1]
        poster = ReplyPoster(timeout=0.3, policy=FAST, seed=0)
        accepted: list[socket.socket] = []

        def accept() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = server.accept()
                    accepted.append(conn)
                    received.append(conn.recv(65536))

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        response = PooledRespond(response_url=f"http://127.0.0.1:{port}/response/x", poster=poster)("hi")
        time.sleep(0.5)
        assert response.status_code == 0
        assert len(received) == 1 and received[0].startswith(b"POST /response/x")
        assert poster.stats.snapshot() == {**ZERO, "unconfirmed": 1}
        for conn in accepted:
            conn.close()
    poster.close()


def test_an_outage_is_waited_out() -> None:
    with FakeSlackWebAPI(close_connections=True) as api:
        poster = ReplyPoster(timeout=5, policy=FAST, seed=0)
        url = api.make_response_url()
        with api.outage():
            response = PooledRespond(response_url=url, poster=poster)("after the outage")
            assert response.status_code == 0  # refused: nothing was sent
            time.sleep(0.3)  # a couple of refused retries
        wait_until(lambda: poster.stats.snapshot()["delivered"] == 1)
        assert [c.args["text"] for c in api.calls("response_url")] == ["after the outage"]
        poster.close()


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(fake: FakeSlackWebAPI) -> None:
    poster = ReplyPoster(timeout=5, policy=RetryPolicy(deadline_seconds=5), seed=0)
    fake.rate_limit("response_url", retry_after=60)
    response = PooledRespond(response_url=fake.make_response_url(), poster=poster)("too late")
    assert response.status_code == 429
    assert poster.stats.snapshot() == {**ZERO, "lost": 1}
    assert poster.pending() == 0
    poster.close()


def test_a_refused_reply_is_not_retried(fake: FakeSlackWebAPI, poster: ReplyPoster) -> None:
    url = fake.make_response_url()
    fake.fail_next("response_url", "used_url", status=404)
    assert PooledRespond(response_url=url, poster=poster)("x").status_code == 404
    time.sleep(0.3)
    assert len(fake.calls("response_url")) == 1
    assert poster.stats.snapshot() == {**ZERO, "lost": 1}


def run_middleware(context: BoltContext, poster: ReplyPoster) -> bool:
    called: list[bool] = []
    pooled_respond_middleware(poster)(context, lambda: called.append(True))
    return bool(called)


def test_middleware_installs_the_pooled_respond(poster: ReplyPoster, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    context = BoltContext({"response_url": "http://127.0.0.1:9/response/1", "client": WebClient()})
    assert run_middleware(context, poster)
    assert isinstance(context.respond, PooledRespond) and context.respond.poster is poster

    no_url = BoltContext({"client": WebClient()})  # a view submission has no response_url
    assert run_middleware(no_url, poster)
    assert "respond" not in no_url


def test_with_a_proxy_bolts_own_respond_is_kept(poster: ReplyPoster, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9/response/1"
    proxied = BoltContext({"response_url": url, "client": WebClient(proxy="http://proxy.internal:3128")})
    assert run_middleware(proxied, poster)
    assert type(proxied.respond) is Respond

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    from_env = BoltContext({"response_url": url, "client": WebClient()})
    assert run_middleware(from_env, poster)
    assert type(from_env.respond) is Respond
