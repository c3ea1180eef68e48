"""What the Redis history store does beyond the contract (test_store_contract.py runs that):
idempotent writes, its key layout, fields with NULs, and a Redis that goes away."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_server import RedisServer

from chat.accounts.passwords import Hasher
from chat.accounts.redis_store import RedisAccounts
from chat.accounts.service import AuthService
from chat.config import ServerConfig
from chat.core import events as e
from chat.history import redis_store
from chat.history.records import ALL_KINDS, Query, Record, RoomState, event_id
from chat.history.redis_store import RedisStore
from chat.history.service import RETRY_MAX, HistoryService
from chat.history.store import StoreError, StoreUnavailable

T0 = 1_700_000_000.0


def rec(n: int, room: str = "#room", text: str = "", ts: float | None = None) -> Record:
    ts = T0 + n if ts is None else ts
    return Record(event_id(ts, "t0", n), ts, room, "message", "alice", "id", "host",
                  text or f"text {n}")


def latest(store: RedisStore, room: str = "#room") -> list[Record]:
    return store.query(Query(room, "latest", limit=100, kinds=ALL_KINDS))


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    made = RedisStore.from_url(redis_server.url)
    yield made
    made.close()


def test_a_record_written_twice_is_stored_once(store: RedisStore) -> None:
    store.append([rec(1), rec(2)])
    # A commit retried after its reply was lost: the same records again, plus a new one.
    store.append([rec(1), rec(2), rec(3)])
    store.append([rec(3), rec(3)])
    assert [r.text for r in latest(store)] == ["text 1", "text 2", "text 3"]
    assert store.client.zcard("chat:h:room:#room") == 3


def test_a_busy_millisecond_is_read_once_per_commit(store: RedisStore) -> None:
    """A cluster stamps a whole log entry with one millisecond: a commit of 2,000 records in
    one millisecond reads that millisecond once (it read it per record: quadratic), and a
    retry of it still stores nothing twice."""
    same_ms = [rec(n, text=f"busy {n}", ts=T0) for n in range(2000)]
    store.append(same_ms)
    store.client.config_resetstat()
    store.append([*same_ms, rec(2000, text="busy 2000", ts=T0)])  # retried, plus one new
    zrange = store.client.info("commandstats").get("cmdstat_zrange", {}).get("calls")
    assert zrange == 1
    assert store.client.zcard("chat:h:room:#room") == 2001


def test_the_same_id_with_other_content_is_a_new_record(store: RedisStore) -> None:
    store.append([rec(1)])
    store.append([rec(1)._replace(nick="bob")])
    assert [r.nick for r in latest(store)] == ["alice", "bob"]


def test_keys_are_namespaced_and_one_sorted_set_per_room(store: RedisStore) -> None:
    store.append([rec(1, "#A"), rec(2, "#b"), rec(3, "~alice~bob")])
    store.save_rooms([RoomState("#A", T0)])
    store.save_server_bans([])
    keys = sorted(k.decode() for k in store.client.keys("*"))
    assert keys == ["chat:h:bans", "chat:h:names", "chat:h:room:#a", "chat:h:room:#b",
                    "chat:h:room:~alice~bob", "chat:h:seq", "chat:h:state"]
    assert store.client.type("chat:h:room:#a") == b"zset"
    assert [r.room for r in latest(store, "~ALICE~bob")] == ["~alice~bob"]


def test_fields_holding_nuls_and_any_unicode_round_trip(store: RedisStore) -> None:
    odd = rec(1, text="nul\0inside")._replace(nick="n\0ck", target="ünï😀")
    store.append([odd, rec(2, text="plain é")])
    got = latest(store)
    assert [(r.nick, r.text, r.target) for r in got] == [("n\0ck", "nul\0inside", "ünï😀"),
                                                         ("alice", "plain é", "")]


def test_two_stores_on_one_redis_see_each_others_records(redis_server: RedisServer) -> None:
    one, two = RedisStore.from_url(redis_server.url), RedisStore.from_url(redis_server.url)
    try:
        one.append([rec(1)])
        two.append([rec(2)])
        assert [r.text for r in latest(one)] == [r.text for r in latest(two)] == [
            "text 1", "text 2"]
        assert latest(one)[0].seq < latest(one)[1].seq
    finally:
        one.close()
        two.close()


def test_a_stopped_redis_is_unavailable_and_a_restarted_one_works_again(
        store: RedisStore, redis_server: RedisServer) -> None:
    store.append([rec(1)])
    redis_server.stop()
    with pytest.raises(StoreUnavailable) as raised:
        store.append([rec(2)])
    assert "unreachable" in str(raised.value) and str(redis_server.port) in str(raised.value)
    with pytest.raises(StoreUnavailable):
        store.query(Query("#room", "latest"))
    redis_server.start()  # empty: persistence is off in the test server
    store.append([rec(3)])
    assert [r.text for r in latest(store)] == ["text 3"]


def test_a_wrong_url_is_one_clear_error() -> None:
    with pytest.raises(StoreError) as raised:
        RedisStore.from_url("redis://127.0.0.1:1/0")
    assert "127.0.0.1:1/0" in str(raised.value)


def test_a_redis_error_is_a_store_error_not_a_crash(store: RedisStore) -> None:
    store.client.set("chat:h:names", "not a hash")
    with pytest.raises(StoreError) as raised:
        store.append([rec(1)])
    assert not isinstance(raised.value, StoreUnavailable)
    assert isinstance(raised.value.__cause__, redis.ResponseError)


# -- the services over a Redis that goes away ----------------------------------------------


class Clock:
    """A fake clock the tests move."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _say(service: HistoryService, n: int) -> None:
    message = e.Message(event_id(T0 + n, "t0", n), T0 + n, "#r", e.Source("alice", "a", "h"),
                        target="#r", text=f"t{n}")
    service.record([e.Delivery(message, (1,))])


