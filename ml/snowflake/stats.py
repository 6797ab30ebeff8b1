"""Passenger statistics on Snowflake: one GROUP BY over TITANIC_DATA, never a download of it.

The query bands every passenger by the same definitions as the local count (ml.core.stats
GROUPINGS: CASE expressions from the same values and edges) and returns one row per combination
of bands (a few hundred at most, whatever the table's size). Rates and intervals are then summed
and computed from those counts by the same pure code as locally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml.core.stats import FAMILY_SIZE, GROUPINGS, UNKNOWN, Grouping, PassengerCounts, PassengerStats
from ml.core.table import TARGET
from ml.io.registry import ModelVersion
from ml.io.stats import default_version
from ml.snowflake import identifiers
from ml.snowflake.session import current_role, explain, require_table

if TYPE_CHECKING:
    from snowflake.snowpark import Column, DataFrame, Session

    from ml.config import MLSettings
    from ml.snowflake.registry import SnowflakeRegistry

TOTAL, SURVIVORS = "PASSENGERS", "SURVIVORS"


def _source_column(grouping: Grouping) -> Column:
    from snowflake.snowpark.functions import col

    if grouping.column == FAMILY_SIZE:  # NULL when either count is unknown, as locally
        return col("SIBSP") + col("PARCH") + 1
    return col(grouping.column.upper())  # the table's columns are the canonical ones, upper-cased


def band(grouping: Grouping) -> Column:
    """The grouping's label for each row, as a CASE expression (NULL and unlisted values: UNKNOWN)."""
    from snowflake.snowpark.functions import lit, when

    value = _source_column(grouping)
    if grouping.edges:
        # label i covers [edges[i-1], edges[i]): the first WHEN that holds is the row's band.
        case = when(value < grouping.edges[0], lit(grouping.labels[0]))
        for edge, label in zip(grouping.edges[1:], grouping.labels[1:-1], strict=True):
            case = case.when(value < edge, lit(label))
        case = case.when(value.is_not_null(), lit(grouping.labels[-1]))
    else:
        pairs = list(zip(grouping.values, grouping.labels, strict=True))
        case = when(value == lit(pairs[0][0]), lit(pairs[0][1]))
        for category, label in pairs[1:]:
            case = case.when(value == lit(category), lit(label))
    return case.otherwise(lit(UNKNOWN))


def counts_query(session: Session, table: str) -> DataFrame:
    """SELECT <bands>, COUNT(*), SUM(SURVIVED) FROM (SELECT <band expressions> FROM table) GROUP BY
    <bands>: the bands are computed in a projection first, then grouped by name (Snowpark's local
    testing session can group by a column, not by a CASE expression)."""
    from snowflake.snowpark.functions import col, count, lit
    from snowflake.snowpark.functions import sum as sum_

    names = [g.name.upper() for g in GROUPINGS]
    banded = session.table(table).select(
        *[band(g).alias(name) for g, name in zip(GROUPINGS, names, strict=True)], col(TARGET.upper())
    )
    return banded.group_by(*names).agg(count(lit(1)).alias(TOTAL), sum_(col(TARGET.upper())).alias(SURVIVORS))


def warehouse_counts(session: Session, table: str) -> PassengerCounts:
    """Run the one aggregate query and read its rows into PassengerCounts."""
    names = [g.name.upper() for g in GROUPINGS]
    try:
        rows = counts_query(session, table).collect()
    except Exception as exc:
        require_table(session, table)  # a missing or unreadable table: say so in one line
        raise explain(exc, f"count the passengers in {table}", role=current_role(session)) from None
    return PassengerCounts.from_rows(
        (tuple(str(row[name]) for name in names), int(row[TOTAL]), int(row[SURVIVORS] or 0)) for row in rows
    )


def _source(table: str, total: int, version: ModelVersion | None) -> tuple[str, str | None]:
    """Which data the figures are, and a caveat when the default version may not have learnt from
    it. Only the row count can be compared without reading the table: the version records how
    many rows it was trained on, not which."""
    source = f"{table} ({total} passengers), the table training in the warehouse reads"
    if version is None:
        return source, "No model is trained yet: this is the data the first one will learn from."
    trained_on: Any = version.info.get("n_rows")
    if trained_on is not None and int(trained_on) != total:
        return source, (
            f"{version.model_name} {version.version} was trained on {trained_on} passengers, and the"
            f" table holds {total} now: these figures are the table's."
        )
    return source, None


def warehouse_stats(settings: MLSettings, registry: SnowflakeRegistry) -> PassengerStats:
    """Survival counts from TITANIC_DATA, on the registry's session."""
    table = identifiers.data_table(settings)
    version = default_version(registry)
    counts = warehouse_counts(registry.session, table)
    source, caveat = _source(table, counts.overall.total, version)
    return PassengerStats(counts, source, caveat, version.version if version is not None else None)
