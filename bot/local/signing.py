"""Slack v0 request signing, so local requests pass Bolt's real signature check.

Slack signs every request it sends to an app: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}``
keyed by the app's signing secret. Producing the same headers lets tests exercise Bolt's
``RequestVerification`` middleware instead of switching it off.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


def signature(secret: str, body: bytes | str, timestamp: int | str) -> str:
    """Return the ``v0=<hex>`` signature that ``slack_sdk.signature.SignatureVerifier`` expects."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Return the two signing headers for ``body``; ``timestamp`` defaults to now (pass an old one to
    test Bolt's 5-minute replay window)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, body, ts)}
