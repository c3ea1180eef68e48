"""Load generator for chat servers: ours (both engines) and any IRC server, side by side.

Layout:

- ``proto``: the client side of the two dialects the generator speaks (IRC and structured JSON
  lines) and :class:`~chat.bench.proto.BenchClient`, one asyncio Protocol per simulated client.
  Receiving is the hot path: a client counts deliveries with one ``bytes.count`` per read and
  only a few "probe" clients parse timestamps, so the generator stays cheap per delivery.
- ``workloads``: fan-out, many rooms and idle capacity, each returning a plain dict of results.
- ``procstat``: server RSS and CPU time read from ``/proc/<pid>``.
- ``__main__``: the ``chat-bench`` command line.

The side-by-side comparison against ngircd and InspIRCd lives in ``scripts/bench_compare.py``.
"""

from __future__ import annotations

from chat.bench.workloads import (
    FanoutParams,
    IdleParams,
    RoomsParams,
    run_fanout,
    run_idle,
    run_rooms,
)

__all__ = [
    "FanoutParams",
    "IdleParams",
    "RoomsParams",
    "run_fanout",
    "run_idle",
    "run_rooms",
]
