"""A history store in one SQLite file (stdlib ``sqlite3``), for servers that remember.

Layout, chosen so that the history thread's write is one row per room per commit (a group
commit of a busy room costs about a microsecond per record, see
``scripts/bench_history_append.py``) and a page is a short walk of one index plus the one to
three chunks it unpacks (``scripts/bench_history.py``):

- ``rooms``: one row per room ever written to, an integer id for the folded name, the name as
  last written, a record count (so pruning finds full rooms without counting) and ``span``, the
  widest time range (ms) of any chunk the room ever had (how far back a chunk can start and
  still reach a given time);
- ``chunks``: a room's records in packed runs, ``(room_id, first_ts, first_seq)`` unique,
  with ``last_ts`` and ``count``. One ``append`` writes one chunk per room it touches, never
  adding to an older chunk. A rowid table (new chunks go at its end, each one contiguous) with
  a covering index ``chunks_room`` on ``(room_id, first_ts, first_seq, last_ts, count)``: pages
  and pruning walk the small index and read only the chunks they unpack. (Clustering the chunks
  themselves by room, a WITHOUT ROWID table, cost 2.5 times the CPU per appended record when a
  commit touches 100 rooms: every room's last leaf page, mostly overflow, rewritten per commit,
  and SQLite advises against WITHOUT ROWID for rows this big.) Inside a chunk the records are in
  ``(ts, seq)`` order with non-decreasing ``ts`` and consecutive seqs (``first_seq + i``), so a
  chunk is split where the clock steps back, after :data:`CHUNK_MAX` records and past
  :data:`CHUNK_SPAN_MAX` ms. See :func:`_encode` for the format;
- ``counters``: the store's global ``seq`` counter;
- ``room_state``: what survives a restart about a room, its mask lists (bans, ban and invite
  exceptions) as JSON.

There is no index of message ids: an id begins with its time (``records.event_id``), so the
record is in the chunks of its room whose ``[first_ts, last_ts]`` holds that millisecond.

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
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import accumulate
from operator import itemgetter, sub
from pathlib import Path

from chat.accounts.records import Account, Scram, ServerBan
from chat.history.records import Ban, Query, Record, Ref, RoomState, Target, id_time
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
#: The same codes as one character each, as chunks keep them ("0" is a message).
KIND_CHARS: dict[str, str] = {name: chr(48 + code) for name, code in KIND_CODES.items()}
KIND_BY_CHAR: dict[str, str] = {char: name for name, char in KIND_CHARS.items()}

#: Most records in one chunk. A room's share of one commit is one chunk unless it is bigger
#: than this. 512 keeps the worst chunk a query decodes small (~70 KB, ~0.1 ms to decode),
#: while the per-chunk costs (a row, an SQL call: a few microseconds) are already nothing per
#: record at this size; bigger chunks would make pages dearer and appends no cheaper.
CHUNK_MAX = 512
#: Widest time range (ms) of one chunk. A commit covers 50 ms, so this only cuts a chunk when
#: the clock jumps forward inside a commit, or after the history thread fell far behind. It
#: bounds a room's ``span``, and so how many index entries a page may walk past (see _Page).
CHUNK_SPAN_MAX = 10_000

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



def _migrate_v3(db: sqlite3.Connection) -> None:
    """Version 3: records in chunks (see the module docstring) instead of a row each, no
    ``sources`` table and no msgid index. Old rows are read in ``(room, ts, seq)`` order and
    written as chunks (at most :data:`CHUNK_MAX` records and :data:`CHUNK_SPAN_MAX` ms); seqs
    are numbered afresh in that order (a chunk's seqs are consecutive), which keeps every
    room's order."""
    db.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, room_id INTEGER NOT NULL, "
               "first_ts INTEGER NOT NULL, first_seq INTEGER NOT NULL, last_ts INTEGER NOT NULL, "
               "count INTEGER NOT NULL, data BLOB NOT NULL)")
    db.execute("CREATE UNIQUE INDEX chunks_room ON chunks (room_id, first_ts, first_seq, "
               "last_ts, count)")
    db.execute("ALTER TABLE rooms ADD COLUMN span INTEGER NOT NULL DEFAULT 0")
    seq = 0
    for (room_id,) in db.execute("SELECT id FROM rooms ORDER BY id").fetchall():
        rows = db.execute("SELECT m.ts, m.msgid, m.kind, s.nick, s.ident, s.host, m.text, "
                          "m.target FROM messages m JOIN sources s ON s.id = m.source_id "
                          "WHERE m.room_id = ? ORDER BY m.ts, m.seq", (room_id,))
        span = 0
        while block := rows.fetchmany(CHUNK_MAX):
            all_ms = [row[0] for row in block]
            for i, j in _runs(all_ms):
                ms, msgids, codes, nicks, idents, hosts, texts, targets = map(
                    list, zip(*block[i:j], strict=True))
                kinds = [KIND_NAMES.get(code, "message") for code in codes]
                db.execute("INSERT INTO chunks (room_id, first_ts, first_seq, last_ts, count, "
                           "data) VALUES (?, ?, ?, ?, ?, ?)",
                           (room_id, ms[0], seq + 1, ms[-1], len(ms),
                            _encode(ms, msgids, kinds, nicks, idents, hosts, texts, targets)))
                seq += len(ms)
                span = max(span, ms[-1] - ms[0])
        db.execute("UPDATE rooms SET span = ?, count = (SELECT coalesce(sum(count), 0) FROM "
                   "chunks WHERE room_id = ?) WHERE id = ?", (span, room_id, room_id))
    db.execute("UPDATE counters SET value = max(value, ?) WHERE name = 'seq'", (seq,))
    db.execute("DROP INDEX messages_msgid")
    db.execute("DROP TABLE messages")
    db.execute("DROP TABLE sources")


