"""bot.respond: replies to response_url over kept-alive connections, sending exactly what Bolt's own
`respond()` sends; Bolt's own is used when a proxy is configured."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from slack_bolt import BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import DividerBlock, SectionBlock

from bot.local import FakeSlackWebAPI
from bot.respond import PooledRespond, ReplyPoster, pooled_respond_middleware


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


def test_an_unreachable_url_raises_after_one_retry() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    poster = ReplyPoster(timeout=2)
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        PooledRespond(response_url=f"http://127.0.0.1:{port}/response/x", poster=poster)("hi")


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
