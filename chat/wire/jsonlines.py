"""The structured protocol's codec: one JSON object per line, UTF-8 (see docs/protocol.md).

Only the encoding of one line lives here; what the objects mean (requests, events) is the
structured dialect's business on the server and the client's on its side.
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL_VERSION = 1
"""The version a client sends in ``hello`` and the server announces in ``welcome``."""

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JsonLineError(ValueError):
    """The peer sent a line that is not one JSON object; ``code`` is the protocol error code."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def decode_json_line(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object, or raise :class:`JsonLineError` saying why not."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonLineError("bad_encoding", "Line is not valid UTF-8") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise JsonLineError("bad_json", "Line is not valid JSON") from None
    if not isinstance(obj, dict):
        raise JsonLineError("bad_json", "Line must be a JSON object")
    return obj


def encode_json_line(obj: dict[str, Any]) -> bytes:
    """One object as one line; JSON escapes any newline inside strings, so framing is safe."""
    return (_dumps(obj) + "\n").encode("utf-8")
