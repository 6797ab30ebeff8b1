"""Passengers by name: a forgiving lookup in the records a version learnt from. Pure.

A record's name reads "Surname, Title. Given names (Maiden or own names) "Nickname"", e.g.
"Brown, Mrs. James Joseph (Margaret Tobin)". A query matches a record when every word of it is one
of the record's name words (surname, given names, the names in brackets or quotes), compared
without case, accents, quotes or punctuation; a word of four letters or more may be the start of
one ("Marg" finds Margaret). Titles in the query (Mrs, Miss, Dr, ...) must agree with the
record's. So "Astor", "john jacob astor", "Mrs Brown", "Margaret Brown" and "“Brown”" all work;
"Molly Brown" finds no Molly, and then the passengers called Brown are offered instead (nicknames
are not guessed: Molly for Margaret is folklore, not data). A name that matches no surname gets
the surnames closest to it by edit distance ("Astr" -> Astor).

Whether a text is a name at all is decided with the parser's help (`name_query`): a quoted text is
a name; a text with a class, age, family, fare, port or a word such as "woman" is a description;
otherwise it is a name when a word the parser did not understand is a surname in the records.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from ml.core.passenger import normalize_title

MAX_QUERY_CHARS = 100  # a name longer than this is not looked up
MAX_WORDS = 6
SUGGESTIONS = 3
PREFIX_LETTERS = 4  # a query word this long may be the start of a name word
_QUOTES = "\"'“”‘’«»„"
_WORD = re.compile(r"[a-z]+")
_TITLE_WORDS = frozenset(
    {"mr", "mrs", "miss", "ms", "mme", "mlle", "master", "dr", "rev", "col", "major", "capt"}
    | {"sir", "lady", "don", "dona", "jonkheer", "countess", "the"}
)
# What the parser may have understood in a text that is still a name: its title (and the sex a
# title implies). A class, an age, a family, a fare, a port or "woman" make it a description.
NAME_FIELDS = frozenset({"title", "sex"})


def fold(text: str) -> str:
    """Lower case, without accents or apostrophes: 'Ö’Brien' -> 'obrien'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.casefold().replace("'", "").replace("’", "").replace("‘", "")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def unquote(text: str) -> str | None:
    """The text inside quotes when the whole text is quoted ('"Molly Brown"', “Astor”), else None."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] in _QUOTES and stripped[-1] in _QUOTES:
        inner = stripped[1:-1].strip()
        return inner or None
    return None


@dataclass(frozen=True)
class RecordName:
    """A record's name taken apart: surname words, title (as the model groups it), other name words."""

    surname: tuple[str, ...]
    title: str | None
    title_word: str | None
    others: tuple[str, ...]

    @property
    def all_words(self) -> frozenset[str]:
        return frozenset((*self.surname, *self.others))


