"""bot.blocks: the Block Kit the bot sends, built by pure functions (no Slack, no model)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.blocks import form as survive_form
from bot.blocks import kit
from bot.blocks import survive as survive_blocks
from bot.listeners.replies import understand
from ml.core.evidence import Evidence, Example
from ml.core.model import Likely, Prediction, Reason
from ml.core.passenger import Passenger
from ml.io.registry import ModelVersion

SAID = Passenger(pclass=1, sex="female", age=29.0, sibsp=1)
COMPLETED = Passenger(
    pclass=1, sex="female", age=29.0, sibsp=1, parch=0, fare=84.15, embarked="S", title="Mrs"
)
REASONS = (
    Reason("sex", "Being a woman", 1.5),
    Reason("pclass", "Travelling 1st class", 0.75),
    Reason("title", "Travelling as “Mrs”", 0.3),
    Reason("age", "Age 29", -0.1),
    Reason("fare", "A £84 fare", 0.05),  # fifth: not shown
)


LIKELY = Likely(0.861, 0.996, 59, "1st class, female, 13 or over, with family")
EVIDENCE = Evidence(
    group="1st class, female, 18–34, with family",
    passengers=17,
    survived=16,
    unknown_age=7,
    unknown_age_group="1st class, female, with family",
    narrower=None,
    examples=(
        Example("Newell, Miss. Madeleine", 31.0, True),
        Example("O'Brien, <Mrs.> & Co", None, False),  # a name is data: escaped like any user text
    ),
)


def prediction(
    probability: float = 0.93,
    assumptions: tuple[str, ...] = ("fare £84 (typical for 1st class)",),
    likely: Likely | None = LIKELY,
    evidence: Evidence | None = EVIDENCE,
):
    return Prediction(
        probability=probability,
        reasons=REASONS,
        assumptions=assumptions,
        baseline_logit=-0.4,
        passenger=COMPLETED,
        version="V1",
        likely=likely,
        evidence=evidence,
    )


def text_of(node: Any) -> str:
    """Every string in a block structure, joined: what the user can see (and more)."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return "\n".join(text_of(v) for v in node.values())
    if isinstance(node, list | tuple):
        return "\n".join(text_of(v) for v in node)
    return ""


def actions(message: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in message if b["type"] == "actions" for e in b["elements"]}


def assert_slack_shaped(message: list[dict[str, Any]]) -> None:
    """JSON-serialisable, within Slack's message limits, every text object well formed."""
    json.dumps(message)
    assert 0 < len(message) <= 50
    for block in message:
        assert block["type"] in {"section", "context", "actions", "divider", "header", "input"}
        if block["type"] == "section" and "text" in block:
            assert block["text"]["type"] == "mrkdwn" and 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75
                assert len(element.get("value", "")) <= 2000


# ---------------------------------------------------------------------------------------------
# The answer


def test_prediction_blocks_show_probability_verdict_reasons_assumptions_and_version() -> None:
    message = survive_blocks.prediction_blocks(prediction(), SAID, model_name="TITANIC")
    assert_slack_shaped(message)
    headline = message[0]["text"]["text"]
    assert headline == (
        ":large_green_circle: *93% (likely 86–99%) chance of survival.* You would very likely have survived."
    )
    assert "1st class female (Mrs), age 29, 1 sibling/spouse" in text_of(message[1])
    assert (
        survive_blocks.answer_text(prediction())
        == "93% (likely 86–99%) chance of survival. You would very likely have survived."
    )

    why = next(b["text"]["text"] for b in message if b["type"] == "section" and "*Why*" in b["text"]["text"])
    lines = why.splitlines()[1:]
    assert len(lines) == 4  # the top four reasons only
    assert lines[0] == "`▰▰▰▰▰▰` :arrow_up_small: Being a woman — raised your chances"
    assert lines[1] == "`▰▰▰▱▱▱` :arrow_up_small: Travelling 1st class — raised your chances"
    assert lines[3] == "`▰▱▱▱▱▱` :arrow_down_small: Age 29 — lowered your chances"  # never an empty bar
    assert "A £84 fare" not in why

    everything = text_of(message)
    assert ":information_source: Assumed: fare £84 (typical for 1st class)" in everything
    assert "Model TITANIC V1" in everything and "about 4 times in 5" in everything
    assert "The records hold only" not in everything  # 59 like her: not few


