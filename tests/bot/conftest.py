"""Fixtures of the bot's tests: one fake Slack per module, a running bot per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.local import FakeSlackWebAPI
from tests.support.bot import TOKEN, Bot, start_bot


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def bot(home: Path, fake: FakeSlackWebAPI) -> Iterator[Bot]:
    yield from start_bot(fake)


@pytest.fixture
def bot_without_model(empty_home: Path, fake: FakeSlackWebAPI) -> Iterator[Bot]:
    yield from start_bot(fake)
