"""`/survive stats` as Block Kit, and the text table `lifeboat stats` prints too: pure functions.

The table is text in a code block, so its columns line up (Slack and the playground show code
blocks in a monospace font; a section's 3000 characters hold the largest cross table). For one
breakdown (`stats by class`, or a cross table) a chart of it (bars with interval whiskers, drawn
by bot.charts and uploaded) comes first; the table stays either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.kit import Block, context, escape, image, section
from ml.core.stats import GROUPINGS, Breakdown, PassengerStats, Rate, StatsQuestionError

ECHO_WORDS = 5  # unknown words quoted back, at most
WORD_LIMIT = 40  # characters of each

EXAMPLES = ("/survive stats", "/survive stats by class and sex", "/survive stats by age and port")


def percent(share: float) -> str:
    return f"{share:.0%}"


def interval_text(rate: Rate) -> str:
    low, high = rate.interval
    return f"{low * 100:.0f}–{percent(high)}"


def rate_line(rate: Rate) -> str:
    """'342 of 891 passengers survived: 38% (95% interval 35–42%)'."""
    return f"{rate.survived} of {rate.total} passengers survived: {percent(rate.rate)} (95% interval {interval_text(rate)})"


def table_text(breakdown: Breakdown) -> str:
    """The breakdown as aligned columns: the groups, 'survived of total', rate, 95% interval.
    In a cross table the first group is named once, on the first of its rows."""
    header = [*(g.title for g in breakdown.by), "Survived", "Rate", "95% interval"]
    lines: list[list[str]] = [header]
    previous: str | None = None
    for row in breakdown.rows:
        first = row.groups[0]
        groups = ["" if len(row.groups) > 1 and first == previous else first, *row.groups[1:]]
        previous = first
        rate = row.rate
        lines.append([*groups, f"{rate.survived} of {rate.total}", percent(rate.rate), interval_text(rate)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    labels = len(breakdown.by)  # group columns read left-aligned, numbers right-aligned
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i < labels else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def _breakdown_section(breakdown: Breakdown) -> Block:
    return section(f"*By {breakdown.title.lower()}*\n```\n{table_text(breakdown)}\n```")


def stats_blocks(stats: PassengerStats, by: Sequence[str] = (), picture: Any | None = None) -> list[Block]:
    """The answer to `/survive stats [by A and B]`: everyone's rate, the table(s), where the figures
    come from and what the intervals mean."""
    counts = stats.counts
    breakdowns = [counts.breakdown(by)] if by else counts.overview()
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Who survived the Titanic", "emoji": True}},
        section(f"*{rate_line(counts.overall)}*"),
        *([image(picture.file_id, picture.alt, picture.title)] if picture is not None else []),
        *(_breakdown_section(b) for b in breakdowns),
    ]
    if stats.caveat:
        blocks.append(context(f":warning: {escape(stats.caveat)}"))
    blocks.append(
        context(
            f"Figures from {escape(stats.source)}. Each rate has a 95% interval (Wilson): the fewer "
            "people in a group, the wider it is."
        )
    )
    hint = (
        "For every grouping: `/survive stats`."
        if by
        else "A cross table: `/survive stats by class and sex` (any two of "
        + ", ".join(g.name for g in GROUPINGS)
        + ")."
    )
    blocks.append(context(hint))
    return blocks


def stats_text(stats: PassengerStats, by: Sequence[str] = ()) -> str:
    """The reply's notification text."""
    overall = stats.counts.overall
    asked = f"Survival by {stats.counts.breakdown(by).title.lower()}. " if by else ""
    return f"{asked}{overall.survived} of {overall.total} passengers survived ({percent(overall.rate)})."


def groupings_text() -> str:
    def named(name: str, title: str) -> str:
        return f"`{name}`" if name == title.lower() else f"`{name}` ({title.lower()})"

    return "\n".join(f"• {named(g.name, g.title)}: {', '.join(g.labels)}" for g in GROUPINGS)


def stats_question_blocks(error: StatsQuestionError) -> list[Block]:
    """Groupings we don't have: say which words, and list the ones we do."""
    if error.unknown:
        words = ", ".join(f"“{escape(w, WORD_LIMIT)}”" for w in error.unknown[:ECHO_WORDS])
        problem = f"I don't know how to group by {words}."
    else:
        problem = escape(str(error))
    examples = " · ".join(f"`{e}`" for e in EXAMPLES)
    return [
        section(f":thinking_face: {problem}"),
        section(f"*Groupings* (one, or any two for a cross table)\n{groupings_text()}"),
        context(f"Try {examples}"),
    ]


def stats_unavailable_blocks() -> list[Block]:
    return [
        section(
            ":construction: *The passenger figures are unavailable right now.* Please try again in a "
            "minute. If this persists, ask an admin to check the data (`lifeboat stats`)."
        )
    ]
