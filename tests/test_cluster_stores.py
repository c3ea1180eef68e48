"""Cluster mode's shared stores over real sockets: two servers (one of each engine) on one
real redis-server keep history, rooms and accounts there, and each sees what the other kept.
Without the backplane the servers do not relay live messages to each other; what is shared
here is only what the stores hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis
from redis_server import RedisServer
from support import TEST_LIMITS, Clients, LineClient, wait_until

from chat.config import ServerConfig
from chat.engines import serve_in_background


def _history(client: LineClient, room: str) -> list[str]:
    client.request(type="history", ref="h", room=room, limit=10)
    answer: dict[str, Any] = client.expect_json(type="history", ref="h")
    return [event["text"] for event in answer["events"]]


def test_two_nodes_share_history_and_accounts_through_redis(redis_server: RedisServer,
                                                           tmp_path: Path) -> None:
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                          cluster=redis_server.url, data_dir=str(tmp_path / "unused"),
                          password_hash_time=1, password_hash_memory=64)
    store = redis.Redis.from_url(redis_server.url)
    with serve_in_background("asyncio", config) as one, \
            serve_in_background("threaded", config) as two:
        on_one, on_two = Clients(one), Clients(two)
        try:
            alice = on_one.bot("alice", "#shared")
            alice.request(type="message", to="#shared", text="kept in redis")
            alice.expect_json(type="message", text="kept in redis")
            alice.request(type="register", password="correct horse", ref=1)
            assert alice.expect_json(type="account", ref=1)["status"] == "registered"
            bob = on_two.bot("bob", "#shared")
            # Node one's history thread commits within 50 ms; node two reads what is in Redis.
            wait_until(lambda: any(b"kept in redis" in member for member in
                                   store.zrange("chat:h:room:#shared", 0, -1)))
            assert _history(bob, "#shared") == ["kept in redis"]
            bob.request(type="login", account="alice", password="correct horse", ref=2)
            assert bob.expect_json(type="account", ref=2)["status"] == "logged_in"
        finally:
            on_one.close_all()
            on_two.close_all()
    assert not (tmp_path / "unused").exists()  # no data directory in cluster mode
    keys = {key.decode() for key in store.keys("chat:*")}
    store.close()
    assert {"chat:h:room:#shared", "chat:h:state", "chat:a:names", "chat:a:acct:alice"} <= keys


def test_lines_said_while_redis_is_away_reach_the_history_once_it_is_back(
        redis_server: RedisServer) -> None:
    """The history thread survives Redis going away and writes what it holds once Redis is
    back (the service keeps records and retries; with the backplane the lines themselves wait
    in the cluster's queue until then). Nothing is counted as failed or dropped."""
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                          cluster=redis_server.url)
    store = redis.Redis.from_url(redis_server.url)
    with serve_in_background("asyncio", config) as server:
        made = Clients(server)
        history = server.engine.hub.history
        assert history is not None
        try:
            alice, bob = made.bot("alice", "#r"), made.bot("bob", "#r")
            alice.request(type="message", to="#r", text="before")
            bob.expect_json(type="message", text="before")
            wait_until(lambda: history.written >= 3)  # two joins and the line
            redis_server.stop()
            for n in range(3):
                alice.request(type="message", to="#r", text=f"while away {n}")
            redis_server.start()  # empty: the test server keeps nothing
            for n in range(3):
                bob.expect_json(type="message", text=f"while away {n}")

            def kept() -> list[bytes]:
                return [m for m in store.zrange("chat:h:room:#r", 0, -1) if b"away" in m]

            # The history thread retries with backoff (at most 5 s apart).
            wait_until(lambda: len(kept()) == 3, timeout=30)
            assert _history(bob, "#r")[-3:] == [f"while away {n}" for n in range(3)]
            assert history.failed == 0 and history.dropped == 0
            assert history.unwritable() is None
        finally:
            made.close_all()
            store.close()