def _fetch(service: HistoryService) -> list[Any]:
    got: list[Any] = []
    service.fetch(e.Recall(1, Query("#r", "latest", limit=100)),
                  lambda recall, events: got.append([ev.text for ev in events]))
    assert len(got) == 1  # unthreaded: answered at once
    return list(got[0])


def test_the_history_service_keeps_records_while_redis_is_away_and_writes_them_after(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    config = ServerConfig(cluster=redis_server.url)
    service = HistoryService(RedisStore.from_url(redis_server.url), config, threaded=False,
                             clock=clock)
    _say(service, 1)
    assert _fetch(service) == ["t1"]
    redis_server.stop()
    _say(service, 2)  # fails: kept, and the service waits before the next try
    _say(service, 3)
    assert service.queued == 2 and service.written == 1 and service.failed == 0
    assert "unreachable" in (service.unwritable() or "")
    assert _fetch(service) == []  # answered at once, empty, while away
    complaints = [r.message for r in caplog.records if "unreachable" in r.message]
    assert len(complaints) == 1  # said once, not per try
    assert complaints[0].startswith(
        "history store unreachable: 1 records wait in the queue, retried with backoff up to "
        "5 s; reads are answered empty meanwhile: appending to Redis at "
        f"127.0.0.1:{redis_server.port}/0: unreachable")
    redis_server.start()  # empty again: the test server keeps nothing
    _say(service, 4)  # still inside the wait: queued, not tried
    assert service.queued == 3
    clock.now += RETRY_MAX
    assert _fetch(service) == ["t2", "t3", "t4"]  # a read writes what waits first
    assert service.queued == 0 and service.written == 4 and service.unwritable() is None
    assert any("reachable again" in r.message for r in caplog.records)
    service.close()


def test_the_account_workers_answer_error_while_redis_is_away_and_go_on(
        redis_server: RedisServer) -> None:
    accounts = RedisAccounts.from_url(redis_server.url)
    service = AuthService(accounts, Hasher(1, 8))
    service.start()
    results: queue.Queue[e.AuthResult] = queue.Queue()

    def register(name: str) -> e.AuthResult:
        service.submit(e.Authenticate(1, "register", name, "a password"),
                       lambda request, result: results.put(result))
        return results.get(timeout=30)

    try:
        assert register("alice").ok
        redis_server.stop()
        assert register("bob") == e.AuthResult(False, "bob", "error")
        redis_server.start()
        assert register("carol").ok
        assert accounts.account_names() == ["carol"]
    finally:
        service.close()
        accounts.close()


def test_a_commit_whose_reply_was_lost_in_a_stall_is_not_doubled_by_its_retry(
        redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis stopped (SIGSTOP) mid-commit: the client times out, Redis runs the script when it
    resumes, and the retried commit finds every record already there."""
    monkeypatch.setattr(redis_store, "COMMAND_TIMEOUT", 0.5)
    store = RedisStore.from_url(redis_server.url)
    try:
        store.append([rec(1)])
        redis_server.pause()
        try:
            with pytest.raises(StoreUnavailable, match="Timeout"):
                store.append([rec(2), rec(3)])
        finally:
            redis_server.resume()
        store.append([rec(2), rec(3)])
        assert [r.text for r in latest(store)] == ["text 1", "text 2", "text 3"]
    finally:
        store.close()


def test_a_room_state_written_before_exception_lists_loads_with_none(store: RedisStore) -> None:
    old = json.dumps(["#Old", T0, "kept", "alice", T0 + 1, "int", "k", 5,
                      [["bad!*@*", "alice", 1.5]], "alice"])
    store.client.hset(store._state_key, "#old", old)
    (state,) = store.load_rooms()
    assert (state.name, state.bans[0].mask, state.founder, state.excepts, state.invex) == (
        "#Old", "bad!*@*", "alice", (), ())


# -- the append script's shortcuts (members built by the caller, seqs reserved first) -------


def _members(store: RedisStore, room: str = "#room") -> list[bytes]:
    return [bytes(m) for m in store.client.zrange(f"chat:h:room:{room}", 0, -1)]


def _zrange_calls(store: RedisStore) -> int:
    return int(store.client.info("commandstats").get("cmdstat_zrange", {}).get("calls", 0))


@pytest.mark.parametrize("size", [20, 299])  # the script reserves the seqs; an INCRBY first
@pytest.mark.parametrize("start", [250, 65_530, (1 << 32) - 5, (1 << 40) - 5])
def test_seqs_carry_across_byte_boundaries_within_one_commit(store: RedisStore, start: int,
                                                             size: int) -> None:
    """The counter starts just below a byte boundary: the commit's seqs run across it, in
    order, and each member's 6 bytes of seq are its record's seq."""
    assert (size <= redis_store.SMALL_COMMIT) == (size == 20)
    store.client.set("chat:h:seq", start)
    same_ms = [rec(n, text=f"carry {n}", ts=T0) for n in range(size)]
    store.append([*same_ms, rec(size, text="later", ts=T0 + 0.001)])
    got = store.query(Query("#room", "latest", limit=size + 1, kinds=ALL_KINDS))
    assert [r.text for r in got] == [f"carry {n}" for n in range(size)] + ["later"]
    assert [r.seq for r in got] == list(range(start + 1, start + size + 2))
    members = _members(store)
    assert [int.from_bytes(m[6:12], "big") for m in members] == [r.seq for r in got]
    assert {int.from_bytes(m[:6], "big") for m in members[:size]} == {round(T0 * 1000)}
    assert int(store.client.get("chat:h:seq") or 0) == start + size + 1


def test_a_small_commit_retried_inside_a_large_one_is_not_doubled(store: RedisStore) -> None:
    """The history service retries a failed commit together with what came meanwhile: the
    small commit's records (seqs from the script) are found again by the large one's (seqs
    reserved first), and the other way round."""
    small = [rec(n, text=f"s{n}", ts=T0 + (n // 4) / 1000) for n in range(8)]
    large = [rec(n, text=f"l{n}", ts=T0 + 0.002 + (n // 20) / 1000) for n in range(8, 108)]
    store.append(small)
    store.append([*small, *large])
    store.append(large[:10])
    got = store.query(Query("#room", "latest", limit=200, kinds=ALL_KINDS))
    assert [r.text for r in got] == [r.text for r in [*small, *large]]
    assert len(_members(store)) == 108


def test_a_payload_twice_in_one_commit_is_kept_once_at_its_first_place(
        store: RedisStore) -> None:
    a, b = rec(1, text="a", ts=T0), rec(2, text="b", ts=T0)
    store.append([a, b, a, b, a])
    assert [r.text for r in latest(store)] == ["a", "b"]
    # The same fields at another millisecond (a replayed id) are another record; at that
    # millisecond, twice, still one.
    moved = a._replace(ts=T0 + 0.002)
    store.append([rec(3, text="c", ts=T0 + 0.001), moved, a._replace(ts=T0 + 0.003), moved])
    assert [(r.text, r.ts) for r in latest(store)] == [
        ("a", T0), ("b", T0), ("c", T0 + 0.001), ("a", T0 + 0.002), ("a", T0 + 0.003)]


def test_a_retried_commit_over_many_milliseconds_adds_only_what_is_new(
        store: RedisStore) -> None:
    """A commit of several milliseconds, retried with more records (some in milliseconds it
    wrote, some in new ones, one in a millisecond before the room's newest): nothing twice,
    everything new kept, in (ts, seq) order; each millisecond read at most once."""
    first = [rec(n, text=f"m{n}", ts=T0 + (n // 10) / 1000) for n in range(50)]
    store.append(first)
    store.client.config_resetstat()
    store.append(first)
    assert _zrange_calls(store) == 1 + 5  # the room's newest, then each of its 5 ms
    assert len(_members(store)) == 50
    more = [rec(50, text="m50", ts=T0 + 0.002), rec(51, text="m51", ts=T0 + 0.010),
            rec(52, text="m52", ts=T0 - 0.001)]
    store.append([*first, *more])
    got = latest(store)
    assert len(got) == 53 and len({r.text for r in got}) == 53
    assert [r.text for r in got][:2] == ["m52", "m0"]
    assert [r.text for r in got if r.ts == T0 + 0.002][-1] == "m50"
    assert got[-1].text == "m51"
    assert [(r.ts, r.seq) for r in got] == sorted((r.ts, r.seq) for r in got)


def test_a_fresh_commit_over_many_milliseconds_reads_only_the_rooms_newest(
        store: RedisStore) -> None:
    """The common case: every millisecond of the commit is newer than the room's newest
    member, so nothing is read per millisecond (each read was a command per ms and room)."""
    store.append([rec(0, ts=T0)])
    store.client.config_resetstat()
    store.append([rec(n, text=f"m{n}", ts=T0 + n / 1000) for n in range(1, 40)])
    assert _zrange_calls(store) == 1
    assert [r.text for r in latest(store)] == ["text 0", *(f"m{n}" for n in range(1, 40))]


def test_members_written_before_are_found_by_a_retry(store: RedisStore) -> None:
    """Members as the earlier script wrote them (the layout is the same: 6 bytes of ms, 6 of
    seq, the payload) count as held: a commit retried across the upgrade adds nothing."""
    old = [rec(n, ts=T0 + n / 1000) for n in range(3)]
    store.client.zadd("chat:h:room:#room", {
        redis_store._key(round(r.ts * 1000), 7 + n) + redis_store._payload(r): 0
        for n, r in enumerate(old)})
    store.client.hset("chat:h:names", "#room", "#room")
    store.append([*old, rec(3, ts=T0 + 0.003)])
    assert [(r.text, r.seq) for r in latest(store)][:3] == [
        ("text 0", 7), ("text 1", 8), ("text 2", 9)]
    assert len(_members(store)) == 4


def test_the_payload_built_inline_is_the_documented_one() -> None:
    """_append_args builds payloads inline (the history thread's CPU): the same bytes as
    _payload, the one the module docstring describes, also for a field holding a NUL."""
    records = [rec(1), rec(2, text="nul\0inside"), rec(3)._replace(kind="kick", target="bob"),
               rec(4)._replace(nick="n\0ck", target="ünï😀", kind="topic")]
    rooms, args = redis_store._append_args(records, 41)
    assert rooms == ["#room"]
    members = [m for m in args[5:] if isinstance(m, bytes)]
    assert args[:5] == ["#room", "#room", round(T0 * 1000) + 1000, round(T0 * 1000) + 4000, 4]
    assert [m[12:] for m in members] == [redis_store._payload(r) for r in records]
    assert [int.from_bytes(m[6:12], "big") for m in members] == [42, 43, 44, 45]


def test_a_room_written_in_two_spellings_in_one_commit_keeps_the_last(
        store: RedisStore) -> None:
    store.append([rec(1, "#Room"), rec(2, "#ROOM"), rec(3, "#other")])
    assert store.client.hget("chat:h:names", "#room") == b"#ROOM"
    assert [r.text for r in latest(store, "#room")] == ["text 1", "text 2"]
    assert [r.room for r in latest(store, "#room")] == ["#ROOM", "#ROOM"]


def test_an_unknown_kind_is_a_store_error_and_writes_nothing(store: RedisStore) -> None:
    with pytest.raises(StoreError, match="unknown record kind 'bogus'"):
        store.append([rec(1), rec(2)._replace(kind="bogus")])
    assert store.client.exists("chat:h:room:#room") == 0


def test_a_time_out_of_range_is_clamped_not_an_error(store: RedisStore) -> None:
    store.append([rec(1, ts=-5.0), rec(2, ts=T0)])
    assert [(r.text, r.ts) for r in latest(store)] == [("text 1", 0.0), ("text 2", T0)]


@pytest.mark.parametrize("size", [50, 200])  # the script reserves the seqs; an INCRBY first
def test_two_nodes_writing_one_millisecond_of_a_room_keep_both_in_commit_order(
        redis_server: RedisServer, size: int) -> None:
    """Another node's commit in the same millisecond: none of its records is a duplicate of
    this one's, all are kept, and the later commit's sort after (its seqs are later)."""
    one, two = RedisStore.from_url(redis_server.url), RedisStore.from_url(redis_server.url)
    try:
        one.append([rec(n, text=f"one {n}", ts=T0) for n in range(size)])
        two.append([rec(n, text=f"two {n}", ts=T0) for n in range(size)])
        got = one.query(Query("#room", "latest", limit=2 * size, kinds=ALL_KINDS))
        assert [r.text for r in got] == [f"one {n}" for n in range(size)] + [
            f"two {n}" for n in range(size)]
    finally:
        one.close()
        two.close()
