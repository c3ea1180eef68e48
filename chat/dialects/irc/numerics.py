"""Numeric replies: the core's error codes as IRC numerics, and how a numeric line is built.

The commands sent to the core carry the IRC verb as ``ref``; the core echoes ``ref`` on errors,
which lets one core error code become the numeric IRC expects for that command (``not_in_room``
is 404 for PRIVMSG but 442 for PART) and lets errors to NOTICE be dropped, as RFC 2812 requires.
Commands decoded from CHATHISTORY carry a :class:`HistoryRef` instead, and their errors come
out as IRCv3 standard replies (``FAIL CHATHISTORY ...``); account commands carry an
:class:`AccountRef`, and their errors come out as SASL numerics, ``FAIL REGISTER`` or NickServ
notices (see ``accounts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chat.core import events as e
from chat.core.monitor import MAX_MONITOR
from chat.dialects.irc.syntax import clip

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: Core error code -> IRC numeric. The ``subject`` (and ``room``) of the error fill the
#: numeric's parameters; see :func:`error`.
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
    "nick_protected": "433",
    "not_oper": "481",
    "oper_failed": "464",
    "monitor_full": "734",
}
#: The text some numerics carry whatever the core said: what IRC clients and their users know
#: them by (ergo's wording for a reserved nick).
_STANDARD_TEXT = {
    "nick_protected": "Nickname is reserved by a different account",
    "not_oper": "Permission Denied- You're not an IRC operator",
    "oper_failed": "Password incorrect",
}
#: Server-ban verbs: their errors other than 481 have no numeric, and come as a NOTICE.
_BAN_VERBS = ("KLINE", "UNKLINE", "STATS")
#: Numerics whose parameters are ``<subject> <room>`` rather than just ``<subject>``.
TWO_SUBJECTS = {"441", "443", "478"}
#: Numerics that carry only the text, no subject.
_TEXT_ONLY = ("412", "417", "451", "462", "464", "481", "501", "502")


@dataclass(frozen=True, slots=True)
class HistoryRef:
    """The ``ref`` of a core command decoded from ``CHATHISTORY <sub> <target> ...``: the core
    echoes it on its errors and answers, so an error becomes ``FAIL CHATHISTORY`` naming the
    subcommand and target the client sent."""

    sub: str
    target: str


@dataclass(frozen=True, slots=True)
class AccountRef:
    """The ``ref`` of an account command: ``via`` is how the client asked (``SASL``,
    ``REGISTER``, ``NICKSERV`` or ``PASS``; ``CHANSERV`` for ChanServ's room commands), so the
    core's answer and errors come back in that form; ``serial`` tells one SASL exchange from an
    earlier, abandoned one."""

    via: str
    serial: int = 0


@dataclass(frozen=True, slots=True)
class WhoxRef:
    """The ``ref`` of a WHO sent with ``%<fields>`` (WHOX): the core echoes it on its answer,
    which then comes as 354 with these fields (``token`` is the client's query type, ``t``);
    its errors are WHO's."""

    mask: str
    fields: str
    token: str


#: Core error codes that mean "not a room or conversation you may read":
#: ``FAIL CHATHISTORY INVALID_TARGET`` (the last two: a nick, when the asker is not logged in or
#: the nick has no account).
_BAD_TARGET = {"not_in_room", "no_such_room", "room_invalid", "not_logged_in",
               "no_such_account"}


def need_params(d: IrcDialect, verb: str) -> bytes:
    """461: the command came without the parameters it needs."""
    return d.num("461", verb, text="Not enough parameters")


def fail(d: IrcDialect, command: str, code: str, *context: str, text: str) -> bytes:
    """An IRCv3 standard reply ``FAIL <command> <code> [<context>...] :<text>``."""
    return d.server_line(" ".join(("FAIL", command, code, *context)) + f" :{text}")


def history_error(d: IrcDialect, event: e.Error, ref: HistoryRef) -> bytes:
    """A core error to a CHATHISTORY request, as the FAIL reply the chathistory spec names."""
    if event.code in _BAD_TARGET:
        return fail(d, "CHATHISTORY", "INVALID_TARGET", ref.sub, ref.target, text=event.text)
    if event.code == "bad_limit":
        return fail(d, "CHATHISTORY", "INVALID_PARAMS", ref.sub, event.subject or "*",
                    text=event.text)
    return fail(d, "CHATHISTORY", "MESSAGE_ERROR", ref.sub, ref.target, text=event.text)


def numeric(server: str, me: str, code: str, *params: str, text: str | None = None) -> bytes:
    """The line ``:server code me params... [:text]``, clipped to the IRC line length."""
    middle = " ".join((me, *params))
    line = f":{server} {code} {middle}" + (f" :{text}" if text is not None else "")
    return (clip(line) + "\r\n").encode("utf-8")


def error(d: IrcDialect, event: e.Error, is_self: bool) -> bytes | None:
    """A core error as the numeric the command that caused it expects (plus any end-of-list
    numeric the client waits for)."""
    if isinstance(event.ref, HistoryRef):
        return history_error(d, event, event.ref)
    verb = event.ref if isinstance(event.ref, str) else ""
    if isinstance(event.ref, WhoxRef):
        verb = "WHO"
    if verb == "NOTICE":
        return None  # RFC 2812: a NOTICE never causes an automatic reply, errors included
    if verb == "SETNAME":
        return fail(d, "SETNAME", "INVALID_REALNAME", text=event.text)
    if event.code == "monitor_full":  # 734 <nick> <limit> <targets> :text
        return d.num("734", str(MAX_MONITOR), event.subject, text=event.text)
    code = NUMERICS.get(event.code)
    subject = event.subject or "*"
    if verb == "OPER" and event.code == "login_throttled":
        code = "464"  # ERR_PASSWDMISMATCH, saying how long to wait
    elif verb in _BAN_VERBS and code != "481":
        code = None
    if code is None:
        return d.server_line(f"NOTICE {d.me} :{event.text}")
    if code == "442" and verb == "PRIVMSG":
        code = "404"  # talking in a room one is not in: "cannot send to channel"
    if code == "403" and verb == "NAMES":  # an unknown or invalid name: an empty answer
        return d.num("366", subject, text="End of /NAMES list")
    text = _STANDARD_TEXT.get(event.code, event.text)
    if code in _TEXT_ONLY:
        return d.num(code, text=text)
    if code in TWO_SUBJECTS:
        data = d.num(code, subject, event.room or "*", text=event.text)
    else:
        data = d.num(code, subject, text=text)
    if verb == "WHOIS" and code == "401":
        data += d.num("318", subject, text="End of /WHOIS list")
    elif verb == "WHO" and code == "416":
        data += d.num("315", "*", text="End of /WHO list")
    return data
