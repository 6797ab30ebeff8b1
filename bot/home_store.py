"""What the Home tab remembers, beside the registry: each person's last five answers, and who
opened Home (and on which default) so a new default can be shown to them without their asking.

A small SQLite database (`home.db` in LIFEBOAT_HOME), like the replay ledger (bot.transport.replay)
and for the same reasons: shared by every replica sharing the home, and kept apart from the
registry's database, whose write lock a registration holds while it fsyncs a model.

- `home_answers`: one row per answer, per user; after each insert only the user's five newest
  are kept. "Forget me" deletes the user's rows (and their `home_views` row).
- `home_views`: one row per user who opened Home: when, and the default token it showed. A
  replica refreshing Home after a default change claims each user with an UPDATE that only one
  replica can win (the token changes), so a user's Home is republished once, not once per replica.

A store that fails (a locked or broken file) must not fail an answer: callers log and go on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml.io.sqlite_file import SQLiteFile

DB_FILE = "home.db"
KEPT_ANSWERS = 5
MAX_USER_CHARS = 64


class HomeStore:
    def __init__(self, path: str | Path) -> None:
        self._file = SQLiteFile(path, timeout=2.0, synchronous="NORMAL")
        self.path = self._file.path
        self._file.connection().executescript(
            "CREATE TABLE IF NOT EXISTS home_answers ("
            " user TEXT NOT NULL, at REAL NOT NULL, answer TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS home_answers_user ON home_answers (user, at);"
            "CREATE TABLE IF NOT EXISTS home_views ("
            " user TEXT PRIMARY KEY, opened_at REAL NOT NULL, token TEXT);"
            "CREATE INDEX IF NOT EXISTS home_views_opened ON home_views (opened_at);"
        )

    # -- answers -------------------------------------------------------------------------------
    def remember(self, user: str, answer: Mapping[str, Any], now: float | None = None) -> None:
        """Keep `answer` (JSON-able: label, headline, version) as the user's newest; five at most."""
        now = time.time() if now is None else now
        with self._file.write() as db:
            db.execute(
                "INSERT INTO home_answers (user, at, answer) VALUES (?, ?, ?)",
                (user[:MAX_USER_CHARS], now, json.dumps(dict(answer))),
            )
            db.execute(
                "DELETE FROM home_answers WHERE user = ? AND rowid NOT IN"
                " (SELECT rowid FROM home_answers WHERE user = ? ORDER BY at DESC, rowid DESC LIMIT ?)",
                (user[:MAX_USER_CHARS], user[:MAX_USER_CHARS], KEPT_ANSWERS),
            )

    def recent(self, user: str, limit: int = KEPT_ANSWERS) -> list[dict[str, Any]]:
        rows = self._file.connection().execute(
            "SELECT at, answer FROM home_answers WHERE user = ? ORDER BY at DESC, rowid DESC LIMIT ?",
            (user[:MAX_USER_CHARS], limit),
        )
        out = []
        for at, text in rows:
            try:
                answer = json.loads(text)
            except ValueError:
                continue
            if isinstance(answer, dict):
                out.append({**answer, "at": at})
        return out

    def forget(self, user: str) -> int:
        """Delete everything kept about `user`; returns how many answers were deleted."""
        with self._file.write() as db:
            deleted = db.execute("DELETE FROM home_answers WHERE user = ?", (user[:MAX_USER_CHARS],)).rowcount
            db.execute("DELETE FROM home_views WHERE user = ?", (user[:MAX_USER_CHARS],))
        return int(deleted)

    # -- who has Home open -----------------------------------------------------------------------
    def opened(self, user: str, token: str | None, now: float | None = None) -> None:
        """`user` was shown Home with the default whose token is `token`."""
        now = time.time() if now is None else now
        with self._file.write() as db:
            db.execute(
                "INSERT INTO home_views (user, opened_at, token) VALUES (?, ?, ?)"
                " ON CONFLICT (user) DO UPDATE SET opened_at = excluded.opened_at, token = excluded.token",
                (user[:MAX_USER_CHARS], now, token),
            )

    def anyone_since(self, since: float) -> bool:
        row = (
            self._file.connection()
            .execute("SELECT 1 FROM home_views WHERE opened_at >= ? LIMIT 1", (since,))
            .fetchone()
        )
        return row is not None

    def claim_stale(self, token: str, since: float, limit: int) -> list[str]:
        """Users who opened Home since `since` and were shown another default than `token`, each
        claimed for this caller (their row now says `token`): at most `limit`, newest first."""
        with self._file.write() as db:
            return self._claim(db, token, since, limit)

    @staticmethod
    def _claim(db: sqlite3.Connection, token: str, since: float, limit: int) -> list[str]:
        candidates = [
            user
            for (user,) in db.execute(
                "SELECT user FROM home_views WHERE opened_at >= ? AND (token IS NULL OR token != ?)"
                " ORDER BY opened_at DESC LIMIT ?",
                (since, token, limit),
            )
        ]
        claimed = []
        for user in candidates:
            won = db.execute(
                "UPDATE home_views SET token = ? WHERE user = ? AND (token IS NULL OR token != ?)",
                (token, user, token),
            ).rowcount
            if won:
                claimed.append(user)
        return claimed

    def close(self) -> None:
        self._file.close()


def open_home_store(home: str | Path) -> HomeStore:
    return HomeStore(Path(home) / DB_FILE)
