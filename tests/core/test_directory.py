"""Nick history, monitor lists, real names and server counts in the core: typed commands and
events every dialect shares (IRC's WHOWAS, MONITOR, SETNAME, LUSERS and STATS read them)."""

from __future__ import annotations

import pytest
from core_helpers import deliveries, events, make_core, only_error, user

from chat.config import ServerConfig
from chat.core import ChatCore, serverinfo
from chat.core import commands as c
from chat.core import events as e
from chat.core.directory import PastUser
from chat.core.monitor import MAX_MONITOR
from chat.core.nickhistory import NickHistory


def past(nick: str, left: float) -> PastUser:
    return PastUser(nick, "id", "h", "real", "", left)


def test_nick_history_keeps_the_last_few_per_nick_and_forgets_the_oldest_nick() -> None:
    history = NickHistory(per_nick=3, max_nicks=2)
    for i in range(5):
        history.record(past("Bob", i))
    assert [p.left for p in history.lookup("BOB")] == [4, 3, 2]  # newest first, 3 kept
    assert [p.left for p in history.lookup("bob", 2)] == [4, 3]
    history.record(past("carol", 10))
    history.record(past("bob", 11))  # bob touched again: carol is now the oldest
    history.record(past("dave", 12))
    assert len(history) == 2 and history.lookup("carol") == ()
    assert history.lookup("bob")[0].left == 11 and history.lookup("dave")


def test_whowas_remembers_renames_quits_and_kills() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    core.handle(2, c.Login(None, "x"))  # an account request: no effect on the history
    core.handle(2, c.ChangeNick("robert"))
    core.handle(2, c.Quit("bye"))
    (reply,) = events(core.handle(1, c.WhoWas("bob")))
    assert isinstance(reply, e.WhoWasReply) and reply.nick == "bob"
    assert [(p.nick, p.ident, p.host) for p in reply.entries] == [("bob", "id", "10.0.0.1")]
    (reply,) = events(core.handle(1, c.WhoWas("ROBERT")))
    assert isinstance(reply, e.WhoWasReply) and [p.nick for p in reply.entries] == ["robert"]
    (reply,) = events(core.handle(1, c.WhoWas("nobody")))
    assert isinstance(reply, e.WhoWasReply) and reply.entries == ()
    user(core, 3, "carol")
    core.disconnect(3, "connection reset")
    (reply,) = events(core.handle(1, c.WhoWas("carol", 1)))
    assert isinstance(reply, e.WhoWasReply) and len(reply.entries) == 1


def test_monitor_reports_now_and_later_and_forgets_with_the_watcher() -> None:
    core = make_core()
    user(core, 1, "alice")
    user(core, 2, "bob")
    (status,) = events(core.handle(1, c.Monitor("+", ("Bob", "carol", "bad nick"))))
    assert isinstance(status, e.MonitorStatus)
    assert [s.nick for s in status.online] == ["bob"] and status.offline == ("carol",)
    core.connect(3, "10.0.0.3")
    out = core.handle(3, c.Register("carol"))
    assert (e.MonitorStatus, (1,)) in deliveries(out)
    out = core.handle(3, c.ChangeNick("caroline"))
    news = [ev for ev in events(out) if isinstance(ev, e.MonitorStatus)]
    assert [ev.offline for ev in news] == [("carol",)]
    out = core.handle(2, c.Quit())
    assert [ev.offline for ev in events(out) if isinstance(ev, e.MonitorStatus)] == [("bob",)]
    (listing,) = events(core.handle(1, c.Monitor("L")))
    assert isinstance(listing, e.MonitorList) and listing.nicks == ("Bob", "carol")
    core.handle(1, c.Monitor("-", ("BOB",)))
    (listing,) = events(core.handle(1, c.Monitor("L")))
    assert isinstance(listing, e.MonitorList) and listing.nicks == ("carol",)
    core.handle(1, c.Quit())
    assert core._ctx.watchers == {}  # the reverse index holds nobody who left


