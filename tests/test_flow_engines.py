"""Flow control over real sockets, on both engines: a sender whose readers are behind is no
longer read from (its bytes wait in the kernel), and everything arrives once they read."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

from support import WAIT, Clients, LineClient, wait_until

from chat.hub import Hub
from chat.hub.flow import TURN

TEXT = "f" * 1000


def test_a_sender_is_not_read_while_its_readers_are_behind(
        serve_with: Callable[..., Clients]) -> None:
    made = serve_with(sendq=8 << 20, sendq_grace=60.0, message_len=2000)
    hub = made.server.hub
    hub.flow.patience = 600.0  # this test is about braking, not about stalled readers
    readers = [made.bot(f"r{i}", "#flow", rcvbuf=4096) for i in range(2)]  # not reading yet
    talker = made.bot("talker", "#flow")
    talker.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    count = 3000  # 3 MB each for the readers: far over the high-water mark, under the sendq
    burst = "".join(json.dumps({"type": "message", "to": "#flow", "text": f"{n} {TEXT}"}) + "\n"
                    for n in range(count)).encode()
    sender = threading.Thread(target=talker.sock.sendall, args=(burst,), daemon=True)
    sender.start()
    wait_until(lambda: talker_conn(hub) in hub.flow.braked)
    queued = made.server.engine.stats().queued_bytes
    # Held near the mark (plus what one turn added), not the 6 MB the talker wants to send.
    assert queued < len(readers) * (hub.high_water + 4 * TURN + 64 * 1024), queued
    assert sender.is_alive()  # its bytes wait in the kernel: the server does not read them
    got: dict[str, list[int]] = {}
    threads = [threading.Thread(target=read_all, args=(r, count, got, f"r{i}"))
               for i, r in enumerate(readers)]
    for thread in threads:
        thread.start()
    sender.join(WAIT * 2)
    for thread in threads:
        thread.join(WAIT * 2)
    assert not sender.is_alive()
    assert got == {f"r{i}": list(range(count)) for i in range(len(readers))}
    assert hub.flow.pauses >= 1


def talker_conn(hub: Hub) -> int:
    """The talker's connection id: the last one the hub opened."""
    return hub.opened


def read_all(client: LineClient, count: int, got: dict[str, list[int]], name: str) -> None:
    numbers: list[int] = []
    while len(numbers) < count:
        obj = json.loads(client.line())
        if obj.get("type") == "message":
            numbers.append(int(obj["text"].split()[0]))
    got[name] = numbers
