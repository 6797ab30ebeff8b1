"""Fault injection at named points, for crash tests of writes and retraining runs.

Set LIFEBOAT_FAILPOINTS="name=action[,name=action]" where action is `raise`, `kill` (SIGKILL this
process, as a power cut would) or `sleep:SECONDS`. Unset in normal use: `hit()` is then a dict miss.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "LIFEBOAT_FAILPOINTS"


class InjectedFailure(RuntimeError):
    """Raised at a failpoint set to `raise`."""


def _parse(spec: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in spec.split(","):
        name, _, action = item.strip().partition("=")
        if name:
            points[name] = action or "raise"
    return points


def hit(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    action = _parse(spec).get(name)
    if action is None:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
    else:
        raise InjectedFailure(f"injected failure at {name}")
