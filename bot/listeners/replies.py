"""From a passenger (or free text) to the reply the bot sends: shared by commands, views and actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot import pictures
from bot.blocks import survive as survive_blocks
from bot.blocks.kit import without_images
from bot.services import Services
from bot.transport.delivery import UNCONFIRMED_ERRORS, DeliveryStats
from ml.core.model import Prediction
from ml.core.parser import ParseResult, parse
from ml.core.passenger import Passenger, PassengerError
from ml.io.registry import RegistryError
from ml.io.serving import ModelUnavailableError

log = logging.getLogger(__name__)

# Errors that mean "the bot can't post there": answer in a DM instead.
NOT_POSTABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action"})


@dataclass(frozen=True)
class Reply:
    """A message body for respond()/chat.post*: blocks plus the notification fallback text."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}

    @property
    def has_images(self) -> bool:
        return any(block.get("type") == "image" for block in self.blocks)

    def without_images(self) -> Reply:
        return Reply(self.text, without_images(self.blocks))


def refused_blocks(response: Any) -> bool:
    """Did Slack refuse a message for its blocks (an image it would not show)? `response` is a
    response URL's answer (WebhookResponse) or a Web API error's response."""
    status = getattr(response, "status_code", 200)
    body = str(getattr(response, "body", "") or "")
    return status == 404 and "invalid_blocks" in body


def respond_with_pictures(respond: Any, reply: Reply, **kwargs: Any) -> None:
    """respond() with `reply`; if Slack refused it for its pictures, again without them."""
    response = respond(**kwargs, **reply.as_kwargs())
    if reply.has_images and refused_blocks(response):
        log.warning("a reply's pictures were refused: answering with text only")
        respond(**kwargs, **reply.without_images().as_kwargs())


def remember_answer(services: Services, user: str | None, label: str, prediction: Prediction) -> None:
    """Keep the answer for the person's Home (their last five); a store failure costs only that."""
    if not user:
        return
    try:
        services.home_store.remember(
            user, {"label": label, "headline": prediction.headline, "version": prediction.version}
        )
    except Exception:
        log.warning("could not keep an answer for %s's Home", user, exc_info=True)


def prediction_reply(
    services: Services, passenger: Passenger, *, shared_by: str | None = None, asked_by: str | None = None
) -> Reply:
    """The answer for `passenger`; `asked_by` (a user id) keeps it for that person's Home."""
    try:
        prediction = services.scorer.predict(passenger)
    except (ModelUnavailableError, RegistryError) as exc:
        log.warning("model unavailable: %s", exc)
        return Reply("The model is unavailable right now.", survive_blocks.unavailable_blocks())
    remember_answer(services, asked_by, passenger.describe(), prediction)
    return Reply(
        survive_blocks.answer_text(prediction),
        survive_blocks.prediction_blocks(
            prediction, passenger, model_name=services.model_name, shared_by=shared_by
        ),
    )


def chart_reply(services: Services, client: WebClient, passenger: Passenger) -> Reply:
    """'Show chart': the answer's reasons drawn and uploaded; without a picture, why not."""
    try:
        prediction = services.scorer.predict(passenger)
    except (ModelUnavailableError, RegistryError) as exc:
        log.warning("model unavailable: %s", exc)
        return Reply("The model is unavailable right now.", survive_blocks.unavailable_blocks())
    picture = pictures.reasons_image(services.images, client, prediction)
    return Reply(f"Why {prediction.headline}", survive_blocks.chart_blocks(prediction, picture))


@dataclass(frozen=True)
class TextOutcome:
    """What free text means: a passenger to score, or a reply that needs no model."""

    passenger: Passenger | None = None
    reply: Reply | None = None
    not_understood: bool = False  # nothing in the text was understood (it may be a misspelt name)


