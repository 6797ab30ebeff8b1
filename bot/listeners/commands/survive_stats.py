"""`/survive stats [by A and B]`: the question understood, the figures fetched, the reply built."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient

from bot import pictures
from bot.blocks import stats as stats_blocks
from bot.listeners.replies import Reply
from bot.services import Services
from ml.core.stats import StatsQuestionError, parse_groupings, valid_groupings
from ml.core.table import DataError
from ml.io.registry import RegistryError
from ml.snowflake.errors import SnowflakeUnavailable  # no Snowflake library behind it

log = logging.getLogger(__name__)

STATS_WORDS = frozenset({"stats", "statistics", "stat"})


def asks_for_stats(text: str) -> bool:
    """'stats', 'stats by class and sex', 'Statistics by age': the first word decides."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() in STATS_WORDS


@dataclass(frozen=True)
class StatsQuestion:
    """The groupings asked for, or the reply when they are not ones we have."""

    by: tuple[str, ...] = ()
    reply: Reply | None = None


def understand_stats(text: str) -> StatsQuestion:
    """'stats by class and sex' -> ('class', 'sex'); unknown groupings get a reply naming the valid ones."""
    words = text.split(maxsplit=1)
    try:
        return StatsQuestion(by=parse_groupings(words[1] if len(words) > 1 else ""))
    except StatsQuestionError as exc:
        # The notification text quotes nothing the user typed: only the blocks do, escaped.
        return StatsQuestion(
            reply=Reply(f"Groupings: {valid_groupings()}.", stats_blocks.stats_question_blocks(exc))
        )


def stats_reply(services: Services, by: tuple[str, ...], client: WebClient | None = None) -> Reply:
    """The figures as tables; for one breakdown (`by`), with a client, also as a chart."""
    try:
        stats = services.backend.passenger_stats()
    except (RegistryError, SnowflakeUnavailable, DataError, OSError) as exc:
        log.warning("passenger figures unavailable: %s", exc)
        return Reply(
            "The passenger figures are unavailable right now.", stats_blocks.stats_unavailable_blocks()
        )
    picture = pictures.stats_image(services.images, client, stats, by) if by and client is not None else None
    return Reply(stats_blocks.stats_text(stats, by), stats_blocks.stats_blocks(stats, by, picture))
