"""The IRC dialect object: one per IRC connection, tying syntax, registration, commands and
renderers together, and holding the connection's wire state (capabilities, registration)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chat.config import ServerConfig
from chat.core import commands as c
from chat.core import events as e
from chat.core.model import User
from chat.core.names import unencodable
from chat.dialects.base import UNENCODABLE_TEXT, Decoded, Dialect, Variants
from chat.dialects.irc.accounts import RENDERERS as ACCOUNT_RENDERERS
from chat.dialects.irc.accounts import Sasl
from chat.dialects.irc.commands import COMMANDS
from chat.dialects.irc.history import RENDERERS as HISTORY_RENDERERS
from chat.dialects.irc.labels import label_reply, labelled
from chat.dialects.irc.messaging import relayed_tags, tag_line
from chat.dialects.irc.numerics import numeric
from chat.dialects.irc.operators import RENDERERS as OPERATOR_RENDERERS
from chat.dialects.irc.people import RENDERERS as PEOPLE_RENDERERS
from chat.dialects.irc.registration import BEFORE, OPENING, opens_registration, plain_text_hint
from chat.dialects.irc.render import RENDERERS as EVENT_RENDERERS
from chat.dialects.irc.render import Renderer
from chat.dialects.irc.server import RENDERERS as SERVER_RENDERERS
from chat.dialects.irc.syntax import (
    LINE,
    TAGS,
    clip,
    invalid_utf8,
    mask,
    parse,
    too_long,
)
from chat.dialects.irc.tags import MAX_CLIENT_TAG_DATA, split_tags
from chat.dialects.render import describe
from chat.dialects.structured import iso_time

#: Event type -> renderer: ``render``'s, ``history``'s for the history events, ``accounts``'
#: for the account events, ``operators``' for the server-operator events, ``people``' for
#: WHOWAS, MONITOR and SETNAME, and ``server``'s for LUSERS, STATS and INFO.
RENDERERS: dict[type[e.Event], Renderer] = {
    **EVENT_RENDERERS, **HISTORY_RENDERERS, **ACCOUNT_RENDERERS, **OPERATOR_RENDERERS,
    **PEOPLE_RENDERERS, **SERVER_RENDERERS, e.TagMessage: tag_line}
_NO_TAGS: dict[str, str] = {}  # shared, never written to


class IrcDialect(Dialect):
    """One IRC client: registration and capabilities here, everything else through the core."""

    name = "irc"
    __slots__ = ("batches", "cap302", "capkey", "caps", "got_user", "hinted", "ident",
                 "late_label", "negotiating", "pass_login", "realname", "received_tags", "sasl",
                 "serial", "server", "want_nick")
    server: str  # the server's name, the source of its lines
    #: Capabilities this client enabled: a set once a CAP REQ is acked (shared empty before).
    caps: set[str] | frozenset[str]
    capkey: tuple[str, ...]  # the caps, sorted: part of the encoding cache key
    # What registration has collected so far (see ``registration``).
    negotiating: bool  # CAP LS/REQ seen, END not yet: registration waits
    want_nick: str
    ident: str
    realname: str
    got_user: bool
    hinted: bool  # told (once) how to register, or where plain-text chat is: see ``_decode``
    batches: int  # batches opened so far: their ids (see ``new_batch``)
    cap302: bool  # the client said CAP LS 302: capabilities are listed with their values
    sasl: Sasl | None  # the SASL exchange in progress (see ``accounts``)
    serial: int  # SASL exchanges started so far: tells a stale answer from the current one
    pass_login: tuple[str, str] | None  # PASS account:password, to log in with at registration
    #: The tags of the line being decoded (empty between lines): handlers read client-only
    #: tags and the label from here.
    received_tags: dict[str, str]
    #: (ref, label) of a labelled command answered later (history, passwords): its answer,
    #: the next event carrying that very ref, gets the label (see ``labels``).
    late_label: tuple[object, str] | None

    #: Events sent to many connections: encoded once per (capabilities, is-the-source) variant.
    _SHARED = (e.Message, e.Joined, e.Parted, e.Quitted, e.NickChanged, e.Kicked, e.ModeChanged,
               e.Invited, e.PingRequest, e.AccountChanged, e.WallopsMessage, e.TagMessage)

    own_differs = True  # no copy of one's own message without echo-message

    def __init__(self, config: ServerConfig, user: User,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__(config, user, clock)
        self.server = config.name
        self.caps = frozenset()
        self.capkey = ()
        self.negotiating = False
        self.want_nick = ""
        self.ident = ""
        self.realname = ""
        self.got_user = False
        self.hinted = False
        self.batches = 0
        self.cap302 = False
        self.sasl = None
        self.serial = 0
        self.pass_login = None
        self.received_tags = _NO_TAGS
        self.late_label = None

    # -- detection and framing ------------------------------------------------------------

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        words = first_line.split(None, 1)
        return bool(words) and words[0].upper() in OPENING and opens_registration(
            first_line.decode("utf-8", "replace"))

    def after_greeting(self) -> list[Decoded]:
        # A person at the nickname prompt who typed "NICK alice" reads this line too.
        return [self.server_line("NOTICE * :*** Your first line was an IRC command, so this "
                                 "connection now speaks IRC. On telnet or nc? Reconnect and "
                                 "type just the nickname you want.")]

    @classmethod
    def max_line(cls, config: ServerConfig) -> int:
        return LINE + TAGS

    def line_too_long(self, limit: int) -> list[Decoded]:
        return [self.num("417", text="Input line was too long")]

    # -- what handlers and renderers build lines with -------------------------------------

    @property
    def me(self) -> str:
        """This client's nick as numerics address it: ``*`` before registration."""
        return self.user.nick or "*"

    def set_caps(self, names: list[str]) -> None:
        """Enable (``name``) or disable (``-name``) capabilities."""
        if not isinstance(self.caps, set):
            self.caps = set()
        for n in names:
            if n.startswith("-"):
                self.caps.discard(n[1:])
            else:
                self.caps.add(n)
        self.capkey = tuple(sorted(self.caps))
        Variants.epoch += 1  # this connection's variant changed: regroup rooms

    @property
    def gets_own(self) -> bool:
        """Its own room messages come back only with echo-message (see ``_message``)."""
        return "echo-message" in self.caps

    def num(self, code: str, *params: str, text: str | None = None) -> bytes:
        """A numeric reply addressed to this client (so never shared with another)."""
        return numeric(self.server, self.me, code, *params, text=text)

    def server_line(self, rest: str) -> bytes:
        """A line from the server, without tags."""
        return (clip(f":{self.server} {rest}") + "\r\n").encode("utf-8")

    def new_batch(self) -> str | None:
        """A fresh batch id, unique on this connection; None if the client did not enable
        ``batch`` (then what would be batched is sent bare)."""
        if "batch" not in self.caps:
            return None
        self.batches += 1
        return str(self.batches)

    def tags(self, event: e.Event, msgid: str | None = None, batch: str | None = None) -> str:
        """The message tags this client asked for, as a line prefix (or ""); ``batch`` is the
        id of the batch the line belongs to (only ever set when the client enabled ``batch``)."""
        if batch is None and not self.caps:
            return ""  # every tag below needs a capability: most plain clients' lines
        tags = [f"batch={batch}"] if batch is not None else []
        if "server-time" in self.caps:
            tags.append(f"time={iso_time(event.ts)}")
        if msgid is not None and "message-tags" in self.caps:
            tags.append(f"msgid={msgid}")
        source = event.source
        if source is not None and source.account and "account-tag" in self.caps:
            tags.append(f"account={source.account}")
        relayed = relayed_tags(self, event)
        if relayed:
            tags.append(relayed)
        return f"@{';'.join(tags)} " if tags else ""

    def line_from(self, event: e.Event, rest: str, msgid: str | None = None,
                  batch: str | None = None) -> bytes:
        """A line caused by ``event.source`` (or the server), with the tags this client wants."""
        prefix = mask(event.source) if event.source else self.server
        line = clip(f":{prefix} {rest}")
        return (self.tags(event, msgid, batch) + line + "\r\n").encode("utf-8")

    # -- input -----------------------------------------------------------------------------

    def decode(self, line: bytes) -> list[Decoded]:
        if too_long(line):
            return [self.num("417", text="Input line was too long")]
        raw_tags = b""
        if line.startswith(b"@"):
            raw_tags, _, line = line.partition(b" ")
            raw_tags = raw_tags[1:]
            if len(raw_tags) > MAX_CLIENT_TAG_DATA:
                return [self.num("417", text="Input line was too long")]
        try:
            text = line.decode("utf-8")
            tag_text = raw_tags.decode("utf-8")
        except UnicodeDecodeError:  # UTF8ONLY: refused, never guessed at
            return [invalid_utf8(self, line)]
        if unencodable(text) or unencodable(tag_text):
            return [c.Invalid("bad_encoding", UNENCODABLE_TEXT)]
        verb, params = parse(text)
        if not verb:
            return []
        tags = self.received_tags = split_tags(tag_text) if tag_text else _NO_TAGS
        try:
            out = self._decode(verb, params)
        finally:
            self.received_tags = _NO_TAGS
        label = tags.get("label")
        return labelled(self, label, out) if label else out

    def _decode(self, verb: str, params: list[str]) -> list[Decoded]:
        if not self.user.registered:
            before = BEFORE.get(verb)
            if before is None:
                refused = self.num("451", text="You have not registered")
                if self.hinted or self.negotiating:
                    return [refused]
                # Most likely a person on telnet or nc (an IRC-only listener skips detection):
                # 451 alone means nothing to them. Said once; an IRC client shows it as a notice.
                # Not to a client negotiating capabilities: an IRC client, which may send a
                # command early on purpose (irssi sends "JOIN :" right after CAP LS).
                self.hinted = True
                return [refused, self.server_line(f"NOTICE * :*** {plain_text_hint(self.config)}")]
            return before(self, verb, params)
        handler = COMMANDS.get(verb)
        if handler is None:
            return [self.num("421", verb, text="Unknown command")]
        return handler(self, verb, params)

    # -- output ----------------------------------------------------------------------------

    @property
    def variant(self) -> tuple[str, tuple[str, ...]]:
        """Room messages differ between connections only by capabilities (and is-the-sender)."""
        return ("irc", self.capkey)

    def encode(self, event: e.Event, cache: dict[Any, bytes | None]) -> bytes | None:
        shared = isinstance(event, self._SHARED) or (
            isinstance(event, e.Topic | e.AwayStatus) and event.changed)
        if not shared:
            data = self._render(event, False)
            late = self.late_label
            if late is not None and event.ref is late[0]:
                self.late_label = None
                data = label_reply(self, late[1], data or b"")
            return data
        is_self = event.source is not None and event.source.nick == self.user.nick
        key = ("irc", self.capkey, is_self)
        if key in cache:
            return cache[key]
        data = cache[key] = self._render(event, is_self)
        return data

    def _render(self, event: e.Event, is_self: bool) -> bytes | None:
        renderer = RENDERERS.get(type(event))
        if renderer is None:
            return self.server_line(f"NOTICE {self.me} :{describe(event)}")
        return renderer(self, event, is_self)