def test_the_answer_shows_people_like_you_with_names_and_fates() -> None:
    message = survive_blocks.prediction_blocks(prediction(), SAID, model_name="TITANIC")
    types = [b["type"] for b in message]
    people = next(
        i
        for i, b in enumerate(message)
        if b["type"] == "section" and "*People like you*" in b["text"]["text"]
    )
    assert (
        types[people - 1] == "section" and "*Why*" in message[people - 1]["text"]["text"]
    )  # after the reasons
    assert message[people]["text"]["text"] == (
        "*People like you*\nOf the 17 passengers in the records most like you (1st class, female, 18–34,"
        " with family), 16 survived. Not counted: 7 more (1st class, female, with family) whose age the"
        " records lack."
    )
    names = message[people + 1]
    assert names["type"] == "context"
    assert names["elements"][0]["text"] == (
        "In the records: Newell, Miss. Madeleine (31, survived) · O'Brien, &lt;Mrs.&gt; &amp; Co (age unknown, died)"
    )


def test_few_like_you_is_said_and_old_versions_show_no_range() -> None:
    few = Likely(0.09, 0.93, 1, "3rd class, male, under 13, alone")
    message = survive_blocks.prediction_blocks(prediction(0.53, likely=few), SAID, model_name="TITANIC")
    assert_slack_shaped(message)
    assert message[2] == kit.context(
        ":warning: The records hold only 1 passenger like you (3rd class, male, under 13, alone),"
        " so this is uncertain: the likely range is wide."
    )
    old = survive_blocks.prediction_blocks(prediction(likely=None, evidence=None), SAID, model_name="TITANIC")
    assert old[0]["text"]["text"].startswith(":large_green_circle: *93% chance of survival.*")
    shown = text_of(old)
    assert "(likely" not in shown and "People like you" not in shown and "4 times in 5" not in shown


def test_prediction_buttons_carry_what_was_said() -> None:
    message = survive_blocks.prediction_blocks(prediction(), SAID, model_name="TITANIC")
    buttons = actions(message)
    assert list(buttons) == [
        survive_blocks.ADJUST_ACTION,
        survive_blocks.SHARE_ACTION,
        survive_blocks.CHART_ACTION,
    ]
    assert buttons[survive_blocks.ADJUST_ACTION]["text"]["text"] == "Adjust"
    assert buttons[survive_blocks.SHARE_ACTION]["style"] == "primary"
    for button in buttons.values():
        assert (
            survive_blocks.decode_passenger(button["value"]) == SAID
        )  # what was said, not the imputed values
        assert "fare" not in json.loads(button["value"])


def test_low_probability_and_no_assumptions() -> None:
    low = Likely(0.05, 0.24, 263, "3rd class, male, 13 or over, alone")
    message = survive_blocks.prediction_blocks(
        prediction(0.12, assumptions=(), likely=low), SAID, model_name="TITANIC"
    )
    assert message[0]["text"]["text"].startswith(":red_circle: *12% (likely 5–24%) chance of survival.*")
    assert "very likely not have survived" in message[0]["text"]["text"]
    assert "Assumed" not in text_of(message)


def test_shared_answer_names_who_asked_and_has_no_buttons() -> None:
    message = survive_blocks.prediction_blocks(prediction(), SAID, model_name="TITANIC", shared_by="U_BOB")
    assert_slack_shaped(message)
    assert message[0]["text"]["text"].startswith("<@U_BOB> asked the Titanic model.\n")
    assert not actions(message)


@pytest.mark.parametrize(
    ("logit", "largest", "bar"),
    [(1.0, 1.0, "▰▰▰▰▰▰"), (-0.5, 1.0, "▰▰▰▱▱▱"), (0.001, 1.0, "▰▱▱▱▱▱"), (0.0, 0.0, "▱▱▱▱▱▱")],
)
def test_bar(logit: float, largest: float, bar: str) -> None:
    assert survive_blocks.bar(logit, largest) == bar


