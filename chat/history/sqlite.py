"""A history store in one SQLite file (stdlib ``sqlite3``), for servers that remember.

Layout, chosen for size (about 160 bytes a message with its indexes, see
``scripts/bench_history.py``) and for pages that are one index range scan:

- ``rooms``: one row per room ever written to, an integer id for the folded name, the name as
  last written and a message count (so pruning finds full rooms without counting);
- ``sources``: distinct (nick, ident, host) triples, so a message carries a small integer
  instead of ~30 bytes of repeated text;
- ``messages``: clustered on ``(room_id, ts, seq)`` (a WITHOUT ROWID table), the order every
  page is read in, so a page of one room is a few adjacent disk pages even with a cold cache;
  ``ts`` is integer milliseconds, ``kind`` a small integer, ``seq`` the store's global counter
  (kept in ``counters``); one secondary index finds msgids;
- ``room_state``: what survives a restart about a room, bans as JSON.

The file is in WAL mode with two connections, one for the writer thread and one for the reader
thread, each behind its own lock: a reader never waits for a write and the other way round.
``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS` brings older files up to date.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from chat.history.records import Ban, Query, Record, Ref, RoomState, Target
from chat.history.store import StoreError
from chat.wire.names import fold

#: The database file's name inside a data directory.
DB_NAME = "chat.sqlite3"
#: The lock file a server holds (``flock``) while it uses a data directory.
LOCK_NAME = "lock"

#: Record kinds as stored. Append only: the numbers are in every database written so far.
KIND_CODES: dict[str, int] = {
    "message": 0, "action": 1, "notice": 2, "topic": 3,
    "join": 4, "part": 5, "quit": 6, "kick": 7, "nick": 8,
}
KIND_NAMES: dict[int, str] = {code: name for name, code in KIND_CODES.items()}

#: Version 1, the first schema, exactly as first shipped (kept so tests can build a v1 file).
SCHEMA_V1 = """
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    folded TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    nick TEXT NOT NULL,
    ident TEXT NOT NULL,
    host TEXT NOT NULL,
    UNIQUE (nick, ident, host)
);
CREATE TABLE messages (
    room_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    msgid TEXT NOT NULL,
    text TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (room_id, ts, seq)
) WITHOUT ROWID;
CREATE INDEX messages_msgid ON messages (msgid);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('seq', 0);
CREATE TABLE room_state (
    folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    topic TEXT NOT NULL,
    topic_by TEXT NOT NULL,
    topic_at REAL NOT NULL,
    modes TEXT NOT NULL,
    key TEXT NOT NULL,
    "limit" INTEGER NOT NULL,
    bans TEXT NOT NULL
) WITHOUT ROWID;
"""

#: Version 2: a per-room message count, so ``prune`` finds rooms over the cap by reading the
#: small rooms table instead of counting (or OFFSET-scanning) each room's index.
SCHEMA_V2 = """
ALTER TABLE rooms ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET count = (SELECT count(*) FROM messages WHERE messages.room_id = rooms.id);
"""

#: Step ``i`` takes a database from version ``i`` to ``i + 1``. Append only; never edit one.
MIGRATIONS: tuple[str, ...] = (SCHEMA_V1, SCHEMA_V2)
SCHEMA_VERSION = len(MIGRATIONS)

_HEADER = b"SQLite format 3\x00"
_BIG = 1 << 62  # a seq after every stored seq: (t, _BIG) sorts after every record at t
_COLUMNS = ("SELECT m.seq, m.ts, m.kind, m.msgid, m.text, m.target, s.nick, s.ident, s.host "
            "FROM messages m JOIN sources s ON s.id = m.source_id ")

Key = tuple[float, int]  # a position in a room: (ts in ms, seq)


def _connect(path: str) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): every transaction is an explicit BEGIN ... COMMIT.
    return sqlite3.connect(path, timeout=2.0, isolation_level=None, check_same_thread=False)


def _store_error(error: sqlite3.Error, path: str, doing: str) -> StoreError:
    """A StoreError that says what went wrong with ``path`` and what to do about it."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_READONLY:
        why = ("is read-only: make the file, its -wal/-shm files and its directory writable by "
               "the server's user, or use another data directory")
    elif code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        why = ("is not a usable SQLite database (corrupt, or another kind of file): move it "
               "aside to start a new history, or restore it from a backup")
    elif code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        why = "is locked by another process: stop the other server or use another data directory"
    elif code == sqlite3.SQLITE_FULL:
        why = "cannot grow: the disk (or the database's size limit) is full; free some space"
    elif code == sqlite3.SQLITE_CANTOPEN:
        why = "cannot be opened: check that its directory exists and is writable"
    else:
        why = f"failed: {error}"
    return StoreError(f"{doing} {path}: the database {why} ({error})")


