"""What /survive sends: the answer, help, refusals and the model card (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.blocks.kit import Block, button, context, escape, image, plain_text, section, text
from ml.core.evidence import Evidence
from ml.core.model import Likely, Prediction, Reason
from ml.core.passenger import Passenger
from ml.io.registry import ModelVersion

ADJUST_ACTION = "survive_adjust"


SHARE_ACTION = "survive_share"


OPEN_FORM_ACTION = "survive_open_form"


CHART_ACTION = "survive_chart"


EXAMPLES = (
    "1st class woman, 29, travelling with my husband",
    "3rd class man, 30, alone, from Southampton",
    "2nd class girl, 8, with my parents",
    "first class Mr, 45, fare £72, from Cherbourg",
)


BAR_CELLS = 6


def bar(logit: float, largest: float) -> str:
    """A small fixed-width bar: how strong this reason is next to the strongest one."""
    filled = 0 if largest <= 0 else max(1, round(BAR_CELLS * abs(logit) / largest))
    return "▰" * filled + "▱" * (BAR_CELLS - filled)


def reason_lines(reasons: Sequence[Reason], whose: str = "your") -> str:
    largest = max((abs(r.logit) for r in reasons), default=0.0)
    lines = []
    for reason in reasons:
        arrow = ":arrow_up_small:" if reason.helped else ":arrow_down_small:"
        effect = "raised" if reason.helped else "lowered"
        lines.append(f"`{bar(reason.logit, largest)}` {arrow} {reason.text} — {effect} {whose} chances")
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
    out = [section("*People like you*\n" + escape(evidence.sentence(), None))]
    if evidence.examples:
        out.append(
            context("In the records: " + " · ".join(escape(e.text(), None) for e in evidence.examples))
        )
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
                    button("Show chart", CHART_ACTION, value),
                ],
            }
        )
    return blocks


def chart_blocks(prediction: Prediction, picture: Any | None) -> list[Block]:
    """'Show chart': the answer's reasons as a picture (`picture`: an uploaded image, with
    `file_id`, `alt` and `title`), or, without one, why not; the bars in the answer say the same."""
    if picture is None:
        return [
            context(
                ":frame_with_picture: The chart could not be made right now; the bars under *Why* in the"
                " answer show the same."
            )
        ]
    return [
        image(picture.file_id, picture.alt, picture.title),
        context(
            f"{prediction.headline} · each bar: what one thing about you did to the odds (SHAP, log-odds);"
            " green raised them, red lowered them"
        ),
    ]


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
            '• `/survive Astor` or `/survive "Molly Brown"` looks up a real passenger by name\n'
            "• `/survive model` shows the model card\n"
            "• `/survive stats` shows who survived by sex, class, age, port and family size"
            " (`/survive stats by class and sex` for a cross table)\n"
            "• `/survive help` shows this"
        ),
    ]
    return blocks


def not_understood_blocks(text: str) -> list[Block]:
    return help_blocks(f":thinking_face: I couldn't find a passenger in “{escape(text)}”. Try one of these:")


def refusal_blocks(problems: Iterable[str], understood: Sequence[str] = ()) -> list[Block]:
    """Out-of-range or contradictory input: refused plainly, with no probability."""
    lines = "\n".join(f"• {escape(p, None)}" for p in problems)
    blocks = [section(f":warning: I can't score that:\n{lines}")]
    if understood:
        blocks.append(context("Understood: " + " · ".join(escape(u, None) for u in understood)))
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
        blocks.insert(1, context("Understood: " + " · ".join(escape(u, None) for u in understood)))
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


def scoring_line(scoring: Mapping[str, Any]) -> str:
    """How answers are scored, as the scorer reports it (ml.io.serving.PassengerScorer.status)."""
    path, fallbacks = scoring.get("path"), int(scoring.get("fallbacks") or 0)
    if scoring.get("configured") != "warehouse":
        return "Scoring: in the bot (local)"
    fell = (
        f" · {fallbacks} of {scoring.get('answers', 0)} answers fell back to the local copy"
        if fallbacks
        else ""
    )
    if path == "fallback" and scoring.get("last_error"):
        return f"Scoring: local fallback (warehouse failing: {escape(str(scoring['last_error']), 150)}){fell}"
    return f"Scoring: {'local fallback' if path == 'fallback' else 'in the warehouse'}{fell}"


def reliability_table(bins: Sequence[Mapping[str, Any]]) -> str:
    """The reliability diagram as text (for clients without images, and for reading exact figures)."""
    lines = [f"{'predicted':>10} {'observed':>9} {'n':>5}"]
    for b in bins:
        lines.append(f"{float(b['predicted']):>10.0%} {float(b['observed']):>9.0%} {int(b['count']):>5}")
    return "\n".join(lines)


def card_pictures_blocks(version: ModelVersion, pictures: Sequence[Any]) -> list[Block]:
    """The card's charts (uploaded images, when there are any) and what they show in words: the
    out-of-fold reliability bins and the mean contribution per attribute the version recorded.
    A version trained before they were recorded says so."""
    info = version.info
    bins, means = info.get("cv_reliability"), info.get("mean_abs_contribution")
    if not bins and not means:
        return [
            context(
                f":information_source: {version.version} was trained before reliability bins and mean"
                " contributions were recorded with a version: no charts for it (retrain to get them)."
            )
        ]
    blocks: list[Block] = [image(p.file_id, p.alt, p.title) for p in pictures]
    if bins:
        blocks.append(
            section(
                "*Predicted vs observed* (out of fold, nested cross-validation)\n```\n"
                + reliability_table(bins)
                + "\n```"
            )
        )
    if isinstance(means, Mapping) and means:
        labels = {
            "sex": "sex",
            "pclass": "class",
            "title": "title",
            "age": "age",
            "family": "family",
            "fare": "fare",
            "embarked": "port",
        }
        ranked = sorted(means.items(), key=lambda kv: -float(kv[1]))
        shown = " · ".join(f"{labels.get(k, escape(str(k)))} {float(v):.2f}" for k, v in ranked)
        blocks.append(
            context(f"Mean |effect on the odds| per attribute over the training passengers: {shown}")
        )
    return blocks


def model_card_blocks(
    version: ModelVersion,
    *,
    backend: str,
    scoring: Mapping[str, Any] | None = None,
    pictures: Sequence[Any] | None = None,
) -> list[Block]:
    info = version.info
    twin = "holdout" in info  # fitted on all rows; holdout figures from a twin
    held = f"{info.get('n_holdout', '?')} held out{' from its twin' if twin else ''}"
    fields = [
        text(f"*Version*\n{version.model_name} {version.version} (default)"),
        text(
            f"*Trained*\n{version.created_at.replace('T', ' ')[:16]} UTC by {escape(version.created_by, None)}"
        ),
        text(f"*Data*\n{info.get('n_rows', '?')} passengers ({held})"),
        text(f"*Registry*\n{backend}"),
    ]
    holdout_note = " (a twin fitted without these rows; too few rows to steer by)" if twin else ""
    blocks: list[Block] = [
        {"type": "header", "text": plain_text("Model card")},
        {"type": "section", "fields": fields},
        section(
            f"*Cross-validation* ({info.get('cv', 'repeated k-fold')})\n{_quality(version.metrics, 'cv')}"
        ),
        section(f"*Frozen holdout*{holdout_note}\n{_quality(version.metrics, 'holdout')}"),
    ]
    if version.comment:
        blocks.append(context(escape(version.comment, None)))
    blocks.append(context(f"{model_line(version.params)} · data fingerprint `{version.data_fingerprint}`"))
    if scoring is not None:
        blocks.append(context(scoring_line(scoring)))
    if pictures is not None:
        blocks += card_pictures_blocks(version, pictures)
    return blocks
