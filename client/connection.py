"""The network side: one session to the server kept alive, feeding events into the model.

It connects, says ``hello``, answers the server's pings, notices a dead server (EOF, reset or
silence), says so, reconnects with backoff, takes the same nick back and rejoins the rooms the
model says we are in. It never touches the UI: it calls ``on_change`` after every batch of
events and the UI redraws from the model.

History: a first join relies on the server's automatic replay of recent lines. After a
reconnect, once the server confirms each rejoin, it fills the gap with ``history`` requests
``after`` the newest event id the room showed before the drop, paging on from the last id
returned while full pages come back (at most ``GAP_PAGES``); the model drops what the rejoin's
own replay already brought. :meth:`Connection.request_older` asks for the page ``before`` the
oldest loaded line, one request per room at a time, until a short page says there is no more.

Accounts: with credentials (``--login``, or a successful ``/login`` or ``/register``), every
session logs in right after ``welcome`` and joins its rooms only once the login is answered (or
after ``login_timeout``), so rooms see the account from the start. A wrong password is said once
and forgotten (no retry with it); a throttled login is not retried for a minute. The password is
kept in memory only, never logged and never shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import random
import ssl as ssl_module
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Literal

from chat.config import DEFAULT_TLS_PORT
from chat.wire.names import fold
from client import ctcp, protocol
from client.model import SCROLLBACK, ChatModel, ConnState

log = logging.getLogger("client.connection")

BACKOFF = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0)  # seconds between attempts; the last repeats
JITTER = 0.2  # +-20%, so clients dropped together do not all come back in the same instant
NICK_ERRORS = ("nick_taken", "nick_invalid")
GAP_PAGE = 100  # lines per gap-filling request after a reconnect (the protocol's maximum)
GAP_PAGES = 10  # at most this many gap pages per room per reconnect
OLDER_PAGE = 50  # lines per page when scrolling back past the oldest loaded line
LOGIN_TIMEOUT = 10.0  # seconds to wait for the login's answer before joining without it
THROTTLE_PAUSE = 60.0  # no automatic login for this long after the server throttled one


@dataclass(slots=True)
class _HistoryAsk:
    """A history request of ours still waiting for its answer (keyed by its ``ref``)."""

    room: str  # folded
    purpose: Literal["gap", "older"]
    limit: int
    page: int = 1


@dataclass(slots=True, repr=False)
class _AccountAsk:
    """An account request of ours waiting for its answer: what to remember if it succeeds."""

    kind: Literal["login", "register", "password", "logout", "auto"]
    account: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never a password in a log line or a traceback
        return f"_AccountAsk({self.kind!r}, {self.account!r})"


def describe_error(exc: BaseException) -> str:
    """A plain-English reason for a failed connection, never a traceback."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    if isinstance(exc, OSError) and getattr(exc, "strerror", None):
        return str(exc.strerror).lower()
    return str(exc) or type(exc).__name__


# OpenSSL's reasons when the other side answered our TLS hello with something that is not TLS.
NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE",
                             "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "UNEXPECTED_RECORD"})


