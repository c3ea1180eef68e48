"""The cluster's pure parts, without Redis or sockets: the codec, snapshots, the replica."""

from __future__ import annotations

import json
import sys

import pytest

from chat.cluster import codec, snapshot
from chat.cluster.replica import Entry, Replica, decode_entry, encode_call, pack, redact
from chat.config import ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.history.records import Query, Ref

A, B = 1 << 32 | 1, 2 << 32 | 1  # alice on node 1, bob on node 2


def test_codec_round_trips_commands_and_events() -> None:
    values = [
        c.Mode("#a", "+ob", ("bob", "*!*@x"), ref="r1"),
        c.FetchHistory("#a", "before", Ref("id1", 12.5), None, 10),
        c.Say(None, "héllo\u2028", "action"),
        e.Recall(7, Query("#a", "latest", kinds=frozenset({"message", "join"}))),
        e.ModeChanged("id", 1.5, "#a", e.Source("bob", "b", "h", "acct"), target="#a",
                      changes=(e.ModeChange(True, "o", "bob"),)),
        ("handle", A, c.Join("#a", key="k")),
    ]
    for value in values:
        assert codec.loads(codec.dumps(value)) == value


def test_codec_writes_the_same_text_as_the_general_json_path() -> None:
    """``dumps`` writes JSON itself (it is on the engine's thread for every appended call);
    its text must be what ``json`` makes of ``to_plain``, for every kind of field."""
    values = [
        ("handle", A, c.Say("#a", "x" * 60)),
        ("handle", A, c.Say(None, "h\u00e9llo \ud800 \"q\" \\ \n\x00", "action", ref=3)),
        ("handle", A, c.Join("#a", ref={"@": "Quit", "n": [1, 2.5, None, True]})),
        ("connect", B, "host"), ("lost", 3, "node lost"), ("grace", A),
        ("auth", e.Authenticate(A, "login", "acct", "", "", ref=None), True),
        e.Recall(7, Query("#a", "latest", kinds=frozenset({"message", "join"}))),
        c.FetchHistory("#a", "before", Ref("id1", 12.5), None, 10),
        e.ModeChanged("id", 1.5, "#a", e.Source("bob", "b", "h", "acct"), target="#a",
                      changes=(e.ModeChange(True, "o", "bob"),)),
        [False, 0, -1, 2**40, "", ()],
    ]
    for value in values:
        assert codec.dumps(value) == codec._ENCODER.encode(codec.to_plain(value))
        assert codec.loads(codec.dumps(value)) == codec.from_plain(codec.to_plain(value))
        if isinstance(value, tuple):  # a call: its shortcut writes the same text
            assert codec.dumps_call(value) == codec.dumps(value)


@pytest.mark.parametrize("text", [
    '{"@":"Nope"}', '{"x":1}', '{"@":"Join","rooom":"#a"}', "not json", '{"@":"Join"}'])
def test_codec_refuses_what_it_did_not_write(text: str) -> None:
    with pytest.raises(codec.CodecError):
        codec.loads(text)


def test_codec_escapes_client_objects() -> None:
    """A structured client's ref is any JSON: it cannot pose as a type tag."""
    cmd = c.Join("#a", ref={"@": "Quit"})
    back = codec.loads(codec.dumps(cmd))
    assert back.ref == {"@": "Quit"}


def test_passwords_never_reach_the_log() -> None:
    for cmd in (c.RegisterAccount("hunter2hunter2"), c.Login("a", "hunter2hunter2"),
                c.ChangePassword("hunter2hunter2", "swordfish99"), c.Oper("o", "hunter2xx"),
                c.ScramStep("n,,n=a,r=hunter2hunter2")):
        text = codec.dumps(redact(cmd))
        assert "hunter2" not in text and "swordfish" not in text


def build(core: ChatCore, replica: Replica, calls: list[tuple[int, tuple]]) -> list[list]:
    """Apply ``calls`` as log entries one millisecond apart; return what each caused."""
    out = []
    for index, (node, call) in enumerate(calls, 1):
        entry = Entry(f"{1_700_000_000_000 + index}-0", node, index, call)
        out.append(replica.apply(entry))
    return out


CALLS = [
    (1, ("connect", A, "10.0.0.1")),
    (1, ("handle", A, c.Register("alice"))),
    (2, ("connect", B, "10.0.0.2")),
    (2, ("handle", B, c.Register("bob"))),
    (1, ("handle", A, c.Join("#a"))),
    (2, ("handle", B, c.Join("#a"))),
    (1, ("handle", A, c.SetTopic("#a", "plans"))),
    (1, ("handle", A, c.Mode("#a", "+vk", ("bob", "key")))),
    (2, ("handle", B, c.Say("#a", "hi"))),
    (1, ("handle", A, c.Mode("#a", "+b", ("*!*@10.9.9.9",)))),
    (2, ("handle", B, c.Away("lunch"))),
    (1, ("handle", A, c.Mode("#a", "+eI", ("carol", "*!*@10.1.1.1")))),
]


