"""Dialects: one codec per kind of client, all speaking to the same core.

``detect`` picks the dialect from a connection's first line. To add a dialect, subclass
:class:`Dialect` and insert it in ``DIALECTS`` ahead of the human fallback.
"""

from __future__ import annotations

from chat.dialects.base import Decoded, Dialect
from chat.dialects.http import HttpDialect
from chat.dialects.human import HumanDialect
from chat.dialects.irc import IrcDialect
from chat.dialects.structured import StructuredDialect

#: Tried in order; the last one claims every connection (a person typing).
DIALECTS: list[type[Dialect]] = [StructuredDialect, IrcDialect, HumanDialect]
#: Every dialect a listener may pin, by name: the detected ones, and HTTP (never detected).
_PINNED: list[type[Dialect]] = [*DIALECTS, HttpDialect]
BY_NAME: dict[str, type[Dialect]] = {d.name: d for d in _PINNED}


def detect(first_line: bytes) -> type[Dialect]:
    """The dialect a connection speaks, judged from its first line."""
    for dialect in DIALECTS:
        if dialect.sniff(first_line):
            return dialect
    return HumanDialect


__all__ = [
    "BY_NAME", "DIALECTS", "Decoded", "Dialect", "HttpDialect", "HumanDialect", "IrcDialect",
    "StructuredDialect", "detect",
]
