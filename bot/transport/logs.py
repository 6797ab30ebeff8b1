"""Logging for the bot and the CLI: plain text by default, one JSON object per line with
LIFEBOAT_LOG_FORMAT=json. LIFEBOAT_LOG_LEVEL sets the level (DEBUG, INFO, WARNING, ...).

Events (`log_event`) carry fields: in text they read `request request_id=… kind=… outcome=…`,
in JSON they are keys of the object. Tokens and secrets never reach a line: the Slack settings'
values and anything shaped like a Slack token are replaced by [redacted] in every line, whatever
logged it (Bolt, slack_sdk and uvicorn included).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

FORMAT_ENV = "LIFEBOAT_LOG_FORMAT"
LEVEL_ENV = "LIFEBOAT_LOG_LEVEL"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SECRET_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_SECRET")
# Slack tokens: xoxb-/xoxp-/xoxa-/xoxe-…, app-level xapp-…, and signatures v0=<64 hex>.
_TOKEN = re.compile(r"\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]{6,}|\bv0=[0-9a-f]{64}\b")
REDACTED = "[redacted]"


class Redactor:
    """Replaces secret values and token-shaped text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would redact ordinary words; a real secret is long.
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    @classmethod
    def from_env(cls) -> Redactor:
        return cls(os.environ.get(name, "") for name in SECRET_SETTINGS)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _TOKEN.sub(REDACTED, text)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "message" or "event" and its fields, "exception"}: one line each."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        event = getattr(record, "event", None)
        if event is not None:
            entry["event"] = event
            entry.update(getattr(record, "fields", {}))
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, default=str, ensure_ascii=False))


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One event with its fields: `event k=v k=v` as text, keys of the object as JSON."""
    if not logger.isEnabledFor(level):
        return
    text = " ".join([event, *(f"{key}={value}" for key, value in fields.items())])
    logger.log(level, "%s", text, extra={"event": event, "fields": fields})


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (not when the handler was made)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(default_level: str = "WARNING") -> None:
    """Root logging from the environment (format and level), for the CLI and each server worker.
    Called again, it replaces the handler it installed before and leaves others alone."""
    level = os.environ.get(LEVEL_ENV, "").strip().upper() or default_level
    redact = Redactor.from_env()
    json_lines = os.environ.get(FORMAT_ENV, "").strip().lower() == "json"
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter(redact) if json_lines else TextFormatter(redact))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
