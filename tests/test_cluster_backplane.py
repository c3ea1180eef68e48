"""The backplane's own connections for XADD and XREAD against a real Redis: when Redis drops
them, what was sent arrives once, in order, after the node reconnects."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator

import pytest
import redis as redis_py
from redis_server import RedisServer
from support import wait_until

from chat.cluster.backplane import Backplane, ClusterUnavailable
from chat.cluster.replica import Entry

WAIT = 10.0  # generous: a loaded two-core machine


class Recorder:
    """The engine's side of the backplane: keeps what it applies, in order. A batch whose
    reply a kill cut off is sent again, so it may be in the log twice; replicas apply an entry
    only above the last sequence number they applied: as here."""

    def __init__(self) -> None:
        self.read: list[Entry] = []
        self.changed = threading.Condition()

    def entries(self, generation: int, entries: list[Entry]) -> None:
        with self.changed:
            for entry in entries:
                if not self.read or entry.seq > self.read[-1].seq:
                    self.read.append(entry)
            self.changed.notify_all()

    def status(self, degraded: bool) -> None:
        pass

    def snapshot(self, fresh_log: bool) -> str | None:
        return None

    def load(self, generation: int, text: str) -> None:
        pass

    def node_lost(self, node: int) -> None:
        pass

    def wait_for(self, count: int) -> list[int]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.read) >= count, WAIT)
            return [entry.seq for entry in self.read]


@contextlib.contextmanager
def started(redis_server: RedisServer, engine: Recorder) -> Iterator[
        tuple[Backplane, redis_py.Redis]]:
    """A backplane founding a fresh log and started, and an admin client to kill its
    connections with; both closed after."""
    plane = Backplane(redis_server.url, 10.0, engine, "test")
    plane.join(lambda: '{"core": {}, "replica": {"last_id": "0-0", "seqs": {}}}')
    plane.start()
    admin = redis_py.Redis.from_url(redis_server.url)
    try:
        yield plane, admin
    finally:
        admin.close()
        plane.close()


def test_killed_connections_reconnect_and_nothing_is_lost_or_doubled(
        redis_server: RedisServer) -> None:
    engine = Recorder()
    with started(redis_server, engine) as (plane, admin):
        plane.send(("grace", 1))
        assert engine.wait_for(1) == [1]
        assert plane._io is not None  # appends and reads on the backplane's own loop
        for n in range(2, 5):  # each time: the log's two connections and the writer's die
            admin.client_kill_filter(_type="normal", skip_me=True)
            plane.send(("grace", n))
            assert engine.wait_for(n) == list(range(1, n + 1))
        with engine.changed:  # nothing more comes (no entry applied twice)
            assert not engine.changed.wait_for(lambda: len(engine.read) > 4, 0.3)
        assert plane.reconnects >= 1 and plane.queued() == 0


def test_bursts_from_several_threads_arrive_once_in_one_order(
        redis_server: RedisServer) -> None:
    """Calls from several threads at once (the engine's, and the writer's own node-lost calls),
    with Redis dropping the connections meanwhile: every call is applied once, in sequence
    order (none lost, none out of order)."""
    engine = Recorder()
    with started(redis_server, engine) as (plane, admin):
        plane.send(("grace", 1))
        engine.wait_for(1)

        def burst(first: int) -> None:
            for n in range(first, first + 200):
                plane.send(("grace", n))

        threads = [threading.Thread(target=burst, args=(1000 * k,)) for k in (1, 2, 3)]
        for thread in threads:
            thread.start()
        admin.client_kill_filter(_type="normal", skip_me=True)
        for thread in threads:
            thread.join()
        assert engine.wait_for(1 + 600) == list(range(1, 602))
        wait_until(lambda: plane.queued() == 0)


def test_a_failed_join_names_the_redis_without_its_password() -> None:
    from redis_server import free_port

    plane = Backplane(f"redis://:pw-not-for-logs@127.0.0.1:{free_port()}/0", 10.0, Recorder())
    try:
        with pytest.raises(ClusterUnavailable) as failed:
            plane.join(lambda: "{}")
    finally:
        plane.redis.close()
    assert "127.0.0.1" in str(failed.value) and "pw-not-for-logs" not in str(failed.value)


def test_a_state_that_takes_long_to_snapshot_is_snapshotted_less_often() -> None:
    """At most ``SNAPSHOT_SHARE`` of the time goes to snapshots: every 10 s while one takes
    up to half a second (20,000 users), every 48 s when it takes 2.4 s (100,000)."""
    from chat.cluster.backplane import SNAPSHOT_EVERY, snapshot_interval

    assert snapshot_interval(0.01) == snapshot_interval(0.5) == SNAPSHOT_EVERY == 10.0
    assert snapshot_interval(2.4) == pytest.approx(48.0)


def snapshot_text(version: object) -> str:
    """An empty core's snapshot text, as if written by the release of snapshot ``version``."""
    from chat.cluster import snapshot
    from chat.config import ServerConfig
    from chat.core import ChatCore

    data = snapshot.render(snapshot.capture(ChatCore(ServerConfig(port=0))))
    data["version"] = version
    return json.dumps({"core": data, "replica": {"last_id": "0-0", "seqs": {}}})


