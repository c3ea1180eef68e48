"""Output: one renderer per core event type, found through ``RENDERERS``.

A renderer gets (dialect, event, is_self) and returns the bytes for this client, or None to
send nothing; ``is_self`` is whether this client caused the event. Event types with no
renderer reach the client as a server NOTICE of their plain-English description.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.core import events as e
from chat.core.commands import CTCP_KINDS
from chat.core.names import fold
from chat.dialects.irc.accounts import account_error
from chat.dialects.irc.listing import SYMBOL, mask_list
from chat.dialects.irc.messaging import STATUS_SIGILS
from chat.dialects.irc.numerics import AccountRef, WhoxRef, error
from chat.dialects.irc.people import who_flags, whox
from chat.dialects.irc.registration import plain_text_hint, welcome
from chat.dialects.irc.services import CHANSERV, NICKSERV, service_notice
from chat.dialects.irc.syntax import LINE, host, mask, split_utf8, status_prefix

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: A renderer: (dialect, event of its type, is_self) -> bytes, or None for nothing.
Renderer = Callable[["IrcDialect", Any, bool], "bytes | None"]

_ACTION = "\x01ACTION "


def _message(d: IrcDialect, event: e.Message, is_self: bool) -> bytes | None:
    if is_self and "echo-message" not in d.caps and not (
            event.room is None and fold(event.target) == fold(d.user.nick)):
        return None  # IRC clients show what they sent themselves, unless they asked
    return message_lines(d, event)


def message_lines(d: IrcDialect, event: e.Message, batch: str | None = None,
                  stamp: str = "") -> bytes:
    """PRIVMSG/NOTICE lines for a message (ids ``<id>``, ``<id>.1``...); ``batch`` tags them
    into a batch, ``stamp`` goes in front of the text (a past line's time, for clients without
    server-time).

    A message is cut only where it would not have fit in the 512 bytes of the line a client
    sends (``PRIVMSG <target> :<text>``, no prefix): what an IRC client sent arrives whole,
    as one line, even though the sender's ``nick!user@host`` prefix takes it past 512, as
    ergo sends it (modern clients read longer lines). Longer text from other dialects is cut
    into such pieces.
    """
    assert event.source is not None
    private = event.room is None
    verb = "NOTICE" if event.kind in ("notice", "ctcp_reply") else "PRIVMSG"
    target = event.target if private else STATUS_SIGILS.get(event.status, "") + (event.room or "")
    head = f":{mask(event.source)} {verb} {target} :"
    budget = LINE - 2 - len(f"{verb} {target} :".encode())
    wrap = _ACTION if event.kind == "action" else "\x01" if event.kind in CTCP_KINDS else ""
    if wrap:
        budget -= len(wrap) + 1
    text = stamp + event.text
    # A character is at most 4 UTF-8 bytes: text this short fits without measuring it.
    if len(text) * 4 <= budget:
        if not wrap:  # nearly every message: one plain line
            return f"{d.tags(event, event.id, batch)}{head}{text}\r\n".encode()
        pieces = [text]
    else:
        pieces = split_utf8(text, budget)
    out = []
    for i, piece in enumerate(pieces):
        if wrap:
            piece = f"{wrap}{piece}\x01"
        msgid = event.id if i == 0 else f"{event.id}.{i}"
        out.append(f"{d.tags(event, msgid, batch)}{head}{piece}\r\n")
    return "".join(out).encode("utf-8")


def join_line(d: IrcDialect, event: e.Joined, msgid: str | None = None,
              batch: str | None = None) -> bytes:
    """JOIN, with the account and real name for clients that enabled ``extended-join``."""
    source = event.source
    if "extended-join" in d.caps and source is not None:
        return d.line_from(
            event, f"JOIN {event.room} {source.account or '*'} :{source.realname}", msgid, batch)
    return d.line_from(event, f"JOIN {event.room}", msgid, batch)


def _error(d: IrcDialect, event: e.Error, is_self: bool) -> bytes | None:
    if isinstance(event.ref, AccountRef):
        return account_error(d, event, event.ref)
    return error(d, event, is_self)


def _notice(d: IrcDialect, event: e.Notice, is_self: bool) -> bytes:
    """A notice from the server; ChanServ's answers come from ChanServ, and the warning that a
    nick belongs to an account from NickServ, with an IRC user's way to log in."""
    ref = event.ref
    if isinstance(ref, AccountRef) and ref.via == "CHANSERV":
        return service_notice(d, CHANSERV, event.text)
    if event.code == "nick_protected":
        text = event.text.replace("(/login PASSWORD)", "(/msg NickServ IDENTIFY password)")
        return service_notice(d, NICKSERV, text)
    return d.server_line(f"NOTICE {d.me} :{event.text}")


