"""The load generator at a small size against both engines: exact counts, zero loss.

The big runs are benchmarks (scripts/bench_compare.py), not tests; these only prove that the
generator counts right, so its figures can be trusted.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import http_listener_port

import chat.dialects
from chat.bench.__main__ import main as bench_main
from chat.bench.proto import ProtocolFailure
from chat.bench.workloads import (
    FanoutParams,
    IdleParams,
    RoomsParams,
    Target,
    run_fanout,
    run_idle,
    run_rooms,
)
from chat.config import Limits, Listener, ServerConfig
from chat.engines import BackgroundServer, serve_in_background

ENGINES = ["asyncio", "threaded"]
BENCH_LIMITS = Limits(rate_per_second=0, max_connections=0, max_per_ip=0, max_rooms_per_user=0,
                      ping_interval=0, register_timeout=0)
HAS_IRC = (Path(chat.dialects.__file__).parent / "irc").is_dir()
DIALECTS = ["structured", pytest.param("irc", marks=pytest.mark.skipif(
    not HAS_IRC, reason="our server has no IRC dialect yet (chat/dialects/irc/)"))]


@pytest.fixture(params=ENGINES)
def server(request: pytest.FixtureRequest) -> Iterator[BackgroundServer]:
    with serve_in_background(request.param, ServerConfig(port=0, limits=BENCH_LIMITS)) as srv:
        yield srv


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _fds_back_to(baseline: int, timeout: float = 10.0) -> int:
    """Open descriptors once the in-process server has also seen every client go."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _open_fds() > baseline and loop.time() < deadline:
        await asyncio.sleep(0.02)  # polling an outcome with a deadline, not a fixed wait
    return _open_fds()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("rate", [0.0, 400.0], ids=["full-speed", "fixed-rate"])
async def test_fanout_counts_every_delivery(server: BackgroundServer, dialect: str,
                                            rate: float) -> None:
    fds = _open_fds()
    target = Target(server.host, server.port, dialect, server_pid=os.getpid())
    params = FanoutParams(clients=10, senders=3, messages=20, rate=rate, window=8, batch=4,
                          timeout=15)
    r = await run_fanout(target, params)
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["out_of_order"] == 0
    assert r["disconnected"] == 0, r["errors"]
    assert r["deliveries"] == 3 * 20 * 9  # recipients other than the sender
    echo = 3 * 20 if dialect == "structured" else 0
    assert r["received_incl_echo"] == r["expected_deliveries_incl_echo"] == 3 * 20 * 9 + echo
    assert r["latency"]["samples"] > 0 and r["latency"]["p50_ms"] >= 0
    assert r["server_cpu_ns_per_delivery"] is not None
    assert await _fds_back_to(fds) == fds  # every client socket was closed
    assert len(asyncio.all_tasks()) == 1  # only the test itself: no leaked sender tasks


async def test_rooms_counts_per_room(server: BackgroundServer) -> None:
    target = Target(server.host, server.port, "structured")
    r = await run_rooms(target, RoomsParams(clients=10, rooms=3, rate_per_client=40,
                                            duration=0.25, timeout=15))
    # rooms of 4, 3 and 3 members; 10 messages per client
    assert r["deliveries"] == 10 * (4 * 3 + 3 * 2 + 3 * 2)
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["disconnected"] == 0


async def test_idle_broadcast_reaches_everyone(server: BackgroundServer) -> None:
    target = Target(server.host, server.port, "structured", server_pid=os.getpid())
    r = await run_idle(target, IdleParams(connections=20, rooms=3, timeout=15))
    assert r["reached"] == 20 and r["all_reached"] and r["lost"] == 0
    assert "rss_per_conn_registered_bytes" in r


def test_command_line_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with serve_in_background("asyncio", ServerConfig(port=0, limits=BENCH_LIMITS)) as srv:
        code = bench_main(["fanout", "--dialect", "structured", "--port", str(srv.port),
                           "-n", "4", "-s", "2", "-m", "5", "--json", str(out)])
    assert code == 0
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["lost"] == 0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_fanout_over_websocket_counts_every_delivery(engine: str, dialect: str) -> None:
    """The WebSocket transport: the same counts through frames (a padded message takes the
    16-bit length form), on the HTTP listener of each engine."""
    config = ServerConfig(port=0, limits=BENCH_LIMITS,
                          listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    with serve_in_background(engine, config) as srv:
        target = Target(srv.host, http_listener_port(srv), dialect, server_pid=os.getpid(),
                        transport="ws")
        for pad in (0, 200):
            r = await run_fanout(target, FanoutParams(clients=10, senders=3, messages=20,
                                                      window=8, batch=4, pad=pad, timeout=15,
                                                      room=f"#ws{pad}"))
            assert r["lost"] == 0 and r["duplicated"] == 0 and r["out_of_order"] == 0
            assert r["disconnected"] == 0 and not r["errors"], r["errors"]
            assert r["deliveries"] == 3 * 20 * 9
            echo = 3 * 20 if dialect == "structured" else 0
            assert r["received_incl_echo"] == 3 * 20 * 9 + echo
            assert r["latency"]["samples"] > 0
        # Every one of them spoke WebSocket: the hub saw them on the HTTP listener.
        assert srv.hub.opened >= 2 * 10


async def test_a_refused_websocket_upgrade_fails_the_run() -> None:
    """A server answering the upgrade with anything but 101: a clear failure, not a hang."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        target = Target("127.0.0.1", port, "structured", transport="ws")
        with pytest.raises(ProtocolFailure, match=r"upgrade refused: HTTP/1\.1 403"):
            await run_fanout(target, FanoutParams(clients=2, senders=1, messages=1, timeout=5))
    finally:
        server.close()
        await server.wait_closed()
