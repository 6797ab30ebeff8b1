"""`/survive Astor`, `/survive "Molly Brown"`: the real passengers, looked up in the records of the
version being served (its evidence table: the rows it learnt from, with names and fates).

Whether a text is a name or a description is ml.core.names.name_query's rule: quoted text is a
name; text with a class, age, family, fare, port or a word such as "woman" is a description;
otherwise it is a name when a word the description parser did not understand is a surname in the
records. Text that is neither, but spelt like a surname, gets "did you mean ...?".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.blocks import names as name_blocks
from bot.blocks.survive import unavailable_blocks
from bot.listeners.replies import Reply, remember_answer
from bot.services import Services
from ml.core.evidence import EvidenceTable, Record
from ml.core.names import NameSearch, could_be_name, name_query, unquote, words
from ml.core.parser import ParseResult, parse
from ml.io.registry import RegistryError
from ml.io.serving import ModelUnavailableError, Serving

log = logging.getLogger(__name__)

MAX_SUGGESTION_WORDS = 4


def _serving(services: Services) -> Serving | None:
    try:
        return services.scorer.current()
    except (ModelUnavailableError, RegistryError) as exc:
        log.warning("model unavailable for a name lookup: %s", exc)
        return None


@dataclass(frozen=True)
class NameQuestion:
    """A name to look up in the records of `serving` (evidence None: the version kept no names)."""

    query: str
    serving: Serving

    @property
    def evidence(self) -> EvidenceTable | None:
        return self.serving.model.evidence


def asks_for_name(services: Services, text: str, parsed: ParseResult | None = None) -> NameQuestion | None:
    """The name `text` asks about, or None when it is a description (or no model is served).
    Descriptions are told apart before the model is touched: they are acknowledged at once.
    `parsed`: `parse(text)`, if the caller has it."""
    parsed = parse(text) if parsed is None else parsed
    if not could_be_name(text, parsed.values):
        return None
    serving = _serving(services)
    if serving is None:
        return None
    evidence = serving.model.evidence
    if evidence is None:  # no names to recognise; only quotes say it is a name
        quoted = unquote(text)
        return None if quoted is None else NameQuestion(quoted, serving)
    query = name_query(text, parsed.values, parsed.ignored, evidence.names_index)
    return None if query is None else NameQuestion(query, serving)


def _records(evidence: EvidenceTable, rows: tuple[int, ...]) -> list[Record]:
    out = []
    for row in rows:
        try:
            out.append(evidence.record(row))
        except IndexError:  # a record a person could not have said (e.g. an impossible value)
            continue
    return out


def name_reply(services: Services, question: NameQuestion, user: str | None) -> Reply:
    """One passenger: their answer; several: a pick list; none: who shares the surname, or
    surnames spelt like it."""
    version = question.serving.version
    evidence = question.evidence
    if evidence is None:
        return Reply(f"{version} keeps no names.", name_blocks.no_names_blocks(version))
    search: NameSearch = evidence.names_index.search(question.query)
    found = _records(evidence, search.matches)
    if len(found) == 1:
        return record_reply(services, question.serving, found[0], user)
    if found:
        intro = name_blocks.several_intro(search.query, len(found))
        return Reply(
            f"{len(found)} passengers match that name.",
            name_blocks.choices_blocks(search.query, found, version, total=len(found), intro=intro),
        )
    same = _records(evidence, search.same_surname)
    return Reply(
        "No passenger of that name in the records.", name_blocks.not_found_blocks(search, same, version)
    )


def record_reply(services: Services, serving: Serving, record: Record, user: str | None) -> Reply:
    """What the model says for a passenger of the records, what happened to them, and that the
    model learnt from this very record."""
    try:
        prediction = services.scorer.predict(record.passenger)
    except (ModelUnavailableError, RegistryError) as exc:
        log.warning("model unavailable: %s", exc)
        return Reply("The model is unavailable right now.", unavailable_blocks())
    remember_answer(services, user, record.name, prediction)
    evidence = serving.model.evidence
    fate = "survived" if record.survived else "died"
    return Reply(
        f"{record.name}: {fate}. The model says {prediction.headline} (it learnt from this record).",
        name_blocks.name_answer_blocks(
            record,
            prediction,
            model_name=services.model_name,
            version=prediction.version or serving.version,
            trained_on=len(evidence) if evidence is not None else 0,
        ),
    )


def picked_record(services: Services, value: Any) -> tuple[Serving, Record] | None:
    """The passenger a pick-list button names, if it still names one: same version and row and
    name, or else the one record with exactly that name in the version served now."""
    serving = _serving(services)
    if serving is None or serving.model.evidence is None or not isinstance(value, str) or len(value) > 400:
        return None
    try:
        picked = json.loads(value)
        row, name = int(picked["r"]), str(picked["n"])
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    evidence = serving.model.evidence
    if not (picked.get("v") == serving.version and 0 <= row < len(evidence) and evidence.names[row] == name):
        same = [r for r in range(len(evidence)) if evidence.names[r] == name]
        if len(same) != 1:
            return None
        row = same[0]
    try:
        return serving, evidence.record(row)
    except IndexError:
        return None


def suggestion_reply(services: Services, text: str, reply: Reply) -> Reply:
    """`reply` (help for text the parser did not understand), with "did you mean <surname>?" when
    the text is a few words and one of them is a letter away from a surname in the records."""
    found = words(text)
    if not found or len(found) > MAX_SUGGESTION_WORDS or any(c.isdigit() for c in text):
        return reply
    serving = _serving(services)
    evidence = serving.model.evidence if serving is not None else None
    if evidence is None:
        return reply
    suggestions = evidence.names_index.suggest(found, strict=True)
    if not suggestions:
        return reply
    return Reply(
        reply.text, [*reply.blocks[:1], *name_blocks.suggestion_blocks(text, suggestions), *reply.blocks[1:]]
    )
