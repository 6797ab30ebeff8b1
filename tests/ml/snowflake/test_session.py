"""Opening a Snowflake session fails fast, on one line, with what to fix, and never shows secrets.

The connections.toml files are written to a temporary SNOWFLAKE_HOME; the "accounts" are local
ports that refuse connections or accept them and never answer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.config import MLSettings
from ml.snowflake import session as sf_session
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.session import connection_name, connection_parameters, explain, open_session

SECRET = "s3cret-PASSWORD-do-not-print"
SETTINGS = MLSettings(backend="snowflake", snowflake_connection="lifeboat")


def write_connections(home: Path, body: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "connections.toml"
    path.write_text(body)
    path.chmod(0o600)
    return path


def connection_entry(port: int, name: str = "lifeboat", extra: str = "") -> str:
    return (
        f'[{name}]\naccount = "lifeboat-test"\nuser = "tester"\npassword = "{SECRET}"\n'
        f'host = "127.0.0.1"\nport = {port}\nprotocol = "http"\nwarehouse = "WH"\n{extra}'
    )


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more: connections are refused
    return port


@pytest.fixture
def snowflake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "snowflake-home"
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    monkeypatch.delenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", raising=False)
    return home


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers (a firewall that blackholes, a hung proxy)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def assert_one_clear_line(exc: SnowflakeUnavailable, *needles: str) -> str:
    message = str(exc)
    assert "\n" not in message
    assert SECRET not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_unreachable_account_fails_fast_and_clearly(snowflake_home: Path) -> None:
    write_connections(snowflake_home, connection_entry(closed_port()))
    started = time.monotonic()
    with pytest.raises(SnowflakeUnavailable) as caught:
        open_session(SETTINGS)
    elapsed = time.monotonic() - started
    assert elapsed < 45
    assert_one_clear_line(
        caught.value, "cannot reach Snowflake", "127.0.0.1", "[lifeboat]", "connections.toml"
    )


def test_a_server_that_never_answers_is_given_up_on_within_the_login_budget(
    snowflake_home: Path, silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The production budget is LOGIN_TIMEOUT + SOCKET_TIMEOUT (20 + 10 s, measured at 21 s); a
    # smaller one here shows the same mechanism bounds the wait without slowing the suite.
    monkeypatch.setattr(sf_session, "LOGIN_TIMEOUT", 2)
    monkeypatch.setattr(sf_session, "SOCKET_TIMEOUT", 1)
    write_connections(snowflake_home, connection_entry(silent_server))
    started = time.monotonic()
    with pytest.raises(SnowflakeUnavailable) as caught:
        open_session(SETTINGS)
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 1 + 4, elapsed
    assert_one_clear_line(caught.value, "cannot reach Snowflake")
    assert sf_session.LOGIN_TIMEOUT + sf_session.SOCKET_TIMEOUT < 45


def test_production_timeouts_fit_the_promise() -> None:
    assert sf_session.LOGIN_TIMEOUT + sf_session.SOCKET_TIMEOUT + 10 <= 45


def test_missing_connections_file(snowflake_home: Path) -> None:
    with pytest.raises(SnowflakeUnavailable) as caught:
        open_session(SETTINGS)
    assert_one_clear_line(
        caught.value, "no connections.toml", str(snowflake_home), "SNOWFLAKE_HOME", "[lifeboat]"
    )


def test_unknown_connection_name_lists_the_known_ones(snowflake_home: Path) -> None:
    write_connections(snowflake_home, connection_entry(1, "dev") + "\n" + connection_entry(1, "prod"))
    with pytest.raises(SnowflakeUnavailable) as caught:
        open_session(SETTINGS)
    assert_one_clear_line(
        caught.value, "no [lifeboat] connection", "known: dev, prod", "LIFEBOAT_SNOWFLAKE_CONNECTION"
    )


def test_invalid_toml(snowflake_home: Path) -> None:
    write_connections(snowflake_home, "[lifeboat\naccount = ")
    with pytest.raises(SnowflakeUnavailable, match="not valid TOML"):
        open_session(SETTINGS)


def test_connection_name_precedence(snowflake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unnamed = MLSettings(backend="snowflake")
    assert connection_name(unnamed) == "default"
    snowflake_home.mkdir()
    (snowflake_home / "config.toml").write_text('default_connection_name = "from_config"\n')
    assert connection_name(unnamed) == "from_config"
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "from_env")
    assert connection_name(unnamed) == "from_env"
    assert connection_name(SETTINGS) == "lifeboat"


def test_parameters_apply_lifeboat_names_and_timeouts(snowflake_home: Path) -> None:
    write_connections(snowflake_home, connection_entry(443, extra='database = "OTHER"\nrole = "R"\n'))
    name, params = connection_parameters(
        MLSettings(
            backend="snowflake",
            snowflake_connection="lifeboat",
            snowflake_database="lifeboat_dev",
            snowflake_schema="ml",
            snowflake_warehouse="small_wh",
        )
    )
    assert name == "lifeboat"
    assert (params["database"], params["schema"], params["warehouse"]) == ("LIFEBOAT_DEV", "ML", "SMALL_WH")
    assert params["role"] == "R" and params["password"] == SECRET  # everything else passes through
    assert (params["login_timeout"], params["socket_timeout"]) == (
        sf_session.LOGIN_TIMEOUT,
        sf_session.SOCKET_TIMEOUT,
    )
    _, unset = connection_parameters(SETTINGS)
    assert unset["warehouse"] == "WH"  # the connection's own when lifeboat names none


def test_a_user_chosen_timeout_is_kept(snowflake_home: Path) -> None:
    write_connections(snowflake_home, connection_entry(443, extra="login_timeout = 5\n"))
    _, params = connection_parameters(SETTINGS)
    assert params["login_timeout"] == 5


class FakeDriverError(Exception):
    def __init__(self, errno: int, msg: str) -> None:
        super().__init__(msg)
        self.errno = errno
        self.msg = msg


@pytest.mark.parametrize(
    "errno,needle",
    [
        (2003, "does not exist or role R has no access"),
        (3001, "lacks a privilege"),
        (606, "no usable warehouse"),
        (999999, "cannot read T: boom"),
    ],
)
def test_statement_failures_are_explained(errno: int, needle: str) -> None:
    message = str(explain(FakeDriverError(errno, "boom\nsecond line"), "read T", role="R"))
    assert needle in message and "\n" not in message


def test_login_failures_are_explained() -> None:
    params = {"account": "acme-xy", "user": "ann", "password": SECRET}
    refused = sf_session._login_failure(
        FakeDriverError(390100, "Incorrect username or password"), "prod", params
    )
    assert_one_clear_line(refused, "refused the credentials of user ann", "[prod]")
    other = sf_session._login_failure(FakeDriverError(1, "weird"), "prod", params)
    assert_one_clear_line(other, "cannot open a Snowflake session with connection [prod]: weird")
