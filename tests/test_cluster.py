"""Cluster mode over a real redis-server: several servers in this process (any mix of
engines) sharing one log, with clients of every dialect spread across them."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from redis_server import RedisServer
from support import TEST_LIMITS, Clients, LineClient, start_server_process, wait_until

from chat.cluster import snapshot
from chat.config import ServerConfig
from chat.core import commands as c
from chat.core.core import HANDLERS
from chat.engines import BackgroundServer, serve_in_background
from chat.hub import INTERNAL_ERROR

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
    replicas_agree(nodes)


def test_the_asyncio_engine_runs_the_log_on_its_loop_the_threaded_one_on_a_loop_of_its_own(
        cluster: Start) -> None:
    """Where a message's way through Redis runs: on the asyncio engine's loop (no thread
    hand-off); for the threaded engine, on a loop the backplane runs on one thread."""
    loop_node, threaded_node = cluster("asyncio"), cluster("threaded")
    def threads(node: BackgroundServer) -> set[str]:
        return {thread.name for thread in node.hub.gate.backplane._threads}  # type: ignore

    for node in (loop_node, threaded_node):
        assert node.hub.gate.backplane._io is not None  # type: ignore[attr-defined]
    assert loop_node.hub.gate.backplane._io.loop is loop_node.hub.loop  # type: ignore
    assert threads(loop_node) == {"chat-cluster-writer"}  # heartbeats, reconnecting
    assert threads(threaded_node) == {"chat-cluster-writer", "chat-cluster-log"}
    alice = Clients(loop_node).bot("alice", "#room")
    bob = Clients(threaded_node).bot("bob", "#room")
    alice.expect('"from":"bob"')
    bob.request(type="message", to="#room", text="across")
    alice.expect_json(type="message", text="across")
    alice.request(type="message", to="#room", text="and back")
    bob.expect_json(type="message", text="and back")


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


def start_process(redis_url: str, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """``chat-server --cluster`` as a real process; returns it and its port."""
    return start_server_process(
        "--port", "0", "--http-port", "0", "--data-dir", "none", "--rate-per-second", "0",
        "--shutdown-grace", "0.5", "--cluster", redis_url, *extra)


def test_users_of_a_killed_node_are_quit_within_the_lease(
        cluster: Start, redis_server: RedisServer) -> None:
    lease = 1.0
    node = cluster("threaded", node_lease=lease)
    alice = irc(node, "alice")
    alice.send("JOIN #room\r\n")
    alice.expect(lambda line: " 366 " in line)
    proc, port = start_process(redis_server.url, "--node-lease", str(lease))
    try:
        bob = LineClient("127.0.0.1", port)
        bob.send("bob\r\n/join #room\r\n")
        bob.expect("bob joined #room")
        alice.expect(lambda line: line.startswith(":bob!") and " JOIN " in line)
        proc.kill()  # kill -9: no goodbye, no quit
        killed = time.monotonic()
        quit_line = alice.expect(lambda line: line.startswith(":bob!") and " QUIT " in line)
        assert "node lost" in quit_line
        assert time.monotonic() - killed <= lease + 0.5  # (a loaded machine's slack)
        assert "bob" not in node.hub.core.nicks
        bob.close()
    finally:
        proc.kill()
        proc.wait()


def test_a_cleanly_stopped_node_quits_its_users_at_once(
        cluster: Start, redis_server: RedisServer) -> None:
    node = cluster("asyncio")
    alice = Clients(node).bot("alice", "#room")
    proc, port = start_process(redis_server.url)
    try:
        bob = LineClient("127.0.0.1", port)
        bob.send("bob\r\n/join #room\r\n")
        alice.expect('"from":"bob"')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        quit_line = alice.expect('"type":"quit"')
        assert "shutting down" in quit_line
        bob.close()
    finally:
        proc.kill()
        proc.wait()


def test_a_command_that_hits_a_bug_closes_its_connection_as_on_one_server(
        cluster: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug is the same on every node (one codebase): the entry changes nothing anywhere,
    and the node holding the connection closes it politely instead of leaving it waiting
    for an entry that never completes."""
    def broken(*args: object) -> None:
        raise RuntimeError("secret internal detail")

    nodes = [cluster("asyncio"), cluster("threaded")]
    for first, second in ((0, 1), (1, 0)):
        alice = irc(nodes[first], f"alice{first}")
        alice.send("JOIN #room\r\n")
        alice.expect(lambda line: " 366 " in line)
        bob = irc(nodes[second], f"bob{first}")
        bob.send("JOIN #room\r\n")
        bob.expect(lambda line: " 366 " in line)
        alice.expect(f":bob{first}!")
        with monkeypatch.context() as patched:
            patched.setitem(HANDLERS, c.Away, broken)
            alice.send("AWAY :lunch\r\n")
            alice.expect(lambda line: line.startswith("ERROR") and INTERNAL_ERROR in line)
            quit_line = bob.expect(f":alice{first}!")
        assert "QUIT" in quit_line and INTERNAL_ERROR in quit_line
        assert "secret" not in quit_line
        bob.send("PRIVMSG #room :still here\r\n")
        bob.send("PING :after\r\n")
        bob.expect("PONG")
        bob.close()
    replicas_agree(nodes)