def parse_record_name(name: str) -> RecordName:
    """'Brown, Mrs. James Joseph (Margaret Tobin)' -> surname (brown,), title Mrs, others
    (james, joseph, margaret, tobin). A name without a comma is all surname."""
    surname, _, rest = name.partition(",")
    title_word = None
    title_match = re.match(r"\s*([^.()\"]+?)\.\s*", rest)
    if title_match:
        title_word = title_match.group(1).strip()
        rest = rest[title_match.end() :]
    return RecordName(
        surname=tuple(words(surname)),
        title=normalize_title(title_word) if title_word else None,
        title_word=fold(title_word) if title_word else None,
        others=tuple(words(rest)),
    )


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, or `limit` + 1 when it is larger than `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _close_enough(word: str) -> int:
    return 1 if len(word) <= 5 else 2


@dataclass(frozen=True)
class NameSearch:
    """What a name query found: the records matching every word (`matches`); failing that, those
    sharing a surname with it (`same_surname`); failing that, surnames spelt like it."""

    query: str
    matches: tuple[int, ...] = ()
    same_surname: tuple[int, ...] = ()
    suggestions: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.matches)


class NameIndex:
    """The names of the records (rows without a name are skipped), ready to be searched."""

    def __init__(self, names: Sequence[object]) -> None:
        self.names = list(names)
        self.parsed: dict[int, RecordName] = {
            row: parse_record_name(name) for row, name in enumerate(self.names) if isinstance(name, str)
        }
        self._by_surname: dict[str, list[int]] = {}
        self._spelling: dict[str, str] = {}  # folded surname word -> as the records spell it
        for row, parsed in self.parsed.items():
            for word in parsed.surname:
                self._by_surname.setdefault(word, []).append(row)
            name = str(self.names[row])
            for spelt in re.findall(r"[^\W\d_]+", name.partition(",")[0]):
                self._spelling.setdefault(fold(spelt), spelt)

    def is_surname(self, word: str) -> bool:
        return fold(word) in self._by_surname

    @cached_property
    def _surnames(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_surname))

    def search(self, query: str) -> NameSearch:
        """Records matching every word of `query` (see the module docstring)."""
        folded = words(query[:MAX_QUERY_CHARS])[:MAX_WORDS]
        titles = {w for w in folded if w in _TITLE_WORDS}
        wanted = [w for w in folded if w not in _TITLE_WORDS]
        if not wanted:
            return NameSearch(query)
        matches = tuple(row for row, parsed in self.parsed.items() if _matches(parsed, wanted, titles))
        if matches:
            return NameSearch(query, matches=matches)
        same = sorted({row for w in wanted for row in self._by_surname.get(w, ())})
        if same:
            return NameSearch(query, same_surname=tuple(same))
        return NameSearch(query, suggestions=self.suggest(wanted))

    def suggest(self, wanted: Iterable[str], *, strict: bool = False) -> tuple[str, ...]:
        """Surnames within a letter or two of a query word (one, `strict`ly: for text that may not
        be a name at all), closest (then most common) first."""
        scored: dict[str, tuple[int, int]] = {}
        for word in wanted:
            if len(word) < 3:
                continue
            limit = 1 if strict else _close_enough(word)
            for surname in self._surnames:
                distance = edit_distance(word, surname, limit)
                if distance <= limit:
                    best = scored.get(surname, (limit + 1, 0))
                    scored[surname] = min(best, (distance, -len(self._by_surname[surname])))
        ranked = sorted(scored, key=lambda s: (*scored[s], s))
        return tuple(self._spelling.get(s, s.capitalize()) for s in ranked[:SUGGESTIONS])


def _word_matches(wanted: str, have: frozenset[str]) -> bool:
    if wanted in have:
        return True
    return len(wanted) >= PREFIX_LETTERS and any(h.startswith(wanted) for h in have)


def _matches(parsed: RecordName, wanted: Sequence[str], titles: set[str]) -> bool:
    if titles and not _title_agrees(parsed, titles):
        return False
    have = parsed.all_words
    return all(_word_matches(w, have) for w in wanted)


def _title_agrees(parsed: RecordName, titles: set[str]) -> bool:
    """'mrs' agrees with Mrs and Mme; 'miss' with Miss, Ms, Mlle; 'dr' with Dr only."""
    for title in titles - {"the"}:
        if title != parsed.title_word and normalize_title(title) != parsed.title:
            return False
        if normalize_title(title) == "Rare" and title != parsed.title_word:
            return False
    return True


def could_be_name(text: str, parsed_fields: Iterable[str]) -> bool:
    """Whether `text` may be a name, before looking at the records: quoted, or with no digit and
    nothing the parser understood but a title (a sex word alone, such as "woman", is a description)."""
    if unquote(text) is not None:
        return True
    fields = set(parsed_fields)
    if any(c.isdigit() for c in text) or fields - NAME_FIELDS:
        return False
    return fields != {"sex"}


def name_query(
    text: str, parsed_fields: Iterable[str], ignored: Iterable[str], index: NameIndex
) -> str | None:
    """The name to look up when `text` asks for a passenger by name, else None (a description).

    `parsed_fields` are the Passenger fields the description parser understood in `text`,
    `ignored` the words it did not. The rule: a quoted text is a name; a text the parser found
    anything but a title in is a description; otherwise it is a name when one of the words the
    parser did not understand is a surname in the records."""
    quoted = unquote(text)
    if quoted is not None:
        return quoted[:MAX_QUERY_CHARS]
    if not could_be_name(text, parsed_fields):
        return None
    if any(index.is_surname(w) for word in ignored for w in words(word)):
        return text.strip()[:MAX_QUERY_CHARS]
    return None
