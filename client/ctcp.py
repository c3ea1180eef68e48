"""Client-to-client queries (CTCP) from IRC users, which the server passes on for the bundled
client to answer as irssi or weechat would: VERSION, PING, TIME and CLIENTINFO get a
``ctcp_reply``; anything else is only noted. Answers are rate-limited so that a flood of
queries cannot use up our own message rate on the server.
"""

from __future__ import annotations

import time

from chat import __version__

#: The queries answered, as CLIENTINFO lists them.
ANSWERED = ("ACTION", "CLIENTINFO", "PING", "TIME", "VERSION")
#: At most this many answers per ``WINDOW`` seconds; the rest are noted, not answered.
BURST = 3
WINDOW = 10.0


def answer(text: str, now: float | None = None) -> str | None:
    """The reply text for the query ``text`` (``"VERSION"``, ``"PING 123"``), or None."""
    verb, _, arg = text.partition(" ")
    verb = verb.upper()
    if verb == "VERSION":
        return f"VERSION chat-client {__version__}"
    if verb == "PING":
        return f"PING {arg}".rstrip()
    if verb == "TIME":
        return "TIME " + time.strftime("%a %b %d %H:%M:%S %Y",
                                       time.localtime(time.time() if now is None else now))
    if verb == "CLIENTINFO":
        return "CLIENTINFO " + " ".join(ANSWERED)
    return None


class Limiter:
    """At most ``BURST`` answers in any ``WINDOW`` seconds (monotonic clock)."""

    def __init__(self, burst: int = BURST, window: float = WINDOW) -> None:
        self.burst = burst
        self.window = window
        self._sent: list[float] = []

    def allow(self, now: float | None = None) -> bool:
        """Whether one more answer may go now; counts it when it may."""
        now = time.monotonic() if now is None else now
        self._sent = [t for t in self._sent if now - t < self.window]
        if len(self._sent) >= self.burst:
            return False
        self._sent.append(now)
        return True
