"""What both engines do when admitting a socket: cap TLS handshakes, refuse a connection
whose set-up failed, and name the reason a connection ended.

The hub counts a connection once it is open. A TLS connection is opened in the hub only after
its handshake, which can take ``tls_handshake_timeout``: without a bound here, one address
could hold any number of sockets (and, in the threaded engine, threads) in handshakes. So the
engines count every socket they hold per address, handshakes included, and refuse a new
handshake with the hub's own rule (``chat.hub.admission.refusal``).
"""

from __future__ import annotations

from chat.config import Limits
from chat.hub.admission import refusal

#: Said to a plain connection refused because its set-up failed (no thread, a socket error).
BUSY = b"ERROR :Server is busy, try again later\r\n"


def setup_failure(exc: BaseException) -> object:
    """What to log about a failed set-up: an OS or thread error as is, else only its type."""
    return exc if isinstance(exc, OSError | RuntimeError) else type(exc).__name__


def quit_reason(exc: BaseException | None) -> str:
    """The quit reason for a connection that ended with ``exc``: never internal details."""
    if exc is None:
        return "Connection closed"
    if isinstance(exc, OSError) and exc.strerror:
        return f"Connection error: {exc.strerror}"
    return "Connection error"


class HostCount:
    """Sockets held per address (open connections and handshakes), with the caps' verdict."""

    __slots__ = ("hosts", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.hosts: dict[str, int] = {}

    def add(self, host: str) -> None:
        """One more socket from ``host``."""
        self.hosts[host] = self.hosts.get(host, 0) + 1

    def remove(self, host: str) -> None:
        """One socket from ``host`` fewer."""
        left = self.hosts.get(host, 0) - 1
        if left > 0:
            self.hosts[host] = left
        else:
            self.hosts.pop(host, None)

    def refusal(self, host: str, busy: int) -> str | None:
        """Why one more handshake from ``host`` must be refused (``busy`` sockets held in all),
        or None if it may go ahead."""
        return refusal(self.limits, host, busy, self.hosts.get(host, 0))
