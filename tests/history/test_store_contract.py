"""One behaviour for every history store: each test runs on MemoryStore, SqliteStore and
RedisStore (on a real redis-server, skipped with the install command when it is missing).

Timestamps are whole milliseconds, the precision SQLite keeps. Message ids carry their
record's time (``records.event_id``), as the server's do: the SQLite store finds a message by
the time in its id. Tests name records ``m<n>``; :func:`mid` is the id record ``n`` got.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chat.history.memory import MemoryStore
from chat.history.records import ALL_KINDS, Ban, Query, Record, Ref, RoomState, event_id
from chat.history.redis_store import RedisStore
from chat.history.sqlite import SqliteStore
from chat.history.store import HistoryStore, StoreError

T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    """Each store in turn, empty."""
    made: HistoryStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqliteStore(tmp_path / "chat.sqlite3")
    else:
        made = RedisStore.from_url(request.getfixturevalue("redis_server").url)
    yield made
    made.close()


NODE = "t0"
_made: dict[int, str] = {}  # n -> the id rec(n) last made


def rec(n: int, room: str = "#room", kind: str = "message", ts: float | None = None,
        nick: str = "alice") -> Record:
    """Record ``m<n>`` at ``T0 + n`` seconds unless ``ts`` says otherwise."""
    ts = T0 + n if ts is None else ts
    msgid = _made[n] = event_id(ts, NODE, n)
    return Record(msgid, ts, room, kind, nick, "ident", "host.example", f"text {n}")


def mid(n: int) -> str:
    """The id of record ``m<n>`` (as made by the last ``rec(n)``)."""
    return _made[n]


def ref(n: int) -> Ref:
    return Ref(mid(n))


def name(msgid: str) -> str:
    """``m<n>`` for an id rec(n) made, else the id itself."""
    tail = msgid[11:]
    return f"m{int(tail[len(NODE):], 16)}" if tail.startswith(NODE) else msgid


def ids(records: list[Record]) -> list[str]:
    return [name(r.msgid) for r in records]


def q(direction: str, ref: Ref | None = None, end: Ref | None = None, limit: int = 50,
      room: str = "#room", kinds: frozenset[str] | None = ALL_KINDS) -> Query:
    return Query(room, direction, ref, end, limit, kinds)  # type: ignore[arg-type]


def m(*numbers: int) -> list[str]:
    return [f"m{n}" for n in numbers]


@pytest.fixture
def ten(store: HistoryStore) -> HistoryStore:
    """m1..m10 in #room, one a second."""
    store.append([rec(n) for n in range(1, 11)])
    return store


def test_append_keeps_every_field_and_assigns_increasing_seqs(store: HistoryStore) -> None:
    record = Record("k3x9a2f1-12345", T0 + 0.125, "#Room", "kick", "op", "opid",
                    "203.0.113.9", "bye now", "victim")
    store.append([record, rec(2)])
    got = store.query(q("latest"))
    assert [(name(r.msgid), r.ts, r.kind, r.nick, r.ident, r.host, r.text, r.target)
            for r in got] == [
        ("k3x9a2f1-12345", T0 + 0.125, "kick", "op", "opid", "203.0.113.9", "bye now", "victim"),
        ("m2", T0 + 2, "message", "alice", "ident", "host.example", "text 2", "")]
    assert 0 < got[0].seq < got[1].seq
    store.append([rec(3)])
    assert store.query(q("latest"))[-1].seq > got[1].seq


def test_latest(ten: HistoryStore) -> None:
    assert ids(ten.query(q("latest", limit=3))) == m(8, 9, 10)
    assert ids(ten.query(q("latest", ref(7), limit=2))) == m(9, 10)  # newest after the ref
    assert ids(ten.query(q("latest", ref(7), limit=50))) == m(8, 9, 10)
    assert ids(ten.query(q("latest", Ref(ts=T0 + 8)))) == m(9, 10)
    assert ids(ten.query(q("latest", ref(10)))) == []


def test_before_is_exclusive_nearest_and_oldest_first(ten: HistoryStore) -> None:
    assert ids(ten.query(q("before", ref(5), limit=2))) == m(3, 4)
    assert ids(ten.query(q("before", ref(5)))) == m(1, 2, 3, 4)
    assert ids(ten.query(q("before", Ref(ts=T0 + 5), limit=2))) == m(3, 4)
    assert ids(ten.query(q("before", Ref(ts=T0 + 4.5), limit=2))) == m(3, 4)
    assert ids(ten.query(q("before", ref(1)))) == []