def tls_advice(exc: BaseException, ca_file: str | None, host: str) -> str | None:
    """What to do about a TLS failure that retrying cannot fix; None for any other failure."""
    if isinstance(exc, ssl_module.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        if "mismatch" in why.lower():
            return (f"the server's certificate is not for {host} ({why}). Connect with the "
                    "name the certificate was issued for.")
        if ca_file:
            # They already gave a CA: telling them to use --ca-file would send them in circles.
            return (f"the server's certificate is not signed by the CA in {ca_file} ({why}). "
                    "Check that this is the CA file of this server (its operator has it).")
        return f"the server's certificate is not trusted ({why}). Use --ca-file to trust its CA."
    if isinstance(exc, ssl_module.SSLError) and exc.reason in NOT_TLS_REASONS:
        return (f"the server does not speak TLS on this port ({exc.reason}). Connect without "
                f"--tls and --ca-file, or to its TLS port ({DEFAULT_TLS_PORT} by default).")
    return None


class Connection:
    """Owns the socket; ``run()`` loops connect → session → backoff until ``close()``."""

    def __init__(
        self,
        model: ChatModel,
        host: str,
        port: int,
        *,
        rooms: Sequence[str] = (),
        on_change: Callable[[], None] = lambda: None,
        backoff: Sequence[float] = BACKOFF,
        connect_timeout: float = 10.0,
        keepalive: float = 60.0,
        jitter: float = JITTER,
        ssl: ssl_module.SSLContext | None = None,
        account: str | None = None,
        password: str | None = None,
        login_timeout: float = LOGIN_TIMEOUT,
        ca_file: str | None = None,
    ) -> None:
        self.model = model
        self.ssl = ssl  # a verifying context (chat.tls.client_context) for the TLS port
        self.host = host
        self.port = port
        self.initial_rooms = list(rooms)
        self.on_change = on_change
        self.backoff = tuple(backoff)
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.jitter = jitter
        self.sessions = 0  # completed handshakes
        self.attempts = 0  # connection attempts, successful or not
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._wanted_nick = model.nick
        self._ping_ids = itertools.count(1)
        self._disconnect_reason = ""
        self.gap_page = GAP_PAGE
        self.gap_pages = GAP_PAGES
        self.older_page = OLDER_PAGE
        self._history_ids = itertools.count(1)
        self._history_asks: dict[str, _HistoryAsk] = {}  # ref -> request waiting for its answer
        self._gap_from: dict[str, str] = {}  # folded room -> newest id it showed before a drop
        # Accounts: what every session logs in with (account, password), memory only.
        self._credentials: tuple[str, str] | None = None
        if password is not None:
            self._credentials = (account or model.nick, password)
        self.login_timeout = login_timeout
        self._account_ids = itertools.count(1)
        self._account_asks: dict[str, _AccountAsk] = {}  # ref -> account request in flight
        self._login_ref: str | None = None  # the automatic login this session waits for
        self._login_deadline = 0.0  # time.monotonic() when we stop waiting for it
        self._pending_rooms: list[str] = []  # joins held back until the login is answered
        self._no_login_until = 0.0  # time.monotonic(): after a throttled login
        self.ca_file = ca_file  # the --ca-file given, if any (for the certificate advice)
        self._heard_from_server = False  # this session received at least one byte
        self._ctcp_limit = ctcp.Limiter()  # answers to CTCP queries from IRC users

    @property
    def connected(self) -> bool:
        """Registered and able to send requests."""
        return self._writer is not None and self.model.state is ConnState.CONNECTED

    # -- what the UI calls ---------------------------------------------------------------------

    def send(self, request: str, /, **fields: object) -> bool:
        """Send one request if we are registered; False (and nothing sent) otherwise."""
        if not self.connected:
            return False
        self._write(protocol.request(request, **fields))
        return True

    def change_nick(self, nick: str) -> bool:
        """``/nick``: a nick request once registered, another ``hello`` while still choosing."""
        self._wanted_nick = nick
        if self.model.state is ConnState.REGISTERING and self._writer is not None:
            self._write(protocol.hello(nick))
            return True
        return self.send("nick", nick=nick)

    def request_older(self, room: str) -> bool:
        """Ask for the page of ``room``'s history before its oldest loaded line.

        Nothing is sent (False) while a page is already on its way, once the beginning of the
        history was reached, when the scrollback is full, or when not connected or not in the room.
        """
        conv = self.model.get(room)
        if (conv is None or conv.kind != "room" or not conv.joined or conv.loading_older
                or conv.history_start or len(conv.lines) >= SCROLLBACK or not self.connected):
            return False
        before = conv.oldest_id
        if before is None and conv.lines:  # no line with an id yet: the oldest line's time
            ts = conv.lines[0].ts.astimezone(UTC)
            before = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        conv.loading_older = True
        self._ask_history(_HistoryAsk(conv.key, "older", self.older_page), conv.name,
                          before=before)
        return True

    def _ask_history(self, ask: _HistoryAsk, room: str, **where: str | None) -> None:
        ref = f"h{next(self._history_ids)}"
        self._history_asks[ref] = ask
        self._write(protocol.request("history", room=room, limit=ask.limit, ref=ref, **where))

    @property
    def login_account(self) -> str | None:
        """The account each new session logs in to, if any."""
        return self._credentials[0] if self._credentials else None

    @property
    def logging_in(self) -> bool:
        """The automatic login of this session is still waiting for its answer."""
        return self._login_ref is not None

    def login(self, account: str | None, password: str) -> bool:
        """``/login``: log in now; on success later sessions log in with the same password."""
        account = account or self.model.nick
        return self._account_request("login", _AccountAsk("login", account, password),
                                     account=account, password=password)

    def register(self, password: str) -> bool:
        """``/register``: register our nick as an account (and log in to it)."""
        return self._account_request("register", _AccountAsk("register", self.model.nick,
                                                             password), password=password)

    def logout(self) -> bool:
        """``/logout``: log out; later sessions stay logged out."""
        return self._account_request("logout", _AccountAsk("logout"))

    def change_password(self, old: str, new: str) -> bool:
        """``/password``: change it; later sessions log in with the new one."""
        return self._account_request("password", _AccountAsk("password", password=new),
                                     old=old, new=new)

    def _account_request(self, request: str, ask: _AccountAsk, **fields: object) -> bool:
        if not self.connected:
            return False
        ref = f"a{next(self._account_ids)}"
        self._account_asks[ref] = ask
        self._write(protocol.request(request, ref=ref, **fields))
        return True

    def reconnect_now(self) -> None:
        """Skip the rest of the backoff wait (``/reconnect``)."""
        self._wake.set()

    async def close(self, reason: str = "Leaving", timeout: float = 1.0) -> None:
        """Say goodbye (so others see our quit reason) and stop reconnecting."""
        self._closing = True
        self._wake.set()
        writer = self._writer
        if writer is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            writer.write(protocol.request("quit", reason=reason))
        # The server closes after the quit; give it a moment so the goodbye is not lost.
        with contextlib.suppress(OSError, asyncio.TimeoutError, RuntimeError):
            await asyncio.wait_for(writer.drain(), timeout)
        self._close_writer()

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and reconnect until :meth:`close`; returns when closed."""
        failures = 0
        while not self._closing:
            self.attempts += 1
            self.model.set_state(ConnState.CONNECTING, f"{self.host}:{self.port}")
            self.on_change()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port, ssl=self.ssl),
                    self.connect_timeout)
            except (TimeoutError, OSError) as exc:
                hopeless = tls_advice(exc, self.ca_file, self.host)
                if hopeless is not None:
                    # Retrying cannot fix an untrusted certificate or a port that does not
                    # speak TLS: say why, and what to do, and stop.
                    self.model.info_all(f"Cannot connect to {self.host}:{self.port}: {hopeless}",
                                        kind="error")
                    break
                reason = describe_error(exc)
                delay = self._delay(failures)
                if failures == 0:
                    self.model.info_all(
                        f"Cannot connect to {self.host}:{self.port}: {reason}. "
                        "Retrying in the background; /quit to give up.", kind="error")
                failures += 1
                await self._wait(delay, f"{reason}; retry {failures} in {delay:.0f}s")
                continue
            welcomed_before = self.sessions
            try:
                await self._session(reader, writer)
            except (OSError, asyncio.IncompleteReadError) as exc:
                self._disconnect_reason = self._disconnect_reason or describe_error(exc)
            finally:
                self._close_writer()
                with contextlib.suppress(OSError, RuntimeError):
                    await writer.wait_closed()
            if self._closing:
                break
            if self.ssl is None and not self._heard_from_server and not self.model.registered_once:
                # A chat server always answers our hello; a TLS port closes on it without a word
                # (our hello is not a TLS handshake). Reconnecting would only do that again.
                self.model.info_all(
                    f"Cannot connect to {self.host}:{self.port}: the server closed the connection "
                    "without a word. If this is its TLS port, connect with --tls (and --ca-file "
                    "for a private CA).", kind="error")
                break
            if self.sessions > welcomed_before:
                failures = 0
            reason = self._disconnect_reason or "connection closed"
            self._disconnect_reason = ""
            self.model.connection_lost()
            delay = self._delay(failures)
            self.model.info_all(f"Disconnected from the server: {reason}. Reconnecting…",
                                kind="error")
            failures += 1
            await self._wait(delay, f"{reason}; retrying in {delay:.0f}s")
        self.model.set_state(ConnState.CLOSED, "")
        self.on_change()

    def _delay(self, failures: int) -> float:
        base = self.backoff[min(failures, len(self.backoff) - 1)]
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)

    async def _wait(self, delay: float, detail: str) -> None:
        self.model.set_state(ConnState.DISCONNECTED, detail)
        self.on_change()
        self._wake.clear()
        if self._closing:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._heard_from_server = False
        codec = protocol.ClientProtocol()
        # Requests of an earlier session are never answered now.
        self._history_asks.clear()
        self._account_asks.clear()
        self._login_ref = None
        for conv in self.model.conversations.values():
            conv.loading_older = False
        self.model.set_state(ConnState.REGISTERING, "")
        self._write(protocol.hello(self._wanted_nick))
        self.on_change()
        pinged = False
        while True:
            timeout = self.keepalive / 2 if pinged else self.keepalive
            if self._login_ref is not None:
                timeout = max(0.0, min(timeout, self._login_deadline - time.monotonic()))
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout)
            except TimeoutError:
                if self._login_ref is not None and time.monotonic() >= self._login_deadline:
                    self._login_timed_out()
                    self.on_change()
                    continue
                if pinged:
                    self._disconnect_reason = "the server stopped answering"
                    return
                pinged = True
                self._write(protocol.request("ping", token=f"k{next(self._ping_ids)}"))
                continue
            if not data:
                return
            self._heard_from_server = True
            pinged = False
            for event in codec.receive_data(data):
                self._handle(event)
            self.on_change()

    def _handle(self, event: dict[str, object]) -> None:
        kind = event.get("type")
        registering = self.model.state is ConnState.REGISTERING
        if kind == "ping":
            self._write(protocol.request("pong", token=event.get("token")))
            return
        if kind == "welcome":
            reconnect = self.model.registered_once
            self.model.apply(event)
            self._wanted_nick = self.model.nick
            self.sessions += 1
            self.model.set_state(ConnState.CONNECTED, "")
            rooms = self.model.joined_rooms() if reconnect else list(self.initial_rooms)
            # Rooms a login held back when the last session dropped are still wanted.
            held, self._pending_rooms = self._pending_rooms, []
            rooms += [r for r in held if fold(r) not in {fold(x) for x in rooms}]
            if reconnect:
                self.model.info_all("Reconnected.", kind="info")
                # Where each room's gap starts; asked once the server confirms the rejoin.
                self._gap_from = {}
                for room in rooms:
                    conv = self.model.get(room)
                    if conv is not None and conv.newest_id is not None:
                        self._gap_from[conv.key] = conv.newest_id
            if rooms and not reconnect:
                self.model.expect_join(rooms[0])  # start in the first room asked for
            if self._start_login():
                self._pending_rooms = list(rooms)  # joined once the login is answered
                return
            self._join_all(rooms)
            return
        if kind == "error" and registering and event.get("code") in NICK_ERRORS:
            self.model.apply(event)
            if self.model.registered_once and event.get("code") == "nick_taken":
                # Likely our own ghost from before the drop: take a variant and carry on.
                limit = self.model.limits.get("nick_len", 30)
                self._wanted_nick = (self._wanted_nick[: limit - 1]) + "_"
                self.model.info(f"Trying the nickname {self._wanted_nick} instead.")
                self._write(protocol.hello(self._wanted_nick))
            else:
                self.model.set_state(ConnState.REGISTERING, "pick a nickname with /nick NAME")
                self.model.info("Pick another nickname with /nick NAME.")
            return
        if kind == "message" and event.get("kind") in ("ctcp", "ctcp_reply"):
            self._ctcp(event)
            return
        if kind == "disconnect":
            self._disconnect_reason = str(event.get("reason") or "")
        ref = event.get("ref")
        if isinstance(ref, str) and ref == self._login_ref and kind in ("account", "error"):
            self._login_answered(event)
            return
        if isinstance(ref, str) and kind in ("account", "error") and ref in self._account_asks:
            self._account_answered(self._account_asks.pop(ref), event)
        ask = self._history_asks.pop(ref, None) if isinstance(ref, str) else None
        self.model.apply(event)
        if kind == "join" and self.model.is_me(event.get("from")):
            name = event.get("room")
            after = self._gap_from.pop(fold(name), None) if isinstance(name, str) else None
            if after is not None and isinstance(name, str):
                self._ask_history(_HistoryAsk(fold(name), "gap", self.gap_page), name,
                                  after=after)
        if ask is not None:
            self._history_answered(ask, event)

    # -- accounts ----------------------------------------------------------------------------

    def _ctcp(self, event: dict[str, object]) -> None:
        """A CTCP query from an IRC user is answered (as irssi does) and noted in the server
        conversation, never shown as a message; a reply to one is noted there too."""
        sender, text = event.get("from"), str(event.get("text", ""))
        if not isinstance(sender, str) or self.model.is_ignored(sender) or self.model.is_me(sender):
            return
        verb = text.partition(" ")[0].upper()
        if event.get("kind") == "ctcp_reply":
            self.model.info(f"CTCP {verb} reply from {sender}: {text[len(verb):].strip()}",
                            self.model.server)
            return
        reply = ctcp.answer(text)
        if reply is not None and self._ctcp_limit.allow():
            self._write(protocol.request("message", to=sender, kind="ctcp_reply", text=reply))
            self.model.info(f"{sender} asked for CTCP {verb}; answered", self.model.server)
        else:
            self.model.info(f"{sender} asked for CTCP {verb}; not answered", self.model.server)

    def _join_all(self, rooms: Sequence[str]) -> None:
        for room in rooms:
            self._write(protocol.request("join", room=room))

    def _start_login(self) -> bool:
        """Send this session's automatic login, if we have credentials; True if sent."""
        if self._credentials is None or time.monotonic() < self._no_login_until:
            return False
        account, password = self._credentials
        self._login_ref = f"login{next(self._account_ids)}"
        self._login_deadline = time.monotonic() + self.login_timeout
        self.model.set_state(ConnState.CONNECTED, f"logging in as {account}")
        self._write(protocol.request("login", account=account, password=password,
                                     ref=self._login_ref))
        return True

    def _finish_login(self) -> None:
        """The automatic login is over, one way or another: join the rooms held back."""
        self._login_ref = None
        if self.model.state is ConnState.CONNECTED:
            self.model.set_state(ConnState.CONNECTED, "")
        rooms, self._pending_rooms = self._pending_rooms, []
        self._join_all(rooms)

    def _login_timed_out(self) -> None:
        account = self.login_account
        self.model.info(f"The server did not answer the login as {account} in time; "
                        "carrying on without an account (/login to try again).",
                        self.model.server, kind="error")
        self._finish_login()

    def _login_answered(self, event: dict[str, object]) -> None:
        if event.get("type") == "account":
            self.model.apply(event)
        else:
            code, text = event.get("code"), str(event.get("text") or "")
            account = self.login_account
            if code == "login_failed":
                # A wrong password stays wrong: forget it rather than fail at every reconnect.
                self._credentials = None
                advice = "/login to try again"
            elif code == "login_throttled":
                self._no_login_until = time.monotonic() + THROTTLE_PAUSE
                advice = "the client will not try again for a minute; /login later"
            else:
                advice = "/login to try again"
            reason = text.rstrip(".") or str(code)
            self._account_error(f"Could not log in as {account}: {reason}. "
                                f"You are connected without an account ({advice}).")
        self._finish_login()

    def _account_error(self, text: str) -> None:
        """Said in the server tab and where the user looks, once each."""
        self.model.info(text, self.model.server, kind="error")
        if self.model.current is not self.model.server:
            self.model.info(text, kind="error")

    def _account_answered(self, ask: _AccountAsk, event: dict[str, object]) -> None:
        """What a successful /login, /register, /password or /logout changes for reconnects."""
        if event.get("type") != "account":
            return  # an error: the model shows it; nothing to remember
        status, account = event.get("status"), event.get("account")
        if status in ("logged_in", "registered") and ask.password is not None:
            name = account if isinstance(account, str) else ask.account or self.model.nick
            self._credentials = (name, ask.password)
            self._no_login_until = 0.0
        elif status == "password_changed" and ask.password is not None:
            known = account if isinstance(account, str) else self.login_account
            if known:
                self._credentials = (known, ask.password)
        elif status == "logged_out":
            self._credentials = None

    def _history_answered(self, ask: _HistoryAsk, event: dict[str, object]) -> None:
        conv = self.model.conversations.get(ask.room)
        past = event.get("events") if event.get("type") == "history" else None
        if conv is None:
            return
        if ask.purpose == "older":
            conv.loading_older = False
            if isinstance(past, list) and len(past) < ask.limit:
                conv.history_start = True  # a short (or empty) page: nothing older is left
            return
        # A gap page: a full one may have more after it.
        if (isinstance(past, list) and past and len(past) >= ask.limit
                and ask.page < self.gap_pages and conv.joined):
            last = past[-1].get("id") if isinstance(past[-1], dict) else None
            if isinstance(last, str):
                self._ask_history(_HistoryAsk(ask.room, "gap", ask.limit, ask.page + 1),
                                  conv.name, after=last)

    def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        try:
            writer.write(data)
        except (OSError, RuntimeError) as exc:  # the read loop notices and reconnects
            log.debug("write failed: %s", exc)

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
