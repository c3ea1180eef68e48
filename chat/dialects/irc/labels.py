"""IRCv3 labeled-response: a command sent with ``@label=X`` gets its replies back with the
label, on the one reply line, on the batch wrapping several, or on an ``ACK`` when there is none.

The dialect wraps a labelled line's decoded items in a :class:`~chat.dialects.base.Gather`;
the hub runs them and hands back every byte they made for this connection (other
recipients' copies are never labelled), and :func:`label_reply` rewrites those bytes. Answers
that come later (history from the store, password checks) carry the label when they arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.core import commands as c
from chat.dialects.base import Decoded, Gather
from chat.dialects.irc.tags import MAX_LABEL, escape

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: Commands answered later, through the hub's inbox: their answer carries the label then.
_ANSWERED_LATER = (c.FetchHistory, c.HistoryTargets, c.Login, c.RegisterAccount,
                   c.ChangePassword, c.ScramStep)


def labelled(d: IrcDialect, label: str, items: list[Decoded]) -> list[Decoded]:
    """``items`` wrapped so their replies carry ``label`` (unchanged when the client did not
    enable labeled-response or the label is unusable)."""
    if "labeled-response" not in d.caps or not label or len(label.encode()) > MAX_LABEL:
        return items
    later = next((item.ref for item in items if isinstance(item, _ANSWERED_LATER)
                  and item.ref is not None and not isinstance(item.ref, str)), None)

    def finish(data: bytes) -> bytes:
        if not data and later is not None:
            d.late_label = (later, label)  # the answer comes through encode, later
            return b""
        return label_reply(d, label, data)
    return [Gather(items, finish)]


def label_reply(d: IrcDialect, label: str, data: bytes) -> bytes:
    """The replies in ``data`` as one labelled response: ``ACK`` for none, the tag on a lone
    line or on a batch that is already the whole answer, else a ``labeled-response`` batch."""
    tag = f"label={escape(label)}"
    if not data:
        return f"@{tag} :{d.server} ACK\r\n".encode()
    lines = data.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    if len(lines) == 1 or "batch" not in d.caps or _one_batch(lines):
        # Without batch, the spec allows the label on one message: the first.
        return b"\r\n".join([_with_tag(lines[0], tag), *lines[1:]]) + b"\r\n"
    batch = d.new_batch()
    out = [f"@{tag} :{d.server} BATCH +{batch} labeled-response".encode()]
    out += [line if _batch_of(line) else _with_tag(line, f"batch={batch}") for line in lines]
    out.append(f":{d.server} BATCH -{batch}".encode())
    return b"\r\n".join(out) + b"\r\n"


def _with_tag(line: bytes, tag: str) -> bytes:
    """``line`` with one more tag in front."""
    if line.startswith(b"@"):
        return b"@" + tag.encode() + b";" + line[1:]
    return b"@" + tag.encode() + b" " + line


def _batch_of(line: bytes) -> bytes:
    """The batch id a line is tagged with, or b""."""
    if not line.startswith(b"@"):
        return b""
    for item in line[1:].split(b" ", 1)[0].split(b";"):
        if item.startswith(b"batch="):
            return item[6:]
    return b""


def _opens(line: bytes) -> bytes:
    """The id of the batch a ``BATCH +id`` line opens (tags and prefix skipped), or b""."""
    words = line.split(b" ")
    while words and words[0][:1] in (b"@", b":"):
        words.pop(0)
    if len(words) >= 2 and words[0] == b"BATCH" and words[1].startswith(b"+"):
        return words[1][1:]
    return b""


def _one_batch(lines: list[bytes]) -> bool:
    """True if ``lines`` are exactly one batch: its opening, lines inside it, its end."""
    ident = _opens(lines[0])
    if not ident or _batch_of(lines[0]):
        return False
    end = lines[-1].split(b" ")
    if end[-2:] != [b"BATCH", b"-" + ident]:
        return False
    return all(_batch_of(line) == ident for line in lines[1:-1])
