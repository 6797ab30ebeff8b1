"""Listeners as plain functions, called with a mock `ack` as slack-samples' starter template does:
fast, no HTTP, no Bolt. The end-to-end suite (tests/bot/test_app.py) drives the same listeners
through signed requests; these pin what each one acknowledges and what it sends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from slack_bolt.context import BoltContext

from bot.blocks import form as survive_form
from bot.blocks import survive as survive_blocks
from bot.listeners.actions.survive_buttons import open_form
from bot.listeners.commands.retrain import retrain_command
from bot.listeners.commands.survive import survive_command
from bot.listeners.views.survive_modal import survive_modal_submitted
from bot.services import CONTEXT_KEY, Services
from bot.settings import BotSettings
from ml.config import MLSettings
from tests.support.bot import all_text, form_state

LOGGER = logging.getLogger("tests.listeners")


@pytest.fixture
def services(home: Path) -> Iterator[Services]:
    created = Services.create(MLSettings.from_env(), BotSettings(admins=frozenset({"U_ADMIN"})))
    yield created
    created.registry.close()


@pytest.fixture
def context(services: Services) -> BoltContext:
    return BoltContext({CONTEXT_KEY: services})


def slash(text: str, user: str = "U_ALICE") -> dict[str, Any]:
    return {"command": "/survive", "text": text, "user_id": user, "channel_id": "C1", "trigger_id": "T.1"}


def test_help_is_the_acknowledgement_itself(context: BoltContext) -> None:
    ack, respond, client = MagicMock(), MagicMock(), MagicMock()
    survive_command(ack, slash("help"), respond, client, context, LOGGER)
    ack.assert_called_once()
    assert ack.call_args.kwargs["text"] == "How to use /survive"
    respond.assert_not_called()
    client.assert_not_called()


def test_a_description_is_acknowledged_empty_then_answered(context: BoltContext) -> None:
    ack, respond, client = MagicMock(), MagicMock(), MagicMock()
    survive_command(ack, slash("3rd class man, 30"), respond, client, context, LOGGER)
    ack.assert_called_once_with()
    [answer] = respond.call_args_list
    assert "chance of survival" in answer.kwargs["text"]


def test_no_text_opens_the_form_with_the_trigger_id(context: BoltContext) -> None:
    ack, respond, client = MagicMock(), MagicMock(), MagicMock()
    survive_command(ack, slash(""), respond, client, context, LOGGER)
    ack.assert_called_once_with()
    client.views_open.assert_called_once()
    assert client.views_open.call_args.kwargs["trigger_id"] == "T.1"
    assert client.views_open.call_args.kwargs["view"]["callback_id"] == survive_form.SURVIVE_MODAL


def test_a_bad_form_gets_errors_under_its_fields_and_nothing_is_sent(context: BoltContext) -> None:
    ack, client = MagicMock(), MagicMock()
    view = {"state": {"values": form_state(pclass="1", sex="female", age="150")}, "private_metadata": "{}"}
    survive_modal_submitted(ack, {"user": {"id": "U_ALICE"}}, view, client, context, LOGGER)
    ack.assert_called_once()
    assert ack.call_args.kwargs["response_action"] == "errors"
    assert set(ack.call_args.kwargs["errors"]) == {"age"}
    client.assert_not_called()


def test_a_good_form_is_answered_in_its_channel(context: BoltContext) -> None:
    ack, client = MagicMock(), MagicMock()
    view = {
        "state": {"values": form_state(pclass="2", sex="female", age="8")},
        "private_metadata": '{"channel": "C9"}',
    }
    survive_modal_submitted(ack, {"user": {"id": "U_ALICE"}}, view, client, context, LOGGER)
    ack.assert_called_once_with()
    client.chat_postEphemeral.assert_called_once()
    sent = client.chat_postEphemeral.call_args.kwargs
    assert (sent["channel"], sent["user"]) == ("C9", "U_ALICE") and "chance of survival" in sent["text"]


def test_retrain_refuses_who_is_not_an_admin_and_records_it(context: BoltContext, services: Services) -> None:
    ack, respond, client = MagicMock(), MagicMock(), MagicMock()
    command = {**slash("", user="U_MALLORY"), "command": "/retrain"}
    retrain_command(ack, command, respond, client, context, LOGGER)
    ack.assert_called_once_with()
    assert "Only lifeboat admins" in respond.call_args.kwargs["text"]
    assert services.registry.history(1)[0].action == "retrain-refused"


def test_adjust_reopens_the_form_prefilled_with_the_button_value(context: BoltContext) -> None:
    ack, client = MagicMock(), MagicMock()
    value = survive_blocks.encode_passenger(
        survive_blocks.decode_passenger('{"pclass": 3, "sex": "male", "age": 30}')
    )
    body = {"channel": {"id": "C1"}, "trigger_id": "T.2", "user": {"id": "U_ALICE"}}
    open_form(ack, body, {"value": value}, client, context, LOGGER)
    ack.assert_called_once_with()
    view = client.views_open.call_args.kwargs["view"]
    assert "30" in all_text(view)
