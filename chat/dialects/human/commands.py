"""Human input: slash commands, a handler per command in ``COMMANDS`` (``BEFORE`` until a
nickname is picked)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from chat.core import commands as c
from chat.dialects.base import Decoded
from chat.dialects.human.render import lines

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
  /history [#room] [N]    the last N lines said in a room (default 25, at most 100)
Accounts (your nick, kept for you):
  /register PASSWORD      register your current nick as an account
  /login [ACCOUNT] PASSWORD   log in (/identify works too)
  /logout                 log out
  /password OLD NEW       change your password
  /register #room         make a room you run yours: you get +o on every join
  /unregister #room       give it up; /transfer #room ACCOUNT hands it to another account
Server operators:
  /oper NAME PASSWORD     become a server operator
  /kill NICK [reason]     disconnect someone from the server
  /wallops text           a message to every operator and user with mode +w
  /ban MASK [DURATION] [reason]   ban nick!ident@host from the server (DURATION: 30m, 2h,
                          7d; none: until lifted); /unban MASK; /bans lists them
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

KICK_USAGE = "/kick [#room] NICK [reason]"
HISTORY_LINES = 25  # what /history shows without a count


class Args(NamedTuple):
    """A slash command split the ways its handlers read it."""

    verb: str  # lower case, without the slash
    rest: str  # everything after the verb, stripped
    word: str  # the first word of ``rest``
    tail: str  # ``rest`` after its first word, stripped

    @classmethod
    def of(cls, text: str) -> Args:
        verb, _, rest = text[1:].partition(" ")
        rest = rest.strip()
        word, _, tail = rest.partition(" ")
        return cls(verb.lower(), rest, word, tail.strip())


#: A slash command's handler: its arguments -> what ``decode`` returns.
Command = Callable[[Args], list[Decoded]]


def _usage(text: str) -> c.Invalid:
    return c.Invalid("bad_request", f"Usage: {text}")


def _help(a: Args) -> list[Decoded]:
    return [lines(HELP)]


def unknown(a: Args) -> list[Decoded]:
    """Any slash command not in ``COMMANDS``."""
    return [c.Invalid("unknown_command", f"Unknown command /{a.verb}; type /help")]


def pick_first(a: Args) -> list[Decoded]:
    """Any slash command but /nick, /help and /quit before a nickname is picked."""
    return [lines("*** Pick a nickname first: type the name you want")]


def _join(a: Args) -> list[Decoded]:
    if not a.word:
        return [_usage("/join #room")]
    return [c.Join(a.word if a.word.startswith("#") else "#" + a.word, a.tail or None)]


def _msg(a: Args) -> list[Decoded]:
    return [c.Say(a.word, a.tail)] if a.word and a.tail else [_usage("/msg NICK text")]


def _kick(a: Args) -> list[Decoded]:
    if a.word.startswith("#"):
        nick, _, reason = a.tail.partition(" ")
        return [c.Kick(a.word, nick, reason.strip())] if nick else [_usage(KICK_USAGE)]
    return [c.Kick(None, a.word, a.tail)] if a.word else [_usage(KICK_USAGE)]


def _invite(a: Args) -> list[Decoded]:
    if not a.word:
        return [_usage("/invite NICK [#room]")]
    return [c.Invite(a.word, a.tail.split()[0] if a.tail else None)]


def _mode(a: Args) -> list[Decoded]:
    args = a.rest.split()
    target = None
    if args and not args[0].startswith(("+", "-")):
        target = args.pop(0)
    return [c.Mode(target, args[0] if args else "", tuple(args[1:]))]


def _op(a: Args) -> list[Decoded]:
    """/op, /deop, /voice, /devoice NICK: +o, -o, +v, -v in the current room."""
    if not a.word:
        return [_usage(f"/{a.verb} NICK")]
    sign = "-" if a.verb.startswith("de") else "+"
    return [c.Mode(None, sign + ("o" if a.verb.endswith("op") else "v"), (a.word,))]


def _in_room_or_current(a: Args) -> tuple[str | None, str]:
    """``#room rest`` or just ``rest`` (meaning the current room)."""
    return (a.word, a.tail) if a.word.startswith("#") else (None, a.rest)


def _part(a: Args) -> list[Decoded]:
    return [c.Part(*_in_room_or_current(a))]


def _topic(a: Args) -> list[Decoded]:
    room, text = _in_room_or_current(a)
    return [c.SetTopic(room, text or None)]


def _rooms(a: Args) -> list[Decoded]:
    return [c.ListRooms()]