@pytest.mark.parametrize(
    "passenger",
    [
        SAID,
        Passenger(pclass=3, sex="male"),
        Passenger(pclass=2, sex="male", age=0.42, sibsp=1, parch=2, fare=13.5, embarked="Q", title="Master"),
        Passenger(age=30.0),  # incomplete: the "Open the form" button carries it
    ],
)
def test_passenger_round_trips_through_a_button_value(passenger: Passenger) -> None:
    value = survive_blocks.encode_passenger(passenger)
    assert len(value) <= 2000
    assert survive_blocks.decode_passenger(value) == passenger


# ---------------------------------------------------------------------------------------------
# The form


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"]}


def test_modal_has_an_input_per_field_with_only_class_and_sex_required() -> None:
    view = survive_form.survive_modal("C_RANDOM")
    json.dumps(view)
    assert view["type"] == "modal" and view["callback_id"] == survive_form.SURVIVE_MODAL
    for key in ("title", "submit", "close"):
        assert view[key]["type"] == "plain_text" and 0 < len(view[key]["text"]) <= 24
    assert [b["block_id"] for b in view["blocks"]] == list(survive_form.FORM_FIELDS)
    assert set(survive_form.FORM_FIELDS) == set(Passenger.field_names())
    for block in view["blocks"]:
        assert block["type"] == "input"
        # The server validates every value; Slack only checks that class and sex were chosen.
        assert block["optional"] is (block["block_id"] not in ("pclass", "sex"))
        assert block["element"]["action_id"] == survive_form.VALUE
        assert not {"initial_option", "initial_options", "initial_value"} & set(block["element"])
    assert json.loads(view["private_metadata"]) == {"channel": "C_RANDOM"}
    assert survive_form.channel_from_metadata(view["private_metadata"]) == "C_RANDOM"
    kinds = {name: b["element"]["type"] for name, b in inputs(view).items()}
    assert kinds == {
        "pclass": "static_select",
        "sex": "radio_buttons",
        "age": "number_input",
        "sibsp": "number_input",
        "parch": "number_input",
        "embarked": "static_select",
        "fare": "number_input",
        "title": "static_select",
        "child": "checkboxes",
    }
    assert inputs(view)["age"]["element"]["is_decimal_allowed"] is True
    assert inputs(view)["sibsp"]["element"]["is_decimal_allowed"] is False


def test_modal_prefilled_from_a_passenger() -> None:
    said = Passenger(
        pclass=2, sex="male", age=0.42, sibsp=1, parch=0, fare=13.5, embarked="Q", title="Master"
    )
    by_id = {name: block["element"] for name, block in inputs(survive_form.survive_modal("C1", said)).items()}
    for name in ("pclass", "sex", "embarked", "title"):
        option = by_id[name]["initial_option"]
        assert option in by_id[name]["options"]  # Slack requires one of the options, exactly
    assert by_id["pclass"]["initial_option"]["value"] == "2"
    assert by_id["sex"]["initial_option"]["value"] == "male"
    assert by_id["embarked"]["initial_option"]["value"] == "Q"
    assert by_id["title"]["initial_option"]["value"] == "Master"
    assert by_id["age"]["initial_value"] == "0.42"
    assert by_id["sibsp"]["initial_value"] == "1"
    assert by_id["parch"]["initial_value"] == "0"  # zero is a value, not "unknown"
    assert by_id["fare"]["initial_value"] == "13.5"
    assert "initial_options" not in by_id["child"]
    boy = inputs(survive_form.survive_modal("C1", Passenger(pclass=3, sex="male", child=True)))["child"][
        "element"
    ]
    assert boy["initial_options"] == boy["options"] == [survive_form.CHILD_OPTION]


@pytest.mark.parametrize(
    ("number", "text"), [(29.0, "29"), (0.42, "0.42"), (1e-05, "0.00001"), (512.3292, "512.3292"), (0, "0")]
)
def test_number_inputs_get_plain_decimals(number: float, text: str) -> None:
    assert survive_form.number_text(number) == text


