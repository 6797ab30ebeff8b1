"""The one exception the Snowflake backend raises when it cannot do its job."""

from __future__ import annotations


class SnowflakeUnavailable(RuntimeError):
    """Snowflake cannot be used as configured. The message is one line saying what to fix; it never
    contains a password, token or private key."""

    def __init__(self, message: str) -> None:
        # One line, whatever the driver said: messages end up in Slack replies and CLI errors.
        super().__init__(" ".join(str(message).split()))
