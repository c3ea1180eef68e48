"""The bytes on the wire, defined once and shared by the server, the client and the bench.

The server's dialects, the bundled client (``client/``) and the load generator
(``chat/bench/``) all speak the same protocol; if each kept its own copy of the framing or the
JSON-line codec they could drift apart without any test noticing. So the pieces every side needs
live here, with no I/O and no dependency on the core or the dialects:

- ``framing``    bytes -> lines with one length limit (``LineReader``), telnet IAC filtering.
- ``jsonlines``  one JSON object <-> one line, its error type, and ``PROTOCOL_VERSION``.
- ``names``      ``fold``: when two nicks or room names are the same.
"""