#: Version 4: accounts (argon2id hash and SCRAM credentials, never a password), server-wide
#: bans, and each room's founder account.
SCHEMA_V4 = """
CREATE TABLE accounts (
    folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    scram_salt BLOB NOT NULL,
    scram_stored_key BLOB NOT NULL,
    scram_server_key BLOB NOT NULL,
    scram_iterations INTEGER NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE server_bans (
    mask TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at REAL NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
ALTER TABLE room_state ADD COLUMN founder TEXT NOT NULL DEFAULT '';
"""

#: Version 5: each room's ban exceptions (+e) and invite exceptions (+I), as JSON like its bans.
SCHEMA_V5 = """
ALTER TABLE room_state ADD COLUMN excepts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE room_state ADD COLUMN invex TEXT NOT NULL DEFAULT '[]';
"""

#: Step ``i`` takes a database from version ``i`` to ``i + 1``: a script, or a function for a
#: step SQL alone cannot do. Append only; never edit one.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    SCHEMA_V1, SCHEMA_V2, _migrate_v3, SCHEMA_V4, SCHEMA_V5)
SCHEMA_VERSION = len(MIGRATIONS)

_HEADER = b"SQLite format 3\x00"
_BIG = 1 << 62  # a seq after every stored seq: (t, _BIG) sorts after every record at t
_MS = (1000.0).__mul__
_ROOM = itemgetter(2)
_KEY = itemgetter(0, 1)

Key = tuple[float, int]  # a position in a room: (ts in ms, seq)


# -- chunks ------------------------------------------------------------------------------------


def _encode(ms: Sequence[int], msgids: Sequence[str], kinds: Sequence[str],
            nicks: Sequence[str], idents: Sequence[str], hosts: Sequence[str],
            texts: Sequence[str], targets: Sequence[str]) -> bytes:
    """One chunk's ``data``: records of one room, ``ms`` (their times) non-decreasing.

    UTF-8 text of NUL-separated fields: an empty field (so the data starts with a NUL), the
    msgids' common prefix, the time deltas in ms (from the previous record; the first is 0,
    the row has ``first_ts``) comma-separated, the kind codes (one character each, see
    :data:`KIND_CHARS`), then whole columns: msgid suffixes, nicks, idents, hosts, texts,
    targets. Each step is one C call over the batch (``join``, ``map``), no Python per record.
    If a field holds a NUL itself the chunk is JSON instead, a list of the same fields (it
    starts with ``[``).

    Raises KeyError for an unknown kind.
    """
    codes = "".join(map(KIND_CHARS.__getitem__, kinds))
    prefix = _common_prefix(msgids)
    cut = len(prefix)
    suffixes = list(map(itemgetter(slice(cut, None)), msgids)) if cut else list(msgids)
    deltas = list(map(sub, ms, [ms[0], *ms[:-1]]))
    parts = ["", prefix, ",".join(map(str, deltas)), codes, *suffixes]
    parts += nicks
    parts += idents
    parts += hosts
    parts += texts
    parts += targets
    text = "\0".join(parts)
    if text.count("\0") != 3 + 6 * len(ms):  # a field with a NUL of its own
        text = json.dumps([prefix, deltas, codes, suffixes, nicks, idents, hosts, texts,
                           targets], ensure_ascii=False, separators=(",", ":"))
    return text.encode()