@pytest.mark.parametrize(("text", "why"), [
    (snapshot_text(1), "snapshot format 1 and this server reads format 2: every node must run "
                        "the same release"),
    ("{not json", "its snapshot is not one this server can read"),
    ('{"core": {}}', "its snapshot is not one this server can read")])
def test_a_cluster_whose_state_this_release_cannot_read_is_refused_with_the_reason(
        redis_server: RedisServer, text: str, why: str) -> None:
    """Another release founded the log (or the snapshot is not one): the node does not join,
    says why in one line, and is not left among the members."""
    founder = Backplane(redis_server.url, 10.0, Recorder(), "old")
    founder.join(lambda: text)
    admin = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        members = admin.smembers("chat:members")
        plane = Backplane(redis_server.url, 10.0, Recorder(), "new")
        with pytest.raises(ClusterUnavailable, match="cannot join the cluster at") as refused:
            plane.join(lambda: snapshot_text(2))
        assert why in str(refused.value)
        assert admin.smembers("chat:members") == members
        assert admin.get(f"chat:node:{plane.node}") is None
        plane.redis.close()
    finally:
        admin.close()
        founder.redis.close()


def test_after_redis_came_back_a_log_founded_by_another_release_is_not_followed(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """Redis lost everything and a node of another release founded the new log: this node does
    not load that state (nor read that log as its own); it stays degraded, says why once, and
    follows the log once one it can read is there."""
    engine = Recorder()
    loaded: list[str] = []
    engine.load = lambda generation, text: loaded.append(text)  # type: ignore[method-assign]
    engine.snapshot = lambda fresh_log: snapshot_text(2)  # type: ignore[method-assign]
    with started(redis_server, engine) as (plane, admin):
        plane.send(("grace", 1))
        engine.wait_for(1)
        epoch = plane.epoch
        admin.flushall()
        admin.set("chat:epoch", "other-release")
        admin.set("chat:snapshot", snapshot_text(3))
        admin.set("chat:snapshot:at", "0-0")
        admin.client_kill_filter(_type="normal", skip_me=True)
        wait_until(lambda: any("snapshot format 3" in r.getMessage() for r in caplog.records))
        assert plane.degraded and plane.epoch == epoch and loaded == []
        # It does not beat while it cannot follow: its lease runs out, the others quit its users.
        assert admin.get(f"chat:node:{plane.node}") is None
        told = [r for r in caplog.records if "snapshot format 3" in r.getMessage()]
        admin.set("chat:snapshot", snapshot_text(2))  # that release is gone; ours founded
        wait_until(lambda: not plane.degraded)
        assert plane.epoch == "other-release" and len(loaded) == 1
        assert len([r for r in caplog.records if "snapshot format 3" in r.getMessage()]) == \
            len(told) == 1


def test_a_redis_that_keeps_nothing_on_disk_is_pointed_out_at_join(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """Accounts, rooms and history live in the cluster's Redis: an operator hears at start
    whether a Redis restart would lose them (the fixture's Redis keeps nothing)."""
    admin = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    said = {}
    try:
        for appendonly, save in (("no", ""), ("no", "3600 1"), ("yes", "")):
            admin.config_set("appendonly", appendonly)
            admin.config_set("save", save)
            caplog.clear()
            plane = Backplane(redis_server.url, 10.0, Recorder(), "test")
            with caplog.at_level(logging.INFO, logger="chat.cluster"):
                plane.join(lambda: snapshot_text(2))
            plane.redis.close()
            said[appendonly, save] = [(r.levelname, r.getMessage()) for r in caplog.records
                                      if "on disk" in r.getMessage() or "RDB" in r.getMessage()]
    finally:
        admin.config_set("appendonly", "no")
        admin.config_set("save", "")
        admin.close()
    [(level, message)] = said["no", ""]
    assert level == "WARNING" and "lost if it restarts" in message and "appendonly yes" in message
    [(level, message)] = said["no", "3600 1"]
    assert level == "INFO" and "RDB snapshots only" in message
    assert said["yes", ""] == []


def test_a_joining_node_parses_the_cluster_snapshot_once(
        redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing a 100,000-user snapshot takes 0.5 s: a joining node checks all of it before it
    counts as a member, then loads what it parsed rather than parsing the text again."""
    from chat.config import ServerConfig
    from chat.hub import Hub

    config = ServerConfig(port=0, cluster=redis_server.url)
    founder = Hub(config)
    founder.start()
    parsed: list[str] = []
    real = json.loads

    def counting(text: str | bytes, *args: object, **kwargs: object) -> object:
        parsed.append(str(text))
        return real(text, *args, **kwargs)  # type: ignore[arg-type]

    joiner = Hub(config)
    try:
        monkeypatch.setattr(json, "loads", counting)
        joiner.start()
        monkeypatch.undo()
        admin = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
        text = admin.get("chat:snapshot")
        admin.close()
        assert parsed.count(text) == 1
        gate = joiner.gate
        assert gate.node == 2 and gate.replica.last_id == real(text)["replica"]["last_id"]
    finally:
        joiner.close()
        founder.close()
