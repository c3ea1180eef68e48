"""Room and user modes: IRC's syntax parsed once, applied by operators, shown to anyone."""

from __future__ import annotations

from core_helpers import error, events, make_core, user

from chat.core import commands as c
from chat.core import events as e
from chat.core.modes import MAX_BANS, MAX_MODE_ARGS
from chat.core.names import MAX_MASK


def test_new_rooms_are_plus_n_with_the_creator_as_operator() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    (info,) = events(core.handle(1, c.Mode("#a")))
    assert isinstance(info, e.ModeInfo) and info.modes == "+n"
    user(core, 2, "bob", "#a")
    members = core.rooms["#a"].member_list()
    assert [(m.nick, m.op) for m in members] == [("alice", True), ("bob", False)]


def test_only_operators_change_modes_and_changes_reach_the_room() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    assert error(core.handle(2, c.Mode("#a", "+t"))) == "not_op"
    out = core.handle(1, c.Mode("#a", "+tm-n+o", ("bob",)))
    (changed,) = events(out)
    assert isinstance(changed, e.ModeChanged)
    assert e.mode_string(changed.changes) == ("+tm-n+o", ("bob",))
    assert out[0].recipients == (1, 2)  # type: ignore[union-attr]
    assert events(core.handle(1, c.Mode("#a", "+t"))) == []  # no effect, nothing said


def test_the_key_shows_only_to_members_and_leaves_as_a_star() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    core.handle(1, c.Mode("#a", "+k", ("se same",)))
    (info,) = events(core.handle(2, c.Mode("#a")))
    assert isinstance(info, e.ModeInfo) and info.args == ("*",)
    (info,) = events(core.handle(1, c.Mode("#a")))
    assert isinstance(info, e.ModeInfo) and info.args == ("sesame",)
    (changed,) = events(core.handle(1, c.Mode("#a", "-k", ("wrong",))))
    assert e.mode_string(changed.changes) == ("-k", ("*",))  # type: ignore[attr-defined]


def test_unknown_letters_are_reported_once_and_the_rest_applies() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    out = core.handle(1, c.Mode("#a", "+zyt"))
    assert [type(ev) for ev in events(out)] == [e.Error, e.ModeChanged]
    assert error(out) == "unknown_mode"


def test_at_most_max_mode_args_changes_with_arguments() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    masks = tuple(f"m{n}!*@*" for n in range(MAX_MODE_ARGS + 3))
    core.handle(1, c.Mode("#a", "+" + "b" * len(masks), masks))
    assert len(core.rooms["#a"].bans) == MAX_MODE_ARGS


def test_ban_lists_are_bounded_and_masks_too() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    for n in range(MAX_BANS):
        core.handle(1, c.Mode("#a", "+b", (f"u{n}",)))
    assert error(core.handle(1, c.Mode("#a", "+b", ("one-more",)))) == "list_full"
    core.handle(1, c.Mode("#a", "-b", ("u0",)))  # same mask as set: u0!*@*
    assert len(core.rooms["#a"].bans) == MAX_BANS - 1
    long_mask = "x" * (MAX_MASK + 1)
    assert error(core.handle(1, c.Mode("#a", "+b", (long_mask,)))) == "mask_too_long"


def test_user_modes_are_ones_own() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    assert error(core.handle(1, c.Mode("bob", "+i"))) == "users_dont_match"
    assert error(core.handle(1, c.Mode("nobody", "+i"))) == "no_such_nick"
    out = core.handle(1, c.Mode("alice", "+iz"))
    assert error(out) == "unknown_user_mode"
    changed = events(out)[-1]
    assert isinstance(changed, e.ModeChanged) and out[-1].recipients == (1,)  # type: ignore[union-attr]
    (info,) = events(core.handle(1, c.Mode("alice")))
    assert isinstance(info, e.ModeInfo) and info.modes == "+i"
