"""A Snowpark session from connections.toml, or one clear line saying what to fix, fast.

The connection is read here rather than by the driver's own lookup: the driver resolves
SNOWFLAKE_HOME once at import time, and its errors for a missing file or name are not written for
the person running `lifeboat`. The entry's keys go to the driver unchanged (password, key pair,
SSO, OAuth, host/port/protocol...), with lifeboat's database, schema and warehouse on top.

Failing fast: the driver retries a login until `login_timeout` and waits `socket_timeout` per
read, so the worst case is about the sum (measured: 20 + 10 -> 21 s against a server that accepts
connections and never answers; a refused port fails in about a second). After login the socket
timeout goes back to the driver's default, because Snowflake holds a running query's request open
up to 45 s before answering "still running".
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.snowflake import identifiers
from ml.snowflake.errors import SnowflakeUnavailable

if TYPE_CHECKING:
    from snowflake.snowpark import Session

    from ml.config import MLSettings

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 20  # seconds for the whole login, the driver's retries included
SOCKET_TIMEOUT = 10  # seconds per read while logging in
CONNECTIONS_FILE = "connections.toml"

# Snowflake error codes (driver errno / SQL error code) -> what the person should do.
_UNREACHABLE = {250001, 250003, 251011, 251012}  # could not connect, TLS failure, login/network timeouts
_BAD_CREDENTIALS = {390100, 390101, 390102, 390144, 390302, 390303, 390318, 394304, 394400}
_NOT_FOUND_OR_NOT_AUTHORIZED = {2003, 2043, 390201}
_NO_PRIVILEGE = {3001, 3003}
_NO_WAREHOUSE = {606, 90105}


def _config_dir() -> tuple[Path, str]:
    """Where connections.toml lives, as the Snowflake CLI and driver look for it, and why."""
    home = os.environ.get("SNOWFLAKE_HOME", "").strip()
    if home:
        return Path(home).expanduser(), "SNOWFLAKE_HOME"
    dot = Path("~/.snowflake").expanduser()
    if dot.is_dir():
        return dot, "~/.snowflake"
    xdg = Path(os.environ.get("XDG_CONFIG_HOME", "") or "~/.config").expanduser() / "snowflake"
    return xdg, "~/.config/snowflake"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(path.read_text())
    except ModuleNotFoundError:  # Python 3.10: the driver's own TOML library
        import tomlkit

        return tomlkit.parse(path.read_text()).unwrap()


def connection_name(settings: MLSettings, config_dir: Path | None = None) -> str:
    """LIFEBOAT_SNOWFLAKE_CONNECTION, else SNOWFLAKE_DEFAULT_CONNECTION_NAME (both folded into
    settings), else config.toml's default_connection_name, else "default" (the driver's rules)."""
    if settings.snowflake_connection:
        return settings.snowflake_connection
    from_env = os.environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "").strip()
    if from_env:
        return from_env
    config = (config_dir or _config_dir()[0]) / "config.toml"
    if config.is_file():
        try:
            name = _read_toml(config).get("default_connection_name")
        except Exception:  # a broken config.toml must not hide the real problem
            name = None
        if isinstance(name, str) and name.strip():
            return name.strip()
    return "default"


def connection_parameters(settings: MLSettings) -> tuple[str, dict[str, Any]]:
    """(name, driver parameters) for the configured connection, lifeboat's names applied."""
    directory, source = _config_dir()
    path = directory / CONNECTIONS_FILE
    name = connection_name(settings, directory)
    if not path.is_file():
        raise SnowflakeUnavailable(
            f"no {CONNECTIONS_FILE} in {directory} (from {source}): create it with a [{name}] connection"
            " (see README, Snowflake) or point SNOWFLAKE_HOME at its folder"
        )
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users: chmod 0600 it (it may hold credentials)", path)
    try:
        document = _read_toml(path)
    except Exception as exc:
        raise SnowflakeUnavailable(f"{path} is not valid TOML: {exc}") from None
    entry = document.get(name)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(k for k, v in document.items() if isinstance(v, dict))) or "none"
        raise SnowflakeUnavailable(
            f"{path} has no [{name}] connection (known: {known}): set LIFEBOAT_SNOWFLAKE_CONNECTION to one"
            " of them or add it"
        )
    params: dict[str, Any] = dict(entry)
    params["database"] = identifiers.database(settings)
    params["schema"] = identifiers.schema(settings)
    if settings.snowflake_warehouse:
        params["warehouse"] = identifiers.identifier(settings.snowflake_warehouse, "warehouse")
    params.setdefault("login_timeout", LOGIN_TIMEOUT)
    params.setdefault("socket_timeout", SOCKET_TIMEOUT)
    # Every bound statement lifeboat sends uses `?` (Snowpark's Session.sql binds qmark only); an
    # entry saying paramstyle = "pyformat" would make the driver rewrite them and break each one.
    params["paramstyle"] = "qmark"
    return name, params


def error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sql_error_code", None) or getattr(exc, "errno", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def driver_message(exc: BaseException) -> str:
    """The driver's message, first line, without the noise."""
    text = getattr(exc, "message", None) or getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    first = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    return first[:300]


def _login_failure(exc: BaseException, name: str, params: dict[str, Any]) -> SnowflakeUnavailable:
    code = error_code(exc)
    account = params.get("host") or params.get("account") or "?"
    user = params.get("user", "?")
    said = driver_message(exc)
    if code in _UNREACHABLE or "Could not connect" in said:
        return SnowflakeUnavailable(
            f"cannot reach Snowflake at {account} (connection [{name}]): check account/host in"
            f" {CONNECTIONS_FILE}, the network and any proxy ({said})"
        )
    if code in _BAD_CREDENTIALS:
        return SnowflakeUnavailable(
            f"Snowflake refused the credentials of user {user} (connection [{name}]): check the password,"
            f" key pair or authenticator in {CONNECTIONS_FILE} ({said})"
        )
    return SnowflakeUnavailable(f"cannot open a Snowflake session with connection [{name}]: {said}")


