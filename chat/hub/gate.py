"""The one seam where the hub's calls reach the core: applied at once (a standalone server), or
sequenced through a cluster's log first (``chat.cluster.gate.ClusterGate``), which then applies
them on every node in one order and hands their effects back to the hub."""

from __future__ import annotations

from typing import Protocol

from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.dialects.base import Gather


class Gate(Protocol):
    """What the hub asks of the core that changes shared state. Each call returns the effects
    to deliver now (a cluster gate returns few or none: they come back from the log)."""

    #: Added to the hub's own connection counter: a cluster's ids are unique across nodes.
    conn_base: int
    #: The sequence number of the last call appended to a log (a standalone server: 0):
    #: when it moved while a ``Gather`` ran, its replies are still to come.
    last_seq: int

    def owns(self, conn: int) -> bool:
        """Whether ``conn`` is a connection of this process (its effects are ours to run)."""

    def connect(self, conn: int, host: str) -> list[e.Output]:
        """A new connection (its user must exist at once: the dialect holds it)."""

    def handle(self, conn: int, command: c.Command) -> list[e.Output]:
        """A command from a connection."""

    def ctcp_by_server(self, conn: int, by_server: bool) -> None:
        """Whether the server answers client queries for ``conn`` (its dialect is known now):
        every replica must know, since whichever applies a query answers it."""

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """A connection is gone."""

    def authenticated(self, request: e.Authenticate, result: e.AuthResult) -> list[e.Output]:
        """The account workers answered."""

    def nick_grace_over(self, conn: int) -> list[e.Output]:
        """The time to log in to a protected nick is up."""

    def unready(self) -> str | None:
        """Why the server cannot serve as it should (``/readyz``), or None."""

    def gather_later(self, conn: int, since: int, made: bytes, gather: Gather) -> None:
        """``gather``'s items sent calls after ``since`` to the log: finish it (with ``made``
        first) once they come back applied."""

    def start(self) -> None:
        """The engine is about to serve."""

    def stop(self) -> None:
        """Every local connection is gone: finish what is in flight."""


class LocalGate:
    """A standalone server: every call goes straight to the core."""

    conn_base = 0
    last_seq = 0

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

    def ctcp_by_server(self, conn: int, by_server: bool) -> None:
        """Set now."""
        user = self.core.users.get(conn)
        if user is not None:
            user.ctcp_by_server = by_server

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """Applied now."""
        return self.core.disconnect(conn, reason)

    def authenticated(self, request: e.Authenticate, result: e.AuthResult) -> list[e.Output]:
        """Applied now."""
        return self.core.authenticated(request, result)

    def nick_grace_over(self, conn: int) -> list[e.Output]:
        """Applied now."""
        return self.core.nick_grace_over(conn)

    def unready(self) -> str | None:
        """Nothing beyond this process."""
        return None

    def gather_later(self, conn: int, since: int, made: bytes, gather: Gather) -> None:
        """Never called: nothing is appended anywhere."""
        raise AssertionError("a standalone server appends nothing")

    def start(self) -> None:
        """Nothing to join."""

    def stop(self) -> None:
        """Nothing in flight."""
