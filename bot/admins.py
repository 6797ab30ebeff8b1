"""Who may retrain: an explicit allow-list, optionally widened to workspace admins and owners."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
CACHE_SECONDS = 300.0


class AdminPolicy:
    def __init__(self, allow: frozenset[str], include_workspace_admins: bool = False) -> None:
        self.allow = allow
        self.include_workspace_admins = include_workspace_admins
        self._cache: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def is_admin(self, user_id: str, client: WebClient) -> bool:
        if user_id in self.allow:
            return True
        if not self.include_workspace_admins:
            return False
        with self._lock:
            cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError as exc:  # unknown user or missing scope: not an admin
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return False
        allowed = bool(user.get("is_admin") or user.get("is_owner"))
        with self._lock:
            self._cache[user_id] = (allowed, time.monotonic())
        return allowed
