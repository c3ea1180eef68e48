"""A chat-room server with two engines sharing one I/O-free core.

Layout, following the bytes:

- ``chat/engines/``  asyncio and threaded shells: accept sockets, move bytes, nothing else.
- ``chat/hub.py``    between bytes and the core, shared by both engines: dialect detection,
  line framing, rate limits, timers, encoding each delivery once per dialect.
- ``chat/dialects/`` one codec per kind of client: human (telnet/nc), structured (JSON lines),
  IRC. Lines in, typed commands out; typed events in, bytes out.
- ``chat/core/``     the rules: users, nicks, rooms, membership, topics. Commands in,
  deliveries ("this event to these connections") out. No I/O, no threads, no asyncio.
- ``chat/wire/``     the bytes on the wire (line framing, the JSON-line codec, name folding),
  shared with the bundled client and the load generator.
- ``chat/cli.py``    the ``chat-server`` command; ``chat/config.py`` its settings and limits.
"""

__version__ = "0.1.0"