def understand(text: str, parsed: ParseResult | None = None) -> TextOutcome:
    """Parse free text (unless the caller has: `parsed`); nonsense gets help, bad values a plain
    refusal, missing class/sex the form."""
    parsed = parse(text) if parsed is None else parsed
    if parsed.empty:
        return TextOutcome(
            reply=Reply("I couldn't find a passenger in that.", survive_blocks.not_understood_blocks(text)),
            not_understood=True,
        )
    if parsed.contradictions:
        return TextOutcome(
            reply=Reply(
                "That description contradicts itself.",
                survive_blocks.refusal_blocks(parsed.contradictions, parsed.understood),
            )
        )
    try:
        passenger = parsed.passenger()
    except PassengerError as exc:
        return TextOutcome(
            reply=Reply(str(exc), survive_blocks.refusal_blocks(exc.errors.values(), parsed.understood))
        )
    missing = passenger.missing()
    if missing:
        return TextOutcome(
            reply=Reply(
                "I need a little more to answer.",
                survive_blocks.missing_blocks(missing, passenger, parsed.understood),
            )
        )
    return TextOutcome(passenger=passenger)


def model_card_reply(services: Services, client: WebClient | None = None) -> Reply:
    """The default version's card; with a client, its charts too (uploaded once per version)."""
    try:
        version = services.scorer.model_card()
    except (ModelUnavailableError, RegistryError) as exc:
        log.warning("model unavailable: %s", exc)
        return Reply("The model is unavailable right now.", survive_blocks.unavailable_blocks())
    images = [] if client is None else pictures.card_images(services.images, client, version)
    return Reply(
        f"Model card: {version.model_name} {version.version}",
        survive_blocks.model_card_blocks(
            version, backend=services.registry.backend, scoring=services.scorer.status(), pictures=images
        ),
    )


def failure_reply() -> Reply:
    """What a user sees when something broke on our side: no details (those go to the log)."""
    return Reply("Something went wrong on our side.", survive_blocks.failure_blocks())


def deliver(
    client: WebClient,
    user: str,
    channel: str | None,
    reply: Reply,
    logger: logging.Logger = log,
    *,
    stats: DeliveryStats | None = None,
    request_id: str | None = None,
) -> None:
    """Ephemeral in `channel` for `user`; a DM when there is no channel or the bot can't post there.

    The client retries what Slack could not take (bot.transport.delivery). A call that may have reached Slack
    but got no answer is not raised: Slack may have shown it, and an apology after it would be wrong."""
    try:
        _post(client, user, channel, reply, logger)
    except UNCONFIRMED_ERRORS as exc:
        if stats is not None:
            stats.count("unconfirmed")
        logger.warning(
            "answer to request %s may or may not have been shown (%s)", request_id, type(exc).__name__
        )
        return
    except Exception:
        if stats is not None:
            stats.count("lost")
        logger.warning("answer to request %s lost", request_id)
        raise
    if stats is not None:
        stats.count("delivered")


def open_view(
    client: WebClient,
    trigger_id: str,
    view: dict[str, Any],
    logger: logging.Logger = log,
    request_id: str | None = None,
) -> None:
    """views.open; as for `deliver`, a call that may have opened the form is not raised."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except UNCONFIRMED_ERRORS as exc:
        logger.warning(
            "the form for request %s may or may not have opened (%s)", request_id, type(exc).__name__
        )


def _post(client: WebClient, user: str, channel: str | None, reply: Reply, logger: logging.Logger) -> None:
    post_or_dm(client, user, channel, reply.as_kwargs(), ephemeral=True, logger=logger)


def post_or_dm(
    client: WebClient,
    user: str,
    channel: str | None,
    message: dict[str, Any],
    *,
    ephemeral: bool,
    logger: logging.Logger = log,
) -> SlackResponse:
    """Post `message` in `channel` (ephemeral: for `user` only); where the bot can't post there, or
    there is no channel, as a DM to `user` instead."""
    if channel:
        try:
            if ephemeral:
                return client.chat_postEphemeral(channel=channel, user=user, **message)
            return client.chat_postMessage(channel=channel, **message)
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_POSTABLE:
                raise
            logger.info("cannot post in %s (%s): answering by DM", channel, exc.response.get("error"))
    dm = client.conversations_open(users=user)["channel"]["id"]
    return client.chat_postMessage(channel=dm, **message)
