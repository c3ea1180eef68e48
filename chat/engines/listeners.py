"""Binding the configured listeners: the same sockets for both engines."""

from __future__ import annotations

import contextlib
import socket

from chat.config import Listener, ServerConfig


def bind_listeners(config: ServerConfig) -> list[tuple[socket.socket, Listener]]:
    """A listening socket for each of ``config.all_listeners()``, in order.

    All or nothing: if one cannot be bound, those already bound are closed and the error
    (an ``OSError`` naming the address) propagates, so start-up fails before anyone connects.
    With ``config.reuse_port`` every socket has SO_REUSEPORT: the workers of one
    ``--workers`` group bind the same ports and the kernel spreads connections over them.
    """
    bound: list[tuple[socket.socket, Listener]] = []
    try:
        for spec in config.all_listeners():
            family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
            sock = socket.create_server((spec.host, spec.port), backlog=1024, family=family,
                                        reuse_port=config.reuse_port)
            bound.append((sock, spec))
    except BaseException:
        for sock, _ in bound:
            with contextlib.suppress(OSError):
                sock.close()
        raise
    return bound
