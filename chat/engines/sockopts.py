"""Socket options both engines set on every accepted TCP connection."""

from __future__ import annotations

import contextlib
import socket

from chat.config import Limits


def tune(sock: socket.socket, limits: Limits) -> None:
    """No Nagle delay for chat lines; keepalive probes that find dead peers in bounded time.

    The keepalive timing follows the ping limits, so a person on telnet (who cannot answer an
    application ping) is still dropped within about ``ping_interval + ping_timeout`` once the
    peer's machine has vanished, while an idle but present person is never disconnected.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if limits.ping_interval and hasattr(socket, "TCP_KEEPIDLE"):
        probes = 4
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE,
                            max(1, int(limits.ping_interval)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL,
                            max(1, int((limits.ping_timeout or limits.ping_interval) / probes)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, probes)
