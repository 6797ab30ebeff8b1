"""Tokens and the signing secret never reach the logs, even with --debug, in text or JSON lines;
JSON lines carry each request's id, user, command, latency and outcome."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.local import FakeSlackWebAPI, SlackClientSimulator

TOKEN = "xoxb-SUPERSECRET-token-1234"
SECRET = "signing-SUPERSECRET-5678"


FORMATS = ("text", "json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the bot did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def logs(trained_home_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Everything `lifeboat --debug run --http` logs, in each format, while answering a /survive
    and opening the form, then stopping (both bots started at once: each start is seconds)."""
    with contextlib.ExitStack() as stack:
        running = {}
        for log_format in FORMATS:
            home = tmp_path_factory.mktemp(f"home-{log_format}")
            shutil.copytree(trained_home_template, home, dirs_exist_ok=True)
            fake = stack.enter_context(FakeSlackWebAPI(token=TOKEN))
            port = free_port()
            env = {
                **os.environ,
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_APP_TOKEN": "",
                "SLACK_API_URL": fake.base_url,
                "LIFEBOAT_HOME": str(home),
                "LIFEBOAT_LOG_FORMAT": log_format,
            }
            command = [sys.executable, "-m", "bot.cli", "--debug", "run", "--http", "--port", str(port)]
            proc = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            stack.callback(proc.kill)
            running[log_format] = (proc, port, fake)
        out = {}
        for log_format, (proc, port, fake) in running.items():
            try:
                wait_healthy(proc, port)
                sim = SlackClientSimulator(f"http://127.0.0.1:{port}/slack/events", SECRET, fake)
                reply = sim.slash_command("/survive", "1st class woman, 29")
                fake.wait_for("response_url", lambda c, r=reply: c.args["url"] == r.sent["response_url"])
                sim.slash_command("/survive", "")
                fake.wait_for("views.open")
            finally:
                proc.terminate()
                out[log_format] = proc.communicate(timeout=15)[0]
        return out


def test_debug_logs_of_a_serving_bot_hold_no_secrets(logs: dict[str, str]) -> None:
    log = logs["text"]
    assert "DEBUG" in log  # debug logging really was on
    assert "SUPERSECRET" not in log
    assert "request request_id=" in log and "command=/survive" in log


def test_json_logs_are_one_object_a_line_with_each_request_and_no_secrets(logs: dict[str, str]) -> None:
    log = logs["json"]
    assert "SUPERSECRET" not in log
    # Lines the CLI prints for a person (not log records) start with a word; every record is JSON.
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e["level"] == "DEBUG" for e in entries)
    assert all({"ts", "level", "logger"} <= set(e) and ("message" in e or "event" in e) for e in entries)
    requests = [e for e in entries if e.get("event") == "request" and e["command"] == "/survive"]
    answers = [e for e in entries if e.get("event") == "answer" and e["command"] == "/survive"]
    assert len(requests) == 2 and len(answers) == 2
    for entry in requests + answers:
        assert entry["user"] and entry["request_id"] and entry["latency_ms"] >= 0
    assert {e["outcome"] for e in requests} == {"ok"} and {e["outcome"] for e in answers} == {"answered"}
    assert {e["request_id"] for e in requests} == {e["request_id"] for e in answers}
