"""Serve an ASGI app with uvicorn in a background thread.

Socket Mode's `/healthz` and `/metrics` beside the socket, and the tests, benchmarks and playground
("the app, listening, right now" without a subprocess). The socket is bound before uvicorn starts, so
port 0 yields a known port and there is no race.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class _ThreadedServer(uvicorn.Server):
    """uvicorn.Server that tells the starting thread when it is accepting connections (or gave up)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    def run_in_thread(self, sockets: list[socket.socket]) -> None:
        try:
            self.run(sockets=sockets)
        finally:
            self.ready.set()  # wake the waiter if startup never happened


@contextmanager
def serve_asgi_in_thread(
    asgi_app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
    **config: Any,
) -> Iterator[str]:
    """Run ``asgi_app`` until the block exits; yields its base URL, ``http://{host}:{port}`` (no slash).

    Signal handlers are not installed (uvicorn skips them off the main thread), no access log is
    written, and the global logging config is left alone. Extra keyword arguments go to
    ``uvicorn.Config``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    settings: dict[str, Any] = {
        "log_level": log_level,
        "log_config": None,
        "access_log": False,
        "lifespan": "auto",
        "timeout_graceful_shutdown": 3,
        **config,
    }
    server = _ThreadedServer(uvicorn.Config(asgi_app, host=host, port=bound_port, **settings))
    thread = threading.Thread(
        target=server.run_in_thread, args=([sock],), name=f"uvicorn-{bound_port}", daemon=True
    )
    thread.start()
    try:
        if not server.ready.wait(startup_timeout) or not server.started:
            raise RuntimeError(f"uvicorn did not start on {host}:{bound_port} within {startup_timeout}s")
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
