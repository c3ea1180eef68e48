"""Cluster mode: several server processes, any mix of engines, acting as one chat server
through one Redis (``chat-server --cluster redis://HOST:PORT/DB``).

State-machine replication over one Redis stream. Every call that changes shared state
(connect, a command, a disconnect, an account result, a node lost) is appended to the stream
``chat:log`` instead of being applied; every node reads the stream in order and applies each
entry to its own copy of the I/O-free core, with the entry's time as the clock and ids made
from the entry's id, so all copies stay identical. Each node delivers the effects to its own
connections and ignores the rest. One stream gives every room one order and makes nick and
account claims atomic: the first entry wins everywhere.

Layout:

- ``codec.py``     commands and events as JSON, by a registry of dataclasses (never pickle);
- ``replica.py``   an entry's meaning, without I/O: applying it to a core, deterministically;
- ``snapshot.py``  a core's state as JSON and back (what a joining node loads);
- ``backplane.py`` the Redis side: appending and reading (two threads of its own), heartbeats,
  node loss, snapshots and trimming, reconnecting and resynchronising after Redis stops or
  stalls;
- ``looplog.py``   appending and reading on the engine's event loop instead (asyncio engine):
  no thread hand-off on a message's way through the log;
- ``gate.py``      the hub's seam (``chat.hub.gate``): what goes to the log, what is answered
  locally, and how what the log says gets back into the hub.

See docs/scaling.md for the design and its numbers.
"""