def replicas_agree(nodes: list[BackgroundServer]) -> None:
    """Wait until every node's copy of the state is the same (the log applied everywhere)."""
    def same() -> bool:
        try:  # read while the engines run: a dict may change under us; then look again
            dumps = [snapshot.dump(node.hub.core) for node in nodes]
        except RuntimeError:
            return False
        return all(dump == dumps[0] for dump in dumps)
    try:
        wait_until(same)
    except AssertionError:
        dumps = [snapshot.dump(node.hub.core) for node in nodes]
        differ = {key: [dump[key] for dump in dumps] for key in dumps[0]
                  if any(dump[key] != dumps[0][key] for dump in dumps)}
        raise AssertionError(f"the replicas differ: {differ}") from None


def two_nodes_in_a_room(
        cluster: Start) -> tuple[list[BackgroundServer], LineClient, LineClient, LineClient]:
    """alice (JSON) on an asyncio node, bob (IRC) and carol (telnet) on a threaded one."""
    first, second = cluster("asyncio"), cluster("threaded")
    alice = Clients(first).bot("alice", "#room")
    bob = irc(second, "bob")
    bob.send("JOIN #room\r\n")
    bob.expect(lambda line: " 366 " in line)
    carol = Clients(second).human("carol")
    carol.send("/join #room\r\n")
    alice.expect('"from":"carol"')
    bob.expect(lambda line: line.startswith(":carol!") and " JOIN " in line)
    return [first, second], alice, bob, carol


def told_degraded_then_back(alice: LineClient, bob: LineClient, carol: LineClient) -> None:
    """Every dialect is told the cluster is degraded (the caller then restores Redis)."""
    alice.expect('"code":"cluster_degraded"')
    bob.expect(lambda line: " NOTICE " in line and "degraded" in line)
    carol.expect("degraded")


def test_redis_paused_clients_stay_and_queued_lines_arrive_in_order(
        cluster: Start, redis_server: RedisServer) -> None:
    nodes, alice, bob, carol = two_nodes_in_a_room(cluster)
    alice.request(type="message", to="#room", text="before")
    bob.expect(lambda line: line.endswith(":before"))
    redis_server.pause()
    paused = time.monotonic()
    try:
        told_degraded_then_back(alice, bob, carol)
        for i in range(5):
            alice.request(type="message", to="#room", text=f"during {i}")
            carol.send(f"meanwhile {i}\r\n")
        time.sleep(max(0.0, 5.0 - (time.monotonic() - paused)))  # the stall lasts 5 s
    finally:
        redis_server.resume()
    alice.expect('"code":"cluster_restored"')
    carol.expect("link is back")
    got = [line for line in (bob.expect(lambda line: " PRIVMSG #room :" in line)
                             for _ in range(10))]
    texts = [line.split(" :", 1)[1] for line in got]
    assert [t for t in texts if t.startswith("during")] == [f"during {i}" for i in range(5)]
    assert [t for t in texts if t.startswith("meanwhile")] == [f"meanwhile {i}" for i in range(5)]
    bob.send("PRIVMSG #room :after\r\n")
    alice.expect('"text":"after"')
    # Nothing twice: the next line bob gets is a fresh one.
    carol.send("last\r\n")
    assert bob.expect(lambda line: " PRIVMSG #room :" in line).endswith(":last")
    replicas_agree(nodes)