def _topic(d: IrcDialect, event: e.Topic, is_self: bool) -> bytes:
    if event.changed:
        return d.line_from(event, f"TOPIC {event.room} :{event.topic}")
    room = event.room or "*"
    if not event.topic:
        return d.num("331", room, text="No topic is set")
    return (d.num("332", room, text=event.topic)
            + d.num("333", room, event.set_by or d.server, str(int(event.set_at))))


def _mode_changed(d: IrcDialect, event: e.ModeChanged, is_self: bool) -> bytes:
    modes, args = e.mode_string(event.changes)
    if not event.target.startswith("#"):
        return d.line_from(event, f"MODE {event.target} :{modes}")
    return d.line_from(event, " ".join(("MODE", event.target, modes, *args)))


def _away_status(d: IrcDialect, event: e.AwayStatus, is_self: bool) -> bytes | None:
    if not event.changed:
        return d.num("301", event.nick, text=event.text)
    if is_self:
        if event.text:
            return d.num("306", text="You have been marked as being away")
        return d.num("305", text="You are no longer marked as being away")
    if "away-notify" not in d.caps:
        return None
    return d.line_from(event, f"AWAY :{event.text}" if event.text else "AWAY")


def _invited(d: IrcDialect, event: e.Invited, is_self: bool) -> bytes | None:
    if event.witnessed:  # someone else's invite, told to the room: IRCv3 invite-notify
        return d.line_from(event, f"INVITE {event.target} {event.room}") if (
            "invite-notify" in d.caps) else None
    if is_self:
        return d.num("341", event.target, event.room or "*")
    return d.line_from(event, f"INVITE {event.target} {event.room}")


def _parted(d: IrcDialect, event: e.Parted, is_self: bool) -> bytes:
    return d.line_from(
        event, f"PART {event.room} :{event.reason}" if event.reason else f"PART {event.room}")


def _disconnect(d: IrcDialect, event: e.Disconnect, is_self: bool) -> bytes:
    reason = event.reason
    if d.hinted and not d.user.registered:  # a person typing words: say it once more
        reason = f"{reason}. {plain_text_hint(d.config)}"
    return f"ERROR :Closing Link: {host(d.user.host)} ({reason})\r\n".encode()


# -- numeric replies to queries (NAMES, LIST, MODE, WHOIS, WHO, ISON/USERHOST) ------------

def _names(d: IrcDialect, event: e.MemberList, is_self: bool) -> bytes:
    full = "userhost-in-names" in d.caps
    names = []
    for m in event.members:
        who = f"{m.nick}!{m.ident or m.nick}@{host(m.host)}" if full else m.nick
        names.append(status_prefix(d, m.op, m.voice) + who)
    head = f":{d.server} 353 {d.me} {SYMBOL.get(event.visibility, '=')} {event.room} :"
    budget = LINE - 2 - len(head.encode("utf-8"))
    out, line = [], ""
    for name in names:
        if line and len(line) + 1 + len(name) > budget:
            out.append(f"{head}{line}\r\n".encode())
            line = ""
        line = f"{line} {name}" if line else name
    if line:
        out.append(f"{head}{line}\r\n".encode())
    out.append(d.num("366", event.room or "*", text="End of /NAMES list"))
    return b"".join(out)


