"""Log lines: secrets redacted whatever logged them, events as fields, JSON one object a line."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot.transport.logs import JsonFormatter, Redactor, TextFormatter, configure_logging, log_event

TOKEN = "xoxb-1234567890-abcdefghij"


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError(f"failed with {TOKEN}")
        except RuntimeError:
            info = sys.exc_info()
    return logging.LogRecord("lifeboat.test", logging.WARNING, __file__, 1, message, args, info)


def test_secret_values_and_token_shaped_text_are_redacted() -> None:
    redact = Redactor(["signing-secret-value", "short"])
    text = redact(f"secret signing-secret-value, token {TOKEN}, app xapp-1-A0-123456, v0={'a' * 64}, short")
    assert text == "secret [redacted], token [redacted], app [redacted], [redacted], short"


def test_json_lines_redact_the_message_and_the_traceback() -> None:
    line = JsonFormatter(Redactor([]))
    entry = json.loads(line.format(record("calling with %s", TOKEN, exc=True)))
    assert entry["message"] == "calling with [redacted]" and entry["level"] == "WARNING"
    assert "RuntimeError: failed with [redacted]" in entry["exception"]
    assert TOKEN not in line.format(record("calling with %s", TOKEN, exc=True))


def test_an_event_is_fields_in_json_and_key_values_in_text(monkeypatch: pytest.MonkeyPatch) -> None:
    for log_format, expected in (
        ("json", None),
        ("text", "answer request_id=abc latency_ms=1.5 outcome=answered"),
    ):
        monkeypatch.setenv("LIFEBOAT_LOG_FORMAT", log_format)
        stderr = io.StringIO()
        monkeypatch.setattr(sys, "stderr", stderr)
        configure_logging("INFO")
        log_event(
            logging.getLogger("lifeboat.test"), "answer", request_id="abc", latency_ms=1.5, outcome="answered"
        )
        written = stderr.getvalue().strip()
        if expected is None:
            entry = json.loads(written)
            assert entry["event"] == "answer" and entry["latency_ms"] == 1.5 and entry["request_id"] == "abc"
        else:
            assert written.endswith(f"INFO lifeboat.test: {expected}")


def test_text_lines_are_redacted_too() -> None:
    assert TOKEN not in TextFormatter(Redactor([])).format(record("token %s", TOKEN))
