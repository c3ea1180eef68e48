"""Client history: replays merged and de-duplicated, gaps filled after a reconnect, older pages
loaded by scrolling back, day separators. Model and pane without a socket first, then the
connection against a fake writer, then the real app against a real server of each engine."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

from client.connection import Connection
from client.model import ChatModel, ConnState
from client.pane import MessagePane

PAGE_UP = "\x1b[5~"
_IDS = itertools.count(1)
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def ev(type: str, at: datetime = T0, **fields: Any) -> dict[str, Any]:
    base = {"type": type, "id": f"e{next(_IDS)}", "ts": iso(at), "room": None, "from": None,
            "text": ""}
    base.update(fields)
    return base


def msg(room: str, sender: str, text: str, at: datetime = T0, **fields: Any) -> dict[str, Any]:
    return ev("message", at, room=room, to=room, text=text, kind="message",
              **{"from": sender, **fields})


def replayed(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "replayed": True}


def history(room: str, events: list[dict[str, Any]], *, replay: bool = False,
            direction: str = "latest", ref: object = None) -> dict[str, Any]:
    return ev("history", room=room, replay=replay, direction=direction,
              events=[replayed(e) for e in events], ref=ref)


def join(model: ChatModel, room: str, at: datetime = T0, *others: str) -> None:
    model.apply(ev("join", at, room=room, text=f"{model.nick} joined {room}",
                   **{"from": model.nick}))
    model.apply(ev("members", at, room=room,
                   members=[{"nick": n} for n in (model.nick, *others)]))


def texts(model: ChatModel, room: str) -> list[str]:
    return [line.text for line in model.get(room).lines]


# -- the model ----------------------------------------------------------------------------------

def test_replay_merges_in_time_order_dimmed_and_not_unread() -> None:
    model = ChatModel("alice")
    old = [msg("#a", "bob", f"old {i}", T0 - timedelta(minutes=10 - i)) for i in range(3)]
    old.append(msg("#a", "bob", "alice: ping from the past", T0 - timedelta(minutes=5)))
    join(model, "#a", T0, "bob")  # not selected: #a is not on screen
    model.apply(msg("#a", "bob", "live", T0 + timedelta(seconds=1)))
    model.apply(history("#a", old, replay=True))

    conv = model.get("#a")
    assert texts(model, "#a") == ["old 0", "old 1", "old 2", "alice: ping from the past",
                                  "alice joined #a", "live"]
    assert [line.history for line in conv.lines] == [True] * 4 + [False, False]
    assert conv.lines[3].mention  # still highlighted...
    assert conv.unread == 1 and not conv.mentioned  # ...but only the live line counts
    assert conv.oldest_id == old[0]["id"]
    assert conv.newest_id == model.get("#a").lines[-1].id


def test_a_replay_after_a_reconnect_never_shows_a_line_twice() -> None:
    model = ChatModel("alice")
    first = [msg("#a", "bob", f"m{i}", T0 + timedelta(seconds=i)) for i in range(5)]
    join(model, "#a", T0 - timedelta(seconds=1), "bob")
    model.apply(history("#a", first[:3], replay=True))
    model.apply(first[3])
    model.apply(first[4])
    assert model.get("#a").newest_id == first[4]["id"]

    model.connection_lost()
    later = [msg("#a", "bob", f"m{i}", T0 + timedelta(seconds=i)) for i in range(5, 8)]
    join(model, "#a", T0 + timedelta(seconds=20), "bob")
    # The rejoin's replay overlaps what we saw; the gap fill overlaps the replay.
    model.apply(history("#a", first[2:] + later, replay=True))
    model.apply(history("#a", later, direction="after"))

    names = [t for t in texts(model, "#a") if t.startswith("m")]
    assert names == [f"m{i}" for i in range(8)]
    ids = [line.id for line in model.get("#a").lines if line.id]
    assert len(ids) == len(set(ids))
    # The newest event is our rejoin, after everything replayed.
    assert model.get("#a").newest_id == model.get("#a").lines[-1].id


def test_a_gap_page_goes_before_a_replay_of_the_same_millisecond() -> None:
    """After a reconnect the join replay (the newest lines) may come before the gap page that
    holds older lines too; all in one millisecond, only the page's order can place them."""
    model = ChatModel("alice")
    join(model, "#a", T0, "bob")
    burst = [msg("#a", "bob", f"gap {i}", T0) for i in range(6)]
    model.apply(history("#a", burst[3:], replay=True))
    model.apply(history("#a", burst, direction="after"))
    assert [t for t in texts(model, "#a") if t.startswith("gap")] == [
        f"gap {i}" for i in range(6)]


