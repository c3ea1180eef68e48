"""The shared state's helpers: event ids, and the ref every reply and error carries."""

from __future__ import annotations

from core_helpers import events, make_core, user

from chat.core import commands as c
from chat.core import events as e


def test_event_ids_are_unique() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    ids = set()
    for n in range(100):
        out = core.handle(1, c.Say("#a", str(n)))
        ids.add(out[0].event.id)  # type: ignore[union-attr]
    assert len(ids) == 100


def test_errors_and_replies_carry_the_ref_broadcasts_do_not() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    (err,) = events(core.handle(1, c.Part("#nowhere", ref=5)))
    assert isinstance(err, e.Error) and err.ref == 5
    (pong,) = events(core.handle(1, c.Ping("t", ref=6)))
    assert pong.ref == 6
    (message,) = events(core.handle(1, c.Say("#a", "hi", ref=7)))
    assert message.ref is None


def test_an_unknown_room_is_named_or_its_name_is_explained() -> None:
    core = make_core()
    user(core, 1, "alice")
    (err,) = events(core.handle(1, c.ListMembers("#gone")))
    assert isinstance(err, e.Error) and (err.code, err.subject) == ("no_such_room", "#gone")
    (err,) = events(core.handle(1, c.ListMembers("nohash")))
    assert isinstance(err, e.Error) and err.code == "room_invalid"
    (err,) = events(core.handle(1, c.ListMembers(None)))
    assert isinstance(err, e.Error) and err.code == "not_in_room"
