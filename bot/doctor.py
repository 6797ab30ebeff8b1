"""`lifeboat doctor`'s Slack checks: the settings, the bot token (auth.test) and its scopes, and in
Socket Mode the app-level token, against the Web API the bot will use. A token is never printed."""

from __future__ import annotations

from collections.abc import Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.settings import BotSettings
from ml.io.doctor import Check, CheckFailed

# What manifest.yml asks for; users:read only when workspace admins count as lifeboat admins.
REQUIRED_SCOPES = ("commands", "chat:write", "im:write", "files:write", "app_mentions:read", "im:history")
SETTINGS, BOT_TOKEN, SCOPES, APP_TOKEN = (
    "Slack settings",
    "Slack bot token",
    "Slack bot scopes",
    "Slack app token",
)


class SlackChecks:
    """One check per method; `checks()` in the order they depend on each other."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.granted: list[str] = []  # what auth.test says the bot token may do

    def checks(self) -> list[Check]:
        """None but one line when no Slack credentials are set (`lifeboat run` opens the playground)."""
        if not self.settings.any_slack_credentials:
            return [Check("Slack", lambda: "no Slack credentials: `lifeboat run` opens the local playground")]
        checks = [
            Check(SETTINGS, self.credentials),
            Check(BOT_TOKEN, self.bot_token, needs=(SETTINGS,)),
            Check(SCOPES, self.scopes, needs=(BOT_TOKEN,)),
        ]
        if self.settings.socket_mode:
            checks.append(Check(APP_TOKEN, self.app_token, needs=(SETTINGS,)))
        return checks

    def credentials(self) -> str:
        missing = self.settings.missing_credentials(http=not self.settings.socket_mode)
        if missing:
            raise CheckFailed(f"missing {' and '.join(missing)}", "set them in .env (see .env.example)")
        return "Socket Mode" if self.settings.socket_mode else "HTTP mode"

    def bot_token(self) -> str:
        client = WebClient(token=self.settings.bot_token, base_url=self.settings.api_url, timeout=10)
        response = self._ask(
            client.auth_test,
            "check SLACK_BOT_TOKEN (xoxb-…, under OAuth & Permissions; reinstalling the app gives a new one)",
        )
        headers = {name.lower(): value for name, value in response.headers.items()}
        self.granted = [s.strip() for s in str(headers.get("x-oauth-scopes", "")).split(",") if s.strip()]
        return f"workspace {response.get('team')}, bot user @{response.get('user')}"

    def scopes(self) -> str:
        wanted = [
            *REQUIRED_SCOPES,
            *(["users:read"] if self.settings.admins_include_workspace_admins else []),
        ]
        missing = [scope for scope in wanted if scope not in self.granted]
        if missing:
            raise CheckFailed(
                f"the bot token lacks {', '.join(missing)}",
                "add them under OAuth & Permissions (manifest.yml lists them), then reinstall the app",
            )
        return ", ".join(wanted)

    def app_token(self) -> str:
        client = WebClient(base_url=self.settings.api_url, timeout=10)
        self._ask(
            lambda: client.apps_connections_open(app_token=self.settings.app_token),
            "create an app-level token with connections:write under Basic Information; set SLACK_APP_TOKEN",
        )
        return "Socket Mode can connect"

    def _ask(self, call: Callable[[], SlackResponse], fix: str) -> SlackResponse:
        """Slack's answer to `call`; a refusal (with `fix`) or no answer at all is the check's failure."""
        try:
            return call()
        except SlackApiError as exc:
            raise CheckFailed(f"Slack refused it ({exc.response.get('error')})", fix) from None
        except URLError as exc:
            raise CheckFailed(
                f"cannot reach {self.settings.api_url}: {exc.reason}",
                "check the network (and SLACK_API_URL if you set it)",
            ) from None
