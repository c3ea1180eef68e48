"""The one seam where the hub's calls reach the core: applied at once (a standalone server), or
sequenced through a cluster's log first (``chat.cluster.gate.ClusterGate``), which then applies
them on every node in one order and hands their effects back to the hub."""

from __future__ import annotations

from typing import Protocol

from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e


class Gate(Protocol):
    """What the hub asks of the core that changes shared state. Each call returns the effects
    to deliver now (a cluster gate returns few or none: they come back from the log)."""

    #: Added to the hub's own connection counter: a cluster's ids are unique across nodes.
    conn_base: int

    def owns(self, conn: int) -> bool:
        """Whether ``conn`` is a connection of this process (its effects are ours to run)."""

    def connect(self, conn: int, host: str) -> list[e.Output]:
        """A new connection (its user must exist at once: the dialect holds it)."""

    def handle(self, conn: int, command: c.Command) -> list[e.Output]:
        """A command from a connection."""

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """A connection is gone."""

    def authenticated(self, request: e.Authenticate, result: e.AuthResult) -> list[e.Output]:
        """The account workers answered."""

    def nick_grace_over(self, conn: int) -> list[e.Output]:
        """The time to log in to a protected nick is up."""

    def start(self) -> None:
        """The engine is about to serve."""

    def stop(self) -> None:
        """Every local connection is gone: finish what is in flight."""


class LocalGate:
    """A standalone server: every call goes straight to the core."""

    conn_base = 0

    def __init__(self, core: ChatCore) -> None:
        self.core = core

    def owns(self, conn: int) -> bool:
        """Every connection is ours."""
        return True

    def connect(self, conn: int, host: str) -> list[e.Output]:
        """The core makes the user."""
        self.core.connect(conn, host)
        return []

    def handle(self, conn: int, command: c.Command) -> list[e.Output]:
        """Applied now."""
        return self.core.handle(conn, command)

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """Applied now."""
        return self.core.disconnect(conn, reason)

    def authenticated(self, request: e.Authenticate, result: e.AuthResult) -> list[e.Output]:
        """Applied now."""
        return self.core.authenticated(request, result)

    def nick_grace_over(self, conn: int) -> list[e.Output]:
        """Applied now."""
        return self.core.nick_grace_over(conn)

    def start(self) -> None:
        """Nothing to join."""

    def stop(self) -> None:
        """Nothing in flight."""
