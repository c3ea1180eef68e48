"""Shared fixtures: a real server per test, on an ephemeral port, for each engine.

Every engine test runs twice, once per engine (the uvicorn pattern), so both engines are held
to one behaviour. Clients are plain blocking sockets with timeouts (tests/support.py): a test
waits for the line it expects, never for a fixed time.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from irc_lines import irc_params, irc_verb
from redis_server import INSTALL as REDIS_INSTALL
from redis_server import RedisServer
from support import ENGINE_NAMES, TEST_LIMITS, WAIT, Clients, LineClient

from chat.config import ServerConfig
from chat.engines import BackgroundServer, serve_in_background

__all__ = ["ENGINE_NAMES", "TEST_LIMITS", "WAIT", "Clients", "LineClient"]


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn."""
    return request.param


@pytest.fixture
def server_config() -> ServerConfig:
    """Override in a test module (or parametrize) to change limits."""
    return ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5)


@pytest.fixture
def server(engine: str, server_config: ServerConfig) -> Iterator[BackgroundServer]:
    """A running server of the engine under test; checks it leaves no thread behind."""
    before = set(threading.enumerate())
    with serve_in_background(engine, replace(server_config, port=0)) as srv:
        yield srv
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"
    # The threaded engine's connection threads are bare threads, invisible to threading.
    assert not getattr(srv.engine, "connection_threads", 0), "connection threads left running"


@pytest.fixture
def clients(server: BackgroundServer) -> Iterator[Clients]:
    """Client factory bound to the test's server."""
    made = Clients(server)
    yield made
    made.close_all()


# -- added for the limits/security/TLS/leak suites -------------------------------------------

@pytest.fixture
def serve_with(engine: str) -> Iterator[Callable[..., Clients]]:
    """Start the engine under test with some limits or settings changed; returns its Clients.

    ``serve_with(max_per_ip=2, limit_loopback=True)`` changes limits; ServerConfig fields
    (``tls_cert=...``) go in the same call. Servers and clients are stopped at teardown, and
    no thread may outlive them.
    """
    import contextlib
    import dataclasses

    limit_names = {f.name for f in dataclasses.fields(TEST_LIMITS)}
    before = set(threading.enumerate())
    stack = contextlib.ExitStack()
    started: list[BackgroundServer] = []

    def start(**changes: object) -> Clients:
        limits = replace(TEST_LIMITS, **{k: v for k, v in changes.items() if k in limit_names})
        others = {k: v for k, v in changes.items() if k not in limit_names}
        others.setdefault("shutdown_grace", 0.5)
        config = ServerConfig(port=0, limits=limits, **others)  # type: ignore[arg-type]
        if config.tls:
            config = replace(config, tls_port=0)
        srv = stack.enter_context(serve_in_background(engine, config))
        started.append(srv)
        made = Clients(srv)
        stack.callback(made.close_all)
        return made

    with stack:
        yield start
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"
    # The threaded engine's connection threads are bare threads, invisible to threading.
    assert not any(getattr(srv.engine, "connection_threads", 0) for srv in started), \
        "connection threads left running"


# -- IRC test clients (added for the IRC dialect; see tests/test_irc.py) ---------------------


class IrcClient(LineClient):
    """A raw IRC client over a real socket: send commands, wait for commands or numerics."""

    nick = "*"

    def cmd(self, line: str) -> None:
        """Send one IRC line (CRLF added)."""
        self.send(line + "\r\n")

    def numeric(self, code: str, timeout: float = WAIT) -> list[str]:
        """Wait for numeric ``code``; return its parameters after the recipient nick."""
        line = self.expect(lambda text: irc_verb(text) == code, timeout)
        return irc_params(line)[1:]

    def verb(self, verb: str, timeout: float = WAIT) -> str:
        """Wait for a line whose command is ``verb`` (JOIN, PRIVMSG, ...); return the line."""
        return self.expect(lambda text: irc_verb(text) == verb, timeout)

    def sync(self, token: str = "sync") -> None:
        """Round trip: everything the server sent before this is in ``received`` after it."""
        self.cmd(f"PING :{token}")
        self.expect(lambda text: irc_verb(text) == "PONG" and text.endswith(f":{token}"))


@pytest.fixture
def irc(clients: Clients) -> Callable[..., IrcClient]:
    """Factory: ``irc("alice", "#lobby", caps=("server-time",))`` is a registered IRC client
    (CAP negotiated when ``caps`` is given) that joined the given rooms."""

    def make(nick: str, *rooms: str, caps: tuple[str, ...] = ()) -> IrcClient:
        server = clients.server
        client = IrcClient(server.host, server.port)
        clients.all.append(client)
        if caps:
            client.cmd("CAP LS 302")
        client.cmd(f"NICK {nick}")
        client.cmd(f"USER {nick} 0 * :{nick} the tester")
        if caps:
            client.verb("CAP")
            client.cmd(f"CAP REQ :{' '.join(caps)}")
            client.expect(" ACK ")
            client.cmd("CAP END")
        client.numeric("001")
        client.numeric("376")
        client.nick = nick
        for room in rooms:
            client.cmd(f"JOIN {room}")
            client.numeric("366")
        return client

    return make


# -- cluster: a real redis-server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_server_module() -> Iterator[RedisServer]:
    """One redis-server for a test module; skips with the install command when it is missing."""
    if shutil.which("redis-server") is None:
        pytest.skip(f"redis-server is not installed ({REDIS_INSTALL})")
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_server(redis_server_module: RedisServer) -> Iterator[RedisServer]:
    """The module's redis-server, running and empty at the start of each test."""
    if redis_server_module.process is None or redis_server_module.process.poll() is not None:
        redis_server_module.start()
    redis_server_module.resume()
    redis_server_module.flush()
    yield redis_server_module
