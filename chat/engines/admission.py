"""Connection caps the engines enforce themselves: TLS handshakes in progress.

The hub counts a connection once it is open. A TLS connection is opened in the hub only after
its handshake, which can take ``tls_handshake_timeout``: without a bound here, one address
could hold any number of sockets (and, in the threaded engine, threads) in handshakes. So the
engines count every socket they hold per address, handshakes included, and refuse a new
handshake that would pass ``max_connections`` or ``max_per_ip``, with the hub's rules.
"""

from __future__ import annotations

from chat.config import Limits

_LOOPBACK = ("127.", "::1", "::ffff:127.")


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
        lim = self.limits
        if lim.max_connections and busy >= lim.max_connections:
            return "Server is full"
        exempt = host.startswith(_LOOPBACK) and not lim.limit_loopback
        if lim.max_per_ip and not exempt and self.hosts.get(host, 0) >= lim.max_per_ip:
            return f"Too many connections from {host}"
        return None
