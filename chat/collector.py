"""Keeping the cyclic garbage collector's pauses short on a big server.

CPython's full collections walk every object it tracks, and nothing is served meanwhile. A
node holding 20,000 users (in a cluster every node holds them all) pauses 75-100 ms for one,
at 100,000 users about 0.5 s, and one comes each time a quarter more objects have survived
since the last: lines kept for replay survive, so at 1,000 messages a second every half
minute or so (``scripts/bench_collector.py``).

What survived a full collection is then put out of the collector's sight (``gc.freeze``), so
the next ones walk only what came since: 4-7 ms instead of 75-100 at 20,000 users. Frozen
objects are still freed by reference counting (a user who leaves, a line pushed out of a
room's replay); only a reference cycle among them would stay. So once the frozen objects
have doubled since the last full walk, they are handed back (``gc.unfreeze``) and the next
full collection walks everything and frees any such cycle: a whole walk once per doubling of
the heap, not once per quarter of it.
"""

from __future__ import annotations

import gc
from typing import Any


class CollectorPolicy:
    """Freeze after each full collection; let one walk everything once the frozen set doubled.

    Acts from the collector's own callback, at the end of a full collection (when its lists
    are consistent again); ``gc.freeze`` and ``gc.unfreeze`` only move objects between them.
    """

    def __init__(self) -> None:
        #: Objects frozen right after the last collection that walked everything.
        self.base = 0
        #: Full collections seen, and how many of them walked everything.
        self.full = 0
        self.whole = 0
        self._whole_next = True  # the first full collection walks everything anyway

    def install(self) -> None:
        """Start acting on full collections (once per process)."""
        if self._on_collection not in gc.callbacks:
            gc.callbacks.append(self._on_collection)

    def uninstall(self) -> None:
        """Stop, and give the collector back everything frozen."""
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
        gc.unfreeze()

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        self.full += 1
        if self._whole_next:  # this one walked everything: what survived is the new base
            self.whole += 1
            self._whole_next = False
            gc.freeze()
            self.base = gc.get_freeze_count()
        elif gc.get_freeze_count() >= 2 * max(self.base, MIN_BASE):
            gc.unfreeze()  # the next full collection walks everything
            self._whole_next = True
        else:
            gc.freeze()


#: Frozen objects below which a doubling does not count: a small server's heap doubles fast
#: and its whole walks are cheap anyway.
MIN_BASE = 100_000


def install() -> CollectorPolicy:
    """The policy for this process (the server calls it once at start)."""
    policy = CollectorPolicy()
    policy.install()
    return policy
