"""TLS contexts for the server's TLS port and for clients (the bundled client, tests, bots).

Kept in one place so both engines serve TLS with the same settings, and so the client verifies
certificates the same way whatever its UI: system trust store by default, or one CA file.
"""

from __future__ import annotations

import ssl


def server_context(cert_file: str, key_file: str | None = None) -> ssl.SSLContext:
    """A server context for ``cert_file`` (PEM chain) and ``key_file`` (PEM; None: in the cert).

    TLS 1.2 is the floor: older versions are broken and no current client needs them.
    Raises ``OSError``/``ssl.SSLError`` if the files cannot be read or do not match, so a
    misconfigured server fails at start-up rather than at the first handshake.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    # Tickets would need key rotation to be safe; a chat server gains little from resumption.
    context.options |= ssl.OP_NO_TICKET
    return context


def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system's trusted CAs, or only ``ca_file`` if given.

    Hostname checking stays on: connect with ``server_hostname`` set to the name in the
    server's certificate (asyncio's ``open_connection(..., ssl=ctx)`` does so by default).
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
