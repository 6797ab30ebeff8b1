"""A real, local stand-in for Slack: a Web API server, a signed request sender, and an ASGI runner.

Used by the test suite, the benchmarks and the browser playground, so they all exercise the same
HTTP, signing and Bolt code paths as production instead of mocks.
"""

from bot.local.signing import sign, signature
from bot.local.simulator import FRESH, Response, SlackClientSimulator
from bot.local.webapi import Call, FakeSlackWebAPI, SlackError
from bot.transport.threaded import serve_asgi_in_thread

__all__ = [
    "FRESH",
    "Call",
    "FakeSlackWebAPI",
    "Response",
    "SlackClientSimulator",
    "SlackError",
    "serve_asgi_in_thread",
    "sign",
    "signature",
]
