"""A cluster node's metrics and readiness over real sockets (HTTP GET /metrics and /readyz),
with a real redis-server that is paused (a stall) and stopped (gone)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator

import pytest
from redis_server import RedisServer
from support import TEST_LIMITS, Clients, http_listener_port, wait_until

from chat.cluster.gate import ClusterGate
from chat.config import Listener, ServerConfig
from chat.engines import BackgroundServer, serve_in_background


@pytest.fixture
def two_nodes(redis_server: RedisServer) -> Iterator[list[BackgroundServer]]:
    """An asyncio and a threaded node, each with an HTTP listener."""
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                          cluster=redis_server.url, node_lease=3.0,
                          listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve_in_background(engine, config))
               for engine in ("asyncio", "threaded")]


def get(node: BackgroundServer, path: str) -> tuple[int, str]:
    port = http_listener_port(node)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def metric(node: BackgroundServer, name: str) -> float:
    """One unlabelled sample from ``/metrics``."""
    status, text = get(node, "/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def test_cluster_metrics_while_healthy(two_nodes: list[BackgroundServer]) -> None:
    first, second = two_nodes
    alice = Clients(first).bot("alice", "#room")
    bob = Clients(second).bot("bob", "#room")
    for i in range(20):
        alice.request(type="message", to="#room", text=f"m{i}")
    bob.expect_json(type="message", text="m19")
    for node in two_nodes:
        assert get(node, "/readyz") == (200, "ready\n")
        wait_until(lambda node=node: metric(node, "chat_cluster_nodes") == 2)  # type: ignore[misc]
        assert metric(node, "chat_cluster_degraded") == 0
        assert metric(node, "chat_cluster_queue") == 0  # (HTTP requests append nothing)
        assert metric(node, "chat_cluster_entries_total") >= 20 + 2 * 3  # everyone's calls
        assert 0 <= metric(node, "chat_cluster_lag_seconds") < 5
    assert metric(first, "chat_cluster_entries_appended_total") >= 20
    _, text = get(first, "/metrics")
    assert text.count("chat_cluster_") < 40  # a handful of series, no per-room/user labels
    alice.close()
    bob.close()


def test_http_requests_append_nothing_to_the_cluster_log(
        two_nodes: list[BackgroundServer], redis_server: RedisServer) -> None:
    """A health check or a scrape is a connection to the hub like any other, but it never
    becomes a chat session: the log hears of it neither coming nor going, and no replica
    keeps a user for it; a chat client's connection still goes through the log."""
    import redis

    log = redis.Redis.from_url(redis_server.url)

    def last_entry() -> list[object]:
        return list(log.xrevrange("chat:log", count=1))

    before = last_entry()
    for node in two_nodes:
        for path in ("/healthz", "/readyz", "/metrics", "/no-such-page"):
            get(node, path)
    wait_until(lambda: all(not node.hub.core.users for node in two_nodes))
    assert last_entry() == before
    port = http_listener_port(two_nodes[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10):  # open, silent
        wait_until(lambda: len(two_nodes[0].hub.core.users) == 1)
        gate = two_nodes[0].hub.gate
        assert isinstance(gate, ClusterGate)
        assert json.loads(gate._dump(False))["core"]["users"] == []  # no snapshot has it
    wait_until(lambda: not two_nodes[0].hub.core.users)
    assert last_entry() == before
    assert metric(two_nodes[0], "chat_cluster_entries_appended_total") == 0
    alice = Clients(two_nodes[0]).bot("alice", "#room")
    bob = Clients(two_nodes[1]).bot("bob", "#room")
    alice.request(type="message", to="#room", text="hello")
    bob.expect_json(type="message", text="hello")
    assert last_entry() != before
    assert metric(two_nodes[0], "chat_cluster_entries_appended_total") >= 3  # connect, hello...
    alice.close()
    bob.close()
    log.close()


def unready_reason(node: BackgroundServer) -> str | None:
    status, body = get(node, "/readyz")
    return None if status == 200 else body


@pytest.mark.parametrize("outage", ["paused", "stopped"])
def test_readyz_fails_while_redis_is_unreachable_and_recovers(
        two_nodes: list[BackgroundServer], redis_server: RedisServer, outage: str) -> None:
    first = two_nodes[0]
    alice = Clients(first).bot("alice", "#room")
    wait_until(lambda: all(unready_reason(node) is None for node in two_nodes))
    if outage == "paused":
        redis_server.pause()
    else:
        redis_server.stop()
    try:
        alice.expect_json(type="notice", code="cluster_degraded")
        for node in two_nodes:
            reason = unready_reason(node)
            if reason is None:  # the other node notices at its next Redis call
                wait_until(lambda node=node: unready_reason(node) is not None)  # type: ignore[misc]
                reason = unready_reason(node)
            assert reason is not None and "cluster unreachable" in reason
            assert metric(node, "chat_cluster_degraded") == 1
        alice.request(type="message", to="#room", text="queued")
        wait_until(lambda: metric(first, "chat_cluster_queue") >= 1)  # the line (not scrapes)
        assert get(first, "/healthz")[0] == 200  # alive all along
    finally:
        if outage == "paused":
            redis_server.resume()
        else:
            redis_server.start()
    alice.expect_json(type="notice", code="cluster_restored")
    alice.expect_json(type="message", text="queued")
    for node in two_nodes:
        wait_until(lambda node=node: unready_reason(node) is None)  # type: ignore[misc]
        assert metric(node, "chat_cluster_degraded") == 0
    wait_until(lambda: metric(first, "chat_cluster_queue") == 0)
    assert metric(first, "chat_cluster_reconnects_total") >= 1
    alice.close()
