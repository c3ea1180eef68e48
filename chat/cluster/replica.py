"""The log's meaning, without I/O: each entry applied to this node's copy of the core.

Every node applies the same entries in the same order with the same inputs: the entry's stream
id gives the wall clock (Redis's time when it was appended) and the event ids, so replicas make
identical state and identical ids. What an entry caused is returned as the core's outputs; the
hub delivers them to whichever recipients are local, and drops the rest.

An entry names the node that appended it and that node's sequence number: an entry sent again
after a lost reply from Redis (it may have been appended the first time) is applied once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from chat.accounts.passwords import MAX_PASSWORD, MIN_PASSWORD
from chat.cluster import codec
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.core.accounts import MAX_SCRAM_MESSAGE

#: Connection ids are global: the node's number above these bits, its own counter below.
NODE_SHIFT = 32
#: The reason users of a node that stopped heartbeating are quit with.
NODE_LOST = "node lost"


def node_of(conn: int) -> int:
    """The node a connection lives on."""
    return conn >> NODE_SHIFT


#: Calls packed into one stream entry at most (a busy node appends a batch in one XADD).
CALLS_PER_ENTRY = 100
#: A call's place in its stream entry as it appears in event ids (``decode_entry`` allows 255).
_PARTS = tuple(f"{part:02x}" for part in range(256))


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 2.5× (one per call read)
class Entry:
    """One call from the log: the stream entry's id and its place in that entry (``part``),
    who appended it (node and that node's sequence number), and the core call it stands for
    (``("handle", conn, command)``...)."""

    id: str
    node: int
    seq: int
    call: tuple[Any, ...] | None  # None: not decoded yet (the entry is this node's own)
    part: int = 0
    raw: str = ""  # the stream entry's payload, while ``call`` is None

    @property
    def ts(self) -> float:
        """Redis's time when the entry was appended (epoch seconds), from its stream id."""
        return int(self.id.split("-", 1)[0]) / 1000


def encode_call(call: tuple[Any, ...]) -> str:
    """The call as JSON; a stream entry's payload is a JSON array of these."""
    return codec.dumps_call(call)


def pack(payloads: list[str]) -> str:
    """Calls with consecutive sequence numbers as one stream entry's payload."""
    return "[" + ",".join(payloads) + "]"


def decode_entry(stream_id: str, fields: dict[str, str], own: int = -1) -> list[Entry]:
    """The calls of a stream entry; :class:`codec.CodecError` if it is not one of ours.

    An entry node ``own`` appended is left undecoded (``call`` None, ``raw`` its payload): that
    node applies the calls it still holds, and decodes only if it holds them no more.
    """
    try:
        node, seq, payload = int(fields["n"]), int(fields["s"]), fields["c"]
        if node == own and "k" in fields:
            count = int(fields["k"])
            if not 0 < count <= 255:
                raise ValueError(f"{count} calls")
            return [Entry(stream_id, node, seq + part, None, part, payload)
                    for part in range(count)]
        plain = json.loads(payload)
    except (KeyError, ValueError) as exc:
        raise codec.CodecError(f"entry {stream_id} is not ours: {exc}") from None
    if not isinstance(plain, list) or len(plain) > 255:
        raise codec.CodecError(f"entry {stream_id} is not a list of calls")
    entries = []
    for part, item in enumerate(plain):
        call = codec.from_plain(item)
        if not isinstance(call, tuple) or not call or not isinstance(call[0], str):
            raise codec.CodecError(f"entry {stream_id} holds something not a call")
        entries.append(Entry(stream_id, node, seq + part, call, part))
    return entries


def _stand_in(secret: str) -> str:
    """A placeholder with the same validity as ``secret`` under every length rule the core
    checks (so replicas take the same branch) and none of its content."""
    size = len(secret)
    if size == 0:
        return ""
    if size < MIN_PASSWORD:
        return "x"
    if size <= MAX_PASSWORD:
        return "x" * MIN_PASSWORD
    if size <= MAX_SCRAM_MESSAGE:
        return "x" * (MAX_PASSWORD + 1)
    return "x" * (MAX_SCRAM_MESSAGE + 1)


def redact(value: Any) -> Any:
    """``value`` with every password replaced by a stand-in: passwords never reach Redis (the
    node that holds the connection keeps the real command and applies that one)."""
    if isinstance(value, c.RegisterAccount):
        return c.RegisterAccount(_stand_in(value.password), ref=value.ref)
    if isinstance(value, c.Login):
        return c.Login(value.account, _stand_in(value.password), ref=value.ref)
    if isinstance(value, c.ChangePassword):
        return c.ChangePassword(_stand_in(value.old), _stand_in(value.new), ref=value.ref)
    if isinstance(value, c.ScramStep):
        return c.ScramStep(_stand_in(value.message), value.final, ref=value.ref)
    if isinstance(value, c.Oper):
        return c.Oper(value.name, _stand_in(value.password), ref=value.ref)
    if isinstance(value, e.Authenticate):
        return e.Authenticate(value.conn, value.op, value.account, "", "", ref=value.ref)
    return value


SECRET_TYPES = (c.RegisterAccount, c.Login, c.ChangePassword, c.ScramStep, c.Oper)


class PinnedClock:
    """The core's wall clock: an entry's time while it is applied, the real time otherwise."""

    __slots__ = ("pinned",)

    def __init__(self) -> None:
        self.pinned: float | None = None

    def __call__(self) -> float:
        pinned = self.pinned
        return time.time() if pinned is None else pinned


class Replica:
    """This node's copy of the cluster's state: a core fed by the log.

    ``local`` holds this node's own calls until they come back from the log, by sequence
    number: this node applies those objects rather than decoding what it wrote (the same
    values; and a command carrying a password is in the log redacted, while only this node,
    which talks to the workers, needs the real one).
    """

    def __init__(self, core: ChatCore, node: int) -> None:
        self.core = core
        self.node = node
        self.clock = PinnedClock()
        ctx = core._ctx  # the replica owns how the core tells time and numbers events
        ctx.clock = core.clock = self.clock
        self.last_id = "0-0"  # the last entry applied
        self.seqs: dict[int, int] = {}  # node -> the last sequence number applied from it
        self.local: dict[int, tuple[Any, ...]] = {}
        self._parsed = ""  # the last stream id parsed, its time (s) and its event-id tag
        self._ms = 0.0
        self._tag = ""

    def apply(self, entry: Entry) -> list[e.Output] | None:
        """Apply one entry; None if it was applied before (a duplicate)."""
        node, seq = entry.node, entry.seq
        seqs = self.seqs
        if seq <= seqs.get(node, 0):
            return None
        seqs[node] = seq
        stream_id = self.last_id = entry.id
        call = entry.call
        if node == self.node:
            mine = self.local.pop(seq, None)
            if mine is not None:
                call = mine
        if call is None:  # our own, but no longer held (we loaded a snapshot meanwhile)
            call = decode_entry(stream_id, {"n": str(node), "s": str(seq - entry.part),
                                            "c": entry.raw})[entry.part].call
            assert call is not None
        if stream_id != self._parsed:  # the calls of one stream entry share its id
            ms, _, counter = stream_id.partition("-")
            self._parsed, self._ms, self._tag = stream_id, int(ms) / 1000, f"{int(counter):03x}"
        ctx = self.core._ctx
        saved = ctx._node, ctx._next_id
        ctx._node, ctx._next_id = self._tag + _PARTS[entry.part], 0
        self.clock.pinned = self._ms
        try:
            if call[0] == "handle":  # (most entries: skip the dispatch)
                return self.core.handle(int(call[1]), call[2])
            return self._dispatch(call)
        finally:
            self.clock.pinned = None
            ctx._node, ctx._next_id = saved

    def _dispatch(self, call: tuple[Any, ...]) -> list[e.Output]:
        core = self.core
        kind = call[0]
        if kind == "handle":
            return core.handle(int(call[1]), call[2])
        if kind == "connect":
            conn = int(call[1])
            if conn not in core.users:  # the node holding it made it at once
                core.connect(conn, str(call[2]))
            return []
        if kind == "disconnect":
            return core.disconnect(int(call[1]), str(call[2]))
        if kind == "auth":
            return core.authenticated(call[1], call[2])
        if kind == "ctcp":  # its dialect says whether the server answers queries for it
            user = core.users.get(int(call[1]))
            if user is not None:
                user.ctcp_by_server = bool(call[2])
            return []
        if kind == "grace":
            return core.nick_grace_over(int(call[1]))
        if kind == "lost":
            lost, reason = int(call[1]), str(call[2])
            out: list[e.Output] = []
            # By id: the users dict's order differs between replicas (see snapshot.dump).
            for conn in sorted(conn for conn in core.users if node_of(conn) == lost):
                out.extend(core.disconnect(conn, reason))
            return out
        raise codec.CodecError(f"unknown call {kind!r}")

    def state(self) -> dict[str, Any]:
        """What a snapshot adds to the core's state: the log position and sequence numbers."""
        return {"last_id": self.last_id, "seqs": {str(k): v for k, v in self.seqs.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        """Take a snapshot's log position and sequence numbers."""
        self.last_id = str(data["last_id"])
        self.seqs = {int(k): int(v) for k, v in data["seqs"].items()}
