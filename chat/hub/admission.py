"""Who may connect: the one rule for the connection caps, used by the hub for every open
connection and by the engines for TLS handshakes they hold before the hub sees them."""

from __future__ import annotations

from chat.config import Limits

_LOOPBACK = ("127.", "::1", "::ffff:127.")


def refusal(limits: Limits, host: str, held: int, held_from_host: int) -> str | None:
    """Why one more connection from ``host`` must be refused, when ``held`` connections are
    held in all and ``held_from_host`` of them from ``host``; None if it may come in.

    Loopback is exempt from the per-address cap unless ``limit_loopback`` (as in ergo), so
    local benchmarks and tests work.
    """
    if limits.max_connections and held >= limits.max_connections:
        return "Server is full, try again later"
    exempt = host.startswith(_LOOPBACK) and not limits.limit_loopback
    if limits.max_per_ip and not exempt and held_from_host >= limits.max_per_ip:
        return f"Too many connections from {host}"
    return None
