"""The delivery observer seam: what a history store, metrics or a backplane subscribe to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chat.core import events as e
from chat.hub.output import Output


class HubObserver(Protocol):
    """Sees what the hub does, after it is decided and before engines move the bytes.

    Called on the engine's thread (under the threaded engine's lock, on the asyncio loop), so
    an observer must only record and hand off: a store queues to its writer thread, metrics
    bump counters. It must never block or raise.
    """

    def delivered(self, outputs: Sequence[e.Output]) -> None:
        """The effects of one core call, in order (each ``Delivery`` names its origin)."""

    def flushed(self, out: Output) -> None:
        """One flush's non-empty output, about to go to the engine (count per flush)."""


class NullObserver:
    """Observes nothing: the default, and the shape to copy."""

    __slots__ = ()

    def delivered(self, outputs: Sequence[e.Output]) -> None:
        """Nothing to record."""

    def flushed(self, out: Output) -> None:
        """Nothing to count."""
