"""Registration: PASS/NICK/USER, CAP negotiation, and the welcome burst (001-005 and the MOTD).

Before registration only the verbs in ``BEFORE`` are understood; the core hears nothing until
NICK and USER are both in and CAP negotiation (if the client started one) has ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chat import __version__
from chat.core import commands as c
from chat.core import events as e
from chat.core.history import MAX_PAGE
from chat.core.modes import (
    FLAG_MODES,
    KEY_MODES,
    LIMIT_MODES,
    LIST_MODES,
    MAX_MODE_ARGS,
    ROOM_MODES,
    STATUS_MODES,
    USER_MODES,
)
from chat.core.monitor import MAX_MONITOR
from chat.core.people import REALNAME_LEN
from chat.dialects.base import Decoded
from chat.dialects.irc.accounts import MECHANISMS, authenticate, register, sasl_at_cap_end
from chat.dialects.irc.listing import ISUPPORT as FEATURE_TOKENS
from chat.dialects.irc.listing import MAXLIST
from chat.dialects.irc.numerics import AccountRef, need_params
from chat.dialects.irc.server import created, lusers
from chat.dialects.irc.syntax import host, parse

if TYPE_CHECKING:
    from chat.config import ServerConfig
    from chat.dialects.irc.dialect import IrcDialect

#: An input handler: (dialect, upper-case verb, params) -> what ``decode`` returns.
Handler = Callable[["IrcDialect", str, list[str]], list[Decoded]]

#: IRCv3 capabilities offered in ``CAP LS``.
CAPS = ("account-notify", "account-tag", "away-notify", "batch", "draft/account-registration",
        "draft/chathistory", "draft/event-playback", "echo-message", "extended-join",
        "extended-monitor", "invite-notify", "labeled-response", "message-tags",
        "multi-prefix", "sasl", "server-time", "setname", "userhost-in-names")
#: Values of capabilities, listed to clients that said ``CAP LS 302``. The account-registration
#: draft gets none: no ``before-connect`` (REGISTER needs a registered connection), no
#: ``email-required``, no ``custom-account-name``.
CAP_VALUES = {"sasl": "sasl=" + ",".join(MECHANISMS)}
#: First words that mark a connection as an IRC client.
OPENING = {b"CAP", b"NICK", b"USER", b"PASS"}
#: How many parameters each opening verb takes, as clients send it (CAP: by subcommand).
_OPENING_PARAMS = {"NICK": (1,), "USER": (4,), "PASS": (1,)}
_CAP_PARAMS = {"LS": (1, 2), "LIST": (1,), "REQ": (2,), "END": (1,)}
MAX_TARGETS = 4  # comma-separated targets per PRIVMSG/NOTICE/KICK (TARGMAX)
MAX_JOINS = 20  # rooms per JOIN/PART/NAMES line


def opens_registration(line: str) -> bool:
    """True if ``line`` is an IRC client's first line: an opening verb with the parameters it
    takes (``NICK alice``, ``USER a 0 * :Real Name``, ``PASS x``, ``CAP LS 302``).

    The verb alone is not enough: a person asked for a nickname may well answer
    ``nick is what I want``, and taken for an IRC client would hear nothing more.
    """
    verb, params = parse(line)
    if verb == "CAP":
        sub = params[0].upper() if params else ""
        return len(params) in _CAP_PARAMS.get(sub, ()) and (
            sub != "LS" or len(params) == 1 or params[1].isdigit())
    counts = _OPENING_PARAMS.get(verb)
    if counts is None or len(params) not in counts or not params[0]:
        return False
    return verb != "NICK" or " " not in params[0]  # "NICK :is what I want" is prose too


def plain_text_hint(config: ServerConfig) -> str:
    """What a person who reached IRC by mistake (typing words on an IRC-only port) should
    read: how an IRC client registers, and which port takes plain-text chat, if one does."""
    text = ("This connection speaks IRC: use an IRC client, or register by hand with "
            "NICK yourname then USER yourname 0 * :Your Name.")
    plain = next((listener.port for listener in config.all_listeners()
                  if listener.dialect in (None, "human") and not listener.tls and listener.port),
                 None)
    if plain is not None:
        text += f" For plain-text chat (telnet, nc), connect to port {plain} instead."
    return text


def try_register(d: IrcDialect) -> list[Decoded]:
    """Register once NICK and USER are in and CAP negotiation (if any) has ended.

    After a 433 the client is still unregistered, so its next NICK lands here again.
    """
    if d.want_nick and d.got_user and not d.negotiating:
        out: list[Decoded] = [c.Register(d.want_nick, d.ident, d.realname, ref="NICK")]
        if d.pass_login is not None:  # PASS account:password, once
            account, password = d.pass_login
            d.pass_login = None
            if not d.user.account:
                out.append(c.Login(account, password, ref=AccountRef("PASS")))
        return out
    return []


def cap(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """CAP LS/LIST/REQ/END, before registration (which it holds back) and after."""
    sub = params[0].upper() if params else ""
    registered = d.user.registered
    if sub == "LS":
        if not registered:
            d.negotiating = True
        if len(params) > 1 and params[1].isdigit() and int(params[1][:6]) >= 302:
            d.cap302 = True
        offered = [CAP_VALUES.get(n, n) for n in CAPS] if d.cap302 else CAPS
        return [d.server_line(f"CAP {d.me} LS :{' '.join(offered)}")]
    if sub == "LIST":
        return [d.server_line(f"CAP {d.me} LIST :{' '.join(sorted(d.caps))}")]
    if sub == "REQ":
        if not registered:
            d.negotiating = True
        asked = params[1] if len(params) > 1 else ""
        names = asked.split()
        if not names or any(n.removeprefix("-") not in CAPS for n in names):
            return [d.server_line(f"CAP {d.me} NAK :{asked}")]
        d.set_caps(names)  # all or nothing, as CAP 302 requires
        return [d.server_line(f"CAP {d.me} ACK :{asked}")]
    if sub == "END":
        if registered:
            return []
        d.negotiating = False
        return [*sasl_at_cap_end(d), *try_register(d)]
    return [d.num("410", sub or "*", text="Invalid CAP command")]


def _pass(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """No server password: any is fine. ``account:password`` logs in once registered (as
    NickServ-style auto-identify); a bare password is ignored, as it always was."""
    if not params:
        return [need_params(d, verb)]
    account, colon, password = params[0].partition(":")
    d.pass_login = (account, password) if colon and account and password else None
    return []


def _nick(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [d.num("431", text="No nickname given")]
    d.want_nick = params[0]
    return try_register(d)


def _user(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if len(params) < 4 or not params[0] or not params[3]:
        return [need_params(d, verb)]  # an empty user name or real name too
    if d.got_user:
        return [d.num("462", text="You may not reregister")]
    d.ident, d.realname, d.got_user = params[0], params[3], True
    return try_register(d)


def _ping(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [d.num("409", text="No origin specified")]
    return [d.server_line(f"PONG {d.server} :{params[-1]}")]  # the core does not know us yet


def quit_server(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """QUIT, before or after registration: the core closes the connection."""
    return [c.Quit(params[0] if params else "", ref=verb)]


#: Verb -> handler before registration; any other verb gets 451.
BEFORE: dict[str, Handler] = {
    "CAP": cap,
    "PASS": _pass,
    "NICK": _nick,
    "USER": _user,
    "PING": _ping,
    "PONG": lambda d, verb, params: [],
    "QUIT": quit_server,
    "AUTHENTICATE": authenticate,
    "REGISTER": register,  # answered FAIL REGISTER COMPLETE_CONNECTION_REQUIRED
}


# -- the welcome burst -------------------------------------------------------------------

def welcome(d: IrcDialect, event: e.Welcome, is_self: bool) -> bytes:
    """001-004, ISUPPORT and the MOTD, once the core has registered the client."""
    u = d.user
    who = f"{u.nick}!{u.ident}@{host(u.host)}"
    lines = [
        d.num("001", text=f"Welcome to the {d.server} IRC network, {who}"),
        d.num("002", text=f"Your host is {d.server}, running chat-{__version__}"),
        d.num("003", text=f"This server was created {created(event.started)}"),
        d.num("004", d.server, f"chat-{__version__}", USER_MODES + "o", "".join(sorted(ROOM_MODES)),
              "".join(sorted(LIST_MODES + KEY_MODES + LIMIT_MODES + STATUS_MODES))),
        isupport(d),
        *([lusers(d, event.counts)] if event.counts is not None else []),
        motd(d),
    ]
    return b"".join(lines)


def isupport(d: IrcDialect) -> bytes:
    """005 lines: what this server supports and its limits."""
    lim = d.config.limits
    tokens = [
        f"AWAYLEN={lim.reason_len}", "CASEMAPPING=ascii",
        *([f"CHANLIMIT=#:{lim.max_rooms_per_user}"] if lim.max_rooms_per_user else []),
        f"CHANMODES={LIST_MODES},{KEY_MODES},{LIMIT_MODES},{FLAG_MODES}",
        f"CHANNELLEN={lim.room_len}", "CHANTYPES=#",
        f"CHATHISTORY={MAX_PAGE}", f"KICKLEN={lim.reason_len}", MAXLIST,
        f"MODES={MAX_MODE_ARGS}", f"MONITOR={MAX_MONITOR}", "MSGREFTYPES=msgid,timestamp",
        f"NAMELEN={REALNAME_LEN}",
        f"NETWORK={d.server}", f"NICKLEN={lim.nick_len}", "PREFIX=(ov)@+",
        f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},KICK:{MAX_TARGETS},"
        f"JOIN:{MAX_JOINS},PART:{MAX_JOINS},NAMES:{MAX_JOINS},WHOIS:1",
        f"TOPICLEN={lim.topic_len}", "USERLEN=16",
        "WHOX",
        *FEATURE_TOKENS,
    ]
    # At most 13 tokens per 005 line, as clients parse it.
    return b"".join(d.num("005", *tokens[i:i + 13], text="are supported by this server")
                    for i in range(0, len(tokens), 13))


def motd(d: IrcDialect) -> bytes:
    """375/372/376, or 422 when the server has no MOTD."""
    text = d.config.motd
    if not text:
        return d.num("422", text="MOTD File is missing")
    lines = [d.num("375", text=f"- {d.server} Message of the day - ")]
    lines += [d.num("372", text=f"- {line}") for line in text.splitlines()]
    lines.append(d.num("376", text="End of /MOTD command."))
    return b"".join(lines)
