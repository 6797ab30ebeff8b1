"""The /survive form: the modal view, and reading a submission back (pure functions)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.blocks import kit
from bot.blocks.kit import Block, plain_text
from ml.core.passenger import CLASS_NAMES, PORTS, SEXES, TITLES, Passenger

SURVIVE_MODAL = "survive_modal"


VALUE = "value"  # the action_id of every modal input: block ids name the field


def _input(block_id: str, label: str, element: dict[str, Any], hint: str | None = None) -> Block:
    # Class and sex are required (Slack checks presence before submitting); everything else may be
    # left empty and is imputed. The server validates every value and answers per-field errors.
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": block_id not in Passenger.REQUIRED,
        "label": plain_text(label),
        "element": {**element, "action_id": VALUE},
    }
    if hint:
        block["hint"] = plain_text(hint)
    return block


def _select(placeholder: str, options: list[dict[str, Any]], initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "placeholder": plain_text(placeholder),
        "options": options,
    }
    for option in options:
        if option["value"] == initial:
            element["initial_option"] = option
    return element


def _number(decimal: bool, initial: float | int | None, placeholder: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "number_input",
        "is_decimal_allowed": decimal,
        "placeholder": plain_text(placeholder),
    }
    if initial is not None:
        element["initial_value"] = number_text(initial)
    return element


def number_text(number: float) -> str:
    """29.0 -> "29", 0.42 -> "0.42", 1e-05 -> "0.00001": Slack's number input reads no exponents."""
    if float(number).is_integer():
        return str(int(number))
    return f"{number:.6f}".rstrip("0").rstrip(".") or "0"


def survive_modal(channel_id: str, initial: Passenger | None = None) -> dict[str, Any]:
    """The /survive form. The channel rides in private_metadata: a submission has no channel."""
    p = initial or Passenger()
    class_options = [kit.option(name, str(number)) for number, name in CLASS_NAMES.items()]
    sex_options = [kit.option(sex.capitalize(), sex) for sex in SEXES]
    sex_element: dict[str, Any] = {"type": "radio_buttons", "options": sex_options}
    for option in sex_options:
        if option["value"] == p.sex:
            sex_element["initial_option"] = option
    port_options = [kit.option(name, letter) for letter, name in PORTS.items()]
    title_options = [kit.option(title, title) for title in TITLES]
    return {
        "type": "modal",
        "callback_id": SURVIVE_MODAL,
        "title": plain_text("Would you survive?"),
        "submit": plain_text("Tell me"),
        "close": plain_text("Cancel"),
        "private_metadata": json.dumps({"channel": channel_id}),
        "blocks": [
            _input(
                "pclass",
                "Class",
                _select("Choose a class", class_options, None if p.pclass is None else str(p.pclass)),
            ),
            _input("sex", "Sex", sex_element),
            _input("age", "Age", _number(True, p.age, "e.g. 29"), "Leave empty if you'd rather not say."),
            _input("sibsp", "Siblings or spouses aboard", _number(False, p.sibsp, "0")),
            _input("parch", "Parents or children aboard", _number(False, p.parch, "0")),
            _input("embarked", "Port of embarkation", _select("Choose a port", port_options, p.embarked)),
            _input(
                "fare",
                "Fare (£)",
                _number(True, p.fare, "e.g. 72"),
                "For your whole ticket (one ticket covered a family). If empty: what your class typically paid, per person.",
            ),
            _input("title", "Title", _select("Optional", title_options, p.title)),
            _input(
                "child",
                "Child",
                _child_box(p.child),
                "Tick if you are under 13 and would rather not say your age.",
            ),
        ],
    }


CHILD_OPTION = {"text": plain_text("A child (under 13)"), "value": "yes"}


def _child_box(child: bool | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "checkboxes", "options": [CHILD_OPTION]}
    if child:
        element["initial_options"] = [CHILD_OPTION]
    return element


FORM_FIELDS = ("pclass", "sex", "age", "sibsp", "parch", "embarked", "fare", "title", "child")


UNREADABLE = "This answer could not be read: please give it again."


MAX_FIELD_CHARS = 100  # far more than any class, port, title or number needs


def _element_value(element: Any) -> tuple[str | None, bool]:
    """(value, readable) of one input element as Slack sends it: a select's `selected_option`
    (an object with a text `value`, or null), checkboxes' `selected_options` (a list), or a
    text/number input's `value` (text or null)."""
    if not isinstance(element, Mapping):
        return None, False
    if "selected_options" in element:  # checkboxes: ticked (the child box says "yes") or not said
        ticked = element["selected_options"]
        if not isinstance(ticked, list) or not all(isinstance(o, Mapping) for o in ticked):
            return None, False
        return ("yes" if ticked else None), True
    if "selected_option" in element:
        selected = element["selected_option"]
        if selected is None:
            return None, True
        if not isinstance(selected, Mapping) or not isinstance(selected.get("value"), str):
            return None, False
        value = selected["value"]
    else:
        value = element.get("value")
        if value is None:
            return None, True
        if not isinstance(value, str):
            return None, False
    return (value, True) if len(value) <= MAX_FIELD_CHARS else (None, False)


def form_values(state_values: Any) -> tuple[dict[str, str | None], dict[str, str]]:
    """view.state.values -> (raw Passenger fields, keyed by field name; an error per field whose
    state is not what Slack sends). The errors go under those fields, like any invalid answer."""
    raw: dict[str, str | None] = {}
    unreadable: dict[str, str] = {}
    values = state_values if isinstance(state_values, Mapping) else {}
    for name in FORM_FIELDS:
        block = values.get(name)
        if block is None:  # a field Slack did not send is unknown, as an empty one is
            raw[name] = None
            continue
        value, readable = _element_value(block.get(VALUE) if isinstance(block, Mapping) else None)
        raw[name] = value
        if not readable:
            unreadable[name] = UNREADABLE
    return raw, unreadable


_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9_]{1,40}")


def channel_from_metadata(private_metadata: Any) -> str | None:
    """The channel a form was opened from, or None (the answer then goes by DM) whatever the
    metadata holds: it comes back from Slack as the app set it, but a view can be built elsewhere."""
    if not isinstance(private_metadata, str) or not private_metadata or len(private_metadata) > 3000:
        return None
    try:
        channel = json.loads(private_metadata).get("channel")
    except (ValueError, AttributeError, RecursionError):
        return None
    return channel if isinstance(channel, str) and _CHANNEL_ID.fullmatch(channel) else None
