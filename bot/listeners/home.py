"""One person's Home tab, gathered and published: shared by the app_home_opened listener, the
Home buttons and the refresher that shows a new default (bot.home_refresh)."""

from __future__ import annotations

import logging
import re

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import pictures
from bot.blocks import home as home_blocks
from bot.blocks.kit import without_images
from bot.services import Services
from ml.io.registry import ModelVersion, RegistryError

log = logging.getLogger(__name__)

USER_ID = re.compile(r"[UW][A-Z0-9_]{2,40}")  # what Slack sends as a user id


def is_user_id(value: object) -> bool:
    return isinstance(value, str) and USER_ID.fullmatch(value) is not None


def _served(services: Services) -> tuple[ModelVersion | None, str | None]:
    """The default version (from the registry: a card needs no loaded model) and the token it was
    read under. The token is read first: if the default changes in between, what is recorded is
    older than what is shown, and the refresher publishes once more, never the other way round."""
    registry = services.registry
    try:
        token = registry.default_token()
        default = registry.get_default()
        return (registry.get_version(default) if default else None), token
    except (RegistryError, OSError) as exc:
        log.warning("model unavailable for Home: %s", exc)
        return None, None


def _admin_part(services: Services, client: WebClient, user: str) -> home_blocks.AdminPart | None:
    if not services.admins.is_admin(user, client):
        return None
    registry = services.registry
    store = services.retrain.store
    return home_blocks.AdminPart(
        versions=registry.list_versions(),
        default=registry.get_default(),
        previous=registry.previous_default(),
        runs=store.recent(home_blocks.RUNS_SHOWN),
        running=store.current(),
    )


def home_data(
    services: Services,
    client: WebClient,
    user: str,
    notice: str | None = None,
    version: ModelVersion | None = None,
) -> home_blocks.HomeData:
    """What `user`'s Home shows, with `version` (the one served) as its card."""
    images = [] if version is None else pictures.card_images(services.images, client, version)
    try:
        recent = services.home_store.recent(user)
    except Exception:  # the Home store failing must not blank the whole tab
        log.warning("could not read %s's last answers", user, exc_info=True)
        recent = []
    return home_blocks.HomeData(
        version=version,
        backend=services.registry.backend,
        pictures=images,
        recent=recent,
        admin=_admin_part(services, client, user),
        notice=notice,
        scoring=services.scorer.status(),
    )


def publish_home(services: Services, client: WebClient, user: str, notice: str | None = None) -> None:
    """Publish `user`'s Home (views.publish); if Slack refuses its pictures, again without them.
    Records which default they were shown, for the refresher."""
    version, token = _served(services)
    view = home_blocks.home_view(home_data(services, client, user, notice, version))
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as exc:
        if exc.response.get("error") != "invalid_blocks":
            raise
        log.warning("Home's pictures were refused for %s: publishing it with text only", user)
        client.views_publish(user_id=user, view={**view, "blocks": without_images(view["blocks"])})
    try:
        services.home_store.opened(user, token)
    except Exception:
        log.warning("could not record that %s opened Home", user, exc_info=True)
