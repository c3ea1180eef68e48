"""Kicks and invites: who may, and who hears it."""

from __future__ import annotations

from core_helpers import error, events, make_core, user

from chat.core import commands as c
from chat.core import events as e


def test_kick_removes_the_member_after_telling_the_room() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.handle(1, c.Kick("#a", "BOB", "bye"))
    (kicked,) = events(out)
    assert isinstance(kicked, e.Kicked) and kicked.target == "bob" and kicked.reason == "bye"
    assert out[0].recipients == (1, 2)  # type: ignore[union-attr]
    assert 2 not in core.rooms["#a"].members and not core.users[2].rooms
    assert error(core.handle(1, c.Kick("#a", "bob"))) == "user_not_in_room"
    assert error(core.handle(2, c.Kick("#a", "alice"))) == "not_in_room"


def test_only_operators_kick_and_the_reason_defaults_to_the_kicker() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    assert error(core.handle(2, c.Kick("#a", "alice"))) == "not_op"
    assert error(core.handle(1, c.Kick("#a", "nobody"))) == "no_such_nick"
    (kicked,) = events(core.handle(1, c.Kick(None, "bob")))
    assert isinstance(kicked, e.Kicked) and kicked.reason == "alice"


def test_invites_reach_both_and_only_operators_invite_to_plus_i_rooms() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    user(core, 3, "carol")
    out = core.handle(2, c.Invite("carol", "#a"))  # open room: any member may
    assert out[0].recipients == (2, 3)  # type: ignore[union-attr]
    assert isinstance(events(out)[0], e.Invited)
    core.handle(1, c.Mode("#a", "+i"))
    assert error(core.handle(2, c.Invite("carol", "#a"))) == "not_op"
    assert error(core.handle(1, c.Invite("bob", "#a"))) == "user_in_room"
    assert error(core.handle(3, c.Invite("bob", "#a"))) == "not_in_room"


def test_invites_a_user_holds_are_bounded() -> None:
    core = make_core(max_rooms_per_user=2)
    user(core, 1, "alice")
    user(core, 2, "bob")
    for n in range(50):
        core.handle(1, c.Join(f"#r{n}"))
        core.handle(1, c.Invite("bob", f"#r{n}"))
        core.handle(1, c.Part(f"#r{n}"))
    assert len(core.users[2].invites) <= 2 + 20
