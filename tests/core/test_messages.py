"""Talking: to a room, to a person, and the rules that stop it."""

from __future__ import annotations

from core_helpers import deliveries, error, events, make_core, only_error, user

from chat.core import commands as c
from chat.core import events as e


def test_room_message_goes_to_members_only_in_one_delivery() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    user(core, 3, "carol", "#b")
    out = core.handle(1, c.Say("#a", "hello"))
    assert deliveries(out) == [(e.Message, (1, 2))]
    event = out[0].event  # type: ignore[union-attr]
    assert event.room == "#a" and event.source.nick == "alice" and event.text == "hello"


def test_outsiders_cannot_talk_in_plus_n_rooms() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    assert only_error(core.handle(2, c.Say("#a", "hi"))) == "not_in_room"
    core.handle(1, c.Mode("#a", "-n"))
    assert deliveries(core.handle(2, c.Say("#a", "hi"))) == [(e.Message, (1,))]


def test_private_message_to_peer_and_echo() -> None:
    core = make_core()
    user(core, 1, "alice")
    user(core, 2, "bob")
    out = core.handle(1, c.Say("BOB", "psst"))
    assert deliveries(out) == [(e.Message, (2, 1))]
    assert out[0].event.room is None and out[0].event.target == "bob"  # type: ignore[union-attr]
    assert only_error(core.handle(1, c.Say("nobody", "x"))) == "no_such_nick"
    assert deliveries(core.handle(1, c.Say("alice", "note to self"))) == [(e.Message, (1,))]


def test_text_is_cleaned_and_bounded() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    out = core.handle(1, c.Say("#a", "a\r\nb\x00c\x1b[1m"))
    assert out[0].event.text == "abc[1m"  # type: ignore[union-attr]
    assert only_error(core.handle(1, c.Say("#a", "\r\n\x00"))) == "empty_message"
    assert only_error(core.handle(1, c.Say("#a", "x" * 2001))) == "message_too_long"
    assert only_error(core.handle(1, c.SetTopic("#a", "t" * 391))) == "topic_too_long"


def test_moderated_rooms_need_voice() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    core.handle(1, c.Mode("#a", "+m"))
    assert error(core.handle(2, c.Say("#a", "hi"))) == "cannot_send"
    core.handle(1, c.Mode("#a", "+v", ("bob",)))
    assert isinstance(events(core.handle(2, c.Say("#a", "hi")))[0], e.Message)


def test_banned_members_cannot_talk_unless_voiced() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    core.handle(1, c.Mode("#a", "+b", ("bob",)))
    assert error(core.handle(2, c.Say("#a", "hi"))) == "cannot_send"
    core.handle(1, c.Mode("#a", "+v", ("bob",)))
    assert isinstance(events(core.handle(2, c.Say("#a", "hi")))[0], e.Message)
