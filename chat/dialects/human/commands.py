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
  /join #room [key]       join (or create) a room and talk there (/j for short)
  /part [#room] [reason]  leave a room (default: the current one)
  /rooms                  list rooms with member counts and topics
  /who [#room]            list the members of a room
  /msg NICK text          private message
  /me text                action, shown as "* you text"
  /topic [#room] [text]   show or set a room's topic
  /whois NICK             who someone is, their rooms, away message and idle time
  /away [message]         mark yourself away (no message: back)
  /back                   mark yourself back
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
                                  lock) m (moderated) i (invite-only) n (no messages from
                                  outside) s (secret: hidden from outsiders) p (private: listed
                                  without its topic) k KEY, l LIMIT, b MASK (ban), e MASK (ban
                                  exception), I MASK (may join uninvited); +b, +e, +I list them
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


def split_message(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut after a word where one ends in
    the second half of a piece (a long word or URL is cut where it must be).

    A person who pastes a long paragraph means it to be read, not refused whole: the human
    dialect sends each piece as a message of its own, in order.
    """
    pieces: list[str] = []
    limit = max(limit, 1)
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit + 1)
        if cut <= 0:
            pieces.append(text[:limit])
            text = text[limit:]
        else:
            pieces.append(text[:cut].rstrip())
            text = text[cut + 1:]
        text = text.lstrip(" ")
    if text or not pieces:
        pieces.append(text)
    return pieces


#: Most messages one line becomes: with the default limits a line (8 KiB) makes at most five,
#: and a server configured with a tiny --message-len must not turn one line into thousands.
MAX_PIECES = 8


def split_long(items: list[Decoded], limit: int) -> list[Decoded]:
    """Every message (``Say``) in ``items`` over ``limit`` characters as several messages
    (at most ``MAX_PIECES``; what is left over is reported, not sent)."""
    if not any(isinstance(item, c.Say) and len(item.text) > limit for item in items):
        return items
    out: list[Decoded] = []
    for item in items:
        if isinstance(item, c.Say) and len(item.text) > limit:
            pieces = split_message(item.text, limit)
            out += [c.Say(item.target, piece, item.kind, item.ref)
                    for piece in pieces[:MAX_PIECES]]
            if len(pieces) > MAX_PIECES:
                left = sum(map(len, pieces[MAX_PIECES:]))
                out.append(c.Invalid("message_too_long", f"Messages are at most {limit} "
                                     f"characters, and one line makes at most {MAX_PIECES}: "
                                     f"the last {left} characters were not sent"))
        else:
            out.append(item)
    return out


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
    """/join #room [key]. Room names have no spaces, so ``/join #bad room`` is a mistake, not
    a key: more than one word after the name is refused here, and a key given for a room that
    has none is refused by the core (``strict_key``) instead of quietly ignored."""
    if not a.word:
        return [_usage("/join #room [key]")]
    room = a.word if a.word.startswith("#") else "#" + a.word
    if " " in a.tail:
        return [c.Invalid("room_invalid", "Room names cannot contain spaces; "
                          "to join a room with a key: /join #room KEY")]
    return [c.Join(room, a.tail or None, strict_key=True)]


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


#: Room mode letters that take an argument, and what it is (``l`` only when set; ``-k`` gets
#: ``*`` when no key is typed).
_MODE_ARGUMENTS = {"o": "NICK", "v": "NICK", "b": "MASK", "k": "KEY", "l": "LIMIT"}


def _mode(a: Args) -> list[Decoded]:
    args = a.rest.split()
    target = None
    if args and not args[0].startswith(("+", "-")):
        target = args.pop(0)
    if not args:
        return [c.Mode(target, "", ())]
    modes, params = args[0], args[1:]
    if target is None or target.startswith("#"):
        problem = _mode_arguments(modes, params)
        if problem is not None:
            return [problem]
    return [c.Mode(target, modes, tuple(params))]


def _mode_arguments(modes: str, params: list[str]) -> c.Invalid | None:
    """Check (and complete) the arguments of a room mode change, as a person types it.

    IRC quietly skips a letter whose argument is missing; a person would hear nothing at all,
    so here it is a usage error. ``-k`` needs no key (the core asks for one: ``*`` serves), and
    ``+b`` alone still lists the bans.
    """
    adding, used = True, 0
    for char in modes:
        if char in "+-":
            adding = char == "+"
            continue
        what = _MODE_ARGUMENTS.get(char)
        if what is None or (char == "l" and not adding):
            continue
        if char == "k" and not adding:
            if used == len(params):
                params.append("*")
            used += 1
            continue
        if used == len(params):
            if char == "b":
                continue
            sign = "+" if adding else "-"
            return _usage(f"/mode [#room] {sign}{char} {what}")
        if char == "l" and not (params[used].isdigit() and int(params[used][:9]) > 0):
            return _usage("/mode [#room] +l LIMIT (a number of members; -l removes the limit)")
        used += 1
    return None


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
    "join": _join, "j": _join,
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
