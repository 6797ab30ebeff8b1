"""Tokens and the signing secret never reach the logs, even with --debug."""

from __future__ import annotations

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


def test_debug_logs_of_a_serving_bot_hold_no_secrets(home: Path) -> None:
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
    assert "DEBUG" in log  # debug logging really was on
    assert "SUPERSECRET" not in log