def _room_list(d: IrcDialect, event: e.RoomList, is_self: bool) -> bytes:
    lines = [d.num("321", "Channel", text="Users  Name")]
    lines += [d.num("322", r.name, str(r.members), text=r.topic) for r in event.rooms]
    lines.append(d.num("323", text="End of /LIST"))
    return b"".join(lines)


def _mode_info(d: IrcDialect, event: e.ModeInfo, is_self: bool) -> bytes:
    if not event.target.startswith("#"):
        return d.num("221", event.modes)
    return (d.num("324", event.target, event.modes, *event.args)
            + d.num("329", event.target, str(int(event.created))))


def _whois(d: IrcDialect, event: e.WhoisReply, is_self: bool) -> bytes:
    u = event.user
    lines = [d.num("311", u.nick, u.ident, host(u.host), "*", text=u.realname)]
    if event.rooms:
        rooms = [status_prefix(d, r.op, r.voice) + r.room for r in event.rooms]
        lines.append(d.num("319", u.nick, text=" ".join(rooms)))
    lines.append(d.num("312", u.nick, event.server, text="chat server"))
    if u.away:
        lines.append(d.num("301", u.nick, text=u.away))
    if u.account:
        lines.append(d.num("330", u.nick, u.account, text="is logged in as"))
    if u.bot:
        lines.append(d.num("335", u.nick, text="is a bot"))
    lines.append(d.num("317", u.nick, str(event.idle), str(int(event.signon)),
                       text="seconds idle, signon time"))
    lines.append(d.num("318", u.nick, text="End of /WHOIS list"))
    return b"".join(lines)


def _who(d: IrcDialect, event: e.WhoReply, is_self: bool) -> bytes:
    if isinstance(event.ref, WhoxRef):
        return whox(d, event, event.ref)
    lines = []
    for u in event.users:
        flags = who_flags(d, u)
        lines.append(d.num("352", u.room or "*", u.ident, host(u.host), d.server,
                           u.nick, flags, text=f"0 {u.realname}"))
    lines.append(d.num("315", event.mask, text="End of /WHO list"))
    return b"".join(lines)


def _presence(d: IrcDialect, event: e.Presence, is_self: bool) -> bytes:
    if event.ref == "USERHOST":
        replies = " ".join(f"{u.nick}={'-' if u.away else '+'}{u.ident}@{host(u.host)}"
                           for u in event.users)
        return d.num("302", text=replies)
    return d.num("303", text=" ".join(u.nick for u in event.users))


#: Event type -> renderer.
RENDERERS: dict[type[e.Event], Renderer] = {
    e.Message: _message,
    e.Welcome: welcome,
    e.Error: _error,
    e.Joined: lambda d, ev, s: join_line(d, ev),
    e.Parted: _parted,
    e.Quitted: lambda d, ev, s: d.line_from(ev, f"QUIT :{ev.reason}"),
    e.NickChanged: lambda d, ev, s: d.line_from(ev, f"NICK :{ev.new_nick}"),
    e.Kicked: lambda d, ev, s: d.line_from(ev, f"KICK {ev.room} {ev.target} :{ev.reason}"),
    e.Topic: _topic,
    e.ModeChanged: _mode_changed,
    e.AwayStatus: _away_status,
    e.Invited: _invited,
    e.PongReply: lambda d, ev, s: d.server_line(f"PONG {d.server} :{ev.token}"),
    e.PingRequest: lambda d, ev, s: f"PING :{ev.token}\r\n".encode(),
    e.Notice: _notice,
    e.Disconnect: _disconnect,
    e.MemberList: _names,
    e.RoomList: _room_list,
    e.ModeInfo: _mode_info,
    e.BanList: mask_list,
    e.WhoisReply: _whois,
    e.WhoReply: _who,
    e.Presence: _presence,
}
