"""The core on its own: commands in, deliveries out, no sockets."""

from __future__ import annotations

import pytest

from chat.config import Limits, ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e


@pytest.fixture
def core() -> ChatCore:
    ticks = iter(range(1_000_000))
    return ChatCore(ServerConfig(limits=Limits(max_rooms_per_user=3, max_members_per_room=3)),
                    clock=lambda: 1_700_000_000.0 + next(ticks))


def register(core: ChatCore, conn: int, nick: str, *rooms: str) -> None:
    core.connect(conn, "127.0.0.1")
    out = core.handle(conn, c.Register(nick))
    assert isinstance(out[0], e.Delivery) and isinstance(out[0].event, e.Welcome)
    for room in rooms:
        core.handle(conn, c.Join(room))


def deliveries(out: list[e.Output]) -> list[tuple[type, tuple[int, ...]]]:
    return [(type(o.event), o.recipients) for o in out if isinstance(o, e.Delivery)]


def only_error(out: list[e.Output]) -> str:
    assert len(out) == 1 and isinstance(out[0], e.Delivery)
    assert isinstance(out[0].event, e.Error)
    return out[0].event.code


def test_join_announces_to_members_then_tells_joiner_topic_and_members(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    core.handle(1, c.SetTopic("#a", "hi"))
    register(core, 2, "bob")
    out = core.handle(2, c.Join("#A"))  # rooms compare case-insensitively
    assert deliveries(out) == [(e.Joined, (1, 2)), (e.Topic, (2,)), (e.MemberList, (2,))]
    members = out[2].event.members  # type: ignore[union-attr]
    assert [(m.nick, m.op) for m in members] == [("alice", True), ("bob", False)]


def test_room_message_goes_to_members_only_in_one_delivery(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    register(core, 2, "bob", "#a")
    register(core, 3, "carol", "#b")
    out = core.handle(1, c.Say("#a", "hello"))
    assert deliveries(out) == [(e.Message, (1, 2))]
    event = out[0].event  # type: ignore[union-attr]
    assert event.room == "#a" and event.source.nick == "alice" and event.text == "hello"


def test_current_room_follows_join_and_part(core: ChatCore) -> None:
    register(core, 1, "alice", "#a", "#b")
    assert deliveries(core.handle(1, c.Say(None, "x"))) == [(e.Message, (1,))]
    assert core.users[1].current is not None and core.users[1].current.name == "#b"
    core.handle(1, c.Part(None))
    assert core.users[1].current is not None and core.users[1].current.name == "#a"
    core.handle(1, c.Part(None))
    assert only_error(core.handle(1, c.Say(None, "x"))) == "not_in_room"


def test_empty_room_disappears(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    core.handle(1, c.Part("#a", "bye"))
    assert "#a" not in core.rooms
    assert only_error(core.handle(1, c.ListMembers("#a"))) == "no_such_room"


def test_nick_change_reaches_each_neighbour_once(core: ChatCore) -> None:
    register(core, 1, "alice", "#a", "#b")
    register(core, 2, "bob", "#a", "#b")
    register(core, 3, "carol")
    out = core.handle(1, c.ChangeNick("Alicia"))
    assert deliveries(out) == [(e.NickChanged, (1, 2))]
    assert core.nicks.get("alicia") is core.users[1] and "alice" not in core.nicks
    assert only_error(core.handle(3, c.ChangeNick("ALICIA"))) == "nick_taken"


def test_quit_frees_the_nick_and_tells_neighbours(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    register(core, 2, "bob", "#a")
    out = core.handle(2, c.Quit("night"))
    kinds = [type(o.event) if isinstance(o, e.Delivery) else o for o in out]
    assert kinds == [e.Disconnect, e.Quitted, e.Close(2, "Quit: night")]
    assert out[1].recipients == (1,)  # type: ignore[union-attr]
    assert core.disconnect(2, "Connection closed") == []  # already announced
    register(core, 3, "Bob")  # the nick is free at once


def test_abrupt_disconnect_is_announced_with_reason(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    register(core, 2, "bob", "#a")
    out = core.disconnect(2, "Connection reset")
    assert deliveries(out) == [(e.Quitted, (1,))]
    assert out[0].event.reason == "Connection reset"  # type: ignore[union-attr]


def test_private_message_to_peer_and_echo(core: ChatCore) -> None:
    register(core, 1, "alice")
    register(core, 2, "bob")
    out = core.handle(1, c.Say("BOB", "psst"))
    assert deliveries(out) == [(e.Message, (2, 1))]
    assert out[0].event.room is None and out[0].event.target == "bob"  # type: ignore[union-attr]
    assert only_error(core.handle(1, c.Say("nobody", "x"))) == "no_such_nick"


def test_text_is_cleaned_and_bounded(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    out = core.handle(1, c.Say("#a", "a\r\nb\x00c\x1b[1m"))
    assert out[0].event.text == "abc[1m"  # type: ignore[union-attr]
    assert only_error(core.handle(1, c.Say("#a", "\r\n\x00"))) == "empty_message"
    assert only_error(core.handle(1, c.Say("#a", "x" * 2001))) == "message_too_long"
    assert only_error(core.handle(1, c.SetTopic("#a", "t" * 391))) == "topic_too_long"


def test_limits_on_rooms_per_user_and_members_per_room(core: ChatCore) -> None:
    register(core, 1, "alice", "#a", "#b", "#c")
    assert only_error(core.handle(1, c.Join("#d"))) == "too_many_rooms"
    register(core, 2, "bob", "#a")
    register(core, 3, "carol", "#a")
    register(core, 4, "dave")
    assert only_error(core.handle(4, c.Join("#a"))) == "room_full"


def test_unregistered_connections_may_only_register(core: ChatCore) -> None:
    core.connect(1, "127.0.0.1")
    assert only_error(core.handle(1, c.Join("#a"))) == "not_registered"
    assert deliveries(core.handle(1, c.Ping("t"))) == [(e.PongReply, (1,))]
    assert core.disconnect(1, "gone") == []  # never registered: nothing to announce


def test_event_ids_are_unique(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    ids = set()
    for n in range(100):
        out = core.handle(1, c.Say("#a", str(n)))
        ids.add(out[0].event.id)  # type: ignore[union-attr]
    assert len(ids) == 100


def test_shutdown_tells_and_closes_everyone(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    core.connect(2, "127.0.0.1")
    out = core.shutdown("bye all")
    assert deliveries(out) == [(e.Disconnect, (1, 2))]
    assert [o for o in out if isinstance(o, e.Close)] == [e.Close(1, "bye all"),
                                                          e.Close(2, "bye all")]


def test_deliveries_name_the_connection_that_caused_them(core: ChatCore) -> None:
    register(core, 1, "alice", "#a")
    register(core, 2, "bob", "#a")
    out = core.handle(1, c.Say("#a", "hi")) + core.handle(2, c.Whois("alice"))
    assert [o.origin for o in out if isinstance(o, e.Delivery)] == [1, 2]
    assert [o.origin for o in core.disconnect(2, "gone")] == [2]  # its own leaving
    assert [o.origin for o in core.drop(1, "Ping timeout")
            if isinstance(o, e.Delivery)] == [None]  # the server's doing
    assert all(o.origin is None for o in core.shutdown("bye") if isinstance(o, e.Delivery))
