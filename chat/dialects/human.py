"""Human dialect: a person on telnet or nc. Plain lines are chat, commands start with ``/``.

Output is meant to be read, not parsed: ``[12:04] <alice> hello``. Messages from a room other
than the reader's current room carry the room name, so a person in several rooms can tell.
"""

from __future__ import annotations

import time
from typing import Any

from chat.core import commands as c
from chat.core import events as e
from chat.core.names import unencodable
from chat.dialects.base import UNENCODABLE_TEXT, Decoded, Dialect
from chat.dialects.render import describe
from chat.wire.framing import TelnetFilter

HELP = """\
Commands:
  /nick NAME              change your nickname
  /join #room [key]       join (or create) a room and talk there
  /part [#room] [reason]  leave a room (default: the current one)
  /rooms                  list rooms with member counts and topics
  /who [#room]            list the members of a room
  /msg NICK text          private message
  /me text                action, shown as "* you text"
  /topic [#room] [text]   show or set a room's topic
  /whois NICK             who someone is, their rooms, away message and idle time
  /away [message]         mark yourself away (no message: back)
Room operators (whoever created the room, and whoever they give +o):
  /kick [#room] NICK [reason]     remove someone from a room
  /invite NICK [#room]            let someone into an invite-only (+i) room
  /mode [#room] [+/-modes] [args] show or change modes: o (operator) v (voice) t (topic
                                  lock) m (moderated) i (invite-only) k KEY, l LIMIT, b MASK (ban)
  /op, /deop, /voice, /devoice NICK  shortcuts for /mode +o, -o, +v, -v in the current room
  /quit [reason]          leave the server
  /help                   this text
Anything else you type is sent to your current room (start with // to send a line beginning
with /)."""


def _clock(ts: float) -> str:
    return time.strftime("[%H:%M]", time.localtime(ts))


def _lines(text: str) -> bytes:
    return "".join(f"{line}\r\n" for line in text.split("\n")).encode("utf-8", "replace")