def test_redis_restarted_empty_the_nodes_refound_the_log_and_go_on(
        cluster: Start, redis_server: RedisServer) -> None:
    nodes, alice, bob, carol = two_nodes_in_a_room(cluster)
    alice.request(type="topic", room="#room", topic="kept across the restart")
    bob.expect(lambda line: " TOPIC #room " in line)
    redis_server.stop()
    try:
        told_degraded_then_back(alice, bob, carol)
        alice.request(type="message", to="#room", text="while redis was down")
    finally:
        redis_server.start()  # empty: persistence is off
    alice.expect('"code":"cluster_restored"')
    bob.expect(lambda line: line.endswith(":while redis was down"))
    carol.expect("while redis was down")
    bob.send("PRIVMSG #room :after the restart\r\n")
    alice.expect('"text":"after the restart"')
    carol.send("/topic\r\n")
    carol.expect("kept across the restart")
    bob.send("NICK robert\r\n")
    alice.expect('"nick":"robert"')
    replicas_agree(nodes)
    assert nodes[0].hub.gate.backplane.epoch == nodes[1].hub.gate.backplane.epoch


def test_a_redis_with_persistence_restarted_keeps_the_log_and_the_nodes_go_on(
        redis_server_module: RedisServer) -> None:
    """Redis with an append-only file (as docs/scaling.md advises) killed and started again:
    its data comes back, so the nodes keep their log (same epoch, nothing refounded), the line
    sent meanwhile arrives once, and history from before the restart is still there.
    (``redis_server_module``: skipped, with the install command, where Redis is missing.)"""
    persistent = RedisServer(persistent=True)
    persistent.start()
    stack = contextlib.ExitStack()
    try:
        def start(engine: str) -> BackgroundServer:
            config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                                  cluster=persistent.url)
            return stack.enter_context(serve_in_background(engine, config))

        nodes, alice, bob, carol = two_nodes_in_a_room(start)
        epoch = nodes[0].hub.gate.backplane.epoch
        alice.request(type="message", to="#room", text="before the restart")
        bob.expect(lambda line: line.endswith(":before the restart"))
        persistent.stop()
        try:
            told_degraded_then_back(alice, bob, carol)
            alice.request(type="message", to="#room", text="while redis was down")
        finally:
            persistent.start()  # with its file: the log, the snapshot and history come back
        alice.expect('"code":"cluster_restored"')
        bob.expect(lambda line: line.endswith(":while redis was down"))
        bob.send("PRIVMSG #room :after the restart\r\n")
        alice.expect('"text":"after the restart"')
        carol.send("last\r\n")  # nothing twice: the next line bob gets is a fresh one
        assert bob.expect(lambda line: " PRIVMSG #room :" in line).endswith(":last")
        replicas_agree(nodes)
        assert [node.hub.gate.backplane.epoch for node in nodes] == [epoch, epoch]
        dave = irc(nodes[1], "dave")  # a newcomer reads what was said before the restart
        dave.send("CAP REQ :draft/chathistory batch server-time message-tags\r\n")
        dave.expect(lambda line: " ACK " in line)
        dave.send("JOIN #room\r\nCHATHISTORY LATEST #room * 10\r\n")
        dave.expect(lambda line: line.endswith(":before the restart"))
    finally:
        stack.close()
        persistent.close()