def state_from(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends back for a form submitted unchanged: each element's initial value."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block["element"]
        if element["type"] in {"static_select", "radio_buttons"}:
            sent = {"type": element["type"], "selected_option": element.get("initial_option")}
        elif element["type"] == "checkboxes":
            sent = {"type": "checkboxes", "selected_options": element.get("initial_options", [])}
        else:
            sent = {"type": element["type"], "value": element.get("initial_value")}
        values[block["block_id"]] = {element["action_id"]: sent}
    return values


def test_form_values_reads_slack_state_values() -> None:
    state = {
        "pclass": {"value": {"type": "static_select", "selected_option": {"text": {}, "value": "3"}}},
        "sex": {"value": {"type": "radio_buttons", "selected_option": {"text": {}, "value": "female"}}},
        "age": {"value": {"type": "number_input", "value": "8"}},
        "sibsp": {"value": {"type": "number_input", "value": None}},
        "embarked": {"value": {"type": "static_select", "selected_option": None}},
        # parch, fare and title missing altogether
    }
    assert survive_form.form_values(state) == (
        {
            "pclass": "3",
            "sex": "female",
            "age": "8",
            "sibsp": None,
            "parch": None,
            "embarked": None,
            "fare": None,
            "title": None,
            "child": None,
        },
        {},
    )
    assert Passenger.create(**survive_form.form_values(state)[0]) == Passenger(
        pclass=3, sex="female", age=8.0
    )

    ticked = {
        **state,
        "age": {},
        "child": {"value": {"type": "checkboxes", "selected_options": [survive_form.CHILD_OPTION]}},
    }
    assert Passenger.create(**survive_form.form_values(ticked)[0]) == Passenger(
        pclass=3, sex="female", child=True
    )


@pytest.mark.parametrize(
    "state",
    [
        {"pclass": "string"},
        {"pclass": {"value": None}},
        {"pclass": {"value": "3"}},
        {"pclass": {"value": {"type": "static_select", "selected_option": 5}}},
        {"pclass": {"value": {"type": "static_select", "selected_option": {"value": 3}}}},
        {"pclass": {"value": {"type": "static_select", "selected_option": {"text": {}}}}},
        {"pclass": {"value": {"type": "number_input", "value": ["3"]}}},
        {"pclass": {"value": {"type": "number_input", "value": "3" * 101}}},
    ],
)
def test_a_field_whose_state_slack_would_never_send_gets_its_own_error(state: dict[str, Any]) -> None:
    raw, errors = survive_form.form_values({**state_from(survive_form.survive_modal("C1")), **state})
    assert errors == {"pclass": survive_form.UNREADABLE}
    assert raw["pclass"] is None


@pytest.mark.parametrize("values", [None, "x", 5, [], {"sex": 5}])
def test_state_values_of_any_shape_are_read_without_raising(values: Any) -> None:
    raw, errors = survive_form.form_values(values)
    assert set(raw) == set(survive_form.FORM_FIELDS)
    assert set(errors) <= {"sex"}


def test_prefilled_form_submitted_unchanged_gives_the_same_passenger() -> None:
    said = Passenger(
        pclass=1, sex="female", age=29.5, sibsp=1, parch=2, fare=71.2833, embarked="C", title="Mrs"
    )
    view = survive_form.survive_modal("C1", said)
    assert Passenger.create(**survive_form.form_values(state_from(view))[0]) == said
    assert (
        Passenger.create(**survive_form.form_values(state_from(survive_form.survive_modal("C1")))[0])
        == Passenger()
    )
    boy = Passenger(pclass=3, sex="male", child=True, sibsp=0, parch=0)
    assert (
        Passenger.create(**survive_form.form_values(state_from(survive_form.survive_modal("C1", boy)))[0])
        == boy
    )


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "not json",
        "[1, 2]",
        '"C1"',
        "{}",
        '{"other": 1}',
        5,
        None,
        {"channel": "C1"},
        "[" * 100_000,
        '{"channel": 5}',
        '{"channel": "<!channel>"}',
        '{"channel": "' + "C" * 5000 + '"}',
    ],
)
def test_channel_from_bad_metadata_is_none(metadata: Any) -> None:
    assert survive_form.channel_from_metadata(metadata) is None


