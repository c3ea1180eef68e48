"""A chat-room server with two engines sharing one I/O-free core.

Layout, following the bytes:

- ``chat/engines/``  asyncio and threaded shells: accept sockets on the configured listeners,
  move bytes, report byte-level facts to the hub. Nothing else.
- ``chat/hub/``      between bytes and the core, shared by both engines: sessions, dialect
  detection, framing, the rate limit, typed timers, fan-out (each delivery encoded once per
  dialect variant), paced replies, and every policy on who is cut and why. Observers (history,
  metrics, a backplane) subscribe here.
- ``chat/dialects/`` one codec per kind of client: human (telnet/nc), structured (JSON lines),
  IRC, and on the HTTP listener health checks, metrics and WebSocket (wrapping IRC or JSON).
  Lines in, typed commands out; typed events in, bytes out.
- ``chat/core/``     the rules, one module per concern behind the ``ChatCore`` facade. Commands
  in, deliveries ("this event to these connections, caused by that one") out. No I/O.
- ``chat/history/``  what survives a restart: the store interface, the memory and SQLite stores,
  and the history thread that keeps the disk off the engines' path.
- ``chat/accounts/`` accounts: their store interface, argon2id/SCRAM credentials, and the
  worker threads that hash off the engines' path.
- ``chat/wire/``     the bytes on the wire (line framing, the JSON-line codec, name folding),
  shared with the bundled client and the load generator.
- ``chat/cli.py``    the ``chat-server`` command; ``chat/config.py`` its settings, listeners
  and limits.

docs/architecture.md follows one message from a socket to its recipients.
"""

__version__ = "0.1.0"
