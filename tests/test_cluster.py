"""Cluster mode over a real redis-server: several servers in this process (any mix of
engines) sharing one log, with clients of every dialect spread across them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from redis_server import RedisServer
from support import TEST_LIMITS, Clients, LineClient, wait_until

from chat.config import ServerConfig
from chat.engines import BackgroundServer, serve_in_background

Start = Callable[..., BackgroundServer]


@pytest.fixture
def cluster(redis_server: RedisServer) -> Iterator[Start]:
    """``cluster("asyncio")`` starts a node on the test's Redis; all stop at teardown."""
    stack = contextlib.ExitStack()

    def start(engine: str, **changes: object) -> BackgroundServer:
        config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                              cluster=redis_server.url)
        return stack.enter_context(serve_in_background(engine, replace(config, **changes)))

    with stack:
        yield start


def irc(server: BackgroundServer, nick: str) -> LineClient:
    """An IRC client registered as ``nick``."""
    client = LineClient(server.host, server.port)
    client.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n")
    client.expect(lambda line: " 001 " in line)
    return client


def test_three_nodes_one_room_one_order(cluster: Start) -> None:
    nodes = [cluster("asyncio"), cluster("threaded"), cluster("asyncio")]
    alice = Clients(nodes[0]).bot("alice", "#room")
    bob = irc(nodes[1], "bob")
    bob.send("JOIN #room\r\n")
    bob.expect(lambda line: " 366 " in line)  # end of NAMES
    carol = Clients(nodes[2]).human("carol")
    carol.send("/join #room\r\n")
    carol.expect("carol joined #room")
    alice.expect('"from":"carol"')
    # Everyone talks at once, from three nodes; everyone sees one order.
    for i in range(20):
        alice.request(type="message", to="#room", text=f"a{i}")
        bob.send(f"PRIVMSG #room :b{i}\r\n")
        carol.send(f"c{i}\r\n")

    def text_of(name: str, line: str) -> str | None:
        if name == "alice":
            obj = json.loads(line)
            return obj["text"] if obj.get("type") == "message" else None
        if name == "bob":
            return line.split(" :", 1)[1] if " PRIVMSG #room :" in line else None
        return line.split("> ", 1)[1] if "> " in line else None

    seen: dict[str, list[str]] = {}
    # alice (JSON) and carol (telnet) get their own lines back, bob (IRC without
    # echo-message) does not.
    for name, client, count in (("alice", alice, 60), ("bob", bob, 40), ("carol", carol, 60)):
        seen[name] = []
        while len(seen[name]) < count:
            try:
                text = text_of(name, client.line(5))
            except TimeoutError:
                raise AssertionError(f"{name}: {seen[name]} {client.received[-5:]}") from None
            if text is not None:
                seen[name].append(text)
    order = seen["carol"]
    assert seen["alice"] == order
    assert seen["bob"] == [t for t in order if not t.startswith("b")]
    for who in "abc":
        assert [t for t in order if t[0] == who] == [f"{who}{i}" for i in range(20)]
    # The three replicas hold the same room, with the same members.
    wait_until(lambda: all("#room" in n.hub.core.rooms for n in nodes))
    members = [list(n.hub.core.rooms["#room"].members) for n in nodes]
    assert members[0] == members[1] == members[2]


def test_a_hundred_claims_of_one_nick_over_three_nodes_one_winner(cluster: Start) -> None:
    nodes = [cluster("asyncio"), cluster("threaded"), cluster("asyncio")]
    claimants = [LineClient(nodes[i % 3].host, nodes[i % 3].port) for i in range(100)]
    try:
        for client in claimants:  # all claims on the wire before any answer is read
            client.request(type="hello", version=1, nick="racer")
        outcomes = []
        for client in claimants:
            line = client.expect(lambda line: '"type":"welcome"' in line
                                 or '"type":"error"' in line)
            outcomes.append(json.loads(line))
        winners = [o for o in outcomes if o["type"] == "welcome"]
        assert len(winners) == 1 and winners[0]["nick"] == "racer"
        assert {o.get("code") for o in outcomes if o["type"] == "error"} == {"nick_taken"}
        # Every replica agrees on who holds it.
        wait_until(lambda: all("racer" in n.hub.core.nicks for n in nodes))
        holders = {n.hub.core.nicks["racer"].conn for n in nodes}
        assert len(holders) == 1
    finally:
        for client in claimants:
            client.close()


def test_a_late_node_loads_the_snapshot_and_sees_everything(
        cluster: Start, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from chat.cluster import backplane
    monkeypatch.setattr(backplane, "SNAPSHOT_EVERY", 0.2)
    first = cluster("asyncio", node_lease=0.9)
    alice = Clients(first).bot("alice", "#plans")
    alice.request(type="topic", room="#plans", topic="ship it")
    alice.expect('"topic":"ship it"')
    for i in range(30):
        alice.request(type="message", to="#plans", text=f"line {i}")
    bob = irc(cluster("threaded", node_lease=0.9), "bob")
    bob.send("JOIN #plans\r\n")
    bob.expect(lambda line: " 366 " in line)
    import redis as redis_py
    r = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    # The lowest node keeps a snapshot and trims the log behind it.
    wait_until(lambda: r.xlen("chat:log") < 10)
    late = cluster("asyncio", node_lease=0.9)
    carol = Clients(late).human("carol")
    carol.send("/join #plans\r\n")
    carol.expect("carol joined #plans")
    carol.expect("ship it")
    names = carol.expect("In #plans (3)")
    assert "@alice" in names and "bob" in names
    carol.send("hello from the late node\r\n")
    alice.expect("hello from the late node")
    bob.expect("hello from the late node")
    carol.send("/whois bob\r\n")
    carol.expect("#plans")
    r.close()
