"""Fan-out: the core's deliveries become bytes per connection, each event encoded once per
dialect variant, with long server-made replies paced to their reader."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from chat.core import events as e
from chat.dialects.base import Dialect, Variants
from chat.hub.output import PAGE, Output, Reply
from chat.hub.session import Session

log = logging.getLogger("chat.hub")

#: Rooms whose grouping by variant is kept between messages (cleared when full).
GROUPINGS = 1024


class _Parts(list[bytes]):
    """A segment's bytes for one variant, shared by every reader of that variant.

    A reader that gets nothing else in a flush has this very list as its write list (no list
    of its own, no work for it at hand-over); one that gets more has a list of its own holding
    this one among its bytes, flattened by ``Fanout.take``. The class tells the two apart.
    """

    __slots__ = ()


class _Mixed(list[bytes]):
    """A reader's own write list that holds parts lists among its bytes: listed once in
    ``Fanout._fix``, and flattened by ``Fanout.take``."""

    __slots__ = ()


class _Segment:
    """Consecutive room messages from one sender to the same member tuple, encoded once each.

    Each recipient's write is its variant's ``_Parts`` list (or holds it, after other bytes);
    later messages that merge into the segment append their bytes to those few lists, so
    fan-out work per recipient is per segment, not per message. ``Fanout.seal`` joins each
    list's bytes in place, once.
    """

    __slots__ = ("origin", "recipients", "source", "targets")

    def __init__(self, recipients: tuple[int, ...], source: object, origin: int | None) -> None:
        self.recipients = recipients
        self.source = source
        self.origin = origin
        # One (dialect, parts) per shared variant, plus one per recipient encoded on its own.
        self.targets: list[tuple[Dialect, _Parts]] = []


class Fanout:
    """Builds one flush's :class:`Output` from writes, deliveries and closes."""

    __slots__ = ("_epoch", "_fix", "_groupings", "_parts", "_segment", "gathering", "out",
                 "pacing", "sessions")

    def __init__(self, sessions: dict[int, Session]) -> None:
        self.sessions = sessions
        self.out = Output()
        self.pacing: set[int] = set()  # connections with a paced reply under way
        self._segment: _Segment | None = None  # the last one: only it may take more messages
        #: Every segment's parts lists since take(), with the connections they went to.
        self._parts: list[tuple[_Parts, list[int]]] = []
        #: Connections whose own write list holds a parts list: flattened by take().
        self._fix: list[int] = []
        self.gathering: int | None = None  # a connection whose output is being gathered
        #: (id of a recipients tuple, origin) -> (that tuple, [(dialect, conns)]): how a room's
        #: members group by variant, kept across messages while ``Variants.epoch`` stands still
        #: (the tuple is held, so its id is not reused while the entry lives).
        self._groupings: dict[tuple[int, int | None], tuple[tuple[int, ...],
                                                            list[tuple[Dialect, list[int]]]]] = {}
        self._epoch = -1

    # -- building ------------------------------------------------------------------------

    def write(self, conn: int, data: bytes) -> None:
        """Bytes for one connection, after everything queued for it so far."""
        self._segment = None  # later messages must come after these bytes
        writes = self.out.writes
        chunks = writes.get(conn)
        if chunks is None:
            writes[conn] = [data]
        elif chunks.__class__ is _Parts:
            writes[conn] = _Mixed((chunks, data))  # type: ignore[arg-type]
            self._fix.append(conn)
        else:
            chunks.append(data)

    def _own(self, conn: int) -> list[bytes]:
        """``conn``'s own write list (made, or made to hold the shared list it had)."""
        writes = self.out.writes
        chunks = writes.get(conn)
        if chunks is None:
            chunks = writes[conn] = []
        elif chunks.__class__ is _Parts:
            chunks = writes[conn] = _Mixed((chunks,))  # type: ignore[arg-type]
            self._fix.append(conn)
        return chunks

    def close(self, session: Session, reason: str) -> None:
        """Close after what is queued is sent (and the dialect's goodbye, if it has one)."""
        if session.closing is None:
            session.closing = reason
            dialect = session.dialect
            if dialect is not None:
                try:
                    data = dialect.goodbye(reason)
                except Exception:  # a bug in one goodbye must not keep the connection open
                    log.exception("goodbye failed for %s", dialect.name)
                    data = b""
                if data:
                    self.write(session.conn, data)
            self.out.closes[session.conn] = reason

    def abort(self, session: Session, reason: str) -> None:
        """Cut now, dropping what is queued (the reader is not reading)."""
        session.closing = reason
        session.paced = None
        self.pacing.discard(session.conn)
        self.out.writes.pop(session.conn, None)
        self.out.aborts[session.conn] = reason

    def gather_from(self, conn: int) -> int:
        """Start gathering what is written for ``conn`` (see ``Hub._gather``): a mark for
        ``gathered``. No segment is shared across the mark and nothing is paced meanwhile."""
        self._segment = None
        self.gathering = conn
        return len(self._own(conn)) if conn in self.out.writes else 0

    def gathered(self, conn: int, mark: int) -> bytes:
        """Take back everything written for ``conn`` since ``mark``, as one bytes value."""
        self._segment = None  # nothing more may join a parts list taken here
        self.gathering = None
        chunks = self.out.writes.get(conn)
        if not chunks or len(chunks) <= mark:
            return b""
        taken: list[bytes]
        if chunks.__class__ is _Parts:  # shared: taken whole (mark is 0), never cut
            taken = [chunks]  # type: ignore[list-item]
            del self.out.writes[conn]
        else:
            taken = chunks[mark:]
            del chunks[mark:]
            if not chunks:
                del self.out.writes[conn]
        return b"".join(c if c.__class__ is not _Parts else b"".join(c)
                        for c in taken)
    def pause_reading(self, conn: int) -> None:
        """The engine must stop reading ``conn`` (a later ``resume_reading`` in the same
        flush cancels it)."""
        self.out.resume.discard(conn)
        self.out.pause.add(conn)

    def resume_reading(self, conn: int) -> None:
        """The engine may read ``conn`` again."""
        self.out.pause.discard(conn)
        self.out.resume.add(conn)

    def break_segment(self) -> None:
        """Whatever comes next starts a new segment (the recipients' state may have changed)."""
        self._segment = None
        Variants.epoch += 1

    def closed(self, conn: int) -> None:
        """``conn`` is gone: nothing more is paced or grouped for it."""
        self.pacing.discard(conn)
        self._segment = None
        Variants.epoch += 1

    def deliver(self, outputs: Sequence[e.Output]) -> None:
        """Encode each delivery once per dialect variant and queue it for its recipients."""
        sessions = self.sessions
        writes = self.out.writes
        for output in outputs:
            if output.__class__ is not e.Delivery:
                if output.__class__ is e.Close:  # the rest (SaveRoom, Recall) is the hub's
                    session = sessions.get(output.conn)
                    if session is not None:
                        self.close(session, output.reason)
                continue
            event = output.event
            recipients = output.recipients
            if event.__class__ is e.Message and event.room is not None:
                segment = self._segment
                if (segment is None or recipients is not segment.recipients
                        or event.source is not segment.source):
                    segment = self._open_segment(recipients, event.source, output.origin)
                cache: dict[object, bytes | None] = {}
                for dialect, parts in segment.targets:
                    try:
                        data = dialect.encode(event, cache)
                    except Exception:  # one recipient's bug must not cost the others
                        log.exception("cannot encode %s for %s", type(event).__name__,
                                      dialect.name)
                        continue
                    if data:
                        parts.append(data)
                continue
            self._segment = None
            cache = {}
            for conn in recipients:
                session = sessions.get(conn)
                if session is None or session.dialect is None:
                    continue
                try:
                    data = session.dialect.encode(event, cache)
                except Exception:
                    log.exception("cannot encode %s for connection %d", type(event).__name__,
                                  conn)
                    continue
                if data:
                    if len(data) > PAGE and len(recipients) == 1 and conn != self.gathering:
                        self.pace(session, data)
                        continue
                    chunks = writes.get(conn)
                    if chunks is None:
                        writes[conn] = [data]
                    elif chunks.__class__ is _Parts:
                        writes[conn] = _Mixed((chunks, data))  # type: ignore[arg-type]
                        self._fix.append(conn)
                    else:
                        chunks.append(data)

    def _open_segment(self, recipients: tuple[int, ...], source: object,
                      origin: int | None) -> _Segment:
        """Queue one parts list per variant (and per recipient encoded alone) to the room's
        members, grouped as ``_grouping`` says."""
        segment = self._segment = _Segment(recipients, source, origin)
        writes = self.out.writes
        all_parts = self._parts
        fix = self._fix
        targets = segment.targets
        get = writes.get
        # Nothing queued yet in this flush (at low rates, every message): no reader has bytes
        # of its own, so each group's readers simply share its list, set in one C call. The
        # groups never share a reader (each recipient is in one), so this holds for them all.
        fresh = not writes
        for dialect, conns in self._grouping(recipients, origin):
            parts = _Parts()
            targets.append((dialect, parts))
            all_parts.append((parts, conns))
            if fresh:
                writes.update(dict.fromkeys(conns, parts))
                continue
            for conn in conns:
                chunks = get(conn)
                if chunks is None:
                    writes[conn] = parts  # the common case: shared, nothing per reader
                elif chunks.__class__ is _Mixed:
                    chunks.append(parts)  # type: ignore[arg-type]
                else:  # shared, or bytes of its own: a list of its own that holds parts
                    writes[conn] = _Mixed((chunks, parts) if chunks.__class__ is _Parts
                                          else (*chunks, parts))  # type: ignore[arg-type]
                    fix.append(conn)
        return segment

    def _grouping(self, recipients: tuple[int, ...],
                  origin: int | None) -> list[tuple[Dialect, list[int]]]:
        """The recipients grouped by dialect variant (one group per recipient without one),
        in first-seen order; cached per recipients tuple while no variant changes."""
        if self._epoch != Variants.epoch:
            self._groupings.clear()
            self._epoch = Variants.epoch
        key = (id(recipients), origin)
        cached = self._groupings.get(key)
        if cached is not None and cached[0] is recipients:
            return cached[1]
        groups: list[tuple[Dialect, list[int]]] = []
        by_variant: dict[object, list[int]] = {}
        sessions = self.sessions
        for conn in recipients:
            session = sessions.get(conn)
            if session is None or session.dialect is None:
                continue
            dialect = session.dialect
            variant = dialect.variant
            if conn == origin and dialect.own_differs:
                if dialect.gets_own:  # else nothing to encode or queue for the sender
                    groups.append((dialect, [conn]))
            elif variant is None:
                groups.append((dialect, [conn]))
            else:
                found = by_variant.get(variant)
                if found is None:
                    found = by_variant[variant] = []
                    groups.append((dialect, found))
                found.append(conn)
        if len(self._groupings) >= GROUPINGS:
            self._groupings.clear()
        self._groupings[key] = (recipients, groups)
        return groups

    # -- handing over --------------------------------------------------------------------

    def seal(self) -> list[Session]:
        """Finish encoding this flush; the paced sessions whose held bytes grew are returned.

        Between ``seal`` and ``take`` the hub may still abort connections (a reader whose held
        bytes pass the send queue), so the abort goes out with this very flush.
        """
        self._segment = None
        if self._parts:
            writes = self.out.writes
            for parts, conns in self._parts:
                # In place, so every write list holding this list sees the joined bytes.
                if len(parts) > 1:
                    parts[:] = [b"".join(parts)]
                elif not parts:  # nothing for this variant (a nested copy is skipped by take)
                    for conn in conns:
                        if writes.get(conn) is parts:
                            del writes[conn]
            self._parts = []
        return self._hold_behind_replies() if self.pacing else []

    def take(self) -> Output:
        """The finished Output (call ``seal`` first); the next flush starts empty."""
        out = self.out
        self.out = Output()
        self._segment = None
        fix = self._fix
        if fix:
            # Readers given a shared parts list alone need nothing (Output's lists are
            # read-only to engines); those whose own list holds some get it flattened.
            self._fix = []
            writes = out.writes
            for conn in fix:
                chunks = writes.get(conn)
                if chunks is None or chunks.__class__ is not _Mixed:
                    continue  # cut meanwhile (or listed twice and flattened already)
                flat = [c[0] if c.__class__ is _Parts else c for c in chunks if c]
                if flat:
                    writes[conn] = flat
                else:
                    del writes[conn]
        return out

    # -- pacing long replies (a LIST of thousands of rooms goes out as the reader takes it) --

    def pace(self, session: Session, data: bytes) -> None:
        """Send the first page of a long reply now and the rest as the reader drains."""
        conn = session.conn
        chunks = self._own(conn)
        pages = [Reply(data[i:i + PAGE]) for i in range(0, len(data), PAGE)]
        if conn not in self.pacing:
            self.pacing.add(conn)
            session.paced = deque()
            chunks.append(pages.pop(0))
            session.paced_mark = len(chunks)  # from here on, output waits behind the reply
            self.out.watch.add(conn)
        chunks.extend(pages)

    def _hold_behind_replies(self) -> list[Session]:
        """Move what was written after a paced reply's first page into its queue, in order."""
        held = []
        for conn in list(self.pacing):
            session = self.sessions.get(conn)
            if session is None or session.paced is None:
                self.pacing.discard(conn)
                continue
            if not self.out.writes.get(conn):
                continue
            chunks = self._own(conn)  # if shared, this reader's own copy of the list
            mark = max(session.paced_mark, 0)
            session.paced_mark = -1
            for chunk in chunks[mark:]:
                data = chunk[0] if chunk.__class__ is _Parts and chunk else chunk
                if data:
                    session.paced.append(data)
                    if data.__class__ is not Reply:
                        session.paced_extra += len(data)
            del chunks[mark:]
            if not chunks:
                del self.out.writes[conn]
            held.append(session)
        return held

    def release_page(self, session: Session) -> bool:
        """The reader took the last page: queue the next one. True once nothing is held."""
        paced = session.paced
        assert paced is not None
        conn = session.conn
        chunks = self._own(conn)
        budget = PAGE
        while paced and budget > 0:
            data = paced.popleft()
            chunks.append(data)
            budget -= len(data)
            if data.__class__ is not Reply:
                session.paced_extra -= len(data)
        self._segment = None
        if paced:
            session.paced_mark = len(chunks)
            self.out.watch.add(conn)
            return False
        session.paced = None
        session.paced_extra = 0
        self.pacing.discard(conn)
        return True