def test_a_live_line_that_came_first_in_a_history_answer_is_not_repeated() -> None:
    model = ChatModel("alice")
    join(model, "#a", T0)
    late = msg("#a", "bob", "raced", T0 + timedelta(seconds=1))
    model.apply(history("#a", [late], direction="after"))
    model.apply(late)
    assert texts(model, "#a").count("raced") == 1


def test_older_pages_are_prepended_and_move_the_oldest_id() -> None:
    model = ChatModel("alice")
    join(model, "#a", T0)
    recent = [msg("#a", "bob", f"r{i}", T0 - timedelta(minutes=5 - i)) for i in range(3)]
    model.apply(history("#a", recent, replay=True))
    older = [msg("#a", "bob", f"o{i}", T0 - timedelta(hours=5 - i)) for i in range(3)]
    model.apply(history("#a", older, direction="before"))
    assert texts(model, "#a")[:6] == ["o0", "o1", "o2", "r0", "r1", "r2"]
    assert model.get("#a").oldest_id == older[0]["id"]


def test_ids_are_tracked_only_for_the_room_the_event_belongs_to() -> None:
    model = ChatModel("alice")
    join(model, "#a", T0, "bob")
    join(model, "#b", T0, "bob")
    quit_ = ev("quit", T0 + timedelta(seconds=1), rooms=["#a", "#b"], text="bob quit",
               **{"from": "bob"})
    model.apply(quit_)
    assert model.get("#a").newest_id == model.get("#b").newest_id == quit_["id"]
    model.apply(ev("topic", room="#a", topic="t", changed=False, text="Topic: t"))
    assert model.get("#a").newest_id == quit_["id"]  # the topic reply is not a room event


# -- the pane -----------------------------------------------------------------------------------

def test_day_separators_between_lines_of_different_local_days() -> None:
    model = ChatModel("alice")
    model.expect_join("#a")
    local = datetime(2026, 11, 29, 23, 58).astimezone()  # local time, whatever the zone
    join(model, "#a", local)
    model.apply(msg("#a", "bob", "late night", local + timedelta(minutes=1)))
    model.apply(msg("#a", "bob", "past midnight", local + timedelta(minutes=3)))
    model.apply(msg("#a", "bob", "same day", local + timedelta(minutes=4)))
    pane = MessagePane(model)
    view = [row.strip() for row in pane.render_text(60, 10).splitlines() if row.strip()]
    assert view[-4:] == ["23:59 <bob> late night", "─── Monday 30 November 2026 ───",
                         "00:01 <bob> past midnight", "00:02 <bob> same day"]
    assert pane.render_text(60, 10).count("───") == 2  # one separator, nothing else


def test_lines_inserted_above_do_not_move_a_scrolled_view() -> None:
    model = ChatModel("alice")
    model.expect_join("#a")
    join(model, "#a", T0)
    for i in range(30):
        model.apply(msg("#a", "bob", f"line {i}", T0 + timedelta(seconds=i)))
    pane = MessagePane(model)
    pane.width, pane.height = 60, 10
    pane.page_up()
    view = pane.render_text()
    older = [msg("#a", "bob", f"old {i}", T0 - timedelta(hours=1, seconds=-i)) for i in range(20)]
    model.apply(history("#a", older, direction="before"))
    assert pane.render_text() == view