class SqliteStore:
    """The :class:`~chat.history.store.HistoryStore` in a SQLite file.

    Opening checks the file (header, schema version, that it can be written) and upgrades an
    older schema, so a broken data directory stops the server at start-up with a clear
    :class:`StoreError` instead of failing on the first message. ``verify=True`` adds
    ``PRAGMA quick_check``, which reads the whole file (seconds on a big one).
    """

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = False) -> None:
        self.path = os.fspath(path)
        self._lock_fd: int | None = None
        self._closed = False
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        # Writer-side caches; entries made inside a transaction count only once it commits.
        self._room_ids: dict[str, int] = {}
        self._room_names: dict[int, str] = {}
        self._source_ids: dict[tuple[str, str, str], int] = {}
        _check_header(self.path)
        connections: list[sqlite3.Connection] = []
        try:
            self._write = _connect(self.path)
            connections.append(self._write)
            self._prepare_writer(verify)
            self._read = _connect(self.path)
            connections.append(self._read)
            self._read.execute("PRAGMA query_only = ON")
            self._read.execute("SELECT count(*) FROM rooms").fetchone()
        except sqlite3.Error as error:
            for connection in connections:
                connection.close()
            raise _store_error(error, self.path, "opening") from error
        except StoreError:
            for connection in connections:
                connection.close()
            raise

    @classmethod
    def open_data_dir(cls, directory: str | os.PathLike[str], *,
                      verify: bool = False) -> SqliteStore:
        """The store in ``directory`` (created 0700 if missing), held with an exclusive lock
        on ``directory/lock`` until :meth:`close`, so two servers never share one history."""
        return open_data_dir(directory, verify=verify)

    # -- opening ---------------------------------------------------------------------------

    def _prepare_writer(self, verify: bool) -> None:
        db = self._write
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            # SQLite answers the old mode instead of failing when it cannot switch.
            db.execute("BEGIN IMMEDIATE")  # raises the real reason (read-only, locked)
            db.execute("ROLLBACK")
            raise StoreError(f"opening {self.path}: cannot switch the database to WAL mode "
                             f"(it stays in {mode!r} mode); is the directory writable?")
        db.execute("PRAGMA synchronous = NORMAL")
        if verify:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StoreError(f"opening {self.path}: the database is damaged "
                                 f"({'; '.join(problems[:3])}): restore it from a backup or "
                                 f"move it aside to start a new history")
        db.execute("BEGIN IMMEDIATE")  # proves the file can be written, and holds it
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"opening {self.path}: the database has schema version {version} but this "
                    f"server knows only up to {SCHEMA_VERSION}: run a newer server, or move "
                    f"the file aside")
            if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"opening {self.path}: the file is a SQLite database but not "
                                 f"a chat history (it has tables and no schema version)")
            for step in MIGRATIONS[version:]:
                for statement in _statements(step):
                    db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def _writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed, or rolled back with the caches it touched."""
        with self._wlock:
            if self._closed:
                raise StoreError(f"{doing} {self.path}: the store is closed")
            db = self._write
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback()
                raise _store_error(error, self.path, doing) from error
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._write.in_transaction:
            # SQLite may have rolled back already (e.g. after SQLITE_FULL).
            with suppress(sqlite3.Error):
                self._write.execute("ROLLBACK")
        # Ids handed out inside the failed transaction are gone with it.
        self._room_ids.clear()
        self._room_names.clear()
        self._source_ids.clear()

    def append(self, records: Sequence[Record]) -> None:
        """Keep ``records`` in order in one transaction: the group commit."""
        if not records:
            return
        with self._writing("appending to") as db:
            rows = []
            added: dict[int, int] = {}
            for record in records:
                kind = KIND_CODES.get(record.kind)
                if kind is None:
                    raise StoreError(f"appending to {self.path}: unknown record kind "
                                     f"{record.kind!r}")
                room_id = self._room_id(db, record.room)
                added[room_id] = added.get(room_id, 0) + 1
                rows.append((room_id, round(record.ts * 1000), kind,
                             self._source_id(db, record.nick, record.ident, record.host),
                             record.msgid, record.text, record.target))
            seq = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
            db.executemany("INSERT INTO messages (seq, room_id, ts, kind, source_id, msgid, "
                           "text, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [(seq + i, *row) for i, row in enumerate(rows, 1)])
            db.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (seq + len(rows),))
            db.executemany("UPDATE rooms SET count = count + ? WHERE id = ?",
                           [(n, room_id) for room_id, n in added.items()])

    def _room_id(self, db: sqlite3.Connection, name: str) -> int:
        folded = fold(name)
        room_id = self._room_ids.get(folded)
        if room_id is None:
            row = db.execute("SELECT id, name FROM rooms WHERE folded = ?", (folded,)).fetchone()
            if row is None:
                cursor = db.execute("INSERT INTO rooms (folded, name) VALUES (?, ?)",
                                    (folded, name))
                row = (cursor.lastrowid, name)
            room_id = self._room_ids[folded] = row[0]
            self._room_names[room_id] = row[1]
        if self._room_names[room_id] != name:  # the display name follows the latest record
            db.execute("UPDATE rooms SET name = ? WHERE id = ?", (name, room_id))
            self._room_names[room_id] = name
        return room_id

    def _source_id(self, db: sqlite3.Connection, nick: str, ident: str, host: str) -> int:
        key = (nick, ident, host)
        source_id = self._source_ids.get(key)
        if source_id is None:
            row = db.execute("SELECT id FROM sources WHERE nick = ? AND ident = ? AND host = ?",
                             key).fetchone()
            if row is None:
                cursor = db.execute("INSERT INTO sources (nick, ident, host) VALUES (?, ?, ?)",
                                    key)
                row = (cursor.lastrowid,)
            if len(self._source_ids) > 100_000:
                self._source_ids.clear()
            source_id = self._source_ids[key] = row[0]
        return source_id

    def save_rooms(self, rooms: Sequence[RoomState]) -> None:
        """Insert or replace these rooms' states (by folded name) in one transaction."""
        if not rooms:
            return
        with self._writing("saving rooms to") as db:
            db.executemany(
                'INSERT OR REPLACE INTO room_state (folded, name, created, topic, topic_by, '
                'topic_at, modes, key, "limit", bans) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                [(fold(r.name), r.name, r.created, r.topic, r.topic_by, r.topic_at, r.modes,
                  r.key, r.limit, json.dumps([[b.mask, b.set_by, b.set_at] for b in r.bans]))
                 for r in rooms])

    def prune(self, older_than: float, max_per_room: int, batch: int) -> int:
        """Delete up to ``batch`` of the oldest records that are too old or over the room cap,
        in one short transaction. Cheap when nothing is due: one index probe per room."""
        cap = max(0, max_per_room)
        cutoff = older_than * 1000
        deleted = 0
        with self._writing("pruning") as db:
            rooms = db.execute("SELECT id, count FROM rooms WHERE count > 0").fetchall()
            for room_id, count in rooms:
                room_batch = batch - deleted
                if room_batch <= 0:
                    break
                old = db.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM messages WHERE room_id = ? AND ts < ? "
                    "LIMIT ?)", (room_id, cutoff, room_batch)).fetchone()[0]
                n = min(max(old, count - cap), room_batch)
                if n <= 0:
                    continue
                ts, seq = db.execute("SELECT ts, seq FROM messages WHERE room_id = ? "
                                     "ORDER BY ts, seq LIMIT 1 OFFSET ?",
                                     (room_id, n - 1)).fetchone()
                db.execute("DELETE FROM messages WHERE room_id = ? AND ts <= ? AND "
                           "(ts < ? OR seq <= ?)", (room_id, ts, ts, seq))
                db.execute("UPDATE rooms SET count = count - ? WHERE id = ?", (n, room_id))
                deleted += n
        return deleted

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One read transaction (one snapshot), errors as StoreError."""
        with self._rlock:
            if self._closed:
                raise StoreError(f"{doing} {self.path}: the store is closed")
            db = self._read
            try:
                db.execute("BEGIN")
                try:
                    yield db
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error as error:
                raise _store_error(error, self.path, doing) from error

    def load_rooms(self) -> list[RoomState]:
        """Every saved room, for start-up."""
        with self._reading("loading rooms from") as db:
            rows = db.execute('SELECT name, created, topic, topic_by, topic_at, modes, key, '
                              '"limit", bans FROM room_state').fetchall()
        return [RoomState(name, created, topic, topic_by, topic_at, modes, key, limit,
                          tuple(Ban(mask, set_by, set_at)
                                for mask, set_by, set_at in json.loads(bans)))
                for name, created, topic, topic_by, topic_at, modes, key, limit, bans in rows]

    def _read_room(self, db: sqlite3.Connection, name: str) -> tuple[int, str] | None:
        row = db.execute("SELECT id, name FROM rooms WHERE folded = ?", (fold(name),)).fetchone()
        return None if row is None else (row[0], row[1])

    def query(self, query: Query) -> list[Record]:
        """One page of a room's history, oldest first (see :class:`Query`)."""
        limit = max(0, query.limit)
        if limit == 0 or (query.kinds is not None and not query.kinds):
            return []
        with self._reading("reading history from") as db:
            room = self._read_room(db, query.room)
            if room is None:
                return []
            return _Page(db, room[0], room[1], query.kinds).answer(query, limit)

    def targets(self, rooms: Sequence[str], start: float, end: float,
                limit: int) -> list[Target]:
        """Of ``rooms``, those with a record in the window, newest first, at most ``limit``."""
        low, high = min(start, end) * 1000, max(start, end) * 1000
        found: dict[int, Target] = {}
        with self._reading("reading history from") as db:
            for name in rooms:
                room = self._read_room(db, name)
                if room is None or room[0] in found:
                    continue
                row = db.execute("SELECT ts FROM messages WHERE room_id = ? AND ts >= ? AND "
                                 "ts <= ? ORDER BY ts DESC LIMIT 1",
                                 (room[0], low, high)).fetchone()
                if row is not None:
                    found[room[0]] = Target(room[1], row[0] / 1000)
        return sorted(found.values(), key=lambda t: t.latest, reverse=True)[:max(0, limit)]

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint the WAL into the file (best effort), close both connections and release
        the data directory. Safe to call twice."""
        with self._wlock, self._rlock:
            if self._closed:
                return
            self._closed = True
            self._read.close()
            with suppress(sqlite3.Error):  # best effort: closing checkpoints too
                self._write.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._write.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None


class _Page:
    """One query's SQL: bounds are ``(ts_ms, seq)`` keys, compared strictly."""

    def __init__(self, db: sqlite3.Connection, room_id: int, room: str,
                 kinds: frozenset[str] | None) -> None:
        self.db, self.room_id, self.room = db, room_id, room
        codes = sorted(KIND_CODES[k] for k in kinds or () if k in KIND_CODES)
        self.kind_sql = "" if kinds is None else f" AND m.kind IN ({','.join(map(str, codes))})"

    def position(self, ref: Ref) -> tuple[Key, Key] | None:
        """The keys just before and just after ``ref`` (the same for a msgid; for a time,
        the key before every record at it and the key after them); None if unknown."""
        if ref.msgid is not None:
            row = self.db.execute("SELECT ts, seq FROM messages WHERE msgid = ? AND room_id = ? "
                                  "ORDER BY seq DESC LIMIT 1",
                                  (ref.msgid, self.room_id)).fetchone()
            return None if row is None else ((row[0], row[1]), (row[0], row[1]))
        if ref.ts is not None:
            t = ref.ts * 1000
            return ((t, 0), (t, _BIG))
        return None

    def run(self, after: Key | None, before: Key | None, newest: bool,
            limit: int) -> list[Record]:
        """Records with ``after < key < before``, the ``limit`` nearest ``before`` if
        ``newest`` else nearest ``after``; oldest first."""
        sql = _COLUMNS + "WHERE m.room_id = ?" + self.kind_sql
        params: list[object] = [self.room_id]
        if after is not None:
            sql += " AND m.ts >= ? AND (m.ts > ? OR m.seq > ?)"
            params += [after[0], after[0], after[1]]
        if before is not None:
            sql += " AND m.ts <= ? AND (m.ts < ? OR m.seq < ?)"
            params += [before[0], before[0], before[1]]
        order = "DESC" if newest else "ASC"
        sql += f" ORDER BY m.ts {order}, m.seq {order} LIMIT ?"
        params.append(limit)
        rows = self.db.execute(sql, params).fetchall()
        if newest:
            rows.reverse()
        room = self.room
        return [Record(msgid, ts / 1000, room, KIND_NAMES.get(kind, "message"), nick, ident,
                       host, text, target, seq)
                for seq, ts, kind, msgid, text, target, nick, ident, host in rows]

    def answer(self, query: Query, limit: int) -> list[Record]:
        ref = query.ref
        if ref is None:
            return self.run(None, None, True, limit) if query.direction == "latest" else []
        pos = self.position(ref)
        if pos is None:
            return []
        low, high = pos
        if query.direction == "latest":
            return self.run(high, None, True, limit)
        if query.direction == "before":
            return self.run(None, low, True, limit)
        if query.direction == "after":
            return self.run(high, None, False, limit)
        if query.direction == "around":
            half = limit // 2
            older = self.run(None, low, True, half) if half else []
            return older + self.run((low[0], low[1] - 1), None, False, limit - half)
        if query.end is None:
            return []
        end = self.position(query.end)
        if end is None:
            return []
        if low <= end[0]:
            return self.run(high, end[0], False, limit)
        return self.run(end[1], low, True, limit)


