"""Accounts over IRC: SASL, ``REGISTER``, a NickServ, and how account events look.

- SASL (IRCv3 ``sasl`` 3.1/3.2): ``AUTHENTICATE`` with ``PLAIN`` or ``SCRAM-SHA-256``, before
  or after registration, client responses in 400-byte base64 chunks. PLAIN becomes the core's
  :class:`~chat.core.commands.Login`; SCRAM its two :class:`~chat.core.commands.ScramStep`.
- ``draft/account-registration``: ``REGISTER <account|*> <email|*> <password>`` once
  registered (no ``before-connect``, no e-mail step: the account is made and logged in at once).
- NickServ, for clients with neither: ``PRIVMSG NickServ :IDENTIFY ...`` (or ``NS``/``NICKSERV``)
  is turned into the same core commands and never relayed to anyone; it answers in NOTICEs.

Every command sent to the core carries an :class:`AccountRef` naming the way the client asked,
so the answer comes back in that form: 900/903 or 904 for SASL, ``REGISTER SUCCESS`` or
``FAIL REGISTER`` for REGISTER, NickServ notices for NickServ. The SASL exchange in progress is
wire state, held on the dialect (``d.sasl``); the core holds the SCRAM state between steps.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.accounts.passwords import MIN_PASSWORD, password_problem
from chat.core import commands as c
from chat.core import events as e
from chat.core.names import fold
from chat.dialects.base import Decoded
from chat.dialects.irc.numerics import AccountRef, fail, need_params
from chat.dialects.irc.services import NICKSERV, SERVICE_OF_VIA, is_service, service_notice
from chat.dialects.irc.syntax import host

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: SASL mechanisms offered (``sasl=...`` in CAP LS 302, and 908).
MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
CHUNK = 400  # base64 bytes per AUTHENTICATE line, both ways
#: Base64 bytes one client response may total: a PLAIN blob with the longest password is
#: under 500, a SCRAM message a few hundred; more is not a login.
MAX_RESPONSE = 4096

#: Core error code -> ``FAIL REGISTER`` code (anything else: TEMPORARILY_UNAVAILABLE).
_REGISTER_FAILS = {
    "account_taken": "ACCOUNT_EXISTS",
    "already_logged_in": "ALREADY_AUTHENTICATED",
    "password_invalid": "WEAK_PASSWORD",
}
#: Core error codes whose text a 904 carries (why to wait); the others say only "failed".
_SAY_WHY = ("login_throttled", "login_in_progress", "try_again")

NICKSERV_HELP = (
    "NickServ keeps accounts. Commands:",
    "IDENTIFY [account] password - log in (to the account named like your nick if none)",
    "REGISTER password [email] - register your current nick as an account (no e-mail is sent)",
    "LOGOUT - log out",
    "SET PASSWORD old new - change your password (PASSWORD old new works too)",
    "HELP - this list",
    "Clients with SASL (PLAIN or SCRAM-SHA-256) can log in while connecting instead.",
)


class Sasl:
    """The SASL exchange in progress on one connection.

    ``stage``: ``first`` (waiting for the client's first response), ``checking`` (it is with the
    core), ``final`` (SCRAM: waiting for client-final), ``proving`` (client-final is with the
    core), ``ack`` (SCRAM: server-final sent, waiting for the client's empty response).
    """

    __slots__ = ("account", "chunks", "mechanism", "serial", "size", "stage")

    def __init__(self, mechanism: str, serial: int) -> None:
        self.mechanism = mechanism
        self.serial = serial
        self.stage = "first"
        self.chunks: list[str] = []
        self.size = 0
        self.account = ""  # SCRAM: logged in, announced once the client acknowledges


# -- lines ---------------------------------------------------------------------------------

def user_mask(d: IrcDialect) -> str:
    """``nick!ident@host`` of this client, ``*`` for what it has not given yet."""
    u = d.user
    return f"{u.nick or '*'}!{u.ident or d.ident or '*'}@{host(u.host)}"


def logged_in(d: IrcDialect, account: str) -> bytes:
    """900 RPL_LOGGEDIN."""
    return d.num("900", user_mask(d), account, text=f"You are now logged in as {account}")


def nickserv_notice(d: IrcDialect, text: str) -> bytes:
    """A NOTICE from NickServ to this client."""
    return service_notice(d, NICKSERV, text)


def authenticate_lines(data: bytes) -> bytes:
    """``data`` as AUTHENTICATE lines: base64 in 400-byte chunks, ``+`` after an exact multiple
    (or for nothing)."""
    text = base64.b64encode(data).decode("ascii")
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
    if not chunks or len(chunks[-1]) == CHUNK:
        chunks.append("+")
    return "".join(f"AUTHENTICATE {chunk}\r\n" for chunk in chunks).encode("ascii")


def _sasl_failed(d: IrcDialect, why: str = "") -> bytes:
    """904, and the exchange is over."""
    d.sasl = None
    return d.num("904", text="SASL authentication failed" + (f": {why}" if why else ""))


def _sasl_succeeded(d: IrcDialect, account: str) -> bytes:
    d.sasl = None
    return logged_in(d, account) + d.num("903", text="SASL authentication successful")


# -- input -------------------------------------------------------------------------------

def authenticate(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``AUTHENTICATE <mechanism>``, then the responses, or ``*`` to abort."""
    if not params or not params[0]:
        return [need_params(d, verb)]
    arg = params[0]
    sasl = d.sasl
    if "sasl" not in d.caps:
        return [_sasl_failed(d, "enable the sasl capability first (CAP REQ sasl)")]
    if arg == "*":
        d.sasl = None
        out: list[Decoded] = []
        if sasl is not None and sasl.account:  # SCRAM, logged in but not acknowledged
            out.append(c.Logout(ref=AccountRef("SASL", sasl.serial)))
        out.append(d.num("906", text="SASL authentication aborted"))
        return out
    if sasl is None:
        if d.user.account:
            return [d.num("907", text="You have already authenticated")]
        mechanism = arg.upper()
        if mechanism not in MECHANISMS:
            return [d.num("908", ",".join(MECHANISMS), text="are available SASL mechanisms"),
                    _sasl_failed(d)]
        d.serial += 1
        d.sasl = Sasl(mechanism, d.serial)
        return [b"AUTHENTICATE +\r\n"]
    if sasl.stage == "ack":
        if arg == "+" and sasl.account:
            return [_sasl_succeeded(d, sasl.account)]
        logout = c.Logout(ref=AccountRef("SASL", sasl.serial))
        return [logout, _sasl_failed(d)] if sasl.account else [_sasl_failed(d)]
    if sasl.stage not in ("first", "final"):
        return [_sasl_failed(d, "the last response was still being checked")]
    if len(arg) > CHUNK or sasl.size + len(arg) > MAX_RESPONSE:
        d.sasl = None
        return [d.num("905", text="SASL message too long")]
    if arg != "+":
        sasl.chunks.append(arg)
        sasl.size += len(arg)
        if len(arg) == CHUNK:
            return []  # more follows
    data = "".join(sasl.chunks)
    sasl.chunks, sasl.size = [], 0
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return [_sasl_failed(d, "invalid base64")]
    ref = AccountRef("SASL", sasl.serial)
    if sasl.mechanism == "PLAIN":
        return _plain(d, sasl, raw, ref)
    try:
        message = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [_sasl_failed(d)]
    final = sasl.stage == "final"
    sasl.stage = "proving" if final else "checking"
    return [c.ScramStep(message, final, ref=ref)]


def _plain(d: IrcDialect, sasl: Sasl, raw: bytes, ref: AccountRef) -> list[Decoded]:
    """RFC 4616: ``authzid NUL authcid NUL password``; the authzid empty or the authcid."""
    parts = raw.split(b"\0")
    if len(parts) != 3:
        return [_sasl_failed(d, "invalid PLAIN message")]
    try:
        authzid, authcid, password = (part.decode("utf-8") for part in parts)
    except UnicodeDecodeError:
        return [_sasl_failed(d, "invalid PLAIN message")]
    if not authcid or (authzid and fold(authzid) != fold(authcid)):
        return [_sasl_failed(d, "the authorization and authentication identities differ")]
    sasl.stage = "checking"
    return [c.Login(authcid, password, ref=ref)]


def sasl_at_cap_end(d: IrcDialect) -> list[Decoded]:
    """CAP END with a SASL exchange unfinished: one waiting for the client is aborted (906), as
    the spec asks; a SCRAM login waiting for its acknowledgement counts as acknowledged; one
    the core is checking is let finish (its answer then comes after 001)."""
    sasl = d.sasl
    if sasl is None or sasl.stage in ("checking", "proving"):
        return []
    if sasl.stage == "ack" and sasl.account:
        return [_sasl_succeeded(d, sasl.account)]
    d.sasl = None
    return [d.num("906", text="SASL authentication aborted")]


def register(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``REGISTER <account|*> <email|*> <password>`` (draft/account-registration)."""
    if not d.user.registered:
        return [fail(d, verb, "COMPLETE_CONNECTION_REQUIRED",
                     text="Finish connecting (NICK, USER, CAP END) before registering")]
    if len(params) < 3 or not params[2]:
        return [need_params(d, verb)]
    account, password = params[0], params[2]
    nick = d.user.nick
    if account != "*" and fold(account) != fold(nick):
        return [fail(d, verb, "ACCOUNT_NAME_MUST_BE_NICK", account,
                     text=f"The account is named after your nick: use * or {nick}")]
    if d.user.account:
        return [fail(d, verb, "ALREADY_AUTHENTICATED", d.user.account,
                     text=f"You are logged in as {d.user.account}")]
    problem = password_problem(password)
    if problem:
        code = "WEAK_PASSWORD" if len(password) < MIN_PASSWORD else "UNACCEPTABLE_PASSWORD"
        return [fail(d, verb, code, nick, text=problem)]
    return [c.RegisterAccount(password, ref=AccountRef("REGISTER"))]


def verify(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``VERIFY``: registration never needs it here."""
    account = params[0] if params else "*"
    return [fail(d, verb, "INVALID_CODE", account,
                 text="This server does not verify registrations; there is no code to give")]


def is_nickserv(target: str) -> bool:
    """Whether a PRIVMSG target is NickServ (``NickServ`` or ``NickServ@services...``)."""
    return is_service(target, NICKSERV)


def nickserv(d: IrcDialect, text: str) -> list[Decoded]:
    """A line to NickServ, as the core's account commands (or NickServ's own answer)."""
    words = text.split()
    if not words:
        return [nickserv_notice(d, line) for line in NICKSERV_HELP]
    command, args = words[0].upper(), words[1:]
    ref = AccountRef("NICKSERV")
    if command in ("IDENTIFY", "ID", "LOGIN"):
        if len(args) in (1, 2):
            account = args[0] if len(args) == 2 else None
            return [c.Login(account, args[-1], ref=ref)]
        return [nickserv_notice(d, "Usage: IDENTIFY [account] password")]
    if command == "REGISTER":
        if len(args) in (1, 2):
            return [c.RegisterAccount(args[0], ref=ref)]
        return [nickserv_notice(d, "Usage: REGISTER password [email]")]
    if command == "LOGOUT":
        return [c.Logout(ref=ref)]
    if command == "SET" and args and args[0].upper() == "PASSWORD":
        command, args = "PASSWORD", args[1:]
    if command == "PASSWORD":
        if len(args) == 2:
            return [c.ChangePassword(args[0], args[1], ref=ref)]
        return [nickserv_notice(d, "Usage: SET PASSWORD old new")]
    if command == "HELP":
        return [nickserv_notice(d, line) for line in NICKSERV_HELP]
    # The word is not repeated back: it may be a password typed in the wrong place.
    return [nickserv_notice(d, "Unknown command; send HELP for the list")]


def nickserv_verb(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``NS ...`` / ``NICKSERV ...``: the rest of the line is for NickServ."""
    return nickserv(d, " ".join(params))


# -- output ------------------------------------------------------------------------------

def _current(d: IrcDialect, ref: AccountRef) -> Sasl | None:
    """The exchange ``ref`` belongs to, if it is still the one in progress."""
    sasl = d.sasl
    return sasl if sasl is not None and ref.serial == sasl.serial else None


def _challenge(d: IrcDialect, event: e.SaslChallenge, is_self: bool) -> bytes | None:
    ref = event.ref
    sasl = _current(d, ref) if isinstance(ref, AccountRef) else None
    if sasl is None:
        return None  # for an exchange the client has given up
    sasl.stage = "ack" if sasl.stage == "proving" else "final"
    return authenticate_lines(event.data.encode("utf-8"))


def _status(d: IrcDialect, event: e.AccountStatus, is_self: bool) -> bytes | None:
    ref = event.ref if isinstance(event.ref, AccountRef) else AccountRef("")
    via, account = ref.via, event.account
    services = via in ("NICKSERV", "PASS")
    if event.status in ("logged_in", "registered"):
        if via == "SASL":
            sasl = _current(d, ref)
            if sasl is not None and sasl.stage == "ack":
                sasl.account = account  # told once the client has checked server-final
                return None
            if sasl is not None:
                return _sasl_succeeded(d, account)
        lines = [logged_in(d, account)]
        if via == "REGISTER":
            lines.append(d.server_line(f"REGISTER SUCCESS {account} :Account created"))
        elif services and event.status == "registered":
            lines.append(nickserv_notice(
                d, f"Account {account} registered; you are logged in to it"))
        elif services:
            lines.append(nickserv_notice(d, f"You are now identified for {account}"))
        return b"".join(lines)
    if event.status == "logged_out":
        lines = [d.num("901", user_mask(d), text="You are now logged out")]
        if services:
            lines.append(nickserv_notice(d, "You are now logged out"))
        return b"".join(lines)
    if event.status == "password_changed":
        text = "Your password is changed"
        return nickserv_notice(d, text) if services else d.server_line(
            f"NOTICE {d.me} :{text}")
    return None


def _changed(d: IrcDialect, event: e.AccountChanged, is_self: bool) -> bytes | None:
    if "account-notify" not in d.caps:
        return None
    return d.line_from(event, f"ACCOUNT {event.account or '*'}")


def account_error(d: IrcDialect, event: e.Error, ref: AccountRef) -> bytes | None:
    """A core error to an account command, in the form the client asked in."""
    if ref.via == "SASL":
        if _current(d, ref) is None:
            return None  # the client has given this exchange up
        if event.code == "already_logged_in":
            d.sasl = None
            return d.num("907", text="You have already authenticated")
        return _sasl_failed(d, event.text if event.code in _SAY_WHY else "")
    if ref.via == "REGISTER":
        code = _REGISTER_FAILS.get(event.code, "TEMPORARILY_UNAVAILABLE")
        account = event.subject or d.user.account or d.user.nick or "*"
        return fail(d, "REGISTER", code, account, text=event.text)
    return service_notice(d, SERVICE_OF_VIA.get(ref.via, NICKSERV), event.text)


#: Event type -> renderer, for the account events (merged with ``render.RENDERERS``).
RENDERERS: dict[type[e.Event], Callable[[IrcDialect, Any, bool], bytes | None]] = {
    e.SaslChallenge: _challenge,
    e.AccountStatus: _status,
    e.AccountChanged: _changed,
}
