"""The human dialect object: one per telnet/nc connection."""

from __future__ import annotations

from typing import Any

from chat.core import commands as c
from chat.core import events as e
from chat.core.commands import CTCP_KINDS
from chat.core.names import unencodable
from chat.dialects.base import UNENCODABLE_TEXT, Decoded, Dialect
from chat.dialects.human.commands import (
    BEFORE,
    COMMANDS,
    Args,
    pick_first,
    split_long,
    unknown,
)
from chat.dialects.human.render import RENDERERS, lines, prose, time_of
from chat.dialects.human.terminal import LineEnds, edit
from chat.dialects.render import irc_only
from chat.wire.framing import TelnetFilter

#: What a nickname may be, as the prompt says it (chat.core.names checks it).
NICK_RULE = r"letters, digits and - _ [ ] \ ` ^ { } |, not starting with a digit or -"


class HumanDialect(Dialect):
    """telnet/nc users: a greeting, a nickname prompt, slash commands, readable lines."""

    name = "human"
    answers_ctcp = False  # a person typing cannot answer CTCP VERSION/PING: the server does
    __slots__ = ("_line_ends", "_telnet")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._telnet = TelnetFilter()
        self._line_ends = LineEnds()

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        return True  # the fallback: anything no other dialect claims is a person typing

    def filter_bytes(self, data: bytes) -> bytes:
        # IAC sequences first: their option bytes may be CR or NUL, which are not line ends.
        return self._line_ends.feed(self._telnet.feed(data))

    def take_replies(self) -> bytes:
        replies, self._telnet.replies = self._telnet.replies, b""
        return replies

    def start(self) -> list[Decoded]:
        name = self.config.name
        return [lines(f"*** Welcome to {name}, a chat server.\n"
                      f"*** Pick a nickname ({NICK_RULE}):")]

    # -- input ---------------------------------------------------------------------------

    def decode(self, line: bytes) -> list[Decoded]:
        try:
            text = edit(line.decode("utf-8")).strip()
        except UnicodeDecodeError:
            return [c.Invalid("bad_encoding", "That line was not valid UTF-8; nothing was sent")]
        if unencodable(text):
            return [c.Invalid("bad_encoding", UNENCODABLE_TEXT)]
        if not text:
            return []
        if not self.user.registered:
            if not text.startswith("/"):
                return [c.Register(text, join_default=True)]
            args = Args.of(text)
            return BEFORE.get(args.verb, pick_first)(args)
        if text.startswith("//"):
            said: list[Decoded] = [c.Say(None, text[1:])]
        elif text.startswith("/"):
            args = Args.of(text)
            said = COMMANDS.get(args.verb, unknown)(args)
        else:
            said = [c.Say(None, text)]
        return split_long(said, self.config.limits.message_len)

    # -- output --------------------------------------------------------------------------

    def encode(self, event: e.Event, cache: dict[Any, bytes | None]) -> bytes | None:
        if (isinstance(event, e.PingRequest | e.AccountChanged | e.RealnameChanged)
                or (isinstance(event, e.Message) and event.kind in CTCP_KINDS)
                or irc_only(event)):
            # A person cannot answer a ping (TCP keepalive covers dead peers); who logged in,
            # and real names, are shown by /whois, not as noise in every room; CTCP queries
            # were answered by the server, and their answers are for the client that asked.
            return None
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
        data = lines(self._render(event, key))
        if key is not None:
            cache[key] = data
        return data

    def _render(self, event: e.Event, key: Any) -> str:
        renderer = RENDERERS.get(type(event), prose)
        return renderer(self, event, time_of(event.ts), key)
