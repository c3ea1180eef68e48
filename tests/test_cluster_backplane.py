"""The backplane's own connections for XADD and XREAD against a real Redis: when Redis drops
them, what was sent arrives once, in order, after the node reconnects."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
import redis as redis_py
from redis_server import RedisServer
from support import wait_until

from chat.cluster.backplane import Backplane
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

    from chat.cluster.backplane import ClusterUnavailable

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
