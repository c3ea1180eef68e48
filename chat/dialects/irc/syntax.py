"""IRC line syntax: sizes, parsing a client's line, and cutting text to fit a line.

Pure functions over text and bytes; nothing here knows about connections or the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.core import events as e

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

LINE = 512  # bytes per line, CRLF included, tags excluded
TAGS = 8191  # bytes of tags in front of a line, as message-tags allows


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


def too_long(line: bytes) -> bool:
    """True if a received line (tags included) is over what IRC allows; tags have their own
    budget, so a tagged line is measured in two parts."""
    if line.startswith(b"@"):
        tags, _, line = line.partition(b" ")
        if len(tags) > TAGS:
            return True
    return len(line) > LINE - 2


def verb_of(line: bytes) -> str:
    """The verb of a received line that may not even be text (its prefix skipped), or ``*``
    when it is not a plain word."""
    if line.startswith(b":"):
        line = line.partition(b" ")[2]
    word = line.lstrip(b" ").split(b" ", 1)[0]
    return word.decode("ascii").upper() if word.isalpha() and word.isascii() else "*"


def invalid_utf8(d: IrcDialect, line: bytes) -> bytes:
    """The UTF8ONLY refusal of a line that is not UTF-8: ``FAIL <verb> INVALID_UTF8``."""
    return d.server_line(f"FAIL {verb_of(line)} INVALID_UTF8 :Message rejected, your IRC "
                         "software MUST use UTF-8 encoding on this network")


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


def host(address: str) -> str:
    """A host as a parameter: an IPv6 address like ::1 would start a trailing parameter, so it
    is written 0::1, as ircds do."""
    return "0" + address if address.startswith(":") else address


def status_prefix(d: IrcDialect, op: bool, voice: bool) -> str:
    """``@`` and ``+`` for a room member (NAMES, WHOIS, WHO): both with ``multi-prefix``, else
    only the highest."""
    prefix = ("@" if op else "") + ("+" if voice else "")
    return prefix if "multi-prefix" in d.caps else prefix[:1]


def mask(source: e.Source) -> str:
    """``nick!ident@host`` of whoever caused an event."""
    return f"{source.nick}!{source.ident or source.nick}@{host(source.host)}"


def clip(line: str, limit: int = LINE - 2) -> str:
    """Cut a line (tags excluded) to ``limit`` UTF-8 bytes without splitting a character."""
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    return data[:limit].decode("utf-8", "ignore")
