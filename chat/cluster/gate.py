"""The hub's seam in a cluster: calls that change shared state are appended to the log, not
applied; every node (this one too) applies them when it reads them back, in the log's order.

Read-only commands (PING, WHOIS, LIST, history pages...) are answered at once from this node's
copy, unless the connection still has entries in flight (its answer must not overtake them).
A connection that is not registered yet waits for each entry to come back before its next
line is read, so a dialect decodes that line knowing whether registration succeeded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.cluster import metrics as cluster_metrics
from chat.cluster import snapshot
from chat.cluster.backplane import ENGINE_WAIT, MAX_QUEUE, Backplane
from chat.cluster.labels import LateGathers
from chat.cluster.replica import (
    NODE_LOST,
    NODE_SHIFT,
    SECRET_TYPES,
    Entry,
    Replica,
    node_of,
    redact,
)
from chat.core import commands as c
from chat.core import events as e
from chat.dialects.base import Dialect, Gather
from chat.hub.hub import INTERNAL_ERROR

if TYPE_CHECKING:
    from chat.hub import Hub
    from chat.hub.session import Session

log = logging.getLogger("chat.cluster")

#: Commands answered from this node's state (they change nothing).
LOCAL_COMMANDS = frozenset({c.Ping, c.Pong, c.Help, c.Whois, c.Who, c.Lookup, c.ListRooms,
                            c.ListMembers, c.FetchHistory, c.HistoryTargets, c.Invalid})
#: Entries one connection may have queued while Redis is away; beyond, it is refused.
MAX_PENDING = 100

DEGRADED = ("The cluster is degraded: this server lost its link to the others. You stay "
            "connected; what you send is queued and goes out when the link is back.")
RESTORED = "The cluster link is back: what you sent meanwhile has gone out."
LOST_RECONNECT = "This server was cut off from the cluster for too long: reconnect"
REFUSED = "The cluster is degraded and this server's queue is full: try again shortly"


class ClusterGate:
    """A node of a cluster: the hub's gate to the log, and the log's way back into the hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.core = hub.core
        config = hub.config
        self.backplane = Backplane(config.cluster, config.node_lease, self, config.node_name)
        self.replica = Replica(self.core, 0)
        self.node = 0
        self.conn_base = 0
        self.last_seq = 0  # our last call appended (a Gather that moved it finishes later)
        self.late = LateGathers(hub)
        self.generation = 0
        self.degraded = False
        self.refused = 0  # commands refused because the queue was full
        self.lag = 0.0  # seconds from the last applied entry's append to its application
        self._pending: dict[int, int] = {}  # local conn -> its entries not yet applied
        self._inflight: dict[int, int] = {}  # our sequence number -> the conn it is for
        #: After going back to a snapshot: node -> the last of its sequence numbers applied
        #: here before; entries up to it are applied again without output, since what they
        #: said was delivered then (see ``_load``).
        self._seen: dict[int, int] = {}
        #: Local connections the log has not heard of yet, and their hosts: a connection is
        #: appended with its first call that goes to the log, so an HTTP request (a health
        #: check, a scrape) that never becomes a chat session costs the cluster nothing.
        self._unlogged: dict[int, str] = {}
        self._closing = threading.Event()

    # -- the hub's side --------------------------------------------------------------------

    def owns(self, conn: int) -> bool:
        """Whether ``conn`` is a connection of this node."""
        return node_of(conn) == self.node

    def start(self) -> None:
        """Join the cluster (found its log, or load its state) before serving anyone."""
        data = self.backplane.join(lambda: self._dump(fresh_log=True))
        self.node = self.replica.node = self.backplane.node
        self.conn_base = self.node << NODE_SHIFT
        if data is not None:
            self._load(0, data)
        self.backplane.start(self.hub.loop)

    def stop(self) -> None:
        """Append what is queued (our users' quits), then leave."""
        self._closing.set()
        self.backplane.close()

    def connect(self, conn: int, host: str) -> list[e.Output]:
        """The user exists here at once (its dialect needs it); the others learn from the log,
        with the connection's first call that changes anything (see ``_unlogged``)."""
        self.core.connect(conn, host)
        self._unlogged[conn] = host
        return []

    def handle(self, conn: int, command: c.Command) -> list[e.Output]:
        """Answer a read-only command now; append anything else to the log."""
        core = self.core
        if command.__class__ in LOCAL_COMMANDS and not self._pending.get(conn):
            return core.handle(conn, command)
        if self.backplane.queued() >= MAX_QUEUE or (
                self.degraded and self._pending.get(conn, 0) >= MAX_PENDING):
            self.refused += 1
            return core.handle(conn, c.Invalid("cluster_busy", REFUSED))
        user = core.users.get(conn)
        if user is None:
            return []
        if isinstance(command, SECRET_TYPES):
            self._send(("handle", conn, command), conn, ("handle", conn, redact(command)))
        else:
            self._send(("handle", conn, command), conn)
        if not user.registered:
            session = self.hub.sessions.get(conn)
            if session is not None:
                session.waiting = True
        return []

    def ctcp_by_server(self, conn: int, by_server: bool) -> None:
        """Set here at once (as ``connect``); the other replicas learn it from the log."""
        user = self.core.users.get(conn)
        if user is not None and user.ctcp_by_server != by_server:
            user.ctcp_by_server = by_server
            if conn not in self._unlogged:  # (else it goes with the connect)
                self._send(("ctcp", conn, by_server), conn)

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """Always appended, whatever the queue holds: a lost quit would leave a ghost; unless
        the log never heard of the connection (only this node knew it)."""
        if self._unlogged.pop(conn, None) is not None:
            return self.core.disconnect(conn, reason)
        self._send(("disconnect", conn, reason), conn)
        return []

    def authenticated(self, request: e.Authenticate, result: e.AuthResult) -> list[e.Output]:
        """The workers' answer, for every node (the password stays here)."""
        self._send(("auth", request, result), request.conn, ("auth", redact(request), result))
        return []

    def nick_grace_over(self, conn: int) -> list[e.Output]:
        """The grace timer ran here (where the connection is); every node applies it."""
        self._send(("grace", conn), conn)
        return []

    def _send(self, call: tuple[Any, ...], conn: int,
              logged: tuple[Any, ...] | None = None) -> int:
        """Append ``call`` (as ``logged`` if given: redacted); we keep it to apply it."""
        if conn in self._unlogged:
            self._log_connect(conn)
        seq = self.last_seq = self.backplane.send(logged or call)
        self.replica.local[seq] = call
        self._inflight[seq] = conn
        self._pending[conn] = self._pending.get(conn, 0) + 1
        return seq

    def _log_connect(self, conn: int) -> None:
        """The connection's first call for the log: the others learn of it first (and whether
        the server answers CTCP for it, which its dialect decided meanwhile)."""
        host = self._unlogged.pop(conn)
        self._send(("connect", conn, host), conn)
        user = self.core.users.get(conn)
        if user is not None and user.ctcp_by_server:
            self._send(("ctcp", conn, True), conn)

    def unready(self) -> str | None:
        """Why ``/readyz`` fails: Redis unreachable."""
        return cluster_metrics.unready(self)

    def gather_later(self, conn: int, since: int, made: bytes, gather: Gather) -> None:
        """A labelled command's replies come from the log: finish its gather around them."""
        seqs = sorted(seq for seq, owner in self._inflight.items()
                      if owner == conn and seq > since)
        session = self.hub.sessions.get(conn)
        if not seqs:  # (cannot happen: they are applied on this thread, later)
            if session is not None:
                self.hub.finish_gather(session, gather, made)
            return
        self.late.wait(conn, seqs, made, gather)

    # -- the backplane's side (any thread; the work is posted to the engine's) -----------

    def entries(self, generation: int, entries: list[Entry]) -> None:
        """Entries read from the log: applied on the engine's thread; or, while the log is
        quiet (``Backplane.busy``), at once on this one (the log's), where the engine can run
        them here.

        In a threaded node that saves each entry a wake-up of the engine's service thread and
        a wait for the interpreter's lock: at 1,000 lines/s the hop inside the node p99 1.1-1.8
        against 1.9-2.0 ms, end to end p50 2.7-3.0 against 3.8-4.1 ms. A busy log's entries
        still go to the service thread, whose batches leave the log's thread free to read
        and append (applying them here did not raise full-speed deliveries, see
        docs/benchmarks.md)."""
        run_now = self.hub.run_now
        if run_now is not None and not self.backplane.busy:
            run_now(lambda: self._apply(generation, entries))
        else:
            self.hub._post(0, lambda: self._apply(generation, entries))

    def status(self, degraded: bool) -> None:
        """Tell this node's clients the link to the others went down or came back."""
        self.hub._post(0, lambda: self._tell(degraded))

    def snapshot(self, fresh_log: bool) -> str | None:
        """This node's state: copied on the engine's thread (the caller waits), turned into
        text on the caller's (see ``_capture``)."""
        made: list[Callable[[], str]] = []
        done = threading.Event()

        def make() -> list[e.Output]:
            made.append(self._capture(fresh_log))
            done.set()
            return []

        with snapshot.no_gc():
            self.hub._post(0, make)
            waited = 0.0
            while not done.wait(0.1):
                waited += 0.1
                if self._closing.is_set() or waited >= ENGINE_WAIT:
                    return None
            return made.pop()()  # (the copy is freed before the collector is back)

    def load(self, generation: int, text: str) -> None:
        """Take another node's state (or, with no text, keep ours at a new log's start)."""
        self.hub._post(0, lambda: self._load(generation, text))

    def node_lost(self, node: int) -> None:
        """A node died, maybe before its history thread wrote its last lines: write every line
        of other nodes this one still keeps (the store skips those it holds)."""
        history = self.hub.history
        if history is not None:
            history.write_seen()

    # -- on the engine's thread ------------------------------------------------------------

    def _apply(self, generation: int, entries: list[Entry]) -> list[e.Output]:
        if generation != self.generation:
            return []  # read before the log was replaced
        hub = self.hub
        replica = self.replica
        me = self.node
        for entry in entries:
            try:
                out = replica.apply(entry)
            except Exception:  # the same on every node: the entry changes nothing anywhere
                log.exception("cluster: entry %s failed", entry.id)
                if entry.node == me:
                    self._failed(entry.seq)
                continue
            if out is None:
                continue
            mine = entry.node == me
            if self._seen and self._delivered_before(entry):
                if mine:
                    self._done(entry.seq)
                continue
            late = self.late.by_last if mine else None
            try:
                if late:
                    self.late.before(entry.seq)
                if out:
                    hub._apply(out, mine)
                if late:
                    self.late.after(entry.seq)
                if mine:
                    self._done(entry.seq)
                call = entry.call  # None for our own: we never count ourselves lost
                if call is not None and call[0] == "lost" and call[1] == me and (
                        call[2] == NODE_LOST):
                    self._lost_ourselves()
            except Exception:
                log.exception("cluster: delivering entry %s failed", entry.id)
        self.backplane.applied = replica.last_id
        if entries:
            self.lag = max(0.0, time.time() - entries[-1].ts)
        return []

    def _delivered_before(self, entry: Entry) -> bool:
        """Whether this entry was applied here, and its output sent, before the snapshot we
        went back to (see ``_seen``)."""
        last = self._seen.get(entry.node)
        if last is None:
            return False
        if entry.seq >= last:
            del self._seen[entry.node]  # caught up with that node
        return entry.seq <= last

    def _done(self, seq: int) -> None:
        """One of our entries came back applied; a connection with none left reads again."""
        self.replica.local.pop(seq, None)
        conn = self._inflight.pop(seq, None)
        if conn is None:
            return
        left = self._pending.get(conn, 1) - 1
        if left > 0:
            self._pending[conn] = left
            return
        self._pending.pop(conn, None)
        session = self.hub.sessions.get(conn)
        if session is not None and session.waiting:
            session.waiting = False
            if session.closing is None:
                self.hub._resume_input(session)

    def _failed(self, seq: int) -> None:
        """One of our entries hit a bug when applied (on every node alike): its connection is
        closed as a standalone server closes one whose command hit a bug, rather than left
        waiting for an entry that will never be done (an unregistered one would never be
        read again)."""
        session = self.hub.sessions.get(self._inflight.get(seq, -1))
        if session is not None:
            self._close([session], INTERNAL_ERROR)
        self._done(seq)

    def _lost_ourselves(self) -> None:
        """The others counted us lost (we stalled past the lease) and quit our users: their
        connections here are stale; close them so the clients reconnect."""
        log.warning("cluster: this node (%d) was declared lost; closing its clients", self.node)
        self._close(list(self.hub.sessions.values()), LOST_RECONNECT)

    def _close(self, sessions: list[Session], reason: str) -> None:
        """Close connections of ours, their clients told why as the core tells them, without
        touching the shared state here: that follows from the log (their disconnects)."""
        conns = tuple(session.conn for session in sessions
                      if session.dialect is not None and session.closing is None)
        if conns:
            envelope = self.core._ctx.envelope()
            self.hub._apply([e.Delivery(e.Disconnect(*envelope, reason=reason), conns)])
        for session in sessions:
            self.hub._fanout.close(session, reason)

    def _tell(self, degraded: bool) -> list[e.Output]:
        self.degraded = degraded
        conns = tuple(conn for conn, session in self.hub.sessions.items()
                      if session.dialect is not None and conn in self.core.users)
        if not conns:
            return []
        envelope = self.core._ctx.envelope()
        code, text = ("cluster_degraded", DEGRADED) if degraded else ("cluster_restored",
                                                                      RESTORED)
        return [e.Delivery(e.Notice(*envelope, text=text, code=code), conns)]

    def _dump(self, fresh_log: bool) -> str:
        with snapshot.no_gc():
            return self._capture(fresh_log)()

    def _capture(self, fresh_log: bool) -> Callable[[], str]:
        """This node's state as it is now, copied (``snapshot.capture``: the engine's thread
        serves nobody meanwhile, so only what must be done here is); the call returned turns
        it into the snapshot's text on any thread (``snapshot.text``)."""
        state = self.replica.state()
        if fresh_log:
            state["last_id"] = "0-0"
        captured = snapshot.capture(self.core)
        unlogged = frozenset(self._unlogged)  # only this node knows them
        return lambda: snapshot.text(captured, state, unlogged)

    def _load(self, generation: int, text: str | dict[str, Any]) -> list[e.Output]:
        """Take a snapshot (its text, or at join the backplane's parse of it)."""
        self.generation = generation
        if not text:
            self.replica.last_id = "0-0"
            return []
        with snapshot.no_gc():  # millions of objects made: the parse 1.9 -> 0.5 s at 100,000 users
            data = json.loads(text) if isinstance(text, str) else text
            users = self.core.users
            unlogged = [users[conn] for conn in self._unlogged if conn in users]
            snapshot.load(self.core, data["core"])
        for kept in unlogged:  # not in anyone's snapshot: the same objects, still ours alone
            users[kept.conn] = kept
        seen = self.replica.seqs
        self.replica.restore(data["replica"])
        # Entries past the snapshot that we applied already come again (from the log, or
        # appended again after Redis lost them): their effects are redone, not resent.
        self._seen = {node: seq for node, seq in seen.items()
                      if seq > self.replica.seqs.get(node, 0)}
        self.backplane.applied = self.replica.last_id
        hub = self.hub
        for conn, session in list(hub.sessions.items()):
            user = users.get(conn)
            if user is None:
                hub._fanout.close(session, "The cluster lost this connection: reconnect")
            elif session.dialect is not None:
                _rebind(session.dialect, user)
        for conn in [conn for conn in users if self.owns(conn) and conn not in hub.sessions]:
            self._send(("disconnect", conn, "Connection lost"), conn)
        self.late.clear()
        covered = self.replica.seqs.get(self.node, 0)
        for seq in [seq for seq in self._inflight if seq <= covered]:
            self._done(seq)  # already in the state we loaded: it will not come back
        return []


def _rebind(dialect: Dialect, user: Any) -> None:
    """Point a dialect (and one it wraps) at the user object a snapshot made."""
    dialect.user = user
    inner = getattr(dialect, "inner", None)
    if isinstance(inner, Dialect):
        _rebind(inner, user)
