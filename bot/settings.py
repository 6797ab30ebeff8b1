"""Slack-side settings from the environment (and `.env`). Secrets are never logged."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml.config import env, env_bool, load_env_file

SLACK_API_URL_DEFAULT = "https://slack.com/api/"


@dataclass(frozen=True)
class BotSettings:
    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""  # xapp-...: Socket Mode
    api_url: str = SLACK_API_URL_DEFAULT
    port: int = 3000
    # Where Socket Mode serves /healthz and /metrics: this machine only, unless told (a container's
    # probes and scrapes need 0.0.0.0). HTTP mode listens on every interface, as Slack must reach it.
    ops_host: str = "127.0.0.1"
    admins: frozenset[str] = field(default_factory=frozenset)
    admins_include_workspace_admins: bool = False

    @classmethod
    def from_env(cls) -> BotSettings:
        load_env_file()
        api_url = env("SLACK_API_URL") or SLACK_API_URL_DEFAULT  # set but empty means the default
        if not api_url.endswith("/"):
            api_url += "/"  # slack_sdk appends the method name to the base URL
        port_text = env("PORT", "3000")
        if not port_text.isdigit():
            raise ValueError(f"PORT must be a number (got “{port_text}”)")
        return cls(
            bot_token=env("SLACK_BOT_TOKEN"),
            signing_secret=env("SLACK_SIGNING_SECRET"),
            app_token=env("SLACK_APP_TOKEN"),
            api_url=api_url,
            port=int(port_text),
            ops_host=env("LIFEBOAT_OPS_HOST") or "127.0.0.1",
            admins=frozenset(a.strip() for a in env("LIFEBOAT_ADMINS").split(",") if a.strip()),
            admins_include_workspace_admins=env_bool("LIFEBOAT_ADMINS_INCLUDE_WORKSPACE_ADMINS"),
        )

    def missing_credentials(self, *, http: bool) -> list[str]:
        """What is missing to connect to Slack in the chosen mode (empty: ready)."""
        missing = [] if self.bot_token else ["SLACK_BOT_TOKEN"]
        if (http or not self.app_token) and not self.signing_secret:
            missing.append(
                "SLACK_SIGNING_SECRET"
                if http
                else "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)"
            )
        return missing

    @property
    def any_slack_credentials(self) -> bool:
        return bool(self.bot_token or self.signing_secret or self.app_token)

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    def __repr__(self) -> str:  # never print tokens, even by accident
        return (
            f"BotSettings(api_url={self.api_url!r}, port={self.port}, socket_mode={self.socket_mode}, "
            f"admins={sorted(self.admins)}, bot_token={'set' if self.bot_token else 'unset'})"
        )
