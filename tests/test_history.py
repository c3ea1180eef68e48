"""History above the engines: replay on join, paging, lasting rooms, restarts, failing stores.

Driven in memory (``MemoryNet``: the real hub, core, dialects and history service, a fake
clock); a restart keeps the store and starts a new hub on it, as a new process would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from memnet import MemoryNet

from chat.config import Limits, ServerConfig
from chat.core import events as e
from chat.history.memory import MemoryStore
from chat.history.records import Query, Record
from chat.history.service import HistoryService
from chat.history.store import StoreError

CONFIG = ServerConfig(limits=Limits(rate_per_second=0))


def said(net: MemoryNet, client: Any, room: str, *texts: str) -> None:
    """``client`` (a bot) says each text in ``room``, a minute apart."""
    for text in texts:
        client.request(type="message", to=room, text=text)
        client.expect_json(type="message", text=text)
        net.advance(60)


def test_a_late_joiner_on_telnet_sees_recent_lines_between_markers_then_live_traffic() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")
    said(net, alice, "#r", "first", "second")
    bob = net.human("bob")
    bob.line("/join #r")
    head = bob.expect("--- #r: the last 2 lines before you came ---")
    first, second, end = bob.new()[:3]
    assert first.endswith("<alice> first") and second.endswith("<alice> second")
    assert first.startswith("[") and first != second  # each with its own time
    assert end == "--- end of #r history ---"
    alice.request(type="message", to="#r", text="live")
    assert bob.expect("<alice> live")
    assert head and "live" not in "".join(bob.received[:-1])


def test_replay_shows_only_what_people_said_and_at_most_replay_lines() -> None:
    net = MemoryNet(replace(CONFIG, replay_lines=3))
    alice = net.bot("alice", "#r")
    net.bot("carol", "#r").close()  # a join and a quit: events, not lines
    said(net, alice, "#r", "one", "two", "three", "four")
    bob = net.bot("bob")
    bob.request(type="join", room="#r")
    history = bob.expect_json(type="history", room="#r")
    assert history["replay"] is True
    assert [ev["text"] for ev in history["events"]] == ["two", "three", "four"]
    assert all(ev["replayed"] and ev["type"] == "message" for ev in history["events"])


def test_no_replay_when_replay_lines_is_zero_and_none_for_an_empty_room() -> None:
    net = MemoryNet(replace(CONFIG, replay_lines=0))
    alice = net.bot("alice", "#r")
    said(net, alice, "#r", "hello")
    bob = net.bot("bob", "#r")
    net.bot("dan", "#new")
    assert not [line for line in bob.lines if '"history"' in line]


def test_lines_from_another_day_show_their_date() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")
    said(net, alice, "#r", "yesterday's news")
    net.advance(2 * 86400)
    bob = net.human("bob")
    bob.line("/join #r")
    line = bob.expect("yesterday's news")
    assert line[:5] == "[2023" and line[11] == " "  # [YYYY-MM-DD HH:MM]


def test_structured_clients_page_back_and_forth_by_id_and_time() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")
    said(net, alice, "#r", *(f"m{n}" for n in range(10)))
    ids = {ev["text"]: ev["id"] for ev in _history(alice, room="#r", limit=10)["events"]}

    def texts(**request: Any) -> list[str]:
        return [ev["text"] for ev in _history(alice, room="#r", **request)["events"]]

    assert texts(limit=3) == ["m7", "m8", "m9"]
    assert texts(before=ids["m5"], limit=3) == ["m2", "m3", "m4"]
    assert texts(after=ids["m5"], limit=3) == ["m6", "m7", "m8"]
    assert texts(after=ids["m2"], before=ids["m6"], limit=10) == ["m3", "m4", "m5"]
    assert texts(around=ids["m5"], limit=3) == ["m4", "m5", "m6"]
    m5 = next(ev for ev in _history(alice, room="#r", limit=10)["events"] if ev["text"] == "m5")
    assert texts(before=m5["ts"], limit=2) == ["m3", "m4"]
    assert texts(before="no-such-id", limit=5) == []


def test_history_requests_are_checked() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")
    bob = net.bot("bob", "#other")
    for request, code in [({"room": "#r"}, "not_in_room"),
                          ({"room": "#other", "limit": 0}, "bad_limit"),
                          ({"room": "#other", "limit": 101}, "bad_limit"),
                          ({"room": "#other", "limit": "5"}, "bad_request"),
                          ({"room": "#other", "before": "2026-13-45T00:00:00Z"}, "bad_request"),
                          ({"room": "#other", "around": "x", "before": "y"}, "bad_request"),
                          ({"room": "#nowhere"}, "no_such_room")]:
        bob.request(type="history", ref=7, **request)
        error = bob.expect_json(type="error")
        assert (error["code"], error["ref"]) == (code, 7), request
    assert alice.new() == [] or all('"history"' not in line for line in alice.new())


def test_all_true_includes_joins_parts_and_nick_changes() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")
    bob = net.bot("bob", "#r")
    bob.request(type="nick", nick="robert")
    bob.expect_json(type="nick")
    said(net, alice, "#r", "hi")
    kinds = [ev["type"] for ev in _history(alice, room="#r", all=True)["events"]]
    assert kinds == ["join", "join", "nick", "message"]
    assert [ev["type"] for ev in _history(alice, room="#r")["events"]] == ["message"]


def test_human_history_command() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#lobby")
    said(net, alice, "#lobby", "a", "b", "c")
    bob = net.human("bob")  # in #lobby: the replay shows all three
    bob.expect("--- end of #lobby history ---")
    bob.line("/history 2")
    bob.expect("--- #lobby: 2 earlier lines ---")
    assert [line.rsplit(" ", 1)[-1] for line in bob.new()[:2]] == ["b", "c"]
    bob.line("/history #lobby lots")
    bob.expect("Usage: /history [#room] [N]")
    bob.line("/history #elsewhere")
    bob.expect("No room named #elsewhere")


def test_private_messages_are_not_kept() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")
    net.bot("bob").request(type="message", to="alice", text="secret")
    alice.expect_json(type="message", text="secret")
    assert all(r.text != "secret" for r in net.store.query(Query("#r", "latest", limit=50)))
    for name in ("alice", "bob"):
        assert net.store.query(Query(name, "latest", limit=50, kinds=None)) == []


def test_a_restart_keeps_rooms_topics_modes_bans_and_history() -> None:
    net = MemoryNet(CONFIG)
    alice = net.irc("alice", "#keep")
    alice.line("TOPIC #keep :plans for today")
    alice.line("MODE #keep +mtk sesame")
    alice.line("MODE #keep +b *!*@bad.example")
    alice.line("PRIVMSG #keep :remember me")
    alice.sync()
    net.advance(5)
    net.restart()
    bob = net.irc("bob")
    bob.line("JOIN #keep wrongkey")
    assert bob.numeric("475")  # the key survived
    bob.line("JOIN #keep sesame")
    assert bob.numeric("332")[-1] == "plans for today"
    bob.line("MODE #keep")
    modes = bob.numeric("324")
    assert modes[1] == "+mntk" and modes[2] == "sesame"
    bob.line("MODE #keep +b")
    assert bob.numeric("367")[1] == "*!*@bad.example"
    carol = net.bot("carol")
    carol.request(type="join", room="#keep", key="sesame")
    replayed = carol.expect_json(type="history", room="#keep")["events"]
    assert [ev.get("topic", ev["text"]) for ev in replayed] == ["plans for today", "remember me"]
    # Operator status is not kept (accounts will bring room owners): whoever opens the
    # empty room runs it, as a new room's creator would.
    bob.line("MODE #keep -m")
    assert bob.verb("MODE")


def test_an_empty_room_keeps_its_state_and_recent_lines_but_an_unused_one_goes() -> None:
    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#quiet", "#used")
    alice.request(type="topic", room="#used", topic="kept")
    alice.request(type="part", room="#quiet")
    alice.request(type="part", room="#used")
    alice.request(type="rooms")
    listed = {r["room"]: r for r in alice.expect_json(type="rooms")["rooms"]}
    assert "#used" in listed and "#quiet" not in listed
    alice.request(type="join", room="#used")
    alice.expect_json(type="topic", topic="kept")
    members = alice.expect_json(type="members", room="#used")
    assert members["members"][0]["op"] is True  # the first one back runs it


def test_a_failing_store_is_counted_and_chat_goes_on() -> None:
    class Failing(MemoryStore):
        def append(self, records: Sequence[Record]) -> None:
            raise StoreError("disk full")

    net = MemoryNet(CONFIG, store=Failing())
    alice, bob = net.bot("alice", "#r"), net.bot("bob", "#r")
    alice.request(type="message", to="#r", text="still here")
    bob.expect_json(type="message", text="still here")
    history = net.hub.history
    assert history is not None and history.failed >= 1


def fetched(service: HistoryService, query: Query) -> list[str]:
    """The texts of the page ``service`` answers ``query`` with (from its thread, if any)."""
    got: list[Any] = []
    done = threading.Event()

    def answer(recall: e.Recall, events: Any) -> None:
        got.extend(events)
        done.set()

    service.fetch(e.Recall(1, query), answer)
    assert done.wait(10)
    return [event.text for event in got]


def test_the_history_thread_answers_with_every_line_handed_over_before() -> None:
    """Threaded mode: a request right after a line includes it (pending writes go first)."""
    store = MemoryStore()
    service = HistoryService(store, CONFIG, threaded=True)
    service.start()
    try:
        source = e.Source("alice", "a", "h")
        for n in range(50):
            message = e.Message(f"id{n}", 1e9 + n, "#r", source, target="#r", text=f"t{n}")
            service.record([e.Delivery(message, (1,))])
        assert fetched(service, Query("#r", "latest", limit=100)) == [f"t{n}" for n in range(50)]
    finally:
        service.close()
    assert service.written == 50 and service.failed == 0


def test_a_line_for_the_operators_alone_is_not_kept_on_the_history_thread() -> None:
    """Threaded mode: a line for the operators alone is not kept (a short path for lone room
    messages, since removed, kept it)."""
    service = HistoryService(MemoryStore(), CONFIG, threaded=True)
    service.start()
    try:
        source = e.Source("bob", "b", "h")
        for n, status in enumerate(("", "op", "voice", "")):
            message = e.Message(f"id{n}", 1e9 + n, "#r", source, target="#r", text=f"t{n}",
                                status=status)
            service.record([e.Delivery(message, (1,))])
        assert fetched(service, Query("#r", "latest", limit=10)) == ["t0", "t3"]
    finally:
        service.close()


def test_lines_seen_from_other_nodes_are_written_before_a_page_of_their_room() -> None:
    """A cluster node keeps other nodes' lines a while (``seen``) and writes those of a room
    asked about before answering; the rest stays unwritten (their nodes write them)."""
    now = 1e9
    store = MemoryStore()
    service = HistoryService(store, CONFIG, threaded=False, clock=lambda: now)
    source = e.Source("alice", "a", "h")

    def line(n: int, room: str, ts: float) -> list[e.Output]:
        message = e.Message(f"id{n}", ts, room, source, target=room, text=f"t{n}")
        return [e.Delivery(message, (1,))]

    service.seen(line(0, "#r", now - 3600))  # its node wrote it long ago
    service.seen(line(1, "#r", now))
    service.seen(line(2, "#other", now))
    assert store.query(Query("#r", "latest")) == []  # kept aside, not written
    assert fetched(service, Query("#R", "latest")) == ["t1"]
    assert fetched(service, Query("#r", "latest")) == ["t1"]  # written once
    assert store.query(Query("#other", "latest")) == []
    assert service.written == 1


def test_when_a_node_is_lost_every_line_kept_from_other_nodes_is_written() -> None:
    """Kept at least two leases (a node is counted lost a lease after its last heartbeat),
    and all written when one is lost, whatever room they are in."""
    now = 1e9
    store = MemoryStore()
    service = HistoryService(store, replace(CONFIG, node_lease=10.0), threaded=False,
                             clock=lambda: now)
    source = e.Source("alice", "a", "h")
    for n, (room, age) in enumerate([("#r", 30.0), ("#r", 20.0), ("#s", 1.0)]):  # log order
        message = e.Message(f"id{n}", now - age, room, source, target=room, text=f"t{n}")
        service.seen([e.Delivery(message, (1,))])
    service.write_seen()
    assert [r.text for r in store.query(Query("#r", "latest"))] == ["t1"]  # t0: too old
    assert [r.text for r in store.query(Query("#s", "latest"))] == ["t2"]
    service.write_seen()
    assert service.written == 2


def _history(client: Any, **request: Any) -> dict[str, Any]:
    client.request(type="history", ref="h", **request)
    answer: dict[str, Any] = client.expect_json(type="history", ref="h")
    json.dumps(answer)
    return answer


def test_a_bug_turning_outputs_into_records_costs_history_not_the_connection(
        monkeypatch: Any) -> None:
    from chat.history import convert

    net = MemoryNet(CONFIG)
    alice = net.bot("alice", "#r")

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(convert, "records", broken)
    # (carol's join and the message both go through the broken convert)
    carol = net.bot("carol", "#r")
    alice.request(type="message", to="#r", text="still delivered")
    carol.expect_json(type="message", text="still delivered")
    assert carol.closed is None and net.hub.history is not None and net.hub.history.failed


def test_a_restart_keeps_ban_and_invite_exceptions() -> None:
    net = MemoryNet(CONFIG)
    alice = net.irc("alice", "#club")
    alice.line("MODE #club +ib *!*@*")
    alice.line("MODE #club +eI carol carol")
    alice.sync()
    net.restart()
    bob = net.irc("bob")
    bob.line("JOIN #club")  # banned, and on neither list
    assert bob.numeric("474")
    carol = net.irc("carol")
    carol.line("JOIN #club")  # banned but excepted (+e); +i but on the +I list
    carol.numeric("366")
    carol.line("MODE #club e")  # she opened the empty room, so she runs it and may list
    assert carol.numeric("348")[1:3] == ["carol!*@*", "alice"]
    carol.line("MODE #club I")
    assert carol.numeric("346")[1] == "carol!*@*"
