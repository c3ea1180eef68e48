"""Away, WHOIS, WHO and lookups: what others can learn about a user."""

from __future__ import annotations

from core_helpers import events, make_core, user

from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.core.presence import MAX_WHO


def who_nicks(core: ChatCore, conn: int, mask: str) -> list[str]:
    """The nicks a WHO for ``mask`` from ``conn`` lists."""
    (who,) = events(core.handle(conn, c.Who(mask)))
    assert isinstance(who, e.WhoReply)
    return [u.nick for u in who.users]


def test_away_is_announced_and_answers_private_messages_but_not_notices() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.handle(2, c.Away("lunch"))
    assert out[0].recipients == (2, 1)  # type: ignore[union-attr]
    replies = events(core.handle(1, c.Say("bob", "there?")))
    assert isinstance(replies[-1], e.AwayStatus) and replies[-1].text == "lunch"
    assert len(events(core.handle(1, c.Say("bob", "fyi", "notice")))) == 1
    (whois,) = events(core.handle(1, c.Whois("bob")))
    assert isinstance(whois, e.WhoisReply) and whois.user.away == "lunch"
    assert whois.rooms == (e.Membership("#a"),)


def test_who_and_lookup() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    core.handle(2, c.Mode("bob", "+i"))
    assert who_nicks(core, 1, "*") == ["alice"]
    (who,) = events(core.handle(1, c.Who("#a")))
    assert [(u.nick, u.op) for u in who.users] == [("alice", True)]  # type: ignore[attr-defined]
    (found,) = events(core.handle(1, c.Lookup(("BOB", "nobody"), ref="ISON")))
    assert isinstance(found, e.Presence) and [u.nick for u in found.users] == ["bob"]
    assert found.ref == "ISON"


def test_invisible_users_show_to_room_mates_and_by_exact_nick() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    user(core, 3, "carol")
    core.handle(2, c.Mode("bob", "+i"))
    assert who_nicks(core, 1, "b*") == ["bob"]  # shares #a with bob
    assert who_nicks(core, 3, "b*") == []
    assert who_nicks(core, 3, "BOB") == ["bob"]


def test_who_by_mask_is_bounded() -> None:
    core = make_core()
    for conn in range(MAX_WHO + 5):
        user(core, conn, f"u{conn}")
    assert len(who_nicks(core, 0, "u*")) == MAX_WHO


def test_whois_idle_time_and_unknown_nicks() -> None:
    core = make_core()
    user(core, 1, "alice")
    (err,) = events(core.handle(1, c.Whois("nobody")))
    assert isinstance(err, e.Error) and err.code == "no_such_nick" and err.subject == "nobody"
    (whois,) = events(core.handle(1, c.Whois("alice")))
    assert isinstance(whois, e.WhoisReply) and whois.idle > 0 and whois.rooms == ()


def test_replies_to_irc_only_requests_carry_the_ref() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    for command in (c.Who("*", ref="WHO"), c.Who("#a", ref="WHO"),
                    c.Lookup(("alice",), ref="USERHOST"), c.ListRooms(ref="LIST", names=("#a",))):
        (reply,) = events(core.handle(1, command))
        assert reply.ref == command.ref, reply


def test_a_ping_is_answered_and_a_pong_needs_no_answer() -> None:
    core = make_core()
    user(core, 1, "alice")
    (pong,) = events(core.handle(1, c.Ping("tok")))
    assert isinstance(pong, e.PongReply) and pong.token == "tok"
    assert core.handle(1, c.Pong("tok")) == []
