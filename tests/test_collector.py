"""The garbage collector policy (``chat/collector.py``) against the real collector: what
survives a full collection is frozen, and once the frozen set has doubled a collection walks
everything again, freeing a reference cycle that became garbage while frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from chat import collector


class Node:
    """An object that can be part of a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[collector.CollectorPolicy]:
    monkeypatch.setattr(collector, "MIN_BASE", 1)  # this process's heap is small
    installed = collector.CollectorPolicy()
    installed.install()
    try:
        yield installed
    finally:
        installed.uninstall()
    assert gc.get_freeze_count() == 0


def test_survivors_of_a_full_collection_are_frozen_and_a_doubling_brings_a_whole_walk(
        policy: collector.CollectorPolicy) -> None:
    gc.disable()  # only the collections below, in this order
    try:
        gc.collect()
        assert policy.whole == 1 and gc.get_freeze_count() == policy.base > 0
        # A cycle that becomes garbage once frozen: out of the collector's sight.
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        gc.collect()  # a and b survive it: frozen
        del a, b
        gc.collect()
        assert gone() is not None
        kept = [[] for _ in range(2 * policy.base)]
        gc.collect()  # they survive it: frozen, the frozen set has more than doubled
        assert gc.get_freeze_count() >= 3 * policy.base and policy.whole == 1
        gc.collect()  # so everything is handed back to the collector
        assert gc.get_freeze_count() == 0 and gone() is not None
        gc.collect()  # and this one walks it all: the cycle is freed
        assert gone() is None and policy.whole == 2 and policy.full == 6
        assert gc.get_freeze_count() == policy.base >= len(kept)
    finally:
        gc.enable()


def test_young_collections_change_nothing(policy: collector.CollectorPolicy) -> None:
    gc.collect(0)
    gc.collect(1)
    assert policy.full == 0 and gc.get_freeze_count() == 0
