"""GET /metrics: every series, parsed with prometheus_client's own text parser, from a bot driven
with real signed requests; and one scrape adding up the workers of `lifeboat run --workers 2`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient

from bot.blocks import survive as survive_blocks
from bot.local import FakeSlackWebAPI, SlackClientSimulator
from bot.transport.metrics import process_alive
from ml.io.runs import FAILED, SUCCEEDED, Acquired
from tests.support.bot import SECRET, TOKEN, Bot, buttons

SERIES = (
    "lifeboat_requests",
    "lifeboat_requests_in_flight",
    "lifeboat_ack_seconds",
    "lifeboat_answer_seconds",
    "lifeboat_answers",
    "lifeboat_web_api_retries",
    "lifeboat_scoring",
    "lifeboat_uploads",
    "lifeboat_retrain_runs",
    "lifeboat_model_info",  # an info metric: a gauge of 1 in the text format
)


def scrape(url: str) -> tuple[dict[str, str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """Metric families' types, and every sample by name and labels."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    types, samples = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return types, samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def eventually(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_a_scrape_has_every_series_and_counts_what_happened(bot: Bot) -> None:
    reply = bot.survive("1st class woman, 29")
    bot.reply_to(reply)
    bot.survive("help")
    unsigned = urllib.request.Request(f"{bot.url}/slack/events", data=b"command=/survive", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=5)
    assert refused.value.code == 401

    def answered() -> Any:
        types, samples = scrape(bot.url)
        return (
            (types, samples)
            if value(samples, "lifeboat_answer_seconds_count", kind="slash_command")
            else None
        )

    types, samples = eventually(answered)
    assert set(SERIES) <= set(types)
    assert types["lifeboat_ack_seconds"] == "histogram" and types["lifeboat_model_info"] == "gauge"
    assert value(samples, "lifeboat_requests_total", kind="slash_command", outcome="ok") == 2
    assert value(samples, "lifeboat_requests_total", kind="unknown", outcome="refused") == 1
    assert value(samples, "lifeboat_ack_seconds_count", kind="slash_command") == 2
    assert value(samples, "lifeboat_ack_seconds_bucket", kind="slash_command", le="3.0") == 2
    assert value(samples, "lifeboat_answer_seconds_count", kind="slash_command") == 2
    assert value(samples, "lifeboat_answers_total", outcome="delivered") == 1
    assert value(samples, "lifeboat_scoring_total", path="local") == 1
    assert value(samples, "lifeboat_requests_in_flight") == 0
    assert value(samples, "lifeboat_model_info", model="TITANIC", version="V1", backend="local") == 1


def test_chart_uploads_are_counted_by_how_they_ended(bot: Bot) -> None:
    answer = bot.reply_to(bot.survive("3rd class man, 30"))
    chart = buttons(answer.args["blocks"])[survive_blocks.CHART_ACTION]

    def show_chart() -> None:
        bot.reply_to(
            bot.sim.block_action(survive_blocks.CHART_ACTION, chart["value"], channel_id="C_GENERAL")
        )

    show_chart()
    bot.fake.fail_next("files.completeUploadExternal", "missing_scope")  # Slack says no: not retried
    show_chart()
    bot.fake.fail_next("upload", "server_error", status=500, times=3)  # the bytes' POST, every attempt
    show_chart()
    _, samples = scrape(bot.url)
    counts = {
        o: value(samples, "lifeboat_uploads_total", outcome=o) for o in ("uploaded", "refused", "failed")
    }
    assert counts == {"uploaded": 1, "refused": 1, "failed": 1}
    with urllib.request.urlopen(f"{bot.url}/healthz", timeout=5) as response:
        assert json.load(response)["uploads"] == {"uploaded": 1, "refused": 1, "failed": 1}
    # The bytes were POSTed by the first two uploads (the second was refused after), then three tries.
    assert len(bot.fake.calls("upload")) == 1 + 1 + 3


def test_finished_retraining_runs_are_counted_by_outcome(bot: Bot) -> None:
    store = bot.services.retrain.store
    client = WebClient(token=TOKEN, base_url=bot.fake.base_url)
    for status, promoted in ((SUCCEEDED, True), (SUCCEEDED, False), (FAILED, None)):
        claim = store.start("U_ADMIN", 6, {"channel": "C_GENERAL", "ts": "1.0"})
        assert isinstance(claim, Acquired)
        store.finish(
            claim.run.id, status=status, promoted=promoted, error=None if promoted is not None else "boom"
        )
        bot.services.watcher.watch(claim.run.id, client, "C_GENERAL", "1.0").result(timeout=10)
    _, samples = scrape(bot.url)
    for outcome in ("promoted", "kept", "failed"):
        assert value(samples, "lifeboat_retrain_runs_total", outcome=outcome) == 1


# -- several workers, one scrape ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_workers_are_added_up_and_a_dead_one_leaves_its_counts(home: Path, tmp_path: Path) -> None:
    port, shared = free_port(), tmp_path / "prometheus"
    with FakeSlackWebAPI(token="xoxb-metrics-test") as fake:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-metrics-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": fake.base_url,
            "LIFEBOAT_HOME": str(home),
            "PROMETHEUS_MULTIPROC_DIR": str(shared),
        }
        command = [sys.executable, "-m", "bot.cli", "run", "--http", "--workers", "2", "--port", str(port)]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            assert eventually(lambda: _healthy(url), timeout=60), "the bot did not start"
            # each worker keeps its values in files of its own there, made as it starts
            assert eventually(lambda: len(list(shared.glob("gauge_livesum_*.db"))) == 2, timeout=60)
            sim = SlackClientSimulator(f"{url}/slack/events", SECRET, fake)
            sent = 12
            for i in range(sent):
                reply = sim.slash_command("/survive", f"3rd class man, {20 + i}")
                fake.wait_for("response_url", lambda c, r=reply: c.args["url"] == r.sent["response_url"])
            workers = {int(p.stem.rsplit("_", 1)[1]) for p in shared.glob("gauge_livesum_*.db")}

            def all_counted() -> Any:
                _, samples = scrape(url)
                return (
                    samples if value(samples, "lifeboat_answers_total", outcome="delivered") == sent else None
                )

            samples = eventually(all_counted)
            assert value(samples, "lifeboat_requests_total", kind="slash_command", outcome="ok") == sent
            assert value(samples, "lifeboat_ack_seconds_count", kind="slash_command") == sent
            assert value(samples, "lifeboat_model_info", model="TITANIC", version="V1", backend="local") == 1

            dead = min(workers)
            os.kill(dead, signal.SIGKILL)
            assert eventually(lambda: not process_alive(dead))
            _, samples = scrape(url)  # whichever worker answers drops the dead one's live gauge
            assert not (shared / f"gauge_livesum_{dead}.db").exists()
            assert value(samples, "lifeboat_requests_total", kind="slash_command", outcome="ok") == sent
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False