# -- the connection, against a fake socket -------------------------------------------------------

class FakeWriter:
    """Collects what the connection writes, as request dicts."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.sent.extend(json.loads(line) for line in data.splitlines())

    def is_closing(self) -> bool:
        return False

    def history(self, **where: Any) -> list[dict[str, Any]]:
        return [r for r in self.sent if r["type"] == "history"
                and all(r.get(k) == v for k, v in where.items())]


def connected(nick: str = "alice") -> tuple[Connection, FakeWriter]:
    model = ChatModel(nick)
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"])
    writer = FakeWriter()
    conn._writer = writer  # type: ignore[assignment]
    model.set_state(ConnState.REGISTERING)
    conn._handle(ev("welcome", nick=nick, server="s", text="hi", limits={}))
    return conn, writer


def test_paging_up_past_the_top_sends_one_before_request_at_a_time() -> None:
    conn, writer = connected()
    model = conn.model
    conn._handle(ev("join", T0, room="#a", text="alice joined #a", **{"from": "alice"}))
    recent = [msg("#a", "bob", f"r{i}", T0 - timedelta(minutes=30 - i)) for i in range(30)]
    conn._handle(history("#a", recent, replay=True))
    model.select("#a")
    pane = MessagePane(model, on_top=lambda conv: conn.request_older(conv.name))
    pane.width, pane.height = 60, 10

    for _ in range(10):  # well past the top, while the first answer is still on its way
        pane.page_up()
    asks = writer.history()
    assert len(asks) == 1
    assert asks[0] == {"type": "history", "room": "#a", "before": recent[0]["id"], "limit": 50,
                       "ref": asks[0]["ref"]}
    assert "loading older lines" in pane.render_text()

    older = [msg("#a", "bob", f"o{i}", T0 - timedelta(hours=3, minutes=-i)) for i in range(50)]
    conn._handle(history("#a", older, direction="before", ref=asks[0]["ref"]))
    assert texts(model, "#a")[0] == "o0" and not model.get("#a").loading_older
    for _ in range(10):
        pane.page_up()
    asks = writer.history()
    assert len(asks) == 2 and asks[1]["before"] == older[0]["id"]

    conn._handle(history("#a", [], direction="before", ref=asks[1]["ref"]))
    for _ in range(5):
        pane.page_up()
    assert len(writer.history()) == 2  # the beginning: no more asking
    assert pane.render_text().splitlines()[0].strip() == "─── beginning of history ───"


def test_after_a_reconnect_the_gap_is_filled_from_the_last_id_seen() -> None:
    conn, writer = connected()
    model = conn.model
    conn._handle(ev("join", T0, room="#a", text="alice joined #a", **{"from": "alice"}))
    seen = msg("#a", "bob", "before the drop", T0 + timedelta(seconds=1))
    conn._handle(seen)
    assert not writer.history()  # a first join relies on the server's replay

    model.connection_lost()
    model.set_state(ConnState.REGISTERING)
    conn.gap_page = 3
    conn._handle(ev("welcome", nick="alice", server="s", text="hi again", limits={}))
    assert not writer.history()  # not before the server confirms the rejoin
    conn._handle(ev("join", T0 + timedelta(minutes=1), room="#a", text="alice joined #a",
                    **{"from": "alice"}))
    first = writer.history()
    assert len(first) == 1
    assert first[0] == {"type": "history", "room": "#a", "after": seen["id"], "limit": 3,
                        "ref": first[0]["ref"]}

    gap = [msg("#a", "bob", f"gap {i}", T0 + timedelta(seconds=2 + i)) for i in range(5)]
    conn._handle(history("#a", gap[:3], direction="after", ref=first[0]["ref"]))
    second = writer.history()[1:]
    assert len(second) == 1 and second[0]["after"] == gap[2]["id"]  # a full page: more
    conn._handle(history("#a", gap[3:], direction="after", ref=second[0]["ref"]))
    assert len(writer.history()) == 2  # a short page: done
    lines = texts(model, "#a")
    assert [t for t in lines if t.startswith("gap")] == [f"gap {i}" for i in range(5)]
    # In time order: the gap comes before our rejoin.
    assert lines.index("gap 4") < len(lines) - 1 and lines[-1] == "alice joined #a"


def test_gap_filling_stops_after_the_page_limit() -> None:
    conn, writer = connected()
    conn._handle(ev("join", T0, room="#a", text="alice joined #a", **{"from": "alice"}))
    conn._handle(msg("#a", "bob", "seen", T0))
    conn.model.set_state(ConnState.REGISTERING)
    conn.gap_page, conn.gap_pages = 1, 3
    conn._handle(ev("welcome", nick="alice", server="s", text="hi again", limits={}))
    conn._handle(ev("join", T0 + timedelta(hours=1), room="#a", text="alice joined #a",
                    **{"from": "alice"}))
    for i in range(5):
        asks = writer.history()
        if len(asks) <= i:
            break
        conn._handle(history("#a", [msg("#a", "bob", f"g{i}", T0 + timedelta(seconds=i + 1))],
                             direction="after", ref=asks[i]["ref"]))
    assert len(writer.history()) == 3


# -- the real app against a real server ----------------------------------------------------------

def spy(driver: Any) -> list[dict[str, Any]]:
    """Every request the driver's connection writes from now on."""
    conn = driver.app.connection
    sent: list[dict[str, Any]] = []
    write = conn._write

    def recording(data: bytes) -> None:
        sent.extend(json.loads(line) for line in data.splitlines())
        write(data)

    conn._write = recording
    return sent