def _check_header(path: str) -> None:
    """Refuse a file that is not SQLite before SQLite gets a chance to misread it."""
    try:
        with open(path, "rb") as file:
            header = file.read(len(_HEADER))
    except FileNotFoundError:
        return
    except OSError as error:
        raise StoreError(f"opening {path}: cannot read it ({error.strerror}): check its "
                         f"permissions") from error
    if header and header != _HEADER:
        raise StoreError(f"opening {path}: the file is not a SQLite database: move it aside "
                         f"to start a new history, or restore it from a backup")


def _statements(script: str) -> list[str]:
    """A migration script's statements, to run one by one inside the caller's transaction
    (``executescript`` would commit it)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def open_data_dir(directory: str | os.PathLike[str], *, verify: bool = False) -> SqliteStore:
    """The store in ``directory`` (see :meth:`SqliteStore.open_data_dir`)."""
    path = Path(directory)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the data directory {path} ({error.strerror}): "
                         f"create it, or choose another one") from error
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise StoreError(f"cannot open {lock_path} ({error.strerror}): the data directory "
                         f"{path} must be writable by the server's user") from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        raise StoreError(f"another server is using {path} (it holds {lock_path}): stop it, "
                         f"or give this server another data directory") from error
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: who holds it
        store = SqliteStore(path / DB_NAME, verify=verify)
    except BaseException:
        os.close(fd)
        raise
    store._lock_fd = fd
    return store