def test_replicas_compute_the_same_state_and_ids() -> None:
    config = ServerConfig(port=0)
    one, two = ChatCore(config), ChatCore(config)
    two._ctx.started = one._ctx.started  # in a cluster every node has it from the snapshot
    first = build(one, Replica(one, 1), CALLS)
    second = build(two, Replica(two, 2), CALLS)
    assert first == second  # the same deliveries, event ids and times included
    assert snapshot.dump(one) == snapshot.dump(two)
    message = next(o.event for out in first for o in out or ()
                   if isinstance(o, e.Delivery) and isinstance(o.event, e.Message))
    assert message.ts == 1_700_000_000.009


def test_a_duplicate_entry_is_applied_once() -> None:
    core = ChatCore(ServerConfig(port=0))
    replica = Replica(core, 1)
    build(core, replica, CALLS[:5])
    again = Entry("1700000000099-0", 1, 5, ("handle", A, c.Join("#a")))  # seq 5 again
    assert replica.apply(again) is None


def test_snapshot_round_trip_rebuilds_the_state() -> None:
    config = ServerConfig(port=0)
    core = ChatCore(config)
    build(core, Replica(core, 1), CALLS)
    data = json.loads(json.dumps(snapshot.dump(core)))
    copy = ChatCore(config)
    snapshot.load(copy, data)
    assert snapshot.dump(copy) == snapshot.dump(core)
    room = copy.rooms["#a"]
    assert list(room.members) == [A, B] and room.ops == {A} and room.voiced == {B}
    assert room.members[B] is copy.users[B] and copy.nicks["bob"] is copy.users[B]
    assert copy.users[A].current is room and room.key == "key" and room.topic == "plans"
    assert [b.mask for b in room.excepts] == ["carol!*@*"]
    assert [b.mask for b in room.invex] == ["*!*@10.1.1.1"]
    assert [ev.text for ev in room.recent or () if isinstance(ev, e.Message)] == ["hi"]
    # The copy goes on exactly as the original does.
    tail = [(2, ("handle", B, c.ChangeNick("robert"))), (1, ("disconnect", A, "bye"))]
    r1, r2 = Replica(core, 1), Replica(copy, 1)
    r1.seqs = r2.seqs = {1: 100, 2: 100}
    assert build(core, r1, tail) == build(copy, r2, tail)
    assert snapshot.dump(copy) == snapshot.dump(core)


def test_a_captured_state_is_the_state_when_captured_whatever_the_core_does_after() -> None:
    """The engine's thread only captures (copies); the snapshot is rendered on another thread
    while the core goes on changing: what it renders must be the state as captured."""
    config = ServerConfig(port=0)
    core = ChatCore(config)
    replica = Replica(core, 1)
    replica.seqs = {1: 0, 2: 0}
    build(core, replica, CALLS)
    before = json.loads(json.dumps(snapshot.dump(core)))
    captured = snapshot.capture(core)
    later = [(2, ("handle", B, c.ChangeNick("robert"))),
             (1, ("handle", A, c.Mode("#a", "-v+bm", ("robert", "*!*@10.8.8.8")))),
             (1, ("handle", A, c.SetTopic("#a", "new plans"))),
             (1, ("handle", A, c.Join("#b"))),
             (2, ("handle", B, c.Say("#a", "more"))),
             (1, ("handle", A, c.Monitor("+", ("robert",)))),
             (1, ("disconnect", A, "bye"))]
    for index, (node, call) in enumerate(later, 100):
        replica.apply(Entry(f"{1_700_000_001_000 + index}-0", node, index, call))
    assert json.loads(json.dumps(snapshot.render(captured))) == before
    assert json.loads(json.dumps(snapshot.dump(core))) != before