# ---------------------------------------------------------------------------------------------
# Help, refusals and other replies


def test_help_lists_examples_and_commands() -> None:
    message = survive_blocks.help_blocks()
    assert_slack_shaped(message)
    shown = text_of(message)
    for example in survive_blocks.EXAMPLES:
        assert f"`/survive {example}`" in shown
    for command in ("`/survive`", "`/survive model`", "`/survive help`"):
        assert command in shown
    assert survive_blocks.help_blocks("Hello")[0] == kit.section("Hello")


@pytest.mark.parametrize("example", survive_blocks.EXAMPLES)
def test_every_documented_example_is_answerable(example: str) -> None:
    outcome = understand(example)
    assert outcome.reply is None and outcome.passenger is not None
    assert not outcome.passenger.missing()


def test_not_understood_quotes_the_text_safely() -> None:
    message = survive_blocks.not_understood_blocks("hi <@U123> & <!channel> <https://evil.example|click>")
    assert_slack_shaped(message)
    intro = message[0]["text"]["text"]
    assert "“hi &lt;@U123&gt; &amp; &lt;!channel&gt; &lt;https://evil.example|click&gt;”" in intro
    assert "<@" not in intro and "<!" not in intro and "<http" not in intro
    assert "Examples" in text_of(message)


def test_text_slack_already_escaped_is_not_escaped_twice() -> None:
    # Slack sends &, < and > in command text as entities.
    intro = survive_blocks.not_understood_blocks("fish &amp; chips &lt;3")[0]["text"]["text"]
    assert "“fish &amp; chips &lt;3”" in intro


def test_long_text_is_cut_without_breaking_an_entity() -> None:
    intro = survive_blocks.not_understood_blocks("x" * 198 + "&<" + "y" * 500)[0]["text"]["text"]
    quoted = intro.split("“")[1].split("”")[0]
    assert quoted == "x" * 198 + "&amp;…"
    assert "y" not in quoted


def test_refusal_is_plain_and_has_no_probability() -> None:
    message = survive_blocks.refusal_blocks(
        ["Age must be between 0 and 100 (got 150)."], ["1st class", "male"]
    )
    assert_slack_shaped(message)
    shown = text_of(message)
    assert ":warning: I can't score that:\n• Age must be between 0 and 100 (got 150)." in shown
    assert "Understood: 1st class · male" in shown
    assert "/survive help" in shown
    assert "%" not in shown and "chance" not in shown
    assert "&lt;b&gt;" in text_of(survive_blocks.refusal_blocks(["got “<b>”"]))
    assert "Understood" not in text_of(survive_blocks.refusal_blocks(["x"]))


def test_missing_offers_the_form_prefilled() -> None:
    said = Passenger(age=29.0, sibsp=1)
    message = survive_blocks.missing_blocks(("pclass", "sex"), said, ("age 29", "1 spouse aboard"))
    assert_slack_shaped(message)
    assert message[0]["text"]["text"] == ":pencil2: I need your class and sex to answer."
    assert message[1]["type"] == "context" and "Understood: age 29 · 1 spouse aboard" in text_of(message[1])
    [button] = actions(message).values()
    assert button["action_id"] == survive_blocks.OPEN_FORM_ACTION
    assert survive_blocks.decode_passenger(button["value"]) == said
    only_sex = survive_blocks.missing_blocks(("sex",), Passenger(pclass=1), ())
    assert only_sex[0]["text"]["text"] == ":pencil2: I need your sex to answer."
    assert [b["type"] for b in only_sex] == ["section", "actions"]


def _version(metrics: dict[str, float], params: dict[str, Any], info: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        model_name="TITANIC",
        version="V3",
        created_at="2026-11-27T14:15:09+00:00",
        created_by="U_ADMIN",
        comment="retrained <!channel> & more",
        metrics=metrics,
        params=params,
        data_fingerprint="abc123",
        info=info,
        is_default=True,
    )


