"""IRC dialect: standard IRC clients (irssi, weechat, ii, ...) on the same port as everyone else.

The client side of RFC 1459/2812 as the Modern IRC client protocol document describes it, plus
the IRCv3 capabilities most clients ask for. Only wire concerns live here: line parsing, CAP
negotiation, collecting PASS/NICK/USER before registration, numerics and message splitting.
Every chat rule (who may join, speak, kick, set modes) is the core's; this module only turns
IRC lines into core commands and core events into IRC lines.

The commands sent to the core carry the IRC verb as ``ref``; the core echoes ``ref`` on errors,
which lets one core error code become the numeric IRC expects for that command (``not_in_room``
is 404 for PRIVMSG but 442 for PART) and lets errors to NOTICE be dropped, as RFC 2812 requires.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from chat import __version__
from chat.config import ServerConfig
from chat.core import commands as c
from chat.core import events as e
from chat.core.model import User
from chat.core.modes import MAX_BANS, MAX_MODE_ARGS
from chat.core.names import fold, unencodable
from chat.dialects.base import UNENCODABLE_TEXT, Decoded, Dialect
from chat.dialects.render import describe
from chat.dialects.structured import iso_time

#: IRCv3 capabilities offered in ``CAP LS``.
CAPS = ("away-notify", "echo-message", "message-tags", "multi-prefix", "server-time",
        "userhost-in-names")
LINE = 512  # bytes per line, CRLF included, tags excluded
TAGS = 8191  # bytes of tags in front of a line, as message-tags allows
MAX_TARGETS = 4  # comma-separated targets per PRIVMSG/NOTICE/KICK (TARGMAX)
MAX_JOINS = 20  # rooms per JOIN/PART/NAMES line
_VERBS_OPENING = {b"CAP", b"NICK", b"USER", b"PASS"}
_STARTED = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
_ACTION = "\x01ACTION "


#: Core error code -> IRC numeric. The ``subject`` (and ``room``) of the error fill the
#: numeric's parameters; see :meth:`IrcDialect._error`.
NUMERICS = {
    "not_registered": "451",
    "already_registered": "462",
    "nick_invalid": "432",
    "nick_taken": "433",
    "room_invalid": "403",
    "no_such_nick": "401",
    "no_such_room": "403",
    "not_in_room": "442",
    "cannot_send": "404",
    "empty_message": "412",
    "message_too_long": "417",
    "topic_too_long": "417",
    "line_too_long": "417",
    "too_many_rooms": "405",
    "room_full": "471",
    "invite_only": "473",
    "banned": "474",
    "bad_key": "475",
    "not_op": "482",
    "user_not_in_room": "441",
    "user_in_room": "443",
    "unknown_mode": "472",
    "list_full": "478",
    "unknown_user_mode": "501",
    "users_dont_match": "502",
    "unknown_command": "421",
    "too_many_matches": "416",
    "mask_too_long": "416",
}
#: Numerics whose parameters are ``<subject> <room>`` rather than just ``<subject>``.
_TWO_SUBJECTS = {"441", "443", "478"}


def parse(text: str) -> tuple[str, list[str]]:
    """An IRC line (tags already removed) as (upper-case verb, params); trailing is the last."""
    if text.startswith(":"):  # a prefix from a client means nothing; ignore it
        text = text.partition(" ")[2]
    text = text.lstrip(" ")
    trailing: str | None = None
    if text.startswith(":"):
        return "", []
    head, sep, tail = text.partition(" :")
    if sep:
        trailing = tail
    words = head.split()
    if not words:
        return "", []
    params = words[1:15]
    if trailing is not None:
        params.append(trailing)
    return words[0].upper(), params


def split_utf8(text: str, budget: int) -> list[str]:
    """``text`` in pieces of at most ``budget`` UTF-8 bytes, cut at spaces where it is sensible,
    never inside a character."""
    data = text.encode("utf-8")
    budget = max(budget, 16)
    pieces: list[str] = []
    while len(data) > budget:
        cut = budget
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # continuation byte: back up
            cut -= 1
        space = data.rfind(b" ", 0, cut + 1)
        if space > budget // 2:
            pieces.append(data[:space].decode("utf-8"))
            data = data[space + 1:]
        else:
            pieces.append(data[:cut].decode("utf-8"))
            data = data[cut:]
    if data or not pieces:
        pieces.append(data.decode("utf-8"))
    return pieces


def _host(host: str) -> str:
    # An IPv6 address like ::1 would start a trailing parameter; ircds write it as 0::1.
    return "0" + host if host.startswith(":") else host


def _mask(source: e.Source) -> str:
    return f"{source.nick}!{source.ident or source.nick}@{_host(source.host)}"


def _clip(line: str, limit: int = LINE - 2) -> str:
    """Cut a line (tags excluded) to ``limit`` UTF-8 bytes without splitting a character."""
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    return data[:limit].decode("utf-8", "ignore")


class IrcDialect(Dialect):
    """One IRC client: registration and capabilities here, everything else through the core."""

    name = "irc"
    __slots__ = ("_capkey", "_got_user", "_ident", "_negotiating", "_realname", "_want_nick",
                 "caps", "server")
    _COMMANDS: ClassVar[dict[str, str]] = {
        "NICK": "_nick", "USER": "_already", "PASS": "_already", "CAP": "_cap",
        "PING": "_ping", "PONG": "_pong", "QUIT": "_quit", "JOIN": "_join", "PART": "_part",
        "PRIVMSG": "_privmsg", "NOTICE": "_privmsg", "NAMES": "_names", "TOPIC": "_topic",
        "LIST": "_list", "WHO": "_who", "WHOIS": "_whois", "WHOWAS": "_whowas", "AWAY": "_away",
        "ISON": "_ison", "USERHOST": "_userhost", "KICK": "_kick", "INVITE": "_invite",
        "MODE": "_mode", "MOTD": "_motd", "VERSION": "_version", "TIME": "_time",
        "TAGMSG": "_ignore", "OPER": "_oper", "LUSERS": "_lusers",
    }

    def __init__(self, config: ServerConfig, user: User) -> None:
        super().__init__(config, user)
        self.server = config.name
        self.caps: set[str] | frozenset[str] = frozenset()  # a set once a CAP REQ is acked
        self._capkey: tuple[str, ...] = ()
        self._negotiating = False  # CAP LS/REQ seen, END not yet: registration waits
        self._want_nick = ""
        self._ident = ""
        self._realname = ""
        self._got_user = False

    # -- detection and framing ------------------------------------------------------------

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        words = first_line.split(None, 1)
        return bool(words) and words[0].upper() in _VERBS_OPENING

    @classmethod
    def max_line(cls, config: ServerConfig) -> int:
        return LINE + TAGS

    def line_too_long(self, limit: int) -> list[Decoded]:
        return [self._num("417", text="Input line was too long")]

    # -- small output helpers --------------------------------------------------------------

    @property
    def _me(self) -> str:
        return self.user.nick or "*"

    def _num(self, code: str, *params: str, text: str | None = None) -> bytes:
        """A numeric reply addressed to this client (so never shared with another)."""
        middle = " ".join((self._me, *params))
        line = f":{self.server} {code} {middle}" + (f" :{text}" if text is not None else "")
        return (_clip(line) + "\r\n").encode("utf-8")

    def _server_line(self, rest: str) -> bytes:
        return (_clip(f":{self.server} {rest}") + "\r\n").encode("utf-8")

    def _tags(self, event: e.Event, msgid: str | None = None) -> str:
        tags = []
        if "server-time" in self.caps:
            tags.append(f"time={iso_time(event.ts)}")
        if msgid is not None and "message-tags" in self.caps:
            tags.append(f"msgid={msgid}")
        return f"@{';'.join(tags)} " if tags else ""

    def _from(self, event: e.Event, rest: str, msgid: str | None = None) -> bytes:
        """A line caused by ``event.source`` (or the server), with the tags this client wants."""
        prefix = _mask(event.source) if event.source else self.server
        line = _clip(f":{prefix} {rest}")
        return (self._tags(event, msgid) + line + "\r\n").encode("utf-8")

    # -- input -----------------------------------------------------------------------------

    def decode(self, line: bytes) -> list[Decoded]:
        if line.startswith(b"@"):
            tags, _, line = line.partition(b" ")
            if len(tags) > TAGS:
                return [self._num("417", text="Input line was too long")]
        if len(line) > LINE - 2:
            return [self._num("417", text="Input line was too long")]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("latin-1")  # old clients in legacy encodings: don't lose them
        if unencodable(text):
            return [c.Invalid("bad_encoding", UNENCODABLE_TEXT)]
        verb, params = parse(text)
        if not verb:
            return []
        if not self.user.registered:
            return self._unregistered(verb, params)
        handler = self._COMMANDS.get(verb)
        if handler is None:
            return [self._num("421", verb, text="Unknown command")]
        result: list[Decoded] = getattr(self, handler)(verb, params)
        return result

    def _need(self, verb: str) -> bytes:
        return self._num("461", verb, text="Not enough parameters")

    # registration ----------------------------------------------------------------------

    def _unregistered(self, verb: str, params: list[str]) -> list[Decoded]:
        if verb == "CAP":
            return self._cap(verb, params)
        if verb == "PASS":
            return [] if params else [self._need(verb)]  # no server password: any is fine
        if verb == "NICK":
            if not params or not params[0]:
                return [self._num("431", text="No nickname given")]
            self._want_nick = params[0]
            return self._try_register()
        if verb == "USER":
            if len(params) < 4 or not params[0]:
                return [self._need(verb)]
            if self._got_user:
                return [self._num("462", text="You may not reregister")]
            self._ident, self._realname, self._got_user = params[0], params[3], True
            return self._try_register()
        if verb == "PING":
            return self._ping(verb, params, direct=True)
        if verb == "PONG":
            return []
        if verb == "QUIT":
            return self._quit(verb, params)
        return [self._num("451", text="You have not registered")]

    def _try_register(self) -> list[Decoded]:
        """Register once NICK and USER are in and CAP negotiation (if any) has ended.

        After a 433 the client is still unregistered, so its next NICK lands here again.
        """
        if self._want_nick and self._got_user and not self._negotiating:
            return [c.Register(self._want_nick, self._ident, self._realname, ref="NICK")]
        return []

    def _cap(self, verb: str, params: list[str]) -> list[Decoded]:
        sub = params[0].upper() if params else ""
        registered = self.user.registered
        if sub == "LS":
            if not registered:
                self._negotiating = True
            return [self._server_line(f"CAP {self._me} LS :{' '.join(CAPS)}")]
        if sub == "LIST":
            return [self._server_line(f"CAP {self._me} LIST :{' '.join(sorted(self.caps))}")]
        if sub == "REQ":
            if not registered:
                self._negotiating = True
            asked = params[1] if len(params) > 1 else ""
            names = asked.split()
            if not names or any(n.removeprefix("-") not in CAPS for n in names):
                return [self._server_line(f"CAP {self._me} NAK :{asked}")]
            if not isinstance(self.caps, set):
                self.caps = set()
            for n in names:  # all or nothing, as CAP 302 requires
                if n.startswith("-"):
                    self.caps.discard(n[1:])
                else:
                    self.caps.add(n)
            self._capkey = tuple(sorted(self.caps))
            return [self._server_line(f"CAP {self._me} ACK :{asked}")]
        if sub == "END":
            if registered:
                return []
            self._negotiating = False
            return self._try_register()
        return [self._num("410", sub or "*", text="Invalid CAP command")]

    # after registration ----------------------------------------------------------------

    def _already(self, verb: str, params: list[str]) -> list[Decoded]:
        return [self._num("462", text="You may not reregister")]

    def _ignore(self, verb: str, params: list[str]) -> list[Decoded]:
        return []  # TAGMSG carries only client tags (typing...), which this server drops

    def _nick(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params or not params[0]:
            return [self._num("431", text="No nickname given")]
        return [c.ChangeNick(params[0], ref=verb)]

    def _ping(self, verb: str, params: list[str], direct: bool = False) -> list[Decoded]:
        if not params:
            return [self._num("409", text="No origin specified")]
        if direct:
            return [self._server_line(f"PONG {self.server} :{params[-1]}")]
        return [c.Ping(params[-1][:64], ref=verb)]

    def _pong(self, verb: str, params: list[str]) -> list[Decoded]:
        return [c.Pong(params[-1][:64] if params else "", ref=verb)]

    def _quit(self, verb: str, params: list[str]) -> list[Decoded]:
        return [c.Quit(params[0] if params else "", ref=verb)]

    def _join(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params or not params[0]:
            return [self._need(verb)]
        if params[0] == "0":  # JOIN 0: leave every room
            return [c.Part(room.name, "", ref="PART") for room in list(self.user.rooms.values())]
        keys = params[1].split(",") if len(params) > 1 else []
        out: list[Decoded] = []
        for i, room in enumerate(params[0].split(",")[:MAX_JOINS]):
            if not room or fold(room) in self.user.rooms:
                continue  # already there: IRC servers say nothing
            out.append(c.Join(room, keys[i] if i < len(keys) and keys[i] else None, ref=verb))
        return out

    def _part(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params or not params[0]:
            return [self._need(verb)]
        reason = params[1] if len(params) > 1 else ""
        return [c.Part(room, reason, ref=verb) for room in params[0].split(",")[:MAX_JOINS]
                if room]

    def _privmsg(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params or not params[0]:
            return [self._num("411", text=f"No recipient given ({verb})")]
        if len(params) < 2 or not params[1]:
            return [self._num("412", text="No text to send")]
        text = params[1]
        kind: c.MessageKind = "notice" if verb == "NOTICE" else "message"
        if text.startswith("\x01"):
            inner = text.strip("\x01")
            if inner.upper().startswith("ACTION"):
                kind, text = "action", inner[7:] or " "
            else:
                # Other CTCP (VERSION, PING, DCC) is client-to-client machinery the other
                # dialects cannot carry; it is dropped, as many networks do.
                return []
        return [c.Say(target, text, kind, ref=verb)
                for target in params[0].split(",")[:MAX_TARGETS] if target]

    def _names(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params or not params[0]:
            return [self._num("366", "*", text="End of /NAMES list")]
        return [c.ListMembers(room, ref=verb) for room in params[0].split(",")[:MAX_JOINS]
                if room]

    def _topic(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params:
            return [self._need(verb)]
        if len(params) < 2:
            return [c.SetTopic(params[0], None, ref=verb)]
        # IRC servers cut over-long topics to TOPICLEN rather than refuse them.
        return [c.SetTopic(params[0], params[1][: self.config.limits.topic_len], ref=verb)]

    def _list(self, verb: str, params: list[str]) -> list[Decoded]:
        names = tuple(n for n in params[0].split(",") if n.startswith("#")) if params else ()
        return [c.ListRooms(ref=verb, names=names)]

    def _who(self, verb: str, params: list[str]) -> list[Decoded]:
        return [c.Who(params[0] if params else "*", ref=verb)]

    def _whois(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params or not params[-1]:
            return [self._num("431", text="No nickname given")]
        nick = params[-1].split(",")[0]  # WHOIS [server] nick: the nick is last
        return [c.Whois(nick, ref=verb)]

    def _whowas(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params:
            return [self._need(verb)]
        return [self._num("406", params[0], text="There was no such nickname"),
                self._num("369", params[0], text="End of WHOWAS")]

    def _away(self, verb: str, params: list[str]) -> list[Decoded]:
        return [c.Away(params[0] if params else "", ref=verb)]

    def _ison(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params:
            return [self._need(verb)]
        return [c.Lookup(tuple(" ".join(params).split()), ref=verb)]

    def _userhost(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params:
            return [self._need(verb)]
        return [c.Lookup(tuple(params[:5]), ref=verb)]

    def _kick(self, verb: str, params: list[str]) -> list[Decoded]:
        if len(params) < 2:
            return [self._need(verb)]
        reason = params[2] if len(params) > 2 else ""
        return [c.Kick(params[0], nick, reason, ref=verb)
                for nick in params[1].split(",")[:MAX_TARGETS] if nick]

    def _invite(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params:
            return [self._num("337", text="End of /INVITE list")]
        if len(params) < 2:
            return [self._need(verb)]
        return [c.Invite(params[0], params[1], ref=verb)]

    def _mode(self, verb: str, params: list[str]) -> list[Decoded]:
        if not params:
            return [self._need(verb)]
        modes = params[1] if len(params) > 1 else ""
        return [c.Mode(params[0], modes, tuple(params[2:]), ref=verb)]

    def _motd(self, verb: str, params: list[str]) -> list[Decoded]:
        return [self._motd_lines()]

    def _version(self, verb: str, params: list[str]) -> list[Decoded]:
        return [self._num("351", f"chat-{__version__}", self.server, text=""), self._isupport()]

    def _time(self, verb: str, params: list[str]) -> list[Decoded]:
        now = time.strftime("%A %B %d %Y -- %H:%M:%S UTC", time.gmtime())
        return [self._num("391", self.server, text=now)]

    def _oper(self, verb: str, params: list[str]) -> list[Decoded]:
        return [self._num("491", text="No server operators on this server")]

    def _lusers(self, verb: str, params: list[str]) -> list[Decoded]:
        return [self._num("255", text="I have clients and no other servers")]

    # -- output ----------------------------------------------------------------------------

    #: Events sent to many connections: encoded once per (capabilities, is-the-source) variant.
    _SHARED = (e.Message, e.Joined, e.Parted, e.Quitted, e.NickChanged, e.Kicked, e.ModeChanged,
               e.Invited, e.PingRequest)

    own_differs = True  # no copy of one's own message without echo-message

    @property
    def variant(self) -> tuple[str, tuple[str, ...]]:
        """Room messages differ between connections only by capabilities (and is-the-sender)."""
        return ("irc", self._capkey)

    def encode(self, event: e.Event, cache: dict[Any, bytes | None]) -> bytes | None:
        shared = isinstance(event, self._SHARED) or (
            isinstance(event, e.Topic | e.AwayStatus) and event.changed)
        if not shared:
            return self._render(event, False)
        is_self = event.source is not None and event.source.nick == self.user.nick
        key = ("irc", self._capkey, is_self)
        if key in cache:
            return cache[key]
        data = cache[key] = self._render(event, is_self)
        return data

    def _render(self, event: e.Event, is_self: bool) -> bytes | None:
        handler = _RENDER.get(type(event))
        if handler is None:
            return self._server_line(f"NOTICE {self._me} :{describe(event)}")
        result: bytes | None = handler(self, event, is_self)
        return result

    def _message(self, event: e.Message, is_self: bool) -> bytes | None:
        private = event.room is None
        if is_self and "echo-message" not in self.caps and not (
                private and fold(event.target) == fold(self.user.nick)):
            return None  # IRC clients show what they sent themselves, unless they asked
        assert event.source is not None
        verb = "NOTICE" if event.kind == "notice" else "PRIVMSG"
        target = event.target if private else event.room
        head = f":{_mask(event.source)} {verb} {target} :"
        budget = LINE - 2 - len(head.encode("utf-8"))
        if event.kind == "action":
            budget -= len(_ACTION) + 1
        pieces = split_utf8(event.text, budget)
        out = []
        for i, piece in enumerate(pieces):
            if event.kind == "action":
                piece = f"{_ACTION}{piece}\x01"
            msgid = event.id if i == 0 else f"{event.id}.{i}"
            out.append(f"{self._tags(event, msgid)}{head}{piece}\r\n")
        return "".join(out).encode("utf-8")

    def _welcome(self, event: e.Welcome, is_self: bool) -> bytes:
        u = self.user
        who = f"{u.nick}!{u.ident}@{_host(u.host)}"
        lines = [
            self._num("001", text=f"Welcome to the {self.server} IRC network, {who}"),
            self._num("002", text=f"Your host is {self.server}, running chat-{__version__}"),
            self._num("003", text=f"This server was created {_STARTED}"),
            self._num("004", self.server, f"chat-{__version__}", "iw", "biklmnotv", "bklov"),
            self._isupport(),
            self._motd_lines(),
        ]
        return b"".join(lines)

    def _isupport(self) -> bytes:
        lim = self.config.limits
        tokens = [
            f"AWAYLEN={lim.reason_len}", "CASEMAPPING=ascii",
            *([f"CHANLIMIT=#:{lim.max_rooms_per_user}"] if lim.max_rooms_per_user else []),
            "CHANMODES=b,k,l,imnt", f"CHANNELLEN={lim.room_len}", "CHANTYPES=#",
            f"KICKLEN={lim.reason_len}", f"MAXLIST=b:{MAX_BANS}", f"MODES={MAX_MODE_ARGS}",
            f"NETWORK={self.server}", f"NICKLEN={lim.nick_len}", "PREFIX=(ov)@+",
            f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},KICK:{MAX_TARGETS},"
            f"JOIN:{MAX_JOINS},PART:{MAX_JOINS},NAMES:{MAX_JOINS},WHOIS:1",
            f"TOPICLEN={lim.topic_len}", "USERLEN=16",
        ]
        # At most 13 tokens per 005 line, as clients parse it.
        return b"".join(self._num("005", *tokens[i:i + 13], text="are supported by this server")
                        for i in range(0, len(tokens), 13))

    def _motd_lines(self) -> bytes:
        motd = self.config.motd
        if not motd:
            return self._num("422", text="MOTD File is missing")
        lines = [self._num("375", text=f"- {self.server} Message of the day - ")]
        lines += [self._num("372", text=f"- {line}") for line in motd.splitlines()]
        lines.append(self._num("376", text="End of /MOTD command."))
        return b"".join(lines)

    def _error(self, event: e.Error, is_self: bool) -> bytes | None:
        verb = event.ref if isinstance(event.ref, str) else ""
        if verb == "NOTICE":
            return None  # RFC 2812: a NOTICE never causes an automatic reply, errors included
        code = NUMERICS.get(event.code)
        subject = event.subject or "*"
        if code is None:
            return self._server_line(f"NOTICE {self._me} :{event.text}")
        if code == "442" and verb == "PRIVMSG":
            code = "404"  # talking in a room one is not in: "cannot send to channel"
        if code == "403" and verb == "NAMES" and event.code == "no_such_room":
            return self._num("366", subject, text="End of /NAMES list")
        if code in ("412", "417", "451", "462", "501", "502"):
            return self._num(code, text=event.text)
        if code in _TWO_SUBJECTS:
            data = self._num(code, subject, event.room or "*", text=event.text)
        else:
            data = self._num(code, subject, text=event.text)
        if verb == "WHOIS" and code == "401":
            data += self._num("318", subject, text="End of /WHOIS list")
        elif verb == "WHO" and code == "416":
            data += self._num("315", "*", text="End of /WHO list")
        return data

    def _names_lines(self, event: e.MemberList) -> bytes:
        multi = "multi-prefix" in self.caps
        full = "userhost-in-names" in self.caps
        names = []
        for m in event.members:
            prefix = ("@" if m.op else "") + ("+" if m.voice else "")
            if not multi:
                prefix = prefix[:1]
            who = f"{m.nick}!{m.ident or m.nick}@{_host(m.host)}" if full else m.nick
            names.append(prefix + who)
        head = f":{self.server} 353 {self._me} = {event.room} :"
        budget = LINE - 2 - len(head.encode("utf-8"))
        out, line = [], ""
        for name in names:
            if line and len(line) + 1 + len(name) > budget:
                out.append(f"{head}{line}\r\n".encode())
                line = ""
            line = f"{line} {name}" if line else name
        if line:
            out.append(f"{head}{line}\r\n".encode())
        out.append(self._num("366", event.room or "*", text="End of /NAMES list"))
        return b"".join(out)

    def _topic_line(self, event: e.Topic, is_self: bool) -> bytes:
        if event.changed:
            return self._from(event, f"TOPIC {event.room} :{event.topic}")
        room = event.room or "*"
        if not event.topic:
            return self._num("331", room, text="No topic is set")
        return (self._num("332", room, text=event.topic)
                + self._num("333", room, event.set_by or self.server, str(int(event.set_at))))

    def _room_list(self, event: e.RoomList, is_self: bool) -> bytes:
        lines = [self._num("321", "Channel", text="Users  Name")]
        lines += [self._num("322", r.name, str(r.members), text=r.topic) for r in event.rooms]
        lines.append(self._num("323", text="End of /LIST"))
        return b"".join(lines)

    def _mode_changed(self, event: e.ModeChanged, is_self: bool) -> bytes:
        modes, args = e.mode_string(event.changes)
        if not event.target.startswith("#"):
            return self._from(event, f"MODE {event.target} :{modes}")
        return self._from(event, " ".join(("MODE", event.target, modes, *args)))

    def _mode_info(self, event: e.ModeInfo, is_self: bool) -> bytes:
        if not event.target.startswith("#"):
            return self._num("221", event.modes)
        return (self._num("324", event.target, event.modes, *event.args)
                + self._num("329", event.target, str(int(event.created))))

    def _ban_list(self, event: e.BanList, is_self: bool) -> bytes:
        room = event.room or "*"
        lines = [self._num("367", room, b.mask, b.set_by, str(int(b.set_at))) for b in event.bans]
        lines.append(self._num("368", room, text="End of channel ban list"))
        return b"".join(lines)

    def _away_status(self, event: e.AwayStatus, is_self: bool) -> bytes | None:
        if not event.changed:
            return self._num("301", event.nick, text=event.text)
        if is_self:
            if event.text:
                return self._num("306", text="You have been marked as being away")
            return self._num("305", text="You are no longer marked as being away")
        if "away-notify" not in self.caps:
            return None
        return self._from(event, f"AWAY :{event.text}" if event.text else "AWAY")

    def _whois_reply(self, event: e.WhoisReply, is_self: bool) -> bytes:
        u = event.user
        lines = [self._num("311", u.nick, u.ident, _host(u.host), "*", text=u.realname)]
        if event.rooms:
            multi = "multi-prefix" in self.caps
            rooms = []
            for r in event.rooms:
                prefix = ("@" if r.op else "") + ("+" if r.voice else "")
                rooms.append((prefix if multi else prefix[:1]) + r.room)
            lines.append(self._num("319", u.nick, text=" ".join(rooms)))
        lines.append(self._num("312", u.nick, event.server, text="chat server"))
        if u.away:
            lines.append(self._num("301", u.nick, text=u.away))
        lines.append(self._num("317", u.nick, str(event.idle), str(int(event.signon)),
                               text="seconds idle, signon time"))
        lines.append(self._num("318", u.nick, text="End of /WHOIS list"))
        return b"".join(lines)

    def _who_reply(self, event: e.WhoReply, is_self: bool) -> bytes:
        multi = "multi-prefix" in self.caps
        lines = []
        for u in event.users:
            prefix = ("@" if u.op else "") + ("+" if u.voice else "")
            flags = ("G" if u.away else "H") + (prefix if multi else prefix[:1])
            lines.append(self._num("352", u.room or "*", u.ident, _host(u.host), self.server,
                                   u.nick, flags, text=f"0 {u.realname}"))
        lines.append(self._num("315", event.mask, text="End of /WHO list"))
        return b"".join(lines)

    def _presence(self, event: e.Presence, is_self: bool) -> bytes:
        if event.ref == "USERHOST":
            replies = " ".join(f"{u.nick}={'-' if u.away else '+'}{u.ident}@{_host(u.host)}"
                               for u in event.users)
            return self._num("302", text=replies)
        return self._num("303", text=" ".join(u.nick for u in event.users))

    def _invited(self, event: e.Invited, is_self: bool) -> bytes:
        if is_self:
            return self._num("341", event.target, event.room or "*")
        return self._from(event, f"INVITE {event.target} {event.room}")


_RENDER: dict[type, Any] = {
    e.Message: IrcDialect._message,
    e.Welcome: IrcDialect._welcome,
    e.Error: IrcDialect._error,
    e.Joined: lambda self, ev, s: self._from(ev, f"JOIN {ev.room}"),
    e.Parted: lambda self, ev, s: self._from(
        ev, f"PART {ev.room} :{ev.reason}" if ev.reason else f"PART {ev.room}"),
    e.Quitted: lambda self, ev, s: self._from(ev, f"QUIT :{ev.reason}"),
    e.NickChanged: lambda self, ev, s: self._from(ev, f"NICK :{ev.new_nick}"),
    e.Kicked: lambda self, ev, s: self._from(ev, f"KICK {ev.room} {ev.target} :{ev.reason}"),
    e.Topic: IrcDialect._topic_line,
    e.MemberList: lambda self, ev, s: self._names_lines(ev),
    e.RoomList: IrcDialect._room_list,
    e.ModeChanged: IrcDialect._mode_changed,
    e.ModeInfo: IrcDialect._mode_info,
    e.BanList: IrcDialect._ban_list,
    e.AwayStatus: IrcDialect._away_status,
    e.WhoisReply: IrcDialect._whois_reply,
    e.WhoReply: IrcDialect._who_reply,
    e.Presence: IrcDialect._presence,
    e.Invited: IrcDialect._invited,
    e.PongReply: lambda self, ev, s: self._server_line(f"PONG {self.server} :{ev.token}"),
    e.PingRequest: lambda self, ev, s: f"PING :{ev.token}\r\n".encode(),
    e.Notice: lambda self, ev, s: self._server_line(f"NOTICE {self._me} :{ev.text}"),
    e.Disconnect: lambda self, ev, s: (
        f"ERROR :Closing Link: {_host(self.user.host)} ({ev.reason})\r\n".encode()),
}