async def test_reconnect_fills_the_gap_without_duplicates(clients) -> None:
    # A long backoff: alice comes back only when told to, after the gap was made.
    alice = await clients.start("alice", backoff=(60.0,))
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")
    bob.type("before the drop\r")
    await alice.wait_line("#lobby", "before the drop")
    last_id = alice.model.get("#lobby").newest_id
    sent = spy(alice)

    alice.app.connection._writer.transport.abort()
    await alice.wait(lambda: alice.model.state is ConnState.DISCONNECTED, "disconnected")
    for i in range(40):  # more than the 25 lines a rejoin replays
        bob.type(f"gap {i}\r")
    await bob.wait_line("#lobby", "gap 39")
    alice.app.connection.reconnect_now()
    await alice.wait(lambda: "gap 0" in alice.text("#lobby"), "the gap filled")

    asks = [r for r in sent if r["type"] == "history"]
    assert asks[0]["after"] == last_id and asks[0]["limit"] == 100 and asks[0]["room"] == "#lobby"
    lines = alice.text("#lobby").splitlines()
    assert [t for t in lines if t.startswith("gap")] == [f"gap {i}" for i in range(40)]
    assert lines.count("before the drop") == 1


async def test_paging_up_in_a_short_room_loads_older_lines_once(clients) -> None:
    bob = await clients.start("bob")
    for i in range(60):
        bob.type(f"line {i}\r")
    await bob.wait_line("#lobby", "line 59")
    alice = await clients.start("alice")
    await alice.wait_line("#lobby", "line 59")
    assert "line 0" not in alice.text("#lobby")  # the join replay is only the recent lines
    alice.model.select("#lobby")
    sent = spy(alice)

    alice.type(PAGE_UP * 5)
    await alice.wait(lambda: "line 0" in alice.text("#lobby"), "older lines")
    await asyncio.sleep(0)
    befores = [r for r in sent if r["type"] == "history" and "before" in r]
    assert len(befores) == 1
    lines = alice.text("#lobby").splitlines()
    assert [t for t in lines if t.startswith("line")] == [f"line {i}" for i in range(60)]
    assert alice.model.get("#lobby").history_start  # a short page: nothing older