def test_a_log_that_lost_its_last_entries_is_followed_again_and_nothing_confirmed_is_lost(
        cluster: Start, redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """A Redis that crashed and came back from its append-only file without its last writes
    (``appendfsync everysec``): the log ends before what the nodes had read. Each such node
    says so and goes back to the snapshot; the node whose calls Redis had confirmed and lost
    appends them again. So every node agrees again, with what was lost redone, and no client
    is told anything twice (what came after the snapshot is read again, what was lost is
    applied again: both without being resent)."""
    import redis as redis_py

    nodes, alice, bob, carol = two_nodes_in_a_room(
        lambda engine: cluster(engine, node_lease=1.0))
    alice.request(type="topic", room="#room", topic="kept")
    bob.expect(lambda line: " TOPIC #room :kept" in line)
    r = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    plane = nodes[0].hub.gate.backplane
    plane._next_snapshot = 0.0  # the next heartbeat writes one (with the topic, and everyone)
    wait_until(lambda: r.get("chat:snapshot:at") not in (None, "0-0"))
    wait_until(lambda: r.get("chat:snapshot:at") == r.xinfo_stream("chat:log")[
        "last-generated-id"])
    bob.send("PRIVMSG #room :after the snapshot\r\n")  # kept by Redis, read again
    alice.expect('"text":"after the snapshot"')
    carol.expect("after the snapshot")
    kept = r.xrange("chat:log")
    end = r.xinfo_stream("chat:log")["last-generated-id"]
    alice.request(type="topic", room="#room", topic="lost")
    alice.expect('"topic":"lost"')
    bob.expect(lambda line: " TOPIC #room :lost" in line)
    carol.expect("lost")
    alice.request(type="message", to="#room", text="lost too")
    alice.expect('"text":"lost too"')
    bob.expect(lambda line: line.endswith(":lost too"))
    carol.expect("lost too")
    seen = {name: len(client.received) for name, client in
            (("alice", alice), ("bob", bob), ("carol", carol))}
    with caplog.at_level(logging.WARNING, logger="chat.cluster"):
        with r.pipeline(transaction=True) as pipe:  # what a crash without its last second leaves
            pipe.delete("chat:log")
            for entry_id, fields in kept:
                pipe.xadd("chat:log", fields, id=entry_id)
            pipe.execute_command("XSETID", "chat:log", end)
            pipe.execute()
        r.client_kill_filter(_type="normal", skip_me=True)
        wait_until(lambda: len([rec for rec in caplog.records
                                if "Redis lost its last writes" in rec.getMessage()]) == 2)
        alice.expect('"code":"cluster_restored"')
        wait_until(lambda: len([rec for rec in caplog.records
                                if "appends again" in rec.getMessage()]) == 2)
    again = [rec.getMessage() for rec in caplog.records if "appends again" in rec.getMessage()]
    # alice's node: the topic and the line (bob's: his line the log kept, which replicas skip)
    assert any(f"node {nodes[0].hub.gate.node} appends again 2 calls" in message
               for message in again), again
    wait_until(lambda: all(node.hub.core.rooms["#room"].topic == "lost" for node in nodes))
    replicas_agree(nodes)
    bob.send("PRIVMSG #room :after the loss\r\n")
    alice.expect('"text":"after the loss"')
    carol.expect("after the loss")
    bob.send("PING :done\r\n")
    bob.expect("PONG")
    for name, client in (("alice", alice), ("bob", bob), ("carol", carol)):
        since = client.received[seen[name]:]
        said_again = [line for line in since if any(words in line for words in (
            "after the snapshot", "lost too", "topic of #room to: lost", "TOPIC #room :lost"))]
        assert not said_again, (name, since)
    replicas_agree(nodes)
    r.close()


class CuttableProxy:
    """A TCP relay to Redis that a test can cut (a network partition of one node)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def partition(self) -> None:
        self.cut.set()
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.socks.clear()

    def heal(self) -> None:
        self.cut.clear()

    def close(self) -> None:
        self.partition()
        self.listener.close()


def test_a_node_cut_off_longer_than_the_lease_is_counted_lost_and_drops_its_clients(
        cluster: Start, redis_server: RedisServer) -> None:
    proxy = CuttableProxy(redis_server.port)
    try:
        cut_off = cluster("asyncio", node_lease=1.0, cluster=f"redis://127.0.0.1:{proxy.port}/0")
        other = cluster("threaded", node_lease=1.0)
        alice = Clients(cut_off).bot("alice", "#room")
        bob = irc(other, "bob")
        bob.send("JOIN #room\r\n")
        alice.expect('"from":"bob"')
        proxy.partition()
        alice.expect('"code":"cluster_degraded"')  # still connected, told
        assert "node lost" in bob.expect(lambda line: line.startswith(":alice!")
                                         and " QUIT " in line)
        proxy.heal()
        # Back, the node learns it was counted lost: alice's user is gone everywhere, so her
        # connection is closed with a reason, and she can come back.
        assert any("reconnect" in line for line in alice.wait_closed())
        again = Clients(cut_off).bot("alice", "#room")
        bob.expect(lambda line: line.startswith(":alice!") and " JOIN " in line)
        bob.send("PRIVMSG #room :welcome back\r\n")
        again.expect('"text":"welcome back"')
    finally:
        proxy.close()


def test_the_last_lines_of_a_lost_node_reach_history_from_the_node_that_counts_it_lost(
        cluster: Start, redis_server: RedisServer) -> None:
    """A node cut off (or killed) before its history thread wrote its last line: that line
    went through the log, so the node that counts it lost writes it; once the lost node's
    own write comes through too, the store still holds it once."""
    import redis as redis_py

    proxy = CuttableProxy(redis_server.port)
    release = threading.Event()
    try:
        cut_off = cluster("asyncio", node_lease=1.0, cluster=f"redis://127.0.0.1:{proxy.port}/0")
        other = cluster("threaded", node_lease=1.0)
        history = cut_off.hub.history
        assert history is not None
        real_append = history.store.append

        def held_back(records: Any) -> None:
            if any(record.text == "last words" for record in records):
                assert release.wait(30)
            real_append(records)

        history.store.append = held_back  # type: ignore[method-assign]
        alice = Clients(cut_off).bot("alice", "#lastroom")
        bob = irc(other, "bob")
        bob.send("JOIN #lastroom\r\n")
        alice.expect('"from":"bob"')
        alice.request(type="message", to="#lastroom", text="last words")
        bob.expect(lambda line: "PRIVMSG #lastroom :last words" in line)
        proxy.partition()
        bob.expect(lambda line: line.startswith(":alice!") and " QUIT " in line)
        store = redis_py.Redis.from_url(redis_server.url)

        def copies() -> int:
            return sum(b"last words" in member
                       for member in store.zrange("chat:h:room:#lastroom", 0, -1))
        try:
            wait_until(lambda: copies() == 1)  # written by the node that counted it lost
            release.set()
            proxy.heal()
            wait_until(lambda: history.queued == 0 and history.down_since is None)
            assert copies() == 1
        finally:
            store.close()
    finally:
        release.set()
        proxy.close()


def test_an_unreachable_redis_at_start_is_one_clear_error() -> None:
    from redis_server import free_port
    result = subprocess.run(
        [sys.executable, "-m", "chat", "--port", "0", "--http-port", "0", "--data-dir", "none",
         "--cluster", f"redis://:pw-not-for-logs@127.0.0.1:{free_port()}/0"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "pw-not-for-logs" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    # The stores or the backplane, whichever reaches Redis first, names it.
    assert ("cluster" in errors[0] and "unreachable" in errors[0].lower()) or \
        "cannot join the cluster" in errors[0], errors[0]


def test_a_cluster_another_release_founded_is_one_clear_error(
        redis_server: RedisServer) -> None:
    """A node of this release pointed at a cluster whose state another release wrote: it
    exits at once with one line saying why, instead of a traceback or a misread state."""
    import redis as redis_py
    from test_cluster_backplane import snapshot_text

    r = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    r.set("chat:epoch", "from-a-later-release")
    r.set("chat:snapshot", snapshot_text(snapshot.VERSION + 1))
    r.set("chat:snapshot:at", "0-0")
    result = subprocess.run(
        [sys.executable, "-m", "chat", "--port", "0", "--http-port", "0", "--data-dir", "none",
         "--cluster", redis_server.url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"snapshot format {snapshot.VERSION + 1}" in errors[0], errors[0]
    assert r.smembers("chat:members") == set()
    r.close()


@pytest.mark.parametrize("engine", ["asyncio", "threaded"])
def test_an_engine_that_cannot_join_stops_cleanly(engine: str) -> None:
    from redis_server import free_port
    before = set(threading.enumerate())
    config = ServerConfig(port=0, cluster=f"redis://127.0.0.1:{free_port()}/0",
                          shutdown_grace=0.5)
    # The shared stores find Redis missing as the engine is built; the backplane, as it joins.
    from chat.history.store import StoreUnavailable
    with pytest.raises((RuntimeError, StoreUnavailable), match=r"did not start|unreachable"), \
            serve_in_background(engine, config):
        pass
    wait_until(lambda: not [t for t in threading.enumerate()
                            if t not in before and t.is_alive()], timeout=10)
