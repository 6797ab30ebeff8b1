"""The exceptions the Snowflake backend raises when it cannot do its job."""

from __future__ import annotations


class SnowflakeUnavailable(RuntimeError):
    """Snowflake cannot be used as configured. The message is one line saying what to fix; it never
    contains a password, token or private key. `code` is Snowflake's error code when there was one
    (the driver's exception is not chained: its text may carry connection details)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        # One line, whatever the driver said: messages end up in Slack replies and CLI errors.
        super().__init__(" ".join(str(message).split()))
        self.code = code


class NotServableError(SnowflakeUnavailable):
    """This model version cannot run in the warehouse as lifeboat calls it (its function is missing
    or its signature differs): retrying will not help until the version changes."""
