"""Passenger statistics on Snowflake: one aggregate query on TITANIC_DATA (Snowpark's local testing
session runs it), the same counts as the local path, and which data they are."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.snowpark import DataFrame, Session

from ml.backend import open_backend
from ml.core.stats import count_passengers
from ml.io.data import load_csv
from ml.snowflake.data import write_passengers
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.registry import SnowflakeRegistry
from ml.snowflake.stats import warehouse_counts
from tests.support.models import fitted_model
from tests.support.snowflake import SETTINGS, TABLE


@pytest.fixture
def loaded(session: Session) -> Iterator[Session]:
    write_passengers(session, SETTINGS, load_csv(), replace=False)
    with warnings.catch_warnings():
        # The local testing session's pandas emulation warns about its own boolean indexing.
        warnings.simplefilter("ignore", UserWarning)
        yield session


def log(registry: SnowflakeRegistry, n_rows: int) -> None:
    registry.log_model(
        fitted_model(),
        metrics={},
        params={},
        comment="test version",
        created_by="ann",
        data_fingerprint="sha256:abc",
        info={"n_rows": n_rows},
    )


def test_one_aggregate_query_gives_the_local_counts(loaded: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the passenger table was downloaded")

    monkeypatch.setattr(DataFrame, "to_pandas", no_download)
    with loaded.query_history() as history:
        counts = warehouse_counts(loaded, TABLE)
    assert len(history.queries) == 1
    # One row per combination of bands that had passengers: grouped, not the 891 rows.
    assert len(counts.cells) == 180
    assert counts == count_passengers(load_csv())
    rows = {r.groups: (r.rate.survived, r.rate.total) for r in counts.breakdown(["sex"]).rows}
    assert rows == {("female",): (233, 314), ("male",): (109, 577)}


def test_the_backend_counts_in_the_warehouse_and_names_the_table(
    loaded: Session, registry: SnowflakeRegistry
) -> None:
    log(registry, n_rows=891)
    stats = open_backend(SETTINGS, registry=registry).passenger_stats()
    assert stats.version == "V1" and stats.caveat is None
    assert stats.source == f"{TABLE} (891 passengers), the table training in the warehouse reads"
    assert stats.counts.overall.total == 891


def test_a_default_trained_on_another_number_of_rows_is_said_plainly(
    loaded: Session, registry: SnowflakeRegistry
) -> None:
    log(registry, n_rows=700)
    stats = open_backend(SETTINGS, registry=registry).passenger_stats()
    assert stats.caveat == (
        "TITANIC V1 was trained on 700 passengers, and the table holds 891 now: these figures are the table's."
    )


def test_a_missing_table_is_one_line(session: Session) -> None:
    with pytest.raises(
        SnowflakeUnavailable, match=r"LIFEBOAT.PUBLIC.TITANIC_DATA does not exist .* load-data"
    ):
        warehouse_counts(session, TABLE)
