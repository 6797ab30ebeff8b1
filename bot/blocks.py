"""Block Kit, built by pure functions: data in, JSON-ready dicts out. No Slack calls here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ml.core.evidence import Evidence
from ml.core.model import Likely, Prediction, Reason
from ml.core.passenger import CLASS_NAMES, PORTS, SEXES, TITLES, Passenger
from ml.io.registry import ModelVersion

Block = dict[str, Any]

SURVIVE_MODAL = "survive_modal"
ADJUST_ACTION = "survive_adjust"
SHARE_ACTION = "survive_share"
OPEN_FORM_ACTION = "survive_open_form"
VALUE = "value"  # the action_id of every modal input: block ids name the field

EXAMPLES = (
    "1st class woman, 29, travelling with my husband",
    "3rd class man, 30, alone, from Southampton",
    "2nd class girl, 8, with my parents",
    "first class Mr, 45, fare £72, from Cherbourg",
)

BAR_CELLS = 6


def _text(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": _text(text)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_text(t) for t in texts]}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": _plain(text), "action_id": action_id}
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    return element


def bar(logit: float, largest: float) -> str:
    """A small fixed-width bar: how strong this reason is next to the strongest one."""
    filled = 0 if largest <= 0 else max(1, round(BAR_CELLS * abs(logit) / largest))
    return "▰" * filled + "▱" * (BAR_CELLS - filled)


def reason_lines(reasons: Sequence[Reason]) -> str:
    largest = max((abs(r.logit) for r in reasons), default=0.0)
    lines = []
    for reason in reasons:
        arrow = ":arrow_up_small:" if reason.helped else ":arrow_down_small:"
        effect = "raised" if reason.helped else "lowered"
        lines.append(f"`{bar(reason.logit, largest)}` {arrow} {reason.text} — {effect} your chances")
    return "\n".join(lines)


def encode_passenger(passenger: Passenger) -> str:
    """Button values carry what was understood, so 'Adjust' and 'Share' need no server state."""
    return json.dumps({k: v for k, v in passenger.to_dict().items() if v is not None}, separators=(",", ":"))


def decode_passenger(value: str) -> Passenger:
    return Passenger.create(**json.loads(value))


def answer_text(prediction: Prediction) -> str:
    """The answer in one line: '62% (likely 48–74%) chance of survival. You would probably ...'"""
    return f"{prediction.headline} chance of survival. {prediction.verdict}"


def few_like_you_line(likely: Likely) -> str:
    return (
        f":warning: The records hold only {likely.like_you} passenger{'' if likely.like_you == 1 else 's'}"
        f" like you ({likely.kind}), so this is uncertain: the likely range is wide."
    )


def evidence_blocks(evidence: Evidence) -> list[Block]:
    """People like you: how many of the records most like the asker survived, and up to three of them."""
    out = [section("*People like you*\n" + _escape(evidence.sentence()))]
    if evidence.examples:
        out.append(context("In the records: " + " · ".join(_escape(e.text()) for e in evidence.examples)))
    return out


def prediction_blocks(
    prediction: Prediction, said: Passenger, *, model_name: str, shared_by: str | None = None
) -> list[Block]:
    """The answer to /survive: probability and its likely range, verdict, reasons as bars, the people
    in the records most like the asker, assumptions, model version."""
    emoji = ":large_green_circle:" if prediction.probability >= 0.5 else ":red_circle:"
    headline = f"{emoji} *{prediction.headline} chance of survival.* {prediction.verdict}"
    if shared_by:
        headline = f"<@{shared_by}> asked the Titanic model.\n{headline}"
    blocks: list[Block] = [section(headline), context(f"_{prediction.passenger.describe()}_")]
    if prediction.likely is not None and prediction.likely.few_like_you:
        blocks.append(context(few_like_you_line(prediction.likely)))
    blocks.append(section("*Why*\n" + reason_lines(prediction.top_reasons(4))))
    if prediction.evidence is not None:
        blocks += evidence_blocks(prediction.evidence)
    if prediction.assumptions:
        blocks.append(context(":information_source: Assumed: " + ", ".join(prediction.assumptions)))
    likely = " · “likely”: about 4 times in 5 the truth is in that range" if prediction.likely else ""
    blocks.append(
        # No data size here: a retrained version may have learnt from another passenger list.
        context(
            f"Model {model_name} {prediction.version} · an estimate from the Titanic's passenger records{likely}"
        )
    )
    if shared_by is None:
        value = encode_passenger(said)
        blocks.append(
            {
                "type": "actions",
                "block_id": "survive_actions",
                "elements": [
                    button("Adjust", ADJUST_ACTION, value),
                    button("Share in channel", SHARE_ACTION, value, style="primary"),
                ],
            }
        )
    return blocks


def help_blocks(intro: str | None = None) -> list[Block]:
    examples = "\n".join(f"• `/survive {e}`" for e in EXAMPLES)
    blocks: list[Block] = []
    if intro:
        blocks.append(section(intro))
    blocks += [
        section(
            "*Would you have survived the Titanic?*\n"
            "Describe yourself as a passenger: class, sex, age, who you travel with, port, fare."
        ),
        section(f"*Examples*\n{examples}"),
        section(
            "*Commands*\n"
            "• `/survive` opens a form\n"
            "• `/survive <description>` answers right away\n"
            "• `/survive model` shows the model card\n"
            "• `/survive help` shows this"
        ),
    ]
    return blocks


def not_understood_blocks(text: str) -> list[Block]:
    return help_blocks(
        f":thinking_face: I couldn't find a passenger in “{_escape(text, ECHO_LIMIT)}”. Try one of these:"
    )


def refusal_blocks(problems: Iterable[str], understood: Sequence[str] = ()) -> list[Block]:
    """Out-of-range or contradictory input: refused plainly, with no probability."""
    lines = "\n".join(f"• {_escape(p)}" for p in problems)
    blocks = [section(f":warning: I can't score that:\n{lines}")]
    if understood:
        blocks.append(context("Understood: " + " · ".join(_escape(u) for u in understood)))
    blocks.append(context("Try `/survive help` for examples, or `/survive` for a form."))
    return blocks


def missing_blocks(missing: Sequence[str], said: Passenger, understood: Sequence[str]) -> list[Block]:
    """Class or sex missing: say which, and offer the form pre-filled with what was understood."""
    labels = " and ".join(Passenger.LABELS[m] for m in missing)
    blocks = [
        section(f":pencil2: I need your {labels} to answer."),
        {
            "type": "actions",
            "block_id": "survive_missing",
            "elements": [button("Open the form", OPEN_FORM_ACTION, encode_passenger(said), style="primary")],
        },
    ]
    if understood:
        blocks.insert(1, context("Understood: " + " · ".join(_escape(u) for u in understood)))
    return blocks


def unavailable_blocks() -> list[Block]:
    return [
        section(
            ":construction: *The model is unavailable right now.* Nothing is wrong with your question: "
            "please try again in a minute. If this persists, ask an admin to check `lifeboat models`."
        )
    ]


def failure_blocks() -> list[Block]:
    return [section(":boom: Something went wrong on our side. It has been logged; please try again.")]


def _metric_line(metrics: Mapping[str, float], prefix: str) -> str:
    names = (
        ("accuracy", "accuracy"),
        ("roc_auc", "ROC AUC"),
        ("brier", "Brier"),
        ("log_loss", "log loss"),
        ("ece", "ECE"),
    )
    return " · ".join(
        f"{label} {metrics[prefix + key]:.3f}" for key, label in names if prefix + key in metrics
    )


def _quality(metrics: Mapping[str, float], side: str) -> str:
    """The version's figures on one side (cv or holdout), and the 12-number table's beside them when
    the version recorded them (versions from before issue 10 did not)."""
    line = _metric_line(metrics, f"{side}_")
    table = _metric_line(metrics, f"{side}_table_")
    return f"model: {line}\n12-number table: {table}" if table else line


def _trees(params: Mapping[str, Any]) -> str:
    return f"depth {params.get('max_depth', '?')}, η {params.get('eta', '?')}, {params.get('num_round', '?')} trees"


def model_line(params: Mapping[str, Any]) -> str:
    """What kind of model a version is, from its recorded parameters (old versions: a blend or one set)."""
    if params.get("recipe") == "table-boosted":
        return (
            "XGBoost boosted from the 12-number table (sex × class × child): "
            f"{params.get('num_round', '?')} trees of depth ≤ {params.get('max_depth', '?')}, η {params.get('eta', '?')}"
            f"; ranges from {params.get('members', '?')} bootstrap members"
        )
    members = params.get("blend")
    if isinstance(members, list) and members:
        if len(members) == 1:
            return f"XGBoost: {_trees(members[0])}"
        parts = " + ".join(f"{_trees(m)} ({float(m.get('weight', 0)):.0%})" for m in members)
        return f"XGBoost, a blend of {len(members)} search candidates: {parts}"
    return f"XGBoost: {_trees(params)}" if "max_depth" in params else "XGBoost"


def model_card_blocks(version: ModelVersion, *, backend: str) -> list[Block]:
    info = version.info
    twin = "holdout" in info  # fitted on all rows; holdout figures from a twin
    held = f"{info.get('n_holdout', '?')} held out{' from its twin' if twin else ''}"
    fields = [
        _text(f"*Version*\n{version.model_name} {version.version} (default)"),
        _text(f"*Trained*\n{version.created_at.replace('T', ' ')[:16]} UTC by {_escape(version.created_by)}"),
        _text(f"*Data*\n{info.get('n_rows', '?')} passengers ({held})"),
        _text(f"*Registry*\n{backend}"),
    ]
    holdout_note = " (a twin fitted without these rows; too few rows to steer by)" if twin else ""
    blocks: list[Block] = [
        {"type": "header", "text": _plain("Model card")},
        {"type": "section", "fields": fields},
        section(
            f"*Cross-validation* ({info.get('cv', 'repeated k-fold')})\n{_quality(version.metrics, 'cv')}"
        ),
        section(f"*Frozen holdout*{holdout_note}\n{_quality(version.metrics, 'holdout')}"),
    ]
    if version.comment:
        blocks.append(context(_escape(version.comment)))
    blocks.append(context(f"{model_line(version.params)} · data fingerprint `{version.data_fingerprint}`"))
    return blocks


# -- the modal -----------------------------------------------------------------------------------
def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def _input(block_id: str, label: str, element: dict[str, Any], hint: str | None = None) -> Block:
    # Class and sex are required (Slack checks presence before submitting); everything else may be
    # left empty and is imputed. The server validates every value and answers per-field errors.
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": block_id not in Passenger.REQUIRED,
        "label": _plain(label),
        "element": {**element, "action_id": VALUE},
    }
    if hint:
        block["hint"] = _plain(hint)
    return block


def _select(placeholder: str, options: list[dict[str, Any]], initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "placeholder": _plain(placeholder),
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
        "placeholder": _plain(placeholder),
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
    class_options = [_option(name, str(number)) for number, name in CLASS_NAMES.items()]
    sex_options = [_option(sex.capitalize(), sex) for sex in SEXES]
    sex_element: dict[str, Any] = {"type": "radio_buttons", "options": sex_options}
    for option in sex_options:
        if option["value"] == p.sex:
            sex_element["initial_option"] = option
    port_options = [_option(name, letter) for letter, name in PORTS.items()]
    title_options = [_option(title, title) for title in TITLES]
    return {
        "type": "modal",
        "callback_id": SURVIVE_MODAL,
        "title": _plain("Would you survive?"),
        "submit": _plain("Tell me"),
        "close": _plain("Cancel"),
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


CHILD_OPTION = {"text": _plain("A child (under 13)"), "value": "yes"}


def _child_box(child: bool | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "checkboxes", "options": [CHILD_OPTION]}
    if child:
        element["initial_options"] = [CHILD_OPTION]
    return element


FORM_FIELDS = ("pclass", "sex", "age", "sibsp", "parch", "embarked", "fare", "title", "child")


def form_values(state_values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """view.state.values -> raw Passenger fields (strings or None), keyed by field name."""
    raw: dict[str, Any] = {}
    for name in FORM_FIELDS:
        element = state_values.get(name, {}).get(VALUE, {})
        selected = element.get("selected_option")
        if "selected_options" in element:  # checkboxes: ticked or not said
            raw[name] = "yes" if element["selected_options"] else None
        else:
            raw[name] = selected["value"] if selected else element.get("value")
    return raw


def channel_from_metadata(private_metadata: str) -> str | None:
    try:
        return json.loads(private_metadata or "{}").get("channel")
    except (ValueError, AttributeError):
        return None


ECHO_LIMIT = 200  # characters of user text quoted back


def _escape(text: str, limit: int | None = None) -> str:
    """Slack mrkdwn control characters, so user text can't inject mentions, links or @channel.

    Slack already sends `&`, `<`, `>` in slash-command text as entities: decode those first so
    they are not escaped twice ("&amp;amp;" would show as "&amp;"). Cut before escaping, so an
    entity is never cut in half."""
    raw = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if limit is not None and len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