def _who(a: Args) -> list[Decoded]:
    return [c.ListMembers(a.word or None)]


def _history(a: Args) -> list[Decoded]:
    """/history [#room] [N]: the last N lines (the core checks the bounds)."""
    room, count = _in_room_or_current(a)
    if not count:
        return [c.FetchHistory(room, limit=HISTORY_LINES)]
    if not count.isdigit():
        return [_usage("/history [#room] [N]")]
    return [c.FetchHistory(room, limit=int(count[:6]))]


def _register(a: Args) -> list[Decoded]:
    if a.word.startswith("#"):
        return [c.RegisterRoom(a.word)] if not a.tail else [_usage("/register #room")]
    if not a.word or a.tail:
        return [_usage("/register PASSWORD (no spaces)")]
    return [c.RegisterAccount(a.word)]


def _login(a: Args) -> list[Decoded]:
    """/login PASSWORD or /login ACCOUNT PASSWORD."""
    words = a.rest.split()
    if len(words) == 1:
        return [c.Login(None, words[0])]
    if len(words) == 2:
        return [c.Login(words[0], words[1])]
    return [_usage(f"/{a.verb} [ACCOUNT] PASSWORD")]


def _password(a: Args) -> list[Decoded]:
    words = a.rest.split()
    if len(words) != 2:
        return [_usage("/password OLD NEW")]
    return [c.ChangePassword(words[0], words[1])]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float | None:
    """``90``, ``30m``, ``2h``, ``7d``, ``1w`` in seconds; None if it is not a duration."""
    unit = _UNITS.get(text[-1:].lower(), 0) if text else 0
    number = text[:-1] if unit else text
    if not number.isdigit() or len(number) > 9:
        return None
    return float(int(number) * (unit or 1))


def _ban(a: Args) -> list[Decoded]:
    """/ban MASK [DURATION] [reason]"""
    if not a.word:
        return [_usage("/ban MASK [DURATION] [reason]")]
    rest = a.tail
    seconds = duration(rest.split(" ", 1)[0]) if rest else None
    if seconds is not None:
        rest = rest.partition(" ")[2].strip()
    return [c.ServerBan(a.word, seconds or 0.0, rest)]


def _quit(a: Args) -> list[Decoded]:
    return [c.Quit(a.rest)]


#: Slash command -> handler once a nickname is picked; anything else is unknown.
COMMANDS: dict[str, Command] = {
    "help": _help,
    "nick": lambda a: [c.ChangeNick(a.rest)] if a.rest else [_usage("/nick NAME")],
    "join": _join,
    "part": _part, "leave": _part,
    "rooms": _rooms, "list": _rooms,
    "who": _who, "names": _who,
    "msg": _msg, "query": _msg, "tell": _msg,
    "me": lambda a: [c.Say(None, a.rest, "action")] if a.rest else [_usage("/me text")],
    "topic": _topic,
    "quit": _quit,
    "whois": lambda a: [c.Whois(a.word)] if a.word else [_usage("/whois NICK")],
    "away": lambda a: [c.Away(a.rest)],
    "history": _history,
    "register": _register,
    "login": _login, "identify": _login,
    "logout": lambda a: [c.Logout()],
    "password": _password,
    "unregister": lambda a: ([c.RegisterRoom(a.word, unregister=True)] if a.word
                             else [_usage("/unregister #room")]),
    "transfer": lambda a: ([c.RegisterRoom(a.word, to=a.tail)] if a.word and a.tail
                           else [_usage("/transfer #room ACCOUNT")]),
    "oper": lambda a: ([c.Oper(a.word, a.tail)] if a.word and a.tail and " " not in a.tail
                       else [_usage("/oper NAME PASSWORD")]),
    "kill": lambda a: [c.Kill(a.word, a.tail)] if a.word else [_usage("/kill NICK [reason]")],
    "wallops": lambda a: [c.Wallops(a.rest)] if a.rest else [_usage("/wallops text")],
    "ban": _ban,
    "unban": lambda a: [c.ServerBan(a.word, remove=True)] if a.word else [_usage("/unban MASK")],
    "bans": lambda a: [c.ServerBan("")],
    "back": lambda a: [c.Away("")],
    "kick": _kick,
    "invite": _invite,
    "mode": _mode,
    "op": _op, "deop": _op, "voice": _op, "devoice": _op,
}

#: Slash command -> handler before a nickname is picked; anything else asks for one first.
BEFORE: dict[str, Command] = {
    "quit": _quit,
    "help": _help,
    "nick": lambda a: [c.Register(a.rest, join_default=True)],
}