def test_a_full_monitor_list_refuses_the_rest() -> None:
    core = make_core()
    user(core, 1, "alice")
    core.handle(1, c.Monitor("+", tuple(f"n{i}" for i in range(MAX_MONITOR - 1))))
    out = core.handle(1, c.Monitor("+", ("x1", "x2", "x3")))
    full = [ev for ev in events(out) if isinstance(ev, e.Error)]
    assert full[0].code == "monitor_full" and full[0].subject == "x2,x3"
    (listing,) = events(core.handle(1, c.Monitor("L")))
    assert isinstance(listing, e.MonitorList) and len(listing.nicks) == MAX_MONITOR
    core.handle(1, c.Monitor("C"))
    (listing,) = events(core.handle(1, c.Monitor("L")))
    assert isinstance(listing, e.MonitorList) and listing.nicks == ()


def test_real_name_changes_reach_the_rooms_and_monitors_and_show_in_whois() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    user(core, 3, "carol")
    core.handle(3, c.Monitor("+", ("alice",)))
    out = core.handle(1, c.SetRealname("Alice Liddell"))
    assert deliveries(out) == [(e.RealnameChanged, (1, 2)), (e.Monitored, (3,))]
    (whois,) = events(core.handle(2, c.Whois("alice")))
    assert isinstance(whois, e.WhoisReply) and whois.user.realname == "Alice Liddell"
    joined = events(core.handle(1, c.Join("#c")))[0]  # what later events carry (extended-join)
    assert joined.source is not None and joined.source.realname == "Alice Liddell"
    assert only_error(core.handle(1, c.SetRealname("  "))) == "realname_invalid"
    assert only_error(core.handle(1, c.SetRealname("x" * 101))) == "realname_invalid"


def test_away_changes_reach_monitors_outside_the_rooms_once() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    user(core, 3, "carol")
    core.handle(2, c.Monitor("+", ("alice",)))  # shares #a: told once, as a neighbour
    core.handle(3, c.Monitor("+", ("alice",)))
    out = core.handle(1, c.Away("lunch"))
    assert deliveries(out) == [(e.AwayStatus, (1, 2)), (e.Monitored, (3,))]
    wrapped = events(out)[1]
    assert isinstance(wrapped, e.Monitored) and isinstance(wrapped.change, e.AwayStatus)


def test_server_status_counts_users_rooms_operators_and_commands() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a", "#b")
    core.handle(2, c.Mode("bob", "+i"))
    core.connect(3, "10.0.0.3")  # not registered yet
    (reply,) = events(core.handle(1, c.ServerStatus()))
    assert isinstance(reply, e.ServerStatusReply)
    assert reply.counts == e.UserCounts(users=2, invisible=1, operators=0, unknown=1, rooms=2,
                                        max_users=2)
    assert dict(reply.commands)["Join"] == 3 and reply.started == 1_700_000_000.0
    core.handle(2, c.Quit())
    (reply,) = events(core.handle(1, c.ServerStatus()))
    assert isinstance(reply, e.ServerStatusReply)
    assert (reply.counts.users, reply.counts.max_users) == (1, 2)


def test_registrations_in_a_crowd_reuse_a_count_up_to_a_second_old(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serverinfo, "FRESH_COUNT_UP_TO", 2)
    now = [1_700_000_000.0]
    core = ChatCore(ServerConfig(), clock=lambda: now[0])
    for conn, nick in enumerate(("a", "b", "c"), 1):
        user(core, conn, nick)
    core.handle(1, c.Mode("a", "+i"))
    core.connect(4, "10.0.0.4")
    (welcome,) = [ev for ev in events(core.handle(4, c.Register("d")))
                  if isinstance(ev, e.Welcome)]
    assert welcome.counts is not None
    assert (welcome.counts.users, welcome.counts.invisible) == (4, 0)  # the count of c's
    (reply,) = events(core.handle(1, c.ServerStatus()))
    assert isinstance(reply, e.ServerStatusReply) and reply.counts.invisible == 1  # afresh
    core.handle(2, c.Mode("b", "+i"))
    now[0] += 1  # a second on: counted afresh (the last count, LUSERS', was 1)
    core.connect(5, "10.0.0.5")
    (welcome,) = [ev for ev in events(core.handle(5, c.Register("e")))
                  if isinstance(ev, e.Welcome)]
    assert welcome.counts is not None and welcome.counts.invisible == 2