def test_after_is_exclusive_nearest_and_oldest_first(ten: HistoryStore) -> None:
    assert ids(ten.query(q("after", ref(5), limit=2))) == m(6, 7)
    assert ids(ten.query(q("after", Ref(ts=T0 + 5), limit=2))) == m(6, 7)
    assert ids(ten.query(q("after", Ref(ts=T0 + 5.5), limit=2))) == m(6, 7)
    assert ids(ten.query(q("after", ref(10)))) == []


def test_around_splits_the_limit_and_includes_the_referenced_message(ten: HistoryStore) -> None:
    assert ids(ten.query(q("around", ref(5), limit=4))) == m(3, 4, 5, 6)
    assert ids(ten.query(q("around", ref(5), limit=5))) == m(3, 4, 5, 6, 7)
    assert ids(ten.query(q("around", ref(1), limit=4))) == m(1, 2)
    assert ids(ten.query(q("around", Ref(ts=T0 + 5.5), limit=4))) == m(4, 5, 6, 7)


def test_between_is_exclusive_both_ends_and_counts_from_ref(ten: HistoryStore) -> None:
    assert ids(ten.query(q("between", ref(2), ref(8)))) == m(3, 4, 5, 6, 7)
    assert ids(ten.query(q("between", ref(2), ref(8), limit=2))) == m(3, 4)
    assert ids(ten.query(q("between", ref(8), ref(2), limit=2))) == m(6, 7)  # backwards
    assert ids(ten.query(q("between", Ref(ts=T0 + 2), Ref(ts=T0 + 5)))) == m(3, 4)
    assert ids(ten.query(q("between", ref(2), Ref(ts=T0 + 4.5)))) == m(3, 4)
    assert ids(ten.query(q("between", ref(4), ref(5)))) == []


def test_limits_are_clamped(ten: HistoryStore) -> None:
    assert ten.query(q("latest", limit=0)) == []
    assert ten.query(q("latest", limit=-5)) == []
    assert ids(ten.query(q("latest", limit=1000))) == m(*range(1, 11))


def test_unknown_msgid_or_room_gives_nothing(ten: HistoryStore) -> None:
    for direction in ("latest", "before", "after", "around"):
        assert ten.query(q(direction, Ref("nope"))) == []  # type: ignore[arg-type]
        # The time of a stored record, but none of its ids.
        unknown = Ref(event_id(T0 + 5, NODE, 99))
        assert ten.query(q(direction, unknown)) == []  # type: ignore[arg-type]
    assert ten.query(q("between", Ref("nope"), ref(5))) == []
    assert ten.query(q("between", ref(1), Ref("nope"))) == []
    assert ten.query(q("latest", room="#elsewhere")) == []


def test_msgid_of_another_room_is_unknown_here(ten: HistoryStore) -> None:
    ten.append([rec(11, room="#other")])
    assert ten.query(q("before", ref(11))) == []


def test_repeated_msgid_resolves_to_the_newest(store: HistoryStore) -> None:
    store.append([rec(1), rec(2), rec(3)])
    # The same id again later (a replayed event), at the millisecond its id says.
    store.append([Record(mid(1), T0 + 1, "#room", "message", "bob"), rec(5)])
    assert [r.nick for r in store.query(q("latest"))] == ["alice", "bob", "alice", "alice",
                                                          "alice"]
    assert ids(store.query(q("before", ref(1)))) == m(1)  # before the second one
    assert ids(store.query(q("after", ref(1)))) == m(2, 3, 5)


def test_kinds_filter_counts_only_matching_records(store: HistoryStore) -> None:
    store.append([rec(1), rec(2, kind="join"), rec(3, kind="action"), rec(4, kind="part"),
                  rec(5, kind="notice"), rec(6, kind="quit")])
    assert ids(store.query(q("latest", kinds=None))) == m(1, 2, 3, 4, 5, 6)
    assert ids(store.query(Query("#room", "latest", limit=2))) == m(3, 5)  # CHAT_KINDS default
    assert ids(store.query(q("latest", kinds=frozenset({"join", "part"})))) == m(2, 4)
    assert store.query(q("latest", kinds=frozenset())) == []
    # A ref of a filtered-out kind still marks a position.
    assert ids(store.query(q("before", ref(4), kinds=frozenset({"message"})))) == m(1)


def test_rooms_compare_folded_and_stay_apart(store: HistoryStore) -> None:
    store.append([rec(1, room="#Room"), rec(2, room="#other"), rec(3, room="#room")])
    assert ids(store.query(q("latest", room="#ROOM"))) == m(1, 3)
    assert ids(store.query(q("latest", room="#Other"))) == m(2)
    assert [r.room for r in store.query(q("latest"))] == ["#room", "#room"]


