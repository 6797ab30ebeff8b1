"""Tokens and the signing secret never reach the logs, even with --debug, in text or JSON lines;
JSON lines carry each request's id, user, command, latency and outcome."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.local import FakeSlackWebAPI, SlackClientSimulator

TOKEN = "xoxb-SUPERSECRET-token-1234"
SECRET = "signing-SUPERSECRET-5678"


def serve_and_log(home: Path, log_format: str) -> str:
    """Everything a `lifeboat --debug run --http` logs while answering a /survive and opening the
    form, then stopping."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with FakeSlackWebAPI(token=TOKEN) as fake:
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
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "the bot did not start"
                    time.sleep(0.1)
            sim = SlackClientSimulator(f"http://127.0.0.1:{port}/slack/events", SECRET, fake)
            reply = sim.slash_command("/survive", "1st class woman, 29")
            fake.wait_for("response_url", lambda c: c.args["url"] == reply.sent["response_url"])
            sim.slash_command("/survive", "")
            fake.wait_for("views.open")
        finally:
            proc.terminate()
            log = proc.communicate(timeout=15)[0]
    return log


def test_debug_logs_of_a_serving_bot_hold_no_secrets(home: Path) -> None:
    log = serve_and_log(home, "text")
    assert "DEBUG" in log  # debug logging really was on
    assert "SUPERSECRET" not in log
    assert "request request_id=" in log and "command=/survive" in log


def test_json_logs_are_one_object_a_line_with_each_request_and_no_secrets(home: Path) -> None:
    log = serve_and_log(home, "json")
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
