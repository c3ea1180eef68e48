"""Logs a person (or a log shipper) can use: plain text or one JSON object per line.

What is logged at INFO: connections opened and closed (with address and dialect), nick changes,
kicks, room bans, server bans and operator actions, errors and limit hits. Message bodies and
passwords never are.
"""

from __future__ import annotations

import json
import logging
import sys
import time

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, message, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        obj = {"ts": f"{stamp}.{int(record.msecs):03d}Z", "level": record.levelname,
               "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False)


class NodeFormatter(logging.Formatter):
    """Another formatter's lines marked with the node they come from: the workers of one
    ``--workers`` group write to one stderr, and their lines must be told apart."""

    def __init__(self, inner: logging.Formatter, node: str) -> None:
        super().__init__()
        self.inner, self.node = inner, node

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        if isinstance(self.inner, JsonFormatter):
            obj = json.loads(line)
            obj["node"] = self.node
            return json.dumps(obj, ensure_ascii=False)
        return f"[{self.node}] {line}"


def configure(level: str, form: str) -> None:
    """Send the server's log to stderr at ``level``, as ``text`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def mark_node(node: str) -> None:
    """Mark every line the configured handlers write with ``node`` (``--workers`` children)."""
    for handler in logging.getLogger().handlers:
        if handler.formatter is not None and not isinstance(handler.formatter, NodeFormatter):
            handler.setFormatter(NodeFormatter(handler.formatter, node))
