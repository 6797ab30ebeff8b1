"""Settings from the environment: a value outside the choices is refused by name."""

from __future__ import annotations

import pytest

from ml.config import MLSettings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIFEBOAT_BACKEND", "postgres", "LIFEBOAT_BACKEND must be local or snowflake (got “postgres”)"),
        ("LIFEBOAT_SCORING", "gpu", "LIFEBOAT_SCORING must be local or warehouse (got “gpu”)"),
        ("LIFEBOAT_SEED", "x", "LIFEBOAT_SEED must be a whole number ≥ 0 (got “x”)"),
    ],
)
def test_a_value_outside_the_choices_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as caught:
        MLSettings.from_env()
    assert str(caught.value) == message


def test_choices_are_read_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_BACKEND", "Snowflake")
    monkeypatch.setenv("LIFEBOAT_SCORING", "WAREHOUSE")
    settings = MLSettings.from_env()
    assert (settings.backend, settings.scoring) == ("snowflake", "warehouse")
