"""When two names on the wire are the same name.

The server keys nicks and rooms by this, and a client must agree with it to know which room an
event belongs to or whether a line mentions its own nick. Which names are *allowed* is the
core's rule (``chat.core.names``); how they compare is shared.
"""

from __future__ import annotations


def fold(name: str) -> str:
    """The key two names are compared by (ASCII case-insensitive: IRC ``CASEMAPPING=ascii``)."""
    return name.lower()
