"""Forgiving free-text parser: "1st class woman, 29, travelling with my husband" -> Passenger fields.

Shared by the Slack bot (`/survive ...`) and the CLI (`lifeboat predict "..."`). It never raises:
whatever it cannot read goes to `ignored`, and values that disagree go to `contradictions` instead of
being guessed. Values are not range-checked here ("age 150" gives age=150.0) so that
`Passenger.create` can refuse them with its plain messages.

How it works: an ordered list of regex passes runs over the (normalised) text. Each match is blanked
out so later, looser passes (a bare number is an age) only see what earlier, more specific ones
(fare, children, class) left over. Whatever is left at the end is split into `ignored` words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ml.core.passenger import (
    _FEMALE_TITLES,
    _MALE_TITLES,
    CLASS_NAMES,
    PORTS,
    Passenger,
    normalize_port,
    normalize_sex,
    normalize_title,
)

__all__ = ["MAX_TEXT_LENGTH", "ParseResult", "parse"]

# Slack messages are short; past this the text is not read (and is reported in `ignored`).
MAX_TEXT_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class ParseResult:
    values: dict[str, object]
    """Passenger field -> value understood (not range-checked)."""
    understood: tuple[str, ...]
    """Short human phrases, in input order: ("1st class", "female", "age 29", "1 spouse aboard")."""
    contradictions: tuple[str, ...]
    """Human sentences such as "You said both “man” and “woman”."; those fields are left out."""
    ignored: tuple[str, ...]
    """Words not understood, in input order (filler such as "a", "with", "my" is not listed)."""

    @property
    def empty(self) -> bool:
        """Nothing was recognised: no value and no contradiction."""
        return not self.values and not self.contradictions

    def passenger(self) -> Passenger:
        """Build and validate the passenger; raises `PassengerError` for out-of-range values."""
        return Passenger.create(**self.values)


# ---------------------------------------------------------------------------------------------
# Internal records


@dataclass(frozen=True, slots=True)
class _Claim:
    """One statement about one field; several claims for a field must agree."""

    field: str
    value: object
    start: int
    text: str  # as typed, quoted in contradiction sentences


@dataclass(frozen=True, slots=True)
class _Phrase:
    """An `understood` entry, shown only if every field it speaks for survived."""

    start: int
    phrase: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Companion:
    """A relative aboard. `role` is set for people one has at most one of (a spouse, a mother):
    "my husband ... my husband" or "mum and my parents" must not count them twice."""

    kind: str  # spouse | sibling | parent | child, or sibsp | parch when said that way
    count: float
    role: str | None
    start: int
    text: str


@dataclass(slots=True)
class _State:
    claims: list[_Claim] = field(default_factory=list)
    phrases: list[_Phrase] = field(default_factory=list)
    companions: list[_Companion] = field(default_factory=list)
    alone: list[tuple[int, str]] = field(default_factory=list)

    def claim(self, name: str, value: object, start: int, text: str, phrase: str) -> None:
        self.claims.append(_Claim(name, value, start, text))
        self.phrases.append(_Phrase(start, phrase, (name,)))


# A handler reads one match and records what it means. Returning False rejects the match: its words
# are then reported as ignored and no later pass may reinterpret them.
_Handler = Callable[[re.Match[str], str, _State], bool]


# ---------------------------------------------------------------------------------------------
# Vocabulary


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven")
_NUMBER_WORDS: dict[str, int] = {word: n for n, word in enumerate(_NUMBERS)} | {"no": 0, "a": 1, "an": 1}

_ORDINALS: dict[str, int] = {
    "1st": 1,
    "first": 1,
    "one": 1,
    "2nd": 2,
    "second": 2,
    "two": 2,
    "3rd": 3,
    "third": 3,
    "three": 3,
}

# word -> (kind, plural, role)
_RELATIVES: dict[str, tuple[str, bool, str | None]] = {
    **dict.fromkeys(("husband", "wife", "spouse", "hubby"), ("spouse", False, "spouse")),
    **dict.fromkeys(("husbands", "wives", "spouses"), ("spouse", True, None)),
    **dict.fromkeys(("brother", "sister", "sibling"), ("sibling", False, None)),
    **dict.fromkeys(("brothers", "sisters", "siblings"), ("sibling", True, None)),
    **dict.fromkeys(("child", "kid", "son", "daughter"), ("child", False, None)),
    **dict.fromkeys(("children", "kids", "sons", "daughters"), ("child", True, None)),
    **dict.fromkeys(("mother", "mum", "mom", "mam", "mummy", "mommy", "mama"), ("parent", False, "mother")),
    **dict.fromkeys(("father", "dad", "daddy", "papa"), ("parent", False, "father")),
    "parent": ("parent", False, None),
    "parents": ("parent", True, None),
    # Passenger.describe() and the dataset's own column meanings: "1 sibling/spouse", "2 parents/children"
    **dict.fromkeys(("sibling/spouse", "siblings/spouse", "sibling/spouses"), ("sibsp", False, None)),
    "siblings/spouses": ("sibsp", True, None),
    **dict.fromkeys(("parent/child", "parents/child", "parent/children"), ("parch", False, None)),
    "parents/children": ("parch", True, None),
}
_KIND_FIELD = {
    "spouse": "sibsp",
    "sibling": "sibsp",
    "sibsp": "sibsp",
    "parent": "parch",
    "child": "parch",
    "parch": "parch",
}
_KIND_WORDS = {
    "spouse": ("spouse", "spouses"),
    "sibling": ("sibling", "siblings"),
    "parent": ("parent", "parents"),
    "child": ("child", "children"),
    "sibsp": ("sibling/spouse", "siblings/spouses"),
    "parch": ("parent/child", "parents/children"),
}

# Words that imply a sex or a title beyond what normalize_sex / normalize_title know.
_SEX_WORDS: dict[str, str] = {
    "lady": "female",
    "madam": "female",
    "madame": "female",
    "countess": "female",
    "dona": "female",
    "gentleman": "male",
    "gent": "male",
    "guy": "male",
    "sir": "male",
    "don": "male",
    "jonkheer": "male",
}
_TITLE_SPELLINGS = {"doctor": "dr", "reverend": "rev", "captain": "capt", "colonel": "col"}
# "lady" is a rare title in the passenger list, but typed here it almost always just means a woman.
_NOT_TITLES = frozenset({"lady"})
_TITLE_SEX = {**dict.fromkeys(_FEMALE_TITLES, "female"), **dict.fromkeys(_MALE_TITLES, "male")}
# A boy or a girl is a child: without an age, not to be scored as an adult "Mr" or "Miss".
_CHILD_WORDS = frozenset({"boy", "girl"})

_FILLER = _wordset(
    """
    a an and with my i am im i'm me myself we us our the of in on at from by to for as is was are be
    been being also plus just so but or too both who which that this it its years year old yrs yo
    travelling traveling travelled traveled travel sailing sailed aboard onboard board passenger ship
    titanic would have survived survive did do does will if what about please hi hello hey there &
    """
)

# Ordinals that mean something else when a noun follows ("my 2nd husband", "1st time").
_ORDINAL_NOUNS = (
    "time|times|trip|voyage|visit|birthday|marriage|wedding|husband|wife|child|kid|son|daughter|baby|"
    "brother|sister|cousin|place|try|attempt|day|week|month|year|grade|floor|deck|generation|of"
)

# ---------------------------------------------------------------------------------------------
# Patterns (compiled once; the text is already NFKC-normalised and ASCII-punctuated)

_NUM = r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_FARE_NUM = r"-?(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
_START = r"(?<![\w.'-])"  # a number or word starts here, not inside "v1.2", "29-30" or "I'm"
_END = r"(?![\w'])"
_YEARS_OLD = r"(?:[\s-]*(?:years?|yrs?)(?:[\s-]*old)?|\s*y\s*/\s*o|\s*y\.o\.?|\s*yo)"
_CURRENCY_WORD = r"(?:pounds?|quid|gbp|sterling|dollars?|usd|bucks|euros?)"
_QUANT = "|".join([_NUM, *sorted(_NUMBER_WORDS, key=len, reverse=True)])
_RELATIVE = "|".join(sorted(_RELATIVES, key=len, reverse=True))
_ADJECTIVE = (
    r"(?:little|young|younger|youngest|old|older|oldest|elder|eldest|big|baby|small|teenage|teen|grown|"
    r"adult|infant|twin|step|half|dear|lovely|beloved|new|" + _NUM + _YEARS_OLD + r")"
)
_SELF = re.compile(r"(?:\bi\s*am|\bi'm|\bim|\bi\s+was)(?:\s+(?:a|an|the))?\s*$", re.IGNORECASE)

_FLAGS = re.IGNORECASE


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


_EXPLICIT_COUNT = _rx(rf"(?<!\w)(sibsp|parch)\s*[:=]?\s*({_NUM}){_END}")
_CLASS_PHRASE = _rx(rf"{_START}(1st|2nd|3rd|first|second|third|[123])[\s-]*class(?:es)?{_END}")
_STEERAGE = _rx(rf"(?<!\w)(?:in\s+)?steerage{_END}")
_BARE_ORDINAL = _rx(rf"{_START}(1st|2nd|3rd){_END}(?!\s*-?\s*(?:{_ORDINAL_NOUNS})(?!\w))")
_PARENT_OF = _rx(
    rf"(?<!\w)(?:(?:a|the)\s+)?(?:mother|father|mum|mom|dad|parent)\s+of\s+({_QUANT}){_END}"
    rf"(?:\s+(?:(?:{_ADJECTIVE})[\s-]+)?(?:kids?|child(?:ren)?|sons?|daughters?){_END})?"
)
_ALONE = _rx(r"(?<!\w)(?:travel+ing\s+)?(?:alone|solo|by\s+myself|on\s+my\s+own)(?!\w)")
_COMPANION = _rx(
    rf"(?<![\w'])(?:(?:my|our|his|her)\s+)?(?:({_QUANT}){_END}\s+)?(?:(?:{_ADJECTIVE})[\s-]+){{0,2}}"
    rf"\b({_RELATIVE})(?![\w'])"
    # the relative's own age ("my son aged 5", "my husband is 32") is not the passenger's
    rf"(?:\s*,?\s*(?:who\s+is|is|aged?)\s*:?\s*{_NUM}(?:{_YEARS_OLD})?(?:\s*(?:and|&)\s*{_NUM})*{_END})?"
)
_CLASS_VALUE = _rx(rf"(?<!\w)p?class\s*[:=]?\s*(1st|2nd|3rd|first|second|third|one|two|three|{_NUM}){_END}")
_FARE_WORD = _rx(
    rf"(?<!\w)(?:fare|paid|pay|ticket|price|cost|costs)\s*(?:was\s+|is\s+|of\s+)?[:=]?\s*[£$€]?\s*"
    rf"({_FARE_NUM})(?:\s*{_CURRENCY_WORD})?{_END}"
)
_FARE_SYMBOL = _rx(rf"[£$€]\s*({_FARE_NUM})(?:\s*{_CURRENCY_WORD})?{_END}")
_FARE_UNIT = _rx(rf"{_START}({_FARE_NUM})\s*(?:{_CURRENCY_WORD}{_END}|£)")
_AGE_WORD = _rx(rf"(?<!\w)aged?\s*(?:is\s+|of\s+)?[:=]?\s*({_NUM})(?:{_YEARS_OLD})?{_END}")
_AGE_YEARS = _rx(rf"{_START}({_NUM}){_YEARS_OLD}{_END}")
_PORT_NAME = _rx(
    r"(?<!\w)(?:(?:from|embarked|embarking|boarded|boarding|sailed|sailing|departed|port)"
    rf"(?:\s+(?:at|in|from|of))?\s*[:=]?\s*)?(cherbourg|queenstown|southampton|cobh){_END}"
)
_PORT_LETTER = _rx(
    rf"(?<!\w)(?:port|embarked|embarkation|boarded)(?:\s+(?:at|in|from|of))?\s*[:=]?\s*([csq]){_END}"
)
_SEX_TITLE = _rx(
    r"(?<![\w'])(?:(?:sex|gender|title)\s*[:=]?\s*)?"
    r"(woman|female|lady|girl|madam|madame|man|male|gentleman|gent|guy|boy|f|m|mrs|miss|ms|mme|mlle|mr|"
    rf"master|dr|doctor|rev|reverend|col|colonel|major|capt|captain|sir|don|dona|jonkheer|countess)\.?{_END}"
)
_BARE_NUMBER = _rx(rf"{_START}({_NUM}){_END}")

_LEFTOVER = re.compile(r"[^\s\x00]+")
_PUNCTUATION = (
    "".join(chr(c) for c in range(0x2070) if unicodedata.category(chr(c)).startswith(("P", "S")))
    + "\u2014\u2013\u2026"
)
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)


# ---------------------------------------------------------------------------------------------
# Value helpers


def _number(text: str) -> float:
    return float(text.replace(",", ""))  # 1e400-like digit strings become inf, never raise


def _count(text: str) -> int | float:
    """A count as typed: whole numbers stay int, "1.5" stays 1.5 so validation refuses it plainly."""
    word = text.lower()
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    if re.fullmatch(r"-?[0-9]{1,18}", text):  # int() refuses very long digit strings
        return int(text)
    value = _number(text)
    return int(value) if value.is_integer() else value


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _class_phrase(pclass: int | float) -> str:
    if isinstance(pclass, int) and pclass in CLASS_NAMES:
        return CLASS_NAMES[pclass]
    return f"class {_fmt(pclass)}"


def _pclass(token: str) -> int | float:
    token = token.lower()
    if token in _ORDINALS:
        return _ORDINALS[token]
    return _count(token)


def _count_phrase(kind: str, count: float) -> str:
    singular, plural = _KIND_WORDS[kind]
    if count == 0:
        return f"no {plural} aboard"
    return f"{_fmt(count)} {singular if count == 1 else plural} aboard"


# ---------------------------------------------------------------------------------------------
# Handlers, one per pattern


def _on_explicit_count(m: re.Match[str], _text: str, st: _State) -> bool:
    name, count = m.group(1).lower(), _count(m.group(2))
    st.claim(name, count, m.start(), m.group(0), _count_phrase(name, count))
    return True


def _on_class(m: re.Match[str], _text: str, st: _State) -> bool:
    pclass = _pclass(m.group(1))
    st.claim("pclass", pclass, m.start(), m.group(0), _class_phrase(pclass))
    return True


def _on_steerage(m: re.Match[str], _text: str, st: _State) -> bool:
    st.claim("pclass", 3, m.start(), m.group(0), CLASS_NAMES[3])
    return True


def _on_parent_of(m: re.Match[str], _text: str, st: _State) -> bool:
    st.companions.append(_Companion("child", _count(m.group(1)), None, m.start(), m.group(0)))
    return True


def _on_alone(m: re.Match[str], _text: str, st: _State) -> bool:
    st.alone.append((m.start(), m.group(0)))
    return True


def _on_companion(m: re.Match[str], text: str, st: _State) -> bool:
    quant, word = m.group(1), m.group(2).lower()
    kind, plural, role = _RELATIVES[word]
    if _SELF.search(text[max(0, m.start() - 24) : m.start()]):
        return False  # "I am a mother", "I'm a child": describes the passenger, not a companion
    said = m.group(0)
    count: float = 1
    if quant is None:
        if plural and word != "parents":
            return False  # "my kids": how many is not said, don't guess
        if word == "parents":
            role = "both"
    else:
        if quant.lower() in ("a", "an") and kind in ("spouse", "parent"):
            return False  # "a wife", "a mother" describe the passenger
        count = _count(quant)
        role = None  # numbered: "2 sons", "two brothers" are added as said
    st.companions.append(_Companion(kind, count, role, m.start(), said.strip()))
    return True


def _on_fare(m: re.Match[str], _text: str, st: _State) -> bool:
    fare = _number(m.group(1))
    st.claim("fare", fare, m.start(), m.group(0), f"fare £{_fmt(fare)}")
    return True


def _on_age(m: re.Match[str], _text: str, st: _State) -> bool:
    age = _number(m.group(1))
    st.claim("age", age, m.start(), m.group(0), f"age {_fmt(age)}")
    return True


def _on_port(m: re.Match[str], _text: str, st: _State) -> bool:
    name = m.group(1).lower()
    port = normalize_port("queenstown" if name == "cobh" else name)
    if port is None:
        return False
    st.claim("embarked", port, m.start(), m.group(0), f"from {PORTS[port]}")
    return True


def _on_sex_title(m: re.Match[str], _text: str, st: _State) -> bool:
    word = m.group(1).lower()
    said = m.group(0).rstrip(".")
    title = None if word in _NOT_TITLES else normalize_title(_TITLE_SPELLINGS.get(word, word))
    sex = normalize_sex(word) or _SEX_WORDS.get(word) or _TITLE_SEX.get(title or "")
    if title is not None:
        phrase = f"rare title ({m.group(1)})" if title == "Rare" else f"title {title}"
        st.claim("title", title, m.start(), said, phrase)
    if sex is not None:
        st.claim("sex", sex, m.start(), said, sex)
    if word in _CHILD_WORDS:
        st.claim("child", True, m.start(), said, "child (under 13)")
    return title is not None or sex is not None


_PASSES: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_EXPLICIT_COUNT, _on_explicit_count),
    (_CLASS_PHRASE, _on_class),
    (_STEERAGE, _on_steerage),
    (_BARE_ORDINAL, _on_class),  # before relatives so "my 2nd husband" still sees its noun
    (_PARENT_OF, _on_parent_of),
    (_ALONE, _on_alone),
    (_COMPANION, _on_companion),  # before class/fare/age so "class 2 kids" keeps its 2 for kids
    (_CLASS_VALUE, _on_class),
    (_FARE_WORD, _on_fare),
    (_FARE_SYMBOL, _on_fare),
    (_FARE_UNIT, _on_fare),
    (_AGE_WORD, _on_age),
    (_AGE_YEARS, _on_age),
    (_PORT_NAME, _on_port),
    (_PORT_LETTER, _on_port),
    (_SEX_TITLE, _on_sex_title),
    (_BARE_NUMBER, _on_age),  # last: any number nothing else claimed is the age
)


# ---------------------------------------------------------------------------------------------
# Parsing


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    # Control, format and unassigned characters (and \x00, our blank marker) become spaces.
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def _quote(texts: Iterable[str]) -> str:
    quoted = [f"“{t.strip()}”" for t in texts]
    if len(quoted) == 2:
        return f"both {quoted[0]} and {quoted[1]}"
    if len(quoted) > 3:
        return ", ".join(quoted[:3]) + " and more"
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _companion_claims(st: _State) -> None:
    """Turn relatives into one sibsp/parch claim each (so an explicit "sibsp 2" can be checked
    against them) plus one understood phrase per kind of relative."""
    for name in ("sibsp", "parch"):
        mentions = [c for c in st.companions if _KIND_FIELD[c.kind] == name]
        if not mentions:
            continue
        total: float = 0
        for kind in dict.fromkeys(c.kind for c in mentions):
            of_kind = [c for c in mentions if c.kind == kind]
            roles = {
                r
                for c in of_kind
                if c.role
                for r in (("mother", "father") if c.role == "both" else (c.role,))
            }
            count = sum(c.count for c in of_kind if c.role is None) + len(roles)
            total += count
            st.phrases.append(_Phrase(of_kind[0].start, _count_phrase(kind, count), (name,)))
        value = int(total) if float(total).is_integer() else total
        st.claims.append(_Claim(name, value, mentions[0].start, mentions[0].text))


def _resolve(st: _State) -> tuple[dict[str, object], list[str]]:
    contradictions: list[str] = []
    dropped: set[str] = set()

    if st.alone:
        start, said = st.alone[0]
        company = [(c.start, c.text) for c in st.companions if c.count != 0] + [
            (c.start, c.text) for c in st.claims if c.field in ("sibsp", "parch") and c.value != 0
        ]
        if company:
            contradictions.append(f"You said “{said.strip()}” but also “{min(company)[1].strip()}”.")
            dropped |= {"sibsp", "parch"}
        else:
            st.phrases.append(_Phrase(start, "travelling alone", ("sibsp", "parch")))
            st.claims += [_Claim("sibsp", 0, start, said), _Claim("parch", 0, start, said)]
    _companion_claims(st)

    by_field: dict[str, dict[object, str]] = {}  # field -> value -> first text that said it
    for claim in sorted(st.claims, key=lambda c: c.start):
        by_field.setdefault(claim.field, {}).setdefault(claim.value, claim.text)
    values: dict[str, object] = {}
    for name in Passenger.field_names():
        stated = by_field.get(name)
        if not stated or name in dropped:
            continue
        if len(stated) > 1:
            sentence = f"You said {_quote(stated.values())}."
            if sentence not in contradictions:  # "Mr ... Mrs" disagrees on both sex and title
                contradictions.append(sentence)
            dropped.add(name)
        else:
            values[name] = next(iter(stated))
    # With the sex in doubt, a title that implies one ("Mr" with "woman") is in doubt too.
    if "sex" in dropped and values.get("title") in _TITLE_SEX:
        del values["title"]
        dropped.add("title")
    # "A boy of 15": the age says it all, and "child" only stands in for an age not given.
    if "age" in values or "age" in dropped:
        values.pop("child", None)
    return values, contradictions


def _words(text: str, start: int = 0) -> list[tuple[int, str]]:
    words = []
    for m in _LEFTOVER.finditer(text):
        word = m.group(0).strip(_PUNCTUATION)
        if word and word.lower() not in _FILLER:
            words.append((start + m.start(), word))
    return words


def _run_passes(work: str, st: _State) -> tuple[str, list[tuple[int, int]]]:
    """Every pattern in turn; what a pattern matched is blanked out so later patterns don't see it
    again. Returns the text left over and the spans whose handler refused them."""
    rejected: list[tuple[int, int]] = []
    for pattern, handler in _PASSES:
        spans: list[tuple[int, int]] = []
        for m in pattern.finditer(work):
            if m.end() == m.start():
                continue
            if not handler(m, work, st):
                rejected.append(m.span())
            spans.append(m.span())
        work = _blank(work, spans)
    return work, rejected


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    pieces, last = [], 0
    for begin, end in spans:
        pieces += [text[last:begin], "\x00" * (end - begin)]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _understood(st: _State, values: dict[str, Any]) -> list[str]:
    understood: list[str] = []
    for p in sorted(st.phrases, key=lambda p: p.start):
        if all(f in values for f in p.fields) and p.phrase not in understood:
            understood.append(p.phrase)
    return understood


def _ignored(left: str, source: str, rejected: list[tuple[int, int]], overflow: int) -> list[str]:
    """The words nothing understood, each once, in the order they were written."""
    leftovers = _words(left)
    for begin, end in rejected:
        leftovers += _words(source[begin:end], begin)
    ignored: list[str] = []
    seen: set[str] = set()
    for _, word in sorted(leftovers):
        if word.lower() not in seen:
            seen.add(word.lower())
            ignored.append(word)
    if overflow > 0:
        ignored.append(f"…(and {overflow} more characters)")
    return ignored


def parse(text: str) -> ParseResult:
    """Read what a person wrote about themselves. Never raises; the same text gives the same result."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    overflow = len(text) - MAX_TEXT_LENGTH
    source = _normalize(text[:MAX_TEXT_LENGTH])
    st = _State()
    left, rejected = _run_passes(source, st)
    values, contradictions = _resolve(st)
    return ParseResult(
        values=values,
        understood=tuple(_understood(st, values)),
        contradictions=tuple(contradictions),
        ignored=tuple(_ignored(left, source, rejected, overflow)),
    )