def explain(exc: BaseException, doing: str, *, role: str | None = None) -> SnowflakeUnavailable:
    """A failed statement -> one line for a person: what failed and the likely fix."""
    code = error_code(exc)
    said = driver_message(exc)
    grantee = f"role {role}" if role else "your role"
    if code in _NOT_FOUND_OR_NOT_AUTHORIZED:
        message = f"cannot {doing}: it does not exist or {grantee} has no access ({said})"
    elif code in _NO_PRIVILEGE:
        message = f"cannot {doing}: {grantee} lacks a privilege (see the GRANT statements in README) ({said})"
    elif code in _NO_WAREHOUSE:
        message = (
            f"cannot {doing}: no usable warehouse; set LIFEBOAT_SNOWFLAKE_WAREHOUSE and GRANT USAGE on it"
            f" to {grantee} ({said})"
        )
    else:
        message = f"cannot {doing}: {said}"
    return SnowflakeUnavailable(message, code=code)  # the code tells a caller whether to retry


def login(settings: MLSettings) -> tuple[str, Session]:
    """(connection name, a logged-in session) without checking its context: `open_session` and
    `lifeboat doctor` (which reports each part of the context on its own line) start here."""
    name, params = connection_parameters(settings)
    from snowflake.snowpark import Session

    try:
        session = Session.builder.configs(params).create()
    except Exception as exc:
        raise _login_failure(exc, name, params) from None
    try:
        _restore_query_timeout(session)
    except BaseException:
        session.close()
        raise
    return name, session


def open_session(settings: MLSettings) -> Session:
    """A session on lifeboat's database and schema with a usable warehouse, or SnowflakeUnavailable."""
    name, session = login(settings)
    try:
        _check_context(session, settings, name)
    except BaseException:
        session.close()
        raise
    return session


def _restore_query_timeout(session: Session) -> None:
    # The short read timeout is for the login only; queries need the driver's default (see top).
    connection = session.connection
    if hasattr(connection, "_socket_timeout"):
        connection._socket_timeout = None


CONTEXT = ("USER", "ROLE", "WAREHOUSE", "DATABASE", "SCHEMA")


def read_context(session: Session) -> dict[str, str | None]:
    """The session's user, role, warehouse, database and schema (None: not set or not usable)."""
    try:
        row = session.sql(
            "SELECT CURRENT_USER() AS USER, CURRENT_ROLE() AS ROLE, CURRENT_WAREHOUSE() AS WAREHOUSE,"
            " CURRENT_DATABASE() AS DATABASE, CURRENT_SCHEMA() AS SCHEMA"
        ).collect()[0]
    except Exception as exc:
        raise explain(exc, "read the session's role, database and warehouse") from None
    return dict(zip(CONTEXT, row, strict=True))


def context_problem(part: str, context: dict[str, str | None], settings: MLSettings, name: str) -> str | None:
    """What is wrong with one part of the session's context ("ROLE", "WAREHOUSE", "DATABASE",
    "SCHEMA") and how to fix it, or None: the driver logs in even when they cannot be used."""
    role = context.get("ROLE") or "<role>"
    db, schema = identifiers.database(settings), identifiers.schema(settings)
    if context.get(part) is not None:
        return None
    if part == "ROLE":
        return f"the session has no role: set role = in [{name}] and GRANT ROLE <role> TO USER {context.get('USER')}"
    if part == "DATABASE":
        return (
            f"database {db} does not exist or role {role} cannot use it: create it or"
            f" GRANT USAGE ON DATABASE {db} TO ROLE {role} (or set LIFEBOAT_SNOWFLAKE_DATABASE)"
        )
    if part == "SCHEMA":
        return (
            f"schema {db}.{schema} does not exist or role {role} cannot use it: create it or"
            f" GRANT USAGE ON SCHEMA {db}.{schema} TO ROLE {role}"
        )
    return (
        f"no usable warehouse for role {role}: set LIFEBOAT_SNOWFLAKE_WAREHOUSE (or warehouse = in"
        f" [{name}]) and GRANT USAGE ON WAREHOUSE <name> TO ROLE {role}"
    )


def _check_context(session: Session, settings: MLSettings, name: str) -> None:
    """The driver logs in even when the database, schema or warehouse cannot be used: say so now."""
    context = read_context(session)
    for part in ("DATABASE", "SCHEMA", "WAREHOUSE"):
        problem = context_problem(part, context, settings, name)
        if problem:
            raise SnowflakeUnavailable(problem)


def current_role(session: Session) -> str | None:
    try:
        role = session.get_current_role()
    except Exception:  # only used to word an error message
        return None
    return role.strip('"') if role else None


def require_table(session: Session, table: str, *, hint: str = "run `lifeboat load-data`") -> list[str]:
    """The table's column names (a metadata query: nothing is read), or one line saying what to do."""
    try:
        return list(session.table(table).columns)
    except Exception as exc:
        role = current_role(session)
        grantee = f"role {role}" if role else "your role"
        raise SnowflakeUnavailable(
            f"table {table} does not exist or {grantee} cannot read it: {hint}, or GRANT SELECT ON TABLE"
            f" {table} TO ROLE {role or '<role>'} ({driver_message(exc)})"
        ) from None