def _common_prefix(words: Sequence[str]) -> str:
    low, high = min(words), max(words)
    for i, char in enumerate(low):
        if char != high[i]:
            return low[:i]
    return low


class _Chunk:
    """One chunk unpacked: columns, and each record's time in ms."""

    __slots__ = ("codes", "first_seq", "hosts", "idents", "ids", "ms", "nicks", "prefix",
                 "targets", "texts")

    def __init__(self, first_ts: int, first_seq: int, data: bytes) -> None:
        self.first_seq = first_seq
        if data[:1] == b"\0":
            parts = data.decode().split("\0")
            n = (len(parts) - 4) // 6
            self.prefix, deltas, self.codes = parts[1], parts[2], parts[3]
            ms = list(map(int, deltas.split(",")))
            self.ids = parts[4:4 + n]
            self.nicks = parts[4 + n:4 + 2 * n]
            self.idents = parts[4 + 2 * n:4 + 3 * n]
            self.hosts = parts[4 + 3 * n:4 + 4 * n]
            self.texts = parts[4 + 4 * n:4 + 5 * n]
            self.targets = parts[4 + 5 * n:]
        else:
            (self.prefix, ms, self.codes, self.ids, self.nicks, self.idents, self.hosts,
             self.texts, self.targets) = json.loads(data)
        ms[0] += first_ts
        self.ms = list(accumulate(ms))

    def record(self, i: int, room: str) -> Record:
        return Record(self.prefix + self.ids[i], self.ms[i] / 1000, room,
                      KIND_BY_CHAR.get(self.codes[i], "message"), self.nicks[i], self.idents[i],
                      self.hosts[i], self.texts[i], self.targets[i], self.first_seq + i)

    def below(self, key: Key) -> int:
        """How many records sort before ``key`` (so the index of the first one at or after)."""
        t, s = key
        ms = self.ms
        lo = bisect_left(ms, t)
        if lo == len(ms) or ms[lo] != t:
            return lo
        return min(bisect_right(ms, t, lo), max(lo, s - self.first_seq))

    def find(self, msgid: str) -> int | None:
        """The index of the last record with this msgid, or None."""
        prefix = self.prefix
        if not msgid.startswith(prefix):
            return None
        ids = self.ids
        suffix = msgid[len(prefix):]
        if suffix not in ids:
            return None
        return len(ids) - 1 - ids[::-1].index(suffix)


def decode_chunk(first_ts: int, first_seq: int, data: bytes, room: str = "") -> list[Record]:
    """Every record of one ``chunks`` row, oldest first (for tools and tests)."""
    chunk = _Chunk(first_ts, first_seq, data)
    return [chunk.record(i, room) for i in range(len(chunk.ms))]


