"""Sans-I/O client side of the structured protocol: bytes in, event dicts out.

It uses the line framing and JSON-line codec of ``chat.wire``, the ones the server uses, so
there is exactly one parser for the protocol; this module only adds what a client needs on top
(request builders, skipping bad lines instead of answering them).
"""

from __future__ import annotations

import logging
from typing import Any

from chat.wire.framing import LineReader, LineTooLong
from chat.wire.jsonlines import (
    PROTOCOL_VERSION,
    JsonLineError,
    decode_json_line,
    encode_json_line,
)

log = logging.getLogger("client.protocol")

CLIENT_NAME = "chat-client/0.1"
# Larger than the server's line limit: a client must never drop what its server chose to send.
DEFAULT_MAX_LINE = 1 << 20

Event = dict[str, Any]


class ClientProtocol:
    """Turns received bytes into event dicts; builds request lines.

    A line the server should never send (not JSON, too long, no ``type``) is logged and
    skipped: one bad line must not take the whole session down.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._reader = LineReader(max_line)
        self.skipped = 0

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the socket; return every complete event they finish."""
        events: list[Event] = []
        for line in self._reader.feed(data):
            if isinstance(line, LineTooLong):
                self._skip("line longer than %d bytes", line.limit)
                continue
            if not line.strip():
                continue
            try:
                obj = decode_json_line(line)
            except JsonLineError as exc:
                self._skip("%s: %r", exc.code, line[:80])
                continue
            if not isinstance(obj.get("type"), str):
                self._skip("no type: %r", line[:80])
                continue
            events.append(obj)
        return events

    def _skip(self, fmt: str, *args: object) -> None:
        self.skipped += 1
        log.warning("skipping a line from the server: " + fmt, *args)


def request(request_type: str, /, **fields: Any) -> bytes:
    """One request line; fields that are None are left out (the protocol treats them as absent)."""
    obj: dict[str, Any] = {"type": request_type}
    obj.update({k: v for k, v in fields.items() if v is not None})
    return encode_json_line(obj)


def hello(nick: str) -> bytes:
    """The first line of every connection."""
    return request("hello", version=PROTOCOL_VERSION, nick=nick, client=CLIENT_NAME)