def test_order_is_by_time_then_seq_even_when_time_steps_back(store: HistoryStore) -> None:
    store.append([rec(1), rec(2), rec(3, ts=T0 + 1), rec(4, ts=T0 + 0.5)])
    assert ids(store.query(q("latest"))) == m(4, 1, 3, 2)
    assert ids(store.query(q("after", ref(1)))) == m(3, 2)
    assert ids(store.query(q("before", ref(3)))) == m(4, 1)


def test_unknown_kind_is_refused_and_nothing_is_kept(store: HistoryStore) -> None:
    with pytest.raises(StoreError):
        store.append([rec(1), rec(2, kind="wave")])
    assert store.query(q("latest")) == []
    store.append([rec(3)])
    assert ids(store.query(q("latest"))) == m(3)


def test_targets_window_order_limit_and_names(store: HistoryStore) -> None:
    store.append([rec(1, room="#a"), rec(2, room="#b"), rec(3, room="#C"),
                  rec(4, room="#a"), rec(20, room="#b")])
    got = store.targets(["#A", "#b", "#c", "#none"], T0 + 10, T0 + 1, 10)  # either order
    assert [(t.room, t.latest) for t in got] == [("#a", T0 + 4), ("#C", T0 + 3),
                                                 ("#b", T0 + 2)]
    assert [t.room for t in store.targets(["#a", "#b", "#c"], T0, T0 + 100, 2)] == ["#b", "#a"]
    assert store.targets(["#a"], T0 + 5, T0 + 6, 10) == []
    assert store.targets(["#a", "#b"], T0, T0 + 100, 0) == []
    assert [t.room for t in store.targets(["#a", "#A"], T0, T0 + 100, 10)] == ["#a"]


# Pruning tests append one record per call: the SQLite store prunes whole appends (chunks),
# see test_sqlite_store.py for that.


def test_prune_by_age_is_bounded_by_batch(store: HistoryStore) -> None:
    for n in range(1, 11):
        store.append([rec(n, room="#a" if n % 2 else "#b")])
    assert store.prune(T0 + 7, 1000, batch=4) == 4
    assert store.prune(T0 + 7, 1000, batch=4) == 2
    assert store.prune(T0 + 7, 1000, batch=4) == 0
    assert ids(store.query(q("latest", room="#a"))) == m(7, 9)
    assert ids(store.query(q("latest", room="#b"))) == m(8, 10)


def test_prune_by_room_cap_keeps_the_newest(store: HistoryStore) -> None:
    for n in range(1, 9):
        store.append([rec(n, room="#a")])
    store.append([rec(9, room="#b")])
    assert store.prune(0, 3, batch=2) == 2
    assert store.prune(0, 3, batch=100) == 3
    assert store.prune(0, 3, batch=100) == 0
    assert ids(store.query(q("latest", room="#a"))) == m(6, 7, 8)
    assert ids(store.query(q("latest", room="#b"))) == m(9)
    # Pruned msgids are unknown now; the rest still page.
    assert store.query(q("before", ref(2), room="#a")) == []
    assert ids(store.query(q("before", ref(7), room="#a"))) == m(6)
    store.append([rec(10, room="#a")])
    assert store.prune(0, 3, batch=100) == 1


def test_save_and_load_rooms_round_trip_and_replace(store: HistoryStore) -> None:
    assert store.load_rooms() == []
    state = RoomState("#Room", T0, "the topic", "alice", T0 + 1, "imnt", "sekrit", 20,
                      (Ban("*!*@bad.example", "op", T0 + 2), Ban("troll!*@*", "op2", T0 + 3)))
    plain = RoomState("#plain", T0 + 5)
    store.save_rooms([state, plain])
    assert sorted(store.load_rooms(), key=lambda r: r.name) == [state, plain]
    replaced = RoomState("#room", T0, modes="n")  # same room by folded name, no bans now
    store.save_rooms([replaced])
    assert sorted(store.load_rooms(), key=lambda r: r.name) == [plain, replaced]


def test_ban_and_invite_exceptions_are_kept_with_the_room(store: HistoryStore) -> None:
    state = RoomState("#club", T0, modes="int", bans=(Ban("*!*@*", "op", T0),),
                      excepts=(Ban("friend!*@*", "op", T0 + 1),
                               Ban("*!*@ok.example", "op2", T0 + 2)),
                      invex=(Ban("guest!*@*", "op", T0 + 3),))
    store.save_rooms([state])
    assert store.load_rooms() == [state]
    emptied = RoomState("#Club", T0, modes="int", excepts=(Ban("friend!*@*", "op", T0 + 1),))
    store.save_rooms([emptied])  # replaced whole: the +I list is gone, one +e is left
    (loaded,) = store.load_rooms()
    assert loaded == emptied and loaded.invex == ()