def _runs(ms: list[int]) -> list[tuple[int, int]]:
    """``ms`` cut into ``[i, j)`` runs where time never steps back, of at most CHUNK_MAX
    records and CHUNK_SPAN_MAX ms."""
    runs = []
    start = 0
    for i in range(1, len(ms)):
        if ms[i] < ms[i - 1] or i - start >= CHUNK_MAX or ms[i] - ms[start] > CHUNK_SPAN_MAX:
            runs.append((start, i))
            start = i
    runs.append((start, len(ms)))
    return runs


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
        self._room_ids: dict[str, int] = {}  # by folded name
        self._name_ids: dict[str, int] = {}  # by name as written
        self._room_names: dict[int, str] = {}
        self._room_spans: dict[int, int] = {}
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
                if callable(step):
                    step(db)
                    continue
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
        self._name_ids.clear()
        self._room_names.clear()
        self._room_spans.clear()

    def append(self, records: Sequence[Record]) -> None:
        """Keep ``records`` in order in one transaction (the group commit): one chunk per room
        (more only past CHUNK_MAX records or CHUNK_SPAN_MAX ms, or where the clock stepped
        back), seqs consecutive within a chunk. Python does a few C-level passes per room
        (``zip``, ``map``, ``join``), nothing per record but a dict lookup when several rooms
        share the batch."""
        if not records:
            return
        with self._writing("appending to") as db:
            seq = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
            rows = []
            counts = []
            spans = []
            for room_id, group in self._groups(db, records):
                cols = list(zip(*group, strict=True))
                ms = list(map(round, map(_MS, cols[1])))
                whole = (len(ms) <= CHUNK_MAX and ms[-1] - ms[0] <= CHUNK_SPAN_MAX
                         and ms == sorted(ms))
                runs = [(0, len(ms))] if whole else _runs(ms)
                span = 0
                for i, j in runs:
                    part = cols if len(runs) == 1 else [col[i:j] for col in cols]
                    run = ms if len(runs) == 1 else ms[i:j]
                    try:
                        data = _encode(run, part[0], part[3], part[4], part[5], part[6],
                                       part[7], part[8])
                    except KeyError as error:
                        raise StoreError(f"appending to {self.path}: unknown record kind "
                                         f"{error.args[0]!r}") from None
                    rows.append((room_id, run[0], seq + 1, run[-1], j - i, data))
                    seq += j - i
                    span = max(span, run[-1] - run[0])
                counts.append((len(ms), room_id))
                if span > self._room_spans[room_id]:
                    spans.append((span, room_id))
            db.executemany("INSERT INTO chunks (room_id, first_ts, first_seq, last_ts, count, "
                           "data) VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (seq,))
            db.executemany("UPDATE rooms SET count = count + ? WHERE id = ?", counts)
            if spans:
                db.executemany("UPDATE rooms SET span = max(span, ?) WHERE id = ?", spans)
                for span, room_id in spans:
                    self._room_spans[room_id] = max(span, self._room_spans[room_id])

    def _groups(self, db: sqlite3.Connection,
                records: Sequence[Record]) -> list[tuple[int, Sequence[Record]]]:
        """``records`` by room id, each room's in order; room names folded once per name."""
        names = list(map(_ROOM, records))
        first = names[0]
        if names.count(first) == len(names):  # the busy case: one room
            return [(self._room_id(db, first), records)]
        by_name: dict[str, list[Record]] = {}
        for record, name in zip(records, names, strict=True):
            group = by_name.get(name)
            if group is None:
                by_name[name] = [record]
            else:
                group.append(record)
        ids = {name: self._room_id(db, name) for name in by_name}
        if len(set(ids.values())) == len(ids):
            return [(ids[name], group) for name, group in by_name.items()]
        # One room written under two spellings: regroup in order; the last spelling wins.
        by_id: dict[int, list[Record]] = {}
        for record, name in zip(records, names, strict=True):
            by_id.setdefault(ids[name], []).append(record)
        for group in by_id.values():
            self._room_id(db, group[-1].room)
        return list(by_id.items())

    def _room_id(self, db: sqlite3.Connection, name: str) -> int:
        room_id = self._name_ids.get(name)
        if room_id is None:
            folded = fold(name)
            room_id = self._room_ids.get(folded)
            if room_id is None:
                row = db.execute("SELECT id, name, span FROM rooms WHERE folded = ?",
                                 (folded,)).fetchone()
                if row is None:
                    cursor = db.execute("INSERT INTO rooms (folded, name) VALUES (?, ?)",
                                        (folded, name))
                    row = (cursor.lastrowid, name, 0)
                room_id = self._room_ids[folded] = row[0]
                self._room_names[room_id] = row[1]
                self._room_spans[room_id] = row[2]
            if len(self._name_ids) > 100_000:
                self._name_ids.clear()
            self._name_ids[name] = room_id
        if self._room_names[room_id] != name:  # the display name follows the latest record
            db.execute("UPDATE rooms SET name = ? WHERE id = ?", (name, room_id))
            self._room_names[room_id] = name
        return room_id

    def save_rooms(self, rooms: Sequence[RoomState]) -> None:
        """Insert or replace these rooms' states (by folded name) in one transaction."""
        if not rooms:
            return
        with self._writing("saving rooms to") as db:
            db.executemany(
                'INSERT OR REPLACE INTO room_state (folded, name, created, topic, topic_by, '
                'topic_at, modes, key, "limit", bans, founder, excepts, invex) '
                'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                [(fold(r.name), r.name, r.created, r.topic, r.topic_by, r.topic_at, r.modes,
                  r.key, r.limit, _masks_json(r.bans), r.founder, _masks_json(r.excepts),
                  _masks_json(r.invex))
                 for r in rooms])

    # -- accounts and server bans (the AccountStore interface, and the bans' two calls) --

    def create_account(self, account: Account) -> bool:
        """Keep a new account unless its name (any case) is taken."""
        scram = account.scram
        with self._writing("registering an account in") as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO accounts (folded, name, password_hash, scram_salt, "
                "scram_stored_key, scram_server_key, scram_iterations, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (fold(account.name), account.name, account.password_hash, scram.salt,
                 scram.stored_key, scram.server_key, scram.iterations, account.created))
            return cursor.rowcount == 1

    def get_account(self, name: str) -> Account | None:
        """The account called ``name`` (any case), or None."""
        with self._reading("reading an account from") as db:
            row = db.execute(
                "SELECT name, password_hash, scram_salt, scram_stored_key, scram_server_key, "
                "scram_iterations, created FROM accounts WHERE folded = ?",
                (fold(name),)).fetchone()
        if row is None:
            return None
        return Account(row[0], row[1], Scram(row[2], row[3], row[4], row[5]), row[6])

    def set_password(self, name: str, password_hash: str, scram: Scram) -> bool:
        """New credentials for an existing account."""
        with self._writing("changing a password in") as db:
            cursor = db.execute(
                "UPDATE accounts SET password_hash = ?, scram_salt = ?, scram_stored_key = ?, "
                "scram_server_key = ?, scram_iterations = ? WHERE folded = ?",
                (password_hash, scram.salt, scram.stored_key, scram.server_key,
                 scram.iterations, fold(name)))
            return cursor.rowcount == 1

    def account_names(self) -> list[str]:
        """Every account's name."""
        with self._reading("listing accounts in") as db:
            return [name for (name,) in db.execute("SELECT name FROM accounts")]

    def save_server_bans(self, bans: Sequence[ServerBan]) -> None:
        """The server-wide bans now in force (replacing what was kept)."""
        with self._writing("saving server bans to") as db:
            db.execute("DELETE FROM server_bans")
            db.executemany("INSERT OR REPLACE INTO server_bans (mask, reason, set_by, set_at, "
                           "expires) VALUES (?, ?, ?, ?, ?)",
                           [(b.mask, b.reason, b.set_by, b.set_at, b.expires) for b in bans])

    def load_server_bans(self) -> list[ServerBan]:
        """The server-wide bans kept (expired ones included: the core drops them)."""
        with self._reading("loading server bans from") as db:
            rows = db.execute("SELECT mask, reason, set_by, set_at, expires FROM server_bans "
                              "ORDER BY set_at").fetchall()
        return [ServerBan(*row) for row in rows]

    def prune(self, older_than: float, max_per_room: int, batch: int) -> int:
        """Delete whole chunks, oldest first, whose newest record is older than
        ``older_than``, or which the room can lose and still keep ``max_per_room`` records; in
        one short transaction. Pruning is per chunk: a room keeps up to one chunk (at most
        CHUNK_MAX records) more than the cap, and a chunk stays until its newest record is old.
        At most ``batch`` records go per call, except that a single due chunk bigger than
        ``batch`` goes whole (else it could never go). Cheap when nothing is due: one
        primary-key probe per room."""
        cap = max(0, max_per_room)
        cutoff = older_than * 1000
        deleted = 0
        with self._writing("pruning") as db:
            rooms = db.execute("SELECT id, count FROM rooms WHERE count > 0").fetchall()
            for room_id, count in rooms:
                if deleted >= batch:
                    break
                doomed = []
                n = 0
                cursor = db.execute("SELECT first_ts, first_seq, last_ts, count FROM chunks "
                                    "WHERE room_id = ? ORDER BY first_ts, first_seq",
                                    (room_id,))
                for first_ts, first_seq, last_ts, size in cursor:
                    if last_ts >= cutoff and count - n - size < cap:
                        break
                    if deleted + n + size > batch and deleted + n > 0:
                        break
                    doomed.append((room_id, first_ts, first_seq))
                    n += size
                    if deleted + n >= batch:
                        break
                cursor.close()
                if not doomed:
                    continue
                db.executemany("DELETE FROM chunks WHERE room_id = ? AND first_ts = ? AND "
                               "first_seq = ?", doomed)
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
                              '"limit", bans, founder, excepts, invex FROM room_state'
                              ).fetchall()
        return [RoomState(name, created, topic, topic_by, topic_at, modes, key, limit,
                          _masks(bans), founder, _masks(excepts), _masks(invex))
                for (name, created, topic, topic_by, topic_at, modes, key, limit, bans, founder,
                     excepts, invex) in rows]

    def _read_room(self, db: sqlite3.Connection, name: str) -> tuple[int, str, int] | None:
        row = db.execute("SELECT id, name, span FROM rooms WHERE folded = ?",
                         (fold(name),)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def query(self, query: Query) -> list[Record]:
        """One page of a room's history, oldest first (see :class:`Query`)."""
        limit = max(0, query.limit)
        if limit == 0 or (query.kinds is not None and not query.kinds):
            return []
        with self._reading("reading history from") as db:
            room = self._read_room(db, query.room)
            if room is None:
                return []
            return _Page(db, *room, query.kinds).answer(query, limit)

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
                newest = _Page(db, *room, None).newest((high, _BIG), (low, -1), 1)
                if newest:
                    found[room[0]] = Target(room[1], newest[0].ts)
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
    """One query's reads: walks the ``chunks_room`` index from a reference point, and reads
    and unpacks only the chunks that can hold an answer.

    Bounds are ``(ts_ms, seq)`` keys, compared strictly. Chunks may overlap in time (the
    clock stepped back between commits), so a walk also passes index entries of chunks that
    start up to the room's ``span`` (at most CHUNK_SPAN_MAX) before a bound: a chunk starting
    before ``t - span`` ends before ``t``. Entries whose ``last_ts`` shows they cannot help are
    skipped without reading the chunk.
    """

    def __init__(self, db: sqlite3.Connection, room_id: int, room: str, span: int,
                 kinds: frozenset[str] | None) -> None:
        self.db, self.room_id, self.room, self.span = db, room_id, room, span
        self.wanted = None if kinds is None else frozenset(
            KIND_CHARS[k] for k in kinds if k in KIND_CHARS)
        self.chunks: dict[int, _Chunk] = {}

    def chunk(self, chunk_id: int, first_ts: int, first_seq: int) -> _Chunk:
        """A chunk, read and unpacked once per query."""
        chunk = self.chunks.get(chunk_id)
        if chunk is None:
            (data,) = self.db.execute("SELECT data FROM chunks WHERE id = ?",
                                      (chunk_id,)).fetchone()
            chunk = self.chunks[chunk_id] = _Chunk(first_ts, first_seq, data)
        return chunk

    def position(self, ref: Ref) -> tuple[Key, Key] | None:
        """The keys just before and just after ``ref`` (the same for a msgid; for a time,
        the key before every record at it and the key after them); None if unknown."""
        if ref.msgid is not None:
            when = id_time(ref.msgid)
            if when is None:
                return None
            # The id has its time truncated to the ms, the record's ts is rounded: +-1 ms.
            ms = round(when * 1000)
            found: Key | None = None
            for chunk_id, first_ts, first_seq in self.db.execute(
                    "SELECT id, first_ts, first_seq FROM chunks WHERE room_id = ? AND "
                    "first_ts >= ? AND first_ts <= ? AND last_ts >= ?",
                    (self.room_id, ms - 1 - self.span, ms + 1, ms - 1)).fetchall():
                chunk = self.chunk(chunk_id, first_ts, first_seq)
                i = chunk.find(ref.msgid)
                if i is not None and (found is None or first_seq + i > found[1]):
                    found = (chunk.ms[i], first_seq + i)
            return None if found is None else (found, found)
        if ref.ts is not None:
            t = ref.ts * 1000
            return ((t, 0), (t, _BIG))
        return None

    def newest(self, before: Key | None, floor: Key | None, limit: int) -> list[Record]:
        """The ``limit`` newest records with ``floor < key < before``, oldest first."""
        sql = "SELECT id, first_ts, first_seq, last_ts FROM chunks WHERE room_id = ?"
        params: list[object] = [self.room_id]
        if before is not None:
            sql += " AND first_ts <= ?"
            params.append(before[0])
        if floor is not None:
            sql += " AND first_ts >= ?"
            params.append(floor[0] - self.span)
        sql += " ORDER BY first_ts DESC, first_seq DESC"
        span, wanted = self.span, self.wanted
        found: list[tuple[int, int, _Chunk, int]] = []
        edge: float | None = None  # the time of the limit-th newest found so far
        for chunk_id, first_ts, first_seq, last_ts in self.db.execute(sql, params):
            if edge is not None:
                if first_ts + span < edge:
                    break  # this chunk and every one after it end before the edge
                if last_ts < edge:
                    continue
            if floor is not None and last_ts < floor[0]:
                continue
            chunk = self.chunk(chunk_id, first_ts, first_seq)
            ms = chunk.ms
            high = len(ms) if before is None else chunk.below(before)
            low = 0 if floor is None else chunk.below((floor[0], floor[1] + 1))
            if wanted is None:
                found += [(ms[i], first_seq + i, chunk, i)
                          for i in range(max(low, high - limit), high)]
            else:
                codes = chunk.codes
                taken = 0
                for i in range(high - 1, low - 1, -1):
                    if codes[i] in wanted:
                        found.append((ms[i], first_seq + i, chunk, i))
                        taken += 1
                        if taken >= limit:
                            break
            if len(found) >= limit:
                found.sort(key=_KEY, reverse=True)
                del found[limit:]
                edge = found[-1][0]
        found.sort(key=_KEY)
        room = self.room
        return [chunk.record(i, room) for _ts, _seq, chunk, i in found[-limit:]]

    def oldest(self, after: Key | None, ceiling: Key | None, limit: int) -> list[Record]:
        """The ``limit`` oldest records with ``after < key < ceiling``, oldest first."""
        sql = "SELECT id, first_ts, first_seq, last_ts FROM chunks WHERE room_id = ?"
        params: list[object] = [self.room_id]
        if after is not None:
            sql += " AND first_ts >= ?"
            params.append(after[0] - self.span)
        if ceiling is not None:
            sql += " AND first_ts <= ?"
            params.append(ceiling[0])
        sql += " ORDER BY first_ts, first_seq"
        wanted = self.wanted
        found: list[tuple[int, int, _Chunk, int]] = []
        edge: float | None = None  # the time of the limit-th oldest found so far
        for chunk_id, first_ts, first_seq, last_ts in self.db.execute(sql, params):
            if edge is not None and first_ts > edge:
                break  # this chunk and every one after it start after the edge
            if after is not None and last_ts < after[0]:
                continue
            chunk = self.chunk(chunk_id, first_ts, first_seq)
            ms = chunk.ms
            low = 0 if after is None else chunk.below((after[0], after[1] + 1))
            high = len(ms) if ceiling is None else chunk.below(ceiling)
            if wanted is None:
                found += [(ms[i], first_seq + i, chunk, i)
                          for i in range(low, min(high, low + limit))]
            else:
                codes = chunk.codes
                taken = 0
                for i in range(low, high):
                    if codes[i] in wanted:
                        found.append((ms[i], first_seq + i, chunk, i))
                        taken += 1
                        if taken >= limit:
                            break
            if len(found) >= limit:
                found.sort(key=_KEY)
                del found[limit:]
                edge = found[-1][0]
        found.sort(key=_KEY)
        room = self.room
        return [chunk.record(i, room) for _ts, _seq, chunk, i in found[:limit]]

    def answer(self, query: Query, limit: int) -> list[Record]:
        ref = query.ref
        if ref is None:
            return self.newest(None, None, limit) if query.direction == "latest" else []
        pos = self.position(ref)
        if pos is None:
            return []
        low, high = pos
        if query.direction == "latest":
            return self.newest(None, high, limit)
        if query.direction == "before":
            return self.newest(low, None, limit)
        if query.direction == "after":
            return self.oldest(high, None, limit)
        if query.direction == "around":
            half = limit // 2
            older = self.newest(low, None, half) if half else []
            return older + self.oldest((low[0], low[1] - 1), None, limit - half)
        if query.end is None:
            return []
        end = self.position(query.end)
        if end is None:
            return []
        if low <= end[0]:
            return self.oldest(high, end[0], limit)
        return self.newest(low, end[1], limit)


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
    if path.exists() and not path.is_dir():
        raise StoreError(f"the data directory {path} is a file, not a directory: "
                         f"choose another --data-dir")
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


def _masks_json(masks: tuple[Ban, ...]) -> str:
    """A room's mask list (bans, +e or +I) as ``room_state`` keeps it."""
    return json.dumps([[b.mask, b.set_by, b.set_at] for b in masks])


def _masks(data: str) -> tuple[Ban, ...]:
    return tuple(Ban(mask, set_by, set_at) for mask, set_by, set_at in json.loads(data))
