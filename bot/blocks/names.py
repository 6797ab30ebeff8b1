"""`/survive <a passenger's name>`: the real passengers, looked up in the records (pure functions).

Every name and query shown is escaped: names come from a data file, queries from a person.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.blocks.kit import Block, button, context, escape, section
from bot.blocks.survive import CHART_ACTION, encode_passenger, reason_lines
from ml.core.evidence import Record
from ml.core.model import Prediction
from ml.core.names import NameSearch

PICK_ACTION = "survive_pick_passenger"
CHOICES = 8  # passengers offered in a pick list, at most
NAME_LIMIT = 120  # characters of a record's name shown


def pick_value(version: str, record: Record) -> str:
    """What a pick-list button carries: the version, the row and the name (checked on the click)."""
    return json.dumps({"v": version, "r": record.row, "n": record.name[:NAME_LIMIT]}, separators=(",", ":"))


def _pronouns(record: Record) -> tuple[str, str]:
    return ("she", "her") if record.passenger.sex == "female" else ("he", "his")


def record_line(record: Record) -> str:
    """'1st class, female, age 18, ... from Cherbourg, fare £227.525'"""
    return escape(record.passenger.describe(), None)


def name_answer_blocks(
    record: Record, prediction: Prediction, *, model_name: str, version: str, trained_on: int
) -> list[Block]:
    """A real passenger: who they were, what happened to them, what the model says for their
    attributes, and, plainly, that the model learnt from this very record."""
    she, her = _pronouns(record)
    fate = "survived" if record.survived else "died"
    icon = ":large_green_circle:" if record.survived else ":black_circle:"
    name = escape(record.name, NAME_LIMIT)
    blocks: list[Block] = [
        section(f"*{name}*\n{record_line(record)}"),
        section(f"{icon} *What really happened: {she} {fate}.*"),
        section(
            f"*The model says {prediction.headline}* chance of survival for {her} attributes.\n"
            + reason_lines(prediction.top_reasons(4), whose=her)
        ),
    ]
    honest = (
        f":warning: The model learnt from this very record: {name} is one of the {trained_on} passengers"
        f" {escape(model_name)} {escape(version)} was trained on, so {prediction.percent}% is not a"
        f" prediction for someone it has not seen: it already knew how {her} story ended."
    )
    if record.cv_probability is not None:
        honest += (
            f" A model that never saw this record (nested cross-validation) said"
            f" {round(record.cv_probability * 100)}%."
        )
    blocks.append(context(honest))
    blocks.append(
        {
            "type": "actions",
            "block_id": "survive_name_actions",
            "elements": [button("Show chart", CHART_ACTION, encode_passenger(record.passenger))],
        }
    )
    return blocks


def choices_blocks(
    query: str, records: Sequence[Record], version: str, *, total: int, intro: str
) -> list[Block]:
    """Several passengers match: a short pick list (each a button), and how to narrow it."""
    blocks: list[Block] = [section(intro)]
    for record in records[:CHOICES]:
        block = section(f"*{escape(record.name, NAME_LIMIT)}* · {record_line(record)}")
        block["block_id"] = f"pick_{record.row}"
        block["accessory"] = button("This one", PICK_ACTION, pick_value(version, record))
        blocks.append(block)
    if total > CHOICES:
        blocks.append(
            context(
                f"…and {total - CHOICES} more: add a first name, e.g. `/survive {escape(query, 60)} Mary`."
            )
        )
    return blocks


def several_intro(query: str, total: int) -> str:
    return f":busts_in_silhouette: {total} passengers in the records match “{escape(query, 80)}”. Which one?"


def not_found_blocks(search: NameSearch, surname_records: Sequence[Record], version: str) -> list[Block]:
    """No passenger of that name: the passengers who share a surname with it, or surnames spelt
    like it ('did you mean ...?'), and how to ask otherwise."""
    query = escape(search.query, 80)
    if surname_records:
        intro = (
            f":mag: No passenger called “{query}” in the records. Passengers with that surname"
            " (first names are matched as written: nicknames are not guessed):"
        )
        return choices_blocks(
            search.query, surname_records, version, total=len(search.same_surname), intro=intro
        )
    text = f":mag: No passenger called “{query}” in the records."
    if search.suggestions:
        text += " Did you mean " + " or ".join(f"*{escape(s, 40)}*" for s in search.suggestions) + "?"
    return [
        section(text),
        context(
            "Names are looked up in the passengers the model learnt from. To ask about yourself, describe"
            " yourself: `/survive 3rd class man, 30`."
        ),
    ]


def suggestion_blocks(text: str, suggestions: Sequence[str]) -> list[Block]:
    """For text that is neither a description nor a name in the records, but spelt like a surname."""
    names = " or ".join(f"`/survive {escape(s, 40)}`" for s in suggestions)
    return [
        context(
            f":mag: No passenger called “{escape(text, 80)}” in the records either. Did you mean {names}?"
        )
    ]


def no_names_blocks(version: str) -> list[Block]:
    return [
        section(
            f":card_index_dividers: {escape(version)} keeps no names of the passengers it learnt from"
            " (it was trained before they were kept), so it cannot look anyone up by name."
        )
    ]