class HumanDialect(Dialect):
    """telnet/nc users: a greeting, a nickname prompt, slash commands, readable lines."""

    name = "human"
    __slots__ = ("_telnet",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._telnet = TelnetFilter()

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        return True  # the fallback: anything no other dialect claims is a person typing

    def filter_bytes(self, data: bytes) -> bytes:
        return self._telnet.feed(data)

    def start(self) -> list[Decoded]:
        name = self.config.name
        return [_lines(f"*** Welcome to {name}, a chat server.\n"
                       "*** Pick a nickname (letters, digits, - and _):")]

    # -- input ---------------------------------------------------------------------------

    def decode(self, line: bytes) -> list[Decoded]:
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            return [c.Invalid("bad_encoding", "That line was not valid UTF-8; nothing was sent")]
        if unencodable(text):
            return [c.Invalid("bad_encoding", UNENCODABLE_TEXT)]
        if not text:
            return []
        if not self.user.registered:
            return self._decode_nick(text)
        if text.startswith("//"):
            return [c.Say(None, text[1:])]
        if text.startswith("/"):
            return self._decode_command(text)
        return [c.Say(None, text)]

    def _decode_nick(self, text: str) -> list[Decoded]:
        if text.startswith("/"):
            verb, _, rest = text[1:].partition(" ")
            verb = verb.lower()
            if verb == "quit":
                return [c.Quit(rest.strip())]
            if verb == "help":
                return [_lines(HELP)]
            if verb != "nick":
                return [_lines("*** Pick a nickname first: type the name you want")]
            text = rest.strip()
        return [c.Register(text, join_default=True)]

    def _decode_command(self, text: str) -> list[Decoded]:
        verb, _, rest = text[1:].partition(" ")
        verb = verb.lower()
        rest = rest.strip()
        word, _, tail = rest.partition(" ")
        tail = tail.strip()
        if verb == "help":
            return [_lines(HELP)]
        if verb == "nick":
            return [c.ChangeNick(rest)] if rest else [_usage("/nick NAME")]
        if verb == "join":
            if not word:
                return [_usage("/join #room")]
            room = word if word.startswith("#") else "#" + word
            return [c.Join(room, tail or None)]
        if verb in ("part", "leave"):
            if word.startswith("#"):
                return [c.Part(word, tail)]
            return [c.Part(None, rest)]
        if verb in ("rooms", "list"):
            return [c.ListRooms()]
        if verb in ("who", "names"):
            return [c.ListMembers(word or None)]
        if verb in ("msg", "query", "tell"):
            if not word or not tail:
                return [_usage("/msg NICK text")]
            return [c.Say(word, tail)]
        if verb == "me":
            return [c.Say(None, rest, "action")] if rest else [_usage("/me text")]
        if verb == "topic":
            if word.startswith("#"):
                return [c.SetTopic(word, tail or None)]
            return [c.SetTopic(None, rest or None)]
        if verb == "quit":
            return [c.Quit(rest)]
        if verb == "whois":
            return [c.Whois(word)] if word else [_usage("/whois NICK")]
        if verb == "away":
            return [c.Away(rest)]
        if verb == "back":
            return [c.Away("")]
        if verb == "kick":
            if word.startswith("#"):
                nick, _, reason = tail.partition(" ")
                return [c.Kick(word, nick, reason.strip())] if nick else [_usage(KICK_USAGE)]
            return [c.Kick(None, word, tail)] if word else [_usage(KICK_USAGE)]
        if verb == "invite":
            if not word:
                return [_usage("/invite NICK [#room]")]
            return [c.Invite(word, tail.split()[0] if tail else None)]
        if verb == "mode":
            args = rest.split()
            target = None
            if args and not args[0].startswith(("+", "-")):
                target = args.pop(0)
            return [c.Mode(target, args[0] if args else "", tuple(args[1:]))]
        if verb in ("op", "deop", "voice", "devoice"):
            if not word:
                return [_usage(f"/{verb} NICK")]
            sign = "-" if verb.startswith("de") else "+"
            return [c.Mode(None, sign + ("o" if verb.endswith("op") else "v"), (word,))]
        return [c.Invalid("unknown_command", f"Unknown command /{verb}; type /help")]

    # -- output --------------------------------------------------------------------------

    def encode(self, event: e.Event, cache: dict[Any, bytes | None]) -> bytes | None:
        if isinstance(event, e.PingRequest):
            return None  # a person cannot answer; TCP keepalive covers dead peers
        current = self.user.current
        key: Any = ("h", current is not None and current.name == event.room)
        if isinstance(event, e.Message) and event.room is None:
            key = ("h-own", event.source is not None and event.source.nick == self.user.nick)
        elif isinstance(event, e.Kicked):
            key = ("h-kick", event.target == self.user.nick, key[1])
        elif isinstance(event, e.AwayStatus) and event.changed:
            key = ("h-away", event.nick == self.user.nick)
        elif isinstance(event, e.Error | e.Welcome | e.Invited | e.WhoisReply):
            key = None  # addressed to one user; don't cache
        if key is not None and key in cache:
            return cache[key]
        data = _lines(self._render(event, key))
        if key is not None:
            cache[key] = data
        return data

    def _render(self, event: e.Event, key: Any) -> str:
        stamp = _clock(event.ts)
        if isinstance(event, e.Message):
            nick = event.source.nick if event.source else "server"
            if event.room is None:
                if key == ("h-own", True):
                    return f"{stamp} -> *{event.target}* {event.text}"
                if event.kind == "action":
                    return f"{stamp} * {nick} (private) {event.text}"
                return f"{stamp} *{nick}* {event.text}"
            where = "" if key == ("h", True) else f"[{event.room}] "
            if event.kind == "action":
                return f"{stamp} {where}* {nick} {event.text}"
            if event.kind == "notice":
                return f"{stamp} {where}-{nick}- {event.text}"
            return f"{stamp} {where}<{nick}> {event.text}"
        if isinstance(event, e.Error):
            text = f"! {event.text}"
            if not self.user.registered and event.code in ("nick_taken", "nick_invalid"):
                text += "\n*** Pick another nickname:"
            return text
        if isinstance(event, e.Welcome):
            return (f"*** Welcome to {event.server}, {event.nick}! Type /help for commands.\n"
                    f"*** {event.motd}")
        if isinstance(event, e.Kicked) and key[1]:
            tail = f" ({event.reason})" if event.reason else ""
            return f"{stamp} -- You were kicked from {event.room} by {nick_of(event)}{tail}"
        if isinstance(event, e.Invited):
            if event.target == self.user.nick:
                return (f"{stamp} -- {nick_of(event)} invites you to {event.room}; "
                        f"/join {event.room} to accept")
            return f"{stamp} -- You invited {event.target} to {event.room}"
        if isinstance(event, e.AwayStatus) and key == ("h-away", True):
            if event.text:
                return f"{stamp} -- You are marked as away ({event.text}); /away to come back"
            return f"{stamp} -- You are no longer marked as away"
        if isinstance(event, e.WhoisReply):
            return f"{stamp} -- {describe(event)}"
        if isinstance(event, e.RoomList):
            lines = [f"{stamp} -- {describe(event)}"]
            lines += [f"   {r.name:<20} {r.members:>4} online  {r.topic}".rstrip()
                      for r in event.rooms]
            return "\n".join(lines)
        return f"{stamp} -- {describe(event)}"


KICK_USAGE = "/kick [#room] NICK [reason]"


def nick_of(event: e.Event) -> str:
    """Who caused ``event``, for prose."""
    return event.source.nick if event.source else "the server"


def _usage(text: str) -> c.Invalid:
    return c.Invalid("bad_request", f"Usage: {text}")
