"""Snowflake object names, validated before they go anywhere near SQL.

Only plain (unquoted) identifiers are accepted: a letter or underscore, then letters, digits,
underscores or dollar signs, at most 255 characters, and not a reserved word. Such a name is
case-insensitive in Snowflake, so it is upper-cased; anything else (quotes, dots inside a part,
spaces, semicolons, comments) is refused instead of escaped, which leaves no room for SQL injection
in the names lifeboat splices into statements. Values always travel as bind parameters.

Standard library only: `lifeboat sql` prints SQL without importing any Snowflake library.
"""

from __future__ import annotations

import re
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
# Mirrors ml.io.registry.parse_version (V1, V2, ...), without importing xgboost to print SQL.
_VERSION = re.compile(r"^V([1-9][0-9]*)$")

# Snowflake's reserved keywords: unquoted, they cannot name an object.
RESERVED = frozenset(
    """
    ACCOUNT ALL ALTER AND ANY AS BETWEEN BY CASE CAST CHECK COLUMN CONNECT CONNECTION CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DATABASE DELETE DISTINCT DROP
    ELSE EXISTS FALSE FOLLOWING FOR FROM FULL GRANT GROUP GSCLUSTER HAVING ILIKE IN INCREMENT INNER INSERT
    INTERSECT INTO IS ISSUE JOIN LATERAL LEFT LIKE LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT NULL OF ON
    OR ORDER ORGANIZATION QUALIFY REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SCHEMA SELECT SET SOME START
    TABLE TABLESAMPLE THEN TO TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE USING VALUES VIEW WHEN WHENEVER
    WHERE WITH
    """.split()  # noqa: SIM905 - the list as Snowflake's documentation prints it
)


class IdentifierError(ValueError):
    """A name that is not a plain Snowflake identifier; the message says which and why."""


def identifier(text: str, what: str = "name") -> str:
    """'titanic_data' -> 'TITANIC_DATA'; refuses anything that would need quoting."""
    candidate = str(text).strip()
    if not _IDENTIFIER.match(candidate):
        raise IdentifierError(
            f"{what} “{text}” is not a plain Snowflake identifier (letters, digits, _ and $, starting "
            "with a letter or _)"
        )
    upper = candidate.upper()
    if upper in RESERVED:
        raise IdentifierError(f"{what} “{text}” is a reserved word in Snowflake")
    return upper


def version_identifier(text: str) -> str:
    """'v3', 'V3', '3' -> 'V3' (the registry's version names); anything else is refused."""
    candidate = str(text).strip().upper()
    if candidate.isdigit():
        candidate = f"V{candidate}"
    if not _VERSION.match(candidate):
        raise IdentifierError(f"“{text}” is not a version name (expected V1, V2, ...)")
    return candidate


def qualified(name: str, *, database: str, schema: str, what: str = "table") -> str:
    """'T', 'S.T' or 'D.S.T' -> 'D.S.T', the missing parts taken from the configured database and
    schema, every part validated."""
    parts = str(name).strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise IdentifierError(f"{what} “{name}” must be NAME, SCHEMA.NAME or DATABASE.SCHEMA.NAME")
    defaults = [database, schema][: 3 - len(parts)]
    return ".".join(identifier(part, what) for part in [*defaults, *parts])


def split(qualified_name: str) -> tuple[str, str, str]:
    database, schema, name = qualified_name.split(".")
    return database, schema, name


# -- the names lifeboat uses, from MLSettings ---------------------------------------------------------
def database(settings: Any) -> str:
    return identifier(settings.snowflake_database, "database (LIFEBOAT_SNOWFLAKE_DATABASE)")


def schema(settings: Any) -> str:
    return identifier(settings.snowflake_schema, "schema (LIFEBOAT_SNOWFLAKE_SCHEMA)")


def in_schema(settings: Any, name: str, what: str = "table") -> str:
    """A name in lifeboat's schema, or as qualified by the caller."""
    return qualified(name, database=database(settings), schema=schema(settings), what=what)


def data_table(settings: Any, table: str | None = None) -> str:
    """The passenger table (LIFEBOAT.PUBLIC.TITANIC_DATA unless given)."""
    return in_schema(settings, table or settings.snowflake_table, "table")


def model(settings: Any) -> str:
    """The registered model, e.g. LIFEBOAT.PUBLIC.TITANIC."""
    return in_schema(settings, identifier(settings.model_name, "model name (LIFEBOAT_MODEL_NAME)"), "model")