def test_model_card_puts_the_table_beside_the_model() -> None:
    figures = {"accuracy": 0.8324, "roc_auc": 0.8791, "brier": 0.1234, "log_loss": 0.3912, "ece": 0.031}
    table = {"accuracy": 0.785, "roc_auc": 0.856, "brier": 0.135, "log_loss": 0.426, "ece": 0.042}
    metrics = {
        **{f"cv_{k}": v for k, v in figures.items()},
        **{f"cv_table_{k}": v for k, v in table.items()},
        **{f"holdout_{k}": v for k, v in figures.items()},
        **{f"holdout_table_{k}": v for k, v in table.items()},
    }
    params = {"recipe": "table-boosted", "max_depth": 2, "num_round": 98, "eta": 0.1, "members": 50}
    info = {"n_rows": 891, "n_holdout": 182, "cv": "nested 1x5-fold (inner 5-fold)", "holdout": "a twin"}
    message = survive_blocks.model_card_blocks(_version(metrics, params, info), backend="snowflake")
    assert_slack_shaped(message)
    shown = text_of(message)
    assert message[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Model card", "emoji": True},
    }
    assert "*Version*\nTITANIC V3 (default)" in shown and "2026-11-27 14:15 UTC by U_ADMIN" in shown
    assert "891 passengers (182 held out from its twin)" in shown and "*Registry*\nsnowflake" in shown
    line = "accuracy 0.832 · ROC AUC 0.879 · Brier 0.123 · log loss 0.391 · ECE 0.031"
    table_line = "12-number table: accuracy 0.785 · ROC AUC 0.856 · Brier 0.135 · log loss 0.426 · ECE 0.042"
    assert f"*Cross-validation* (nested 1x5-fold (inner 5-fold))\nmodel: {line}\n{table_line}" in shown
    assert "*Frozen holdout* (a twin fitted without these rows; too few rows to steer by)\nmodel: " in shown
    assert "retrained &lt;!channel&gt; &amp; more" in shown and "<!channel>" not in shown
    assert "`abc123`" in shown
    assert (
        "XGBoost boosted from the 12-number table (sex × class × child): 98 trees of depth ≤ 2, η 0.1;"
        " ranges from 50 bootstrap members"
    ) in shown


def test_model_card_of_a_version_from_before_the_tables() -> None:
    metrics = {
        "holdout_accuracy": 0.8324,
        "holdout_log_loss": 0.3912,
        "cv_accuracy": 0.836,
        "cv_roc_auc": 0.878,
    }
    info = {"n_rows": 891, "n_holdout": 179, "cv": "5-fold x 3"}
    shown = text_of(
        survive_blocks.model_card_blocks(_version(metrics, {"max_depth": 3}, info), backend="local")
    )
    assert "891 passengers (179 held out)" in shown
    assert "*Frozen holdout*\naccuracy 0.832 · log loss 0.391" in shown
    assert "*Cross-validation* (5-fold x 3)\naccuracy 0.836 · ROC AUC 0.878" in shown
    assert "12-number table" not in shown
    assert "XGBoost: depth 3, η ?, ? trees" in shown  # a version recorded before blends


def test_model_line_describes_older_versions_too() -> None:
    a = {"max_depth": 2, "eta": 0.05, "num_round": 300}
    b = {"max_depth": 3, "eta": 0.1, "num_round": 300}
    assert survive_blocks.model_line({"blend": [{"weight": 0.6, **a}, {"weight": 0.4, **b}]}) == (
        "XGBoost, a blend of 2 search candidates: depth 2, η 0.05, 300 trees (60%) + depth 3, η 0.1, 300 trees (40%)"
    )
    assert (
        survive_blocks.model_line({"blend": [{"weight": 1.0, **a}]}) == "XGBoost: depth 2, η 0.05, 300 trees"
    )
    assert survive_blocks.model_line(a) == "XGBoost: depth 2, η 0.05, 300 trees"
    assert survive_blocks.model_line({}) == "XGBoost"


def test_unavailable_and_failure_say_so_without_details() -> None:
    unavailable = text_of(survive_blocks.unavailable_blocks())
    assert "The model is unavailable right now." in unavailable
    assert "%" not in unavailable
    failure = text_of(survive_blocks.failure_blocks())
    assert "Something went wrong on our side" in failure
    assert "Traceback" not in failure and "Error" not in failure
