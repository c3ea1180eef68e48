"""What an HTTP connection may ask the server: is it ready, and its metrics.

A read-only view of the hub, called on the engine's thread (where the hub and core may be
read) when an HTTP request is answered; it does no I/O. ``/readyz`` asks ``unready``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chat.hub.hub import Hub


class HubStatus:
    """Readiness and metrics, for the HTTP dialect (``chat.dialects.http.ServerStatus``)."""

    __slots__ = ("hub",)

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def unready(self) -> str | None:
        """None when listeners accept and history can be written; otherwise why not."""
        hub = self.hub
        if not hub.serving:
            return "not listening"
        reason = hub.gate.unready()  # a cluster node: is Redis reachable
        if reason is None and hub.history is not None:
            reason = hub.history.unwritable()
        return reason

    def metrics(self) -> bytes | None:
        """The Prometheus text exposition, or None when the hub keeps no metrics."""
        metrics = self.hub.metrics
        return None if metrics is None else metrics.render()