def test_the_snapshot_text_is_the_rendered_state_and_lets_go_of_the_copy() -> None:
    """``text`` writes what ``render`` gives (rooms in order, users by connection id, without
    those left out), taking the copy's items as it goes: nothing of it is held after."""
    config = ServerConfig(port=0)
    core = ChatCore(config)
    replica = Replica(core, 1)
    replica.seqs = {1: 0, 2: 0}
    build(core, replica, [*CALLS, (1, ("handle", A, c.Join("#b"))),
                          (2, ("handle", B, c.Join("#c")))])
    expected = json.loads(json.dumps(snapshot.dump(core)))
    assert len(expected["rooms"]) == 3 and len(expected["users"]) > 1
    captured = snapshot.capture(core)
    loaded = json.loads(snapshot.text(captured, {"last_id": "1-0"}, frozenset()))
    assert loaded == {"replica": {"last_id": "1-0"}, "core": expected}
    assert captured.rooms == [] and captured.users == []
    left_out = expected["users"][0]["conn"]
    loaded = json.loads(snapshot.text(snapshot.capture(core), {}, frozenset({left_out})))
    assert loaded["core"]["users"] == expected["users"][1:]
    assert loaded["core"]["rooms"] == expected["rooms"]


def test_a_snapshot_position_and_format_are_read_from_its_head() -> None:
    """What a node needs of a whole snapshot before loading it (the position it covers, its
    format) is read from the start of the text, laid out as ``text`` writes it, or from the
    whole text laid out otherwise; a text that is no snapshot says so."""
    core = ChatCore(ServerConfig(port=0))
    replica = Replica(core, 1)
    build(core, replica, CALLS)
    made = snapshot.text(snapshot.capture(core), {"last_id": "17-3", "seqs": {"1": 9}},
                         frozenset())
    assert snapshot.head(made) == ({"last_id": "17-3", "seqs": {"1": 9}}, snapshot.VERSION)
    assert snapshot.position(made) == "17-3" and snapshot.checked_head(made)[1] is None
    data = json.loads(made)
    other_layout = json.dumps({"core": data["core"], "replica": data["replica"]})
    assert snapshot.position(other_layout) == "17-3"
    assert snapshot.checked_head(other_layout)[1] is None
    cut = made[:len(made) // 2]  # the head is fine; the whole is not a snapshot
    assert snapshot.checked_head(cut)[1] is None
    assert snapshot.parse(made) == (data, None)
    assert snapshot.parse(cut)[0] is None
    assert "not one this server can read" in (snapshot.parse(cut)[1] or "")
    for garbage in ("", "[]", '{"replica":', '{"replica":{},"core":{"version":2}}'):
        assert "not one this server can read" in (snapshot.checked_head(garbage)[1] or "")
        assert "not one this server can read" in (snapshot.parse(garbage)[1] or "")


def test_calls_packed_in_one_stream_entry_apply_in_order_with_their_own_ids() -> None:
    core = ChatCore(ServerConfig(port=0))
    replica = Replica(core, 1)
    build(core, replica, CALLS[:6])
    says = [("handle", B, c.Say("#a", f"m{i}")) for i in range(3)]
    fields = {"n": "2", "s": "50", "c": pack([encode_call(call) for call in says])}
    entries = decode_entry("1700000001000-3", fields)
    assert [(x.seq, x.part) for x in entries] == [(50, 0), (51, 1), (52, 2)]
    outs = [replica.apply(x) for x in entries]
    messages = [o.event for out in outs for o in out or ()
                if isinstance(o, e.Delivery) and isinstance(o.event, e.Message)]
    assert [m.text for m in messages] == ["m0", "m1", "m2"]
    assert len({m.id for m in messages}) == 3
    # Sent again (a lost reply from Redis), packed differently: applied once.
    again = decode_entry("1700000001001-0", {"n": "2", "s": "51", "c": pack(
        [encode_call(call) for call in [*says[1:], ("handle", B, c.Say("#a", "m3"))]])})
    assert [replica.apply(x) is None for x in again] == [True, True, False]


@pytest.mark.parametrize("payload", ['{"@":"Join","room":"#a"}', "[1]", "[[]]", "nope"])
def test_a_foreign_stream_entry_is_refused(payload: str) -> None:
    with pytest.raises(codec.CodecError):
        decode_entry("1-1", {"n": "1", "s": "1", "c": payload})


def test_a_node_applies_its_own_calls_without_decoding_them_and_decodes_when_it_must() -> None:
    core = ChatCore(ServerConfig(port=0))
    replica = Replica(core, 1)
    build(core, replica, CALLS[:6])
    real = ("handle", A, c.Say("#a", "mine"))
    replica.local[60] = real
    fields = {"n": "1", "s": "60", "k": "2",
              "c": pack([encode_call(real), encode_call(("handle", A, c.Say("#a", "lost")))])}
    first, second = decode_entry("1700000002000-0", fields, own=1)
    assert first.call is None and second.call is None  # not decoded: they are ours
    texts = [o.event.text for x in (first, second) for o in replica.apply(x) or ()
             if isinstance(o, e.Delivery) and isinstance(o.event, e.Message)]
    # The first from what the node held; the second (no longer held) decoded from the log.
    assert texts == ["mine", "lost"] and not replica.local


def test_a_lost_node_quits_its_users_in_one_order_on_every_replica() -> None:
    """A node makes its own users before the log has them, so the users dict's order differs
    between replicas; a node's loss must still quit them in one order (WHOWAS, idle rooms)."""
    first, second = 3 << 32 | 1, 3 << 32 | 2
    calls = [
        (3, ("connect", first, "10.0.0.3")), (3, ("connect", second, "10.0.0.4")),
        (3, ("handle", first, c.Register("xavier"))), (3, ("handle", second, c.Register("yann"))),
        (3, ("handle", first, c.Join("#a"))), (3, ("handle", second, c.Join("#b"))),
        (3, ("handle", second, c.Say("#b", "kept"))),
        (1, ("lost", 3, "node lost")),
    ]
    cores = []
    for made_here in ((), (second, first)):  # the second replica made them itself, reversed
        core = ChatCore(ServerConfig(), clock=lambda: 1.0)
        for conn in made_here:
            core.connect(conn, "10.0.0.3" if conn == first else "10.0.0.4")
        build(core, Replica(core, 3 if made_here else 1), calls)
        cores.append(core)
    assert snapshot.dump(cores[0]) == snapshot.dump(cores[1])
    assert [p.nick for p in cores[0]._ctx.nick_history.lookup("xavier")] == ["xavier"]


def test_the_switch_interval_follows_the_load_on_the_log() -> None:
    """An append or a read carrying many calls (a busy node) sets CPython's default switch
    interval (fewer forced GIL hand-offs mid-fan-out); one carrying few sets the short one
    again (a quiet node's hop waits less); in between, it stays as it is."""
    from chat.cluster import backplane as bp

    plane = bp.Backplane("redis://127.0.0.1:1/0", 10.0, engine=None)  # type: ignore[arg-type]
    saved = sys.getswitchinterval()
    try:
        plane._intervals = (bp.SWITCH_INTERVAL, bp.BUSY_SWITCH_INTERVAL)
        sys.setswitchinterval(bp.SWITCH_INTERVAL)
        plane._pace(1)
        assert sys.getswitchinterval() == pytest.approx(bp.SWITCH_INTERVAL)
        plane._pace(bp.BUSY_BATCH)
        assert sys.getswitchinterval() == pytest.approx(bp.BUSY_SWITCH_INTERVAL)
        plane._pace(bp.QUIET_BATCH + 1)
        assert sys.getswitchinterval() == pytest.approx(bp.BUSY_SWITCH_INTERVAL)
        plane._pace(bp.QUIET_BATCH)
        assert sys.getswitchinterval() == pytest.approx(bp.SWITCH_INTERVAL)
        plane._intervals = None  # CHAT_SWITCH_INTERVAL fixed it: the load changes nothing
        plane._pace(bp.BUSY_BATCH)
        assert sys.getswitchinterval() == pytest.approx(bp.SWITCH_INTERVAL)
    finally:
        sys.setswitchinterval(saved)
        plane.redis.close()


def test_a_quiet_logs_entries_are_run_on_the_logs_thread_where_the_engine_allows_it() -> None:
    """While the log is quiet, entries read from it are applied at once by the thread that
    read them, where the engine can run them there (``Hub.run_now``, the threaded engine): no
    wake-up of the engine's thread on the way. A busy log's, or with an engine that cannot
    (the asyncio engine reads the log on its own loop), wait in the hub's inbox."""
    from chat.cluster import backplane as bp
    from chat.cluster.gate import ClusterGate
    from chat.hub import Hub

    hub = Hub(ServerConfig(port=0, cluster="redis://127.0.0.1:1/0"))
    gate = hub.gate
    assert isinstance(gate, ClusterGate)
    ran: list[object] = []
    gate.entries(gate.generation, [])
    assert len(hub._inbox) == 1 and not ran  # no run_now: the engine's thread applies them
    hub.collect()
    hub.run_now = ran.append
    gate.entries(gate.generation, [])
    assert len(ran) == 1 and not hub._inbox
    plane = gate.backplane
    plane._pace(bp.BUSY_BATCH)
    gate.entries(gate.generation, [])
    assert len(ran) == 1 and len(hub._inbox) == 1
    plane._pace(bp.QUIET_BATCH)  # a small batch amid big ones: still busy for a while
    gate.entries(gate.generation, [])
    assert len(ran) == 1 and len(hub._inbox) == 2
    plane._busy_at -= bp.QUIET_AFTER  # (as if that while had passed)
    gate.entries(gate.generation, [])
    assert len(ran) == 2 and len(hub._inbox) == 2
    plane.redis.close()
