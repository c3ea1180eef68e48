"""Plain-English renderings of events, shared by the human dialect and the JSON ``text`` field."""

from __future__ import annotations

from functools import singledispatch

from chat.core import events as e


@singledispatch
def describe(event: e.Event) -> str:
    """One line of prose for an event (no timestamp, no decoration)."""
    return type(event).__name__


def irc_only(event: e.Event) -> bool:
    """True for events only IRC clients are shown, each behind a capability: client-only tags
    without text (TAGMSG), an invite told to the room (invite-notify) and the away status of
    someone joining (away-notify). The human and JSON dialects skip them."""
    return (isinstance(event, e.TagMessage)
            or (isinstance(event, e.Invited) and event.witnessed)
            or (isinstance(event, e.AwayStatus) and event.on_join))


def _who(event: e.Event) -> str:
    return event.source.nick if event.source else "server"


@describe.register
def _(event: e.Welcome) -> str:
    return f"Welcome to {event.server}, {event.nick}"


@describe.register
def _(event: e.Message) -> str:
    return event.text


@describe.register
def _(event: e.Joined) -> str:
    return f"{_who(event)} joined {event.room}"


@describe.register
def _(event: e.Parted) -> str:
    tail = f" ({event.reason})" if event.reason else ""
    return f"{_who(event)} left {event.room}{tail}"


@describe.register
def _(event: e.Quitted) -> str:
    return f"{_who(event)} quit ({event.reason})" if event.reason else f"{_who(event)} quit"


@describe.register
def _(event: e.NickChanged) -> str:
    return f"{_who(event)} is now known as {event.new_nick}"


@describe.register
def _(event: e.Topic) -> str:
    if event.changed:
        if not event.topic:
            return f"{event.set_by} cleared the topic of {event.room}"
        return f"{event.set_by} set the topic of {event.room} to: {event.topic}"
    if not event.topic:
        return f"{event.room} has no topic"
    return f"Topic of {event.room}: {event.topic} (set by {event.set_by})"


@describe.register
def _(event: e.MemberList) -> str:
    names = " ".join(("@" if m.op else "+" if m.voice else "") + m.nick for m in event.members)
    return f"In {event.room} ({len(event.members)}): {names}"


@describe.register
def _(event: e.RoomList) -> str:
    if not event.rooms:
        return "No rooms yet; /join #name creates one"
    return f"{len(event.rooms)} room(s)"


@describe.register
def _(event: e.RealnameChanged) -> str:
    return f"{_who(event)} changed their real name to {event.realname}"


@describe.register
def _(event: e.PongReply) -> str:
    return f"pong {event.token}".rstrip()


@describe.register
def _(event: e.PingRequest) -> str:
    return f"ping {event.token}".rstrip()


@describe.register
def _(event: e.Notice) -> str:
    return event.text


@describe.register
def _(event: e.Error) -> str:
    return event.text


@describe.register
def _(event: e.Disconnect) -> str:
    return f"Disconnecting: {event.reason}"


@describe.register
def _(event: e.Kicked) -> str:
    tail = f" ({event.reason})" if event.reason else ""
    return f"{event.target} was kicked from {event.room} by {_who(event)}{tail}"


@describe.register
def _(event: e.Invited) -> str:
    return f"{_who(event)} invited {event.target} to {event.room}"


@describe.register
def _(event: e.ModeChanged) -> str:
    modes, args = e.mode_string(event.changes)
    where = f" on {event.target}" if event.target.startswith("#") else ""
    return f"{_who(event)} set mode {' '.join((modes, *args))}{where}"


@describe.register
def _(event: e.ModeInfo) -> str:
    return f"Modes of {event.target}: {' '.join((event.modes, *event.args))}"


@describe.register
def _(event: e.BanList) -> str:
    what = {"e": "ban exceptions", "I": "invite exceptions"}.get(event.kind, "bans")
    if not event.bans:
        return f"No {what} on {event.room}"
    bans = ", ".join(f"{b.mask} (by {b.set_by})" for b in event.bans)
    return f"{what[0].upper()}{what[1:]} on {event.room}: {bans}"


@describe.register
def _(event: e.AwayStatus) -> str:
    if not event.text:
        return f"{event.nick} is back"
    return f"{event.nick} is away: {event.text}"


@describe.register
def _(event: e.WhoisReply) -> str:
    u = event.user
    rooms = " ".join(("@" if r.op else "+" if r.voice else "") + r.room for r in event.rooms)
    parts = [f"{u.nick} is {u.ident}@{u.host}" + (f" ({u.realname})" if u.realname else "")]
    parts.append(f"in {rooms}" if rooms else "in no room")
    if u.bot:  # user mode +B, as IRC's WHOIS 335 says it
        parts.append("a bot")
    if u.oper:
        parts.append("a server operator")
    if u.account:
        parts.append(f"logged in as {u.account}")
    if u.away:
        parts.append(f"away: {u.away}")
    parts.append(f"idle {event.idle}s")
    return "; ".join(parts)


@describe.register
def _(event: e.WhoReply) -> str:
    return f"{len(event.users)} user(s) match {event.mask}: " + " ".join(
        u.nick for u in event.users)


@describe.register
def _(event: e.Presence) -> str:
    if not event.users:
        return "None of them is online"
    return "Online: " + " ".join(u.nick for u in event.users)


@describe.register
def _(event: e.History) -> str:
    count = len(event.events)
    if event.replay:
        return f"The last {count} line(s) of {event.room}"
    return f"{count} line(s) of {event.room} history"


@describe.register
def _(event: e.HistoryTargetList) -> str:
    if not event.targets:
        return "No room of yours was active then"
    return "Active rooms: " + " ".join(room for room, _ in event.targets)


_ACCOUNT_STATUS = {
    "registered": "Account {account} registered; you are logged in to it",
    "logged_in": "You are now logged in as {account}",
    "logged_out": "You are now logged out",
    "password_changed": "Your password is changed",
}


@describe.register
def _(event: e.AccountStatus) -> str:
    return _ACCOUNT_STATUS.get(event.status, event.status).format(account=event.account)


@describe.register
def _(event: e.AccountChanged) -> str:
    if event.account:
        return f"{_who(event)} is logged in as {event.account}"
    return f"{_who(event)} logged out"


@describe.register
def _(event: e.OperStatus) -> str:
    return f"You are now a server operator ({event.name})"


@describe.register
def _(event: e.WallopsMessage) -> str:
    return f"!{_who(event)}! {event.text}"


@describe.register
def _(event: e.ServerBanList) -> str:
    if not event.bans:
        return "No server bans"
    return "Server bans: " + "; ".join(
        f"{b.mask} ({b.reason}, by {b.set_by})" for b in event.bans)
