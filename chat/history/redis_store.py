"""A history store in Redis, shared by every node of a cluster (``--cluster redis://...``).

Layout (every key under a prefix, ``chat:h:`` by default), chosen so that each read the
server makes is one or two range commands on one key, and a write is one script call per
commit:

- ``room:<folded>``: a room's records, one sorted set per room, every score 0, ordered by
  member (``ZRANGE ... BYLEX``). A member is the record itself: 6 bytes of time (ms,
  big-endian), 6 bytes of seq, one kind character, then the fields (see :func:`_payload`).
  Byte order is ``(ts, seq)`` order, the order every answer uses, so LATEST / BEFORE / AFTER /
  AROUND / BETWEEN are ``ZRANGE BYLEX [REV] LIMIT`` from a bound, and a time is a bound
  without a lookup. A record found by id is looked for among its millisecond's members
  (an id begins with its time, ``records.event_id``): no index of ids, as in SQLite.
  Pruning by age or per-room cap removes from the low end (``ZREMRANGEBYRANK``); the count
  is ``ZCARD``, O(1). A clock step back only sorts the record earlier, as in the other stores.
- ``seq``: the global seq counter (one ``INCRBY`` per commit: before its script call, or in
  it for a small commit).
- ``names``: a hash, folded room name to the name as last written (answers carry it), and the
  list of rooms pruning walks.
- ``state``: a hash, folded room name to the room's state as JSON (topic, modes, key, limit,
  bans, founder, ban and invite exceptions); ``bans``: the server bans in force, one JSON
  string (replaced whole).

Private conversations between two accounts are "rooms" named ``~a~b`` (``private_key``) and
live under ``room:~a~b`` like any room.

An append is one Lua script (atomic: all of a commit or none of it) given the members built
here, after an ``INCRBY`` that reserves their seqs unless the commit is small. It skips a
record whose millisecond already holds the same record byte for byte (its seq aside), so a
commit retried after a lost reply (the write happened, the answer did not arrive) stores
nothing twice, and a record twice in one commit is kept once. The same id with different
content (a replayed event) is kept as a later record, as the other stores do.

Errors: a dropped or stalled connection is :class:`StoreUnavailable` (the history service
keeps its records and retries with backoff); anything else Redis refuses is
:class:`StoreError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from chat.accounts.records import ServerBan
from chat.history.records import Ban, Query, Record, Ref, RoomState, Target, id_time
from chat.history.sqlite import KIND_BY_CHAR, KIND_CHARS
from chat.history.store import StoreError, StoreUnavailable
from chat.wire.names import fold

#: Seconds to wait for Redis to accept a connection, and for any answer: a stalled Redis
#: (SIGSTOP, a long fork) turns into StoreUnavailable after this, not a thread stuck for good.
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0
#: Records in a commit whose seqs the append script reserves itself (at most 255: each
#: member carries its place in the commit in its last byte of seq), writing them into the
#: members (~1 us of Redis a record). A larger commit reserves them with an INCRBY first, a
#: round trip more (~50-70 us of the node's CPU on a 2-vCPU VM, mostly the kernel's), so that
#: the script writes no byte of any member. At 128 neither side costs more than it did when
#: the script built every member (scripts/bench_history_append.py --per-commit 128 / 129).
SMALL_COMMIT = 128
#: Rooms per prune script call: each call is atomic and blocks Redis for its length.
PRUNE_ROOMS_PER_CALL = 100
_SEQ_MAX = (1 << 48) - 1
_MS_MAX = (1 << 48) - 1  # a time beyond 6 bytes (or before 1970) is kept at the nearest end
_HEAD = 12  # bytes of (ms, seq) at the start of every member

Bound = bytes  # a ZRANGE BYLEX bound: b"-", b"+", or b"[" / b"(" and a key


def connect(url: str) -> redis.Redis:
    """A Redis client for ``url`` with bounded timeouts and one immediate retry after a
    dropped connection (a pooled connection that went stale across a Redis restart is
    replaced once). A timeout is not retried: a stalled Redis costs one COMMAND_TIMEOUT, and
    longer outages are the caller's to back off from."""
    try:
        return redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=COMMAND_TIMEOUT,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            health_check_interval=30)
    except ValueError as error:
        raise StoreError(f"cannot use the Redis URL {url!r}: {error}") from error


@contextmanager
def redis_errors(doing: str, where: str) -> Iterator[None]:
    """Redis failures as store errors: unreachable (retry later) or refused (say why)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise StoreUnavailable(f"{doing} Redis at {where}: unreachable ({error})") from error
    except redis.RedisError as error:
        raise StoreError(f"{doing} Redis at {where}: {error}") from error


def where(client: redis.Redis) -> str:
    """host:port/db of a client, for messages (never its password)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def _key(ms: int, seq: int) -> bytes:
    """The 12 bytes a member starts with: its place in the room's order."""
    return ms.to_bytes(6, "big") + seq.to_bytes(6, "big")


def _payload(record: Record) -> bytes:
    """A record's member after the key: its kind character, then its fields NUL-separated
    behind a NUL (or, if a field holds a NUL itself, as a JSON list)."""
    fields = (record.msgid, record.nick, record.ident, record.host, record.text, record.target)
    text = "\0".join(fields)
    if text.count("\0") != 5:
        return (KIND_CHARS[record.kind] + json.dumps(fields, ensure_ascii=False)).encode()
    return (KIND_CHARS[record.kind] + "\0" + text).encode()


def _append_args(records: Sequence[Record], seq: int,
                 ) -> tuple[list[str], list[str | bytes | int]]:
    """The folded rooms and the ARGV of :data:`_APPEND` for ``records``, whose seqs follow
    ``seq``; KeyError (the kind) for a record of a kind not kept.

    This is the history thread's CPU per record, under the GIL the engine thread needs too:
    one pass, as little per record as it takes. A room is looked up by its name as written
    and a time by its ts (a cluster stamps ~100 records with one), and the payload is
    :func:`_payload` inline. A record whose payload the commit has already, at the same ms,
    is dropped (the script relies on it); the same payload at another ms is rare (a replayed
    id) and goes aside."""
    kind_chars = KIND_CHARS
    stamps: dict[float, int] = {}  # ts -> ms << 48
    # folded name -> [name as last written, {payload: member}, [member of a payload the
    # commit has at another ms], oldest ms << 48, newest ms << 48]
    rooms: dict[str, list[Any]] = {}
    spelled: dict[str, list[Any]] = {}  # name as written -> the same list
    for record in records:
        msgid, ts, name, kind, nick, ident, host, text, target, _ = record
        seq += 1
        room = spelled.get(name)
        if room is None:
            folded = fold(name)
            room = rooms.get(folded)
            if room is None:
                room = rooms[folded] = [name, {}, [], 1 << 96, -1]
            spelled[name] = room
        room[0] = name
        base = stamps.get(ts)
        if base is None:
            base = stamps[ts] = min(max(round(ts * 1000), 0), _MS_MAX) << 48
        if base < room[3]:
            room[3] = base
        if base > room[4]:
            room[4] = base
        char = kind_chars[kind]
        if ("\0" in text or "\0" in nick or "\0" in msgid or "\0" in ident or "\0" in host
                or "\0" in target):
            payload = (char + json.dumps((msgid, nick, ident, host, text, target),
                                         ensure_ascii=False)).encode()
        else:
            payload = f"{char}\0{msgid}\0{nick}\0{ident}\0{host}\0{text}\0{target}".encode()
        member = (base + seq).to_bytes(_HEAD, "big") + payload
        members = room[1]
        first = members.get(payload)
        if first is None:
            members[payload] = member
        elif first[:6] != member[:6] and all(other[:6] != member[:6] or other[_HEAD:] != payload
                                             for other in room[2]):
            room[2].append(member)  # the same fields at another ms: another record
    args: list[str | bytes | int] = []
    for folded, (name, members, aside, low, high) in rooms.items():
        args += (folded, name, low >> 48, high >> 48, len(members) + len(aside))
        args += members.values()
        args += aside
    return list(rooms), args


def _record(member: bytes, room: str) -> Record:
    """The record a member holds."""
    ms = int.from_bytes(member[:6], "big")
    seq = int.from_bytes(member[6:12], "big")
    kind = KIND_BY_CHAR.get(chr(member[12]), "message")
    if member[13:14] == b"\0":
        msgid, nick, ident, host, text, target = member[14:].decode().split("\0")
    else:
        msgid, nick, ident, host, text, target = json.loads(member[13:])
    return Record(msgid, ms / 1000, room, kind, nick, ident, host, text, target, seq)


def _msgid(member: bytes) -> str:
    """Just the id of a member's record (to find a record by id without decoding it all)."""
    if member[13:14] == b"\0":
        end = member.find(b"\0", 14)
        return member[14:end].decode()
    return str(json.loads(member[13:])[0])


#: Appends one commit whose members the caller built: KEYS = names hash, seq counter, then
#: one sorted set per room; ARGV = 0 if the caller reserved the seqs (its INCRBY), else the
#: commit's record count (a small commit: the script reserves them and each member carries
#: its place in the commit, 1-255, as its seq), then per room: folded name, name as written,
#: its oldest and newest ms in the commit, the count of its members, the members (no two of
#: one ms with the same payload). Returns how many were added (duplicates skipped).
#:
#: The per-record work is the cost (a cluster commit is ~1,700 records), so members are
#: passed on to ZADD as they come when no record can be a duplicate: the commit's oldest ms
#: in the room is newer than the room's newest member, or its only ms holds nothing. Else (a
#: retry after a lost reply, a clock step back, another node's commit in the same ms) each
#: ms the commit has there is read once (a cluster stamps a whole log entry, up to 100
#: messages, with one ms: reading it per record made a busy commit quadratic), and a member
#: whose payload (after its 12 bytes of ms and seq) is there already is skipped. Scores are
#: the string '0' (a Lua number would be formatted again for every member).
_APPEND = """
local floor, char, sub, byte, unpack = math.floor, string.char, string.sub, string.byte, unpack
local argv = ARGV
local function bytes6(v)  -- big-endian, 6 bytes (v < 2^48: exact in a double)
  local b6 = v % 256; v = floor(v / 256)
  local b5 = v % 256; v = floor(v / 256)
  local b4 = v % 256; v = floor(v / 256)
  local b3 = v % 256; v = floor(v / 256)
  local b2 = v % 256; v = floor(v / 256)
  return char(v % 256, b2, b3, b4, b5, b6)
end
local function ms_of(member)  -- the ms a member (or its 6-byte head) is at
  local b1, b2, b3, b4, b5, b6 = byte(member, 1, 6)
  return ((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6
end
local small = tonumber(argv[1])
local rebase, seq = small > 0, 0  -- a small commit: its seqs follow seq
if rebase then seq = redis.call('INCRBY', KEYS[2], small) - small end
local function rebased(member)  -- a small commit's member, its place in the commit as seq
  return sub(member, 1, 6) .. bytes6(seq + byte(member, 12)) .. sub(member, 13)
end
local ZEROS, MS_MAX, BATCH = '\\0\\0\\0\\0\\0\\0', 281474976710655, 1000
local function held(key, ms)  -- the payloads a room holds at ms, as a set; false if none
  local high = ms < MS_MAX and '(' .. bytes6(ms + 1) .. ZEROS or '+'
  local same = redis.call('ZRANGE', key, '[' .. bytes6(ms) .. ZEROS, high, 'BYLEX')
  if #same == 0 then return false end
  local here = {}
  for _, member in ipairs(same) do here[sub(member, 13)] = true end
  return here
end
local batch = {}  -- ZADD arguments, BATCH at a time: the scores set once, members replaced
for i = 1, math.min(BATCH, 2 * #argv), 2 do batch[i] = '0' end
local added, a = 0, 2
for j = 3, #KEYS do
  local key = KEYS[j]
  redis.call('HSET', KEYS[1], argv[a], argv[a + 1])
  local low, high = tonumber(argv[a + 2]), tonumber(argv[a + 3])
  local first, last = a + 5, a + 4 + tonumber(argv[a + 4])
  a = last + 1
  local here, heads, newest = false, false, -1  -- heads: per ms head, its set (or false)
  if low == high then
    here = held(key, low)
  else
    local top = redis.call('ZRANGE', key, '+', '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
    if top then
      newest = ms_of(top)
      if low <= newest then heads = {} end
    end
  end
  local size = 0
  if not (here or heads) then
    for i = first, last do
      size = size + 2
      batch[size] = argv[i]
      if rebase then batch[size] = rebased(argv[i]) end
      if size == BATCH then
        redis.call('ZADD', key, unpack(batch, 1, size))
        added, size = added + size / 2, 0
      end
    end
  else
    for i = first, last do
      local member = argv[i]
      local seen = here
      if heads then
        local head = sub(member, 1, 6)
        seen = heads[head]
        if seen == nil then
          local ms = ms_of(head)
          seen = ms <= newest and held(key, ms)
          heads[head] = seen
        end
      end
      if not (seen and seen[sub(member, 13)]) then
        size = size + 2
        batch[size] = rebase and rebased(member) or member
        if size == BATCH then
          redis.call('ZADD', key, unpack(batch, 1, size))
          added, size = added + size / 2, 0
        end
      end
    end
  end
  if size > 0 then
    redis.call('ZADD', key, unpack(batch, 1, size))
    added = added + size / 2
  end
end
return added
"""

#: Prunes some rooms: KEYS = their sorted sets; ARGV = the age bound (records below it are
#: too old), the per-room cap, the most records to delete. Returns how many it deleted.
_PRUNE = """
local budget = tonumber(ARGV[3])
local cap = tonumber(ARGV[2])
local deleted = 0
for _, k in ipairs(KEYS) do
  if deleted >= budget then break end
  local old = redis.call('ZLEXCOUNT', k, '-', ARGV[1])
  local over = redis.call('ZCARD', k) - cap
  local n = math.min(math.max(old, over), budget - deleted)
  if n > 0 then
    redis.call('ZREMRANGEBYRANK', k, 0, n - 1)
    deleted = deleted + n
  end
end
return deleted
"""


class RedisStore:
    """The :class:`~chat.history.store.HistoryStore` in Redis (see the module docstring).

    The client's connection pool gives the writer and the reader thread a connection each;
    every call is one or a few round trips. Opening checks that Redis answers, so a wrong URL
    stops the server at start-up with one clear line.
    """

    def __init__(self, client: redis.Redis, prefix: str = "chat:h:") -> None:
        self.client = client
        self.where = where(client)
        self.prefix = prefix
        self._seq_key = prefix + "seq"
        self._names_key = prefix + "names"
        self._state_key = prefix + "state"
        self._bans_key = prefix + "bans"
        self._append = client.register_script(_APPEND)
        self._prune = client.register_script(_PRUNE)
        with redis_errors("connecting to", self.where):
            client.ping()

    @classmethod
    def from_url(cls, url: str, prefix: str = "chat:h:") -> RedisStore:
        """The store on the Redis at ``url`` (``redis://HOST:PORT/DB``)."""
        return cls(connect(url), prefix)

    def _room_key(self, folded: str) -> str:
        return f"{self.prefix}room:{folded}"

    def _call(self, doing: str, call: Callable[[], Any]) -> Any:
        with redis_errors(doing, self.where):
            return call()

    # -- writing ---------------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> None:
        """Keep ``records`` in one script call: all or none, each room's in order.

        The members are built here, in one pass, so that the script only passes them on (see
        :data:`_APPEND`). Their seqs are reserved first (an INCRBY: a commit that then fails
        leaves a gap in the counter, as a skipped duplicate does), except in a commit of up to
        :data:`SMALL_COMMIT` records: there the script reserves them and writes each into its
        member, which costs Redis less than the round trip would cost both sides."""
        if not records:
            return
        total = len(records)
        small = total <= SMALL_COMMIT
        if small:
            seq = 0
        else:
            seq = int(self._call("appending to",
                                 lambda: self.client.incrby(self._seq_key, total))) - total
        try:
            rooms, args = _append_args(records, seq)
        except KeyError as error:
            raise StoreError(f"appending to Redis at {self.where}: unknown record kind "
                             f"{error.args[0]!r}") from None
        keys = [self._names_key, self._seq_key, *map(self._room_key, rooms)]
        args.insert(0, total if small else 0)
        self._call("appending to", lambda: self._append(keys=keys, args=args))

    def save_rooms(self, rooms: Sequence[RoomState]) -> None:
        """Insert or replace each room's state by folded name (one HSET: atomic)."""
        if rooms:
            mapping: dict[Any, Any] = {fold(state.name): _state_json(state) for state in rooms}
            self._call("saving rooms to", lambda: self.client.hset(self._state_key,
                                                                   mapping=mapping))

    def save_server_bans(self, bans: Sequence[ServerBan]) -> None:
        """Replace the server bans kept (one SET)."""
        data = json.dumps([list(ban) for ban in bans])
        self._call("saving server bans to", lambda: self.client.set(self._bans_key, data))

    def prune(self, older_than: float, max_per_room: int, batch: int) -> int:
        """Delete up to ``batch`` of the oldest records that are too old or over the cap,
        a script call per :data:`PRUNE_ROOMS_PER_CALL` rooms (each atomic, so two nodes
        pruning at once never delete more than asked)."""
        bound = b"(" + _key(max(0, math.ceil(older_than * 1000)), 0)
        cap = max(0, max_per_room)
        deleted = 0
        with redis_errors("pruning history in", self.where):
            folded = [cast(bytes, name).decode()
                      for name in self.client.hkeys(self._names_key)]
            for i in range(0, len(folded), PRUNE_ROOMS_PER_CALL):
                if deleted >= batch:
                    break
                keys = [self._room_key(name) for name in folded[i:i + PRUNE_ROOMS_PER_CALL]]
                deleted += int(self._prune(keys=keys, args=[bound, cap, batch - deleted]))
        return deleted

    # -- reading ---------------------------------------------------------------------------

    def load_rooms(self) -> list[RoomState]:
        """Every saved room."""
        with redis_errors("loading rooms from", self.where):
            found = self.client.hvals(self._state_key)
        return [_state_from_json(cast(bytes, data)) for data in found]

    def load_server_bans(self) -> list[ServerBan]:
        """The server bans kept."""
        with redis_errors("loading server bans from", self.where):
            data = self.client.get(self._bans_key)
        return [] if data is None else [ServerBan(*ban) for ban in json.loads(data)]

    def query(self, query: Query) -> list[Record]:
        """One page of a room's history, oldest first (see :class:`Query`)."""
        limit = max(0, query.limit)
        if limit == 0 or (query.kinds is not None and not query.kinds):
            return []
        folded = fold(query.room)
        with redis_errors("reading history from", self.where):
            name = self.client.hget(self._names_key, folded)
            if name is None:
                return []
            page = _Page(self.client, self._room_key(folded), cast(bytes, name).decode(),
                         query.kinds)
            return page.answer(query, limit)

    def targets(self, rooms: Sequence[str], start: float, end: float,
                limit: int) -> list[Target]:
        """Of ``rooms``, those with a record in the window, newest first (one pipeline)."""
        low = b"[" + _key(max(0, math.ceil(min(start, end) * 1000)), 0)
        high = b"(" + _key(math.floor(max(start, end) * 1000) + 1, 0)
        folded = list(dict.fromkeys(fold(room) for room in rooms))
        if not folded or limit <= 0:
            return []
        with redis_errors("reading history from", self.where):
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(self._names_key, folded)
            for name in folded:
                pipe.execute_command("ZRANGE", self._room_key(name), high, low, "BYLEX", "REV",
                                     "LIMIT", 0, 1)
            names, *newest = pipe.execute()
        found = [Target(name.decode(), int.from_bytes(members[0][:6], "big") / 1000)
                 for name, members in zip(names, newest, strict=True) if name and members]
        return sorted(found, key=lambda t: t.latest, reverse=True)[:limit]

    def close(self) -> None:
        """Close the connections (what was appended is in Redis, as durable as its
        persistence settings make it)."""
        self.client.close()


def _state_json(state: RoomState) -> str:
    return json.dumps([state.name, state.created, state.topic, state.topic_by, state.topic_at,
                       state.modes, state.key, state.limit,
                       _masks(state.bans), state.founder, _masks(state.excepts),
                       _masks(state.invex)], ensure_ascii=False)


def _masks(masks: tuple[Ban, ...]) -> list[list[object]]:
    return [[ban.mask, ban.set_by, ban.set_at] for ban in masks]


def _state_from_json(data: bytes) -> RoomState:
    """A room state as :func:`_state_json` wrote it; one written before ban and invite
    exceptions were kept (ten fields) loads with none."""
    (name, created, topic, topic_by, topic_at, modes, key, limit, bans, founder,
     *lists) = json.loads(data)
    excepts, invex = lists if len(lists) == 2 else ([], [])
    return RoomState(name, created, topic, topic_by, topic_at, modes, key, limit,
                     tuple(Ban(*ban) for ban in bans), founder,
                     tuple(Ban(*ban) for ban in excepts), tuple(Ban(*ban) for ban in invex))


class _Page:
    """One query's range reads on one room's sorted set.

    A point in the room is a pair of keys: ``low`` (the first key at or after it) and
    ``high`` (the first key after it); for a record they are its own key and the next one,
    for a time the first key at that millisecond and the first after it.
    """

    #: Members read per round trip while filtering by kind.
    STEP = 200

    def __init__(self, client: redis.Redis, key: str, room: str,
                 kinds: frozenset[str] | None) -> None:
        self.client, self.key, self.room = client, key, room
        self.wanted = None if kinds is None else frozenset(
            ord(KIND_CHARS[k]) for k in kinds if k in KIND_CHARS)

    def position(self, ref: Ref) -> tuple[bytes, bytes] | None:
        """``(low, high)`` keys of ``ref``; None if it names no record here."""
        if ref.msgid is not None:
            when = id_time(ref.msgid)
            if when is None:
                return None
            # The id's time is truncated to the ms, the record's ts rounded: +-1 ms.
            ms = round(when * 1000)
            members = self.client.execute_command(
                "ZRANGE", self.key, b"[" + _key(max(0, ms - 1), 0), b"(" + _key(ms + 2, 0),
                "BYLEX")
            found = [m for m in members if _msgid(m) == ref.msgid]
            if not found:
                return None
            head = found[-1][:_HEAD]  # the newest of a repeated id
            seq = int.from_bytes(head[6:], "big")
            return head, head[:6] + min(seq + 1, _SEQ_MAX).to_bytes(6, "big")
        if ref.ts is not None:
            t = round(ref.ts * 1000, 3)
            return _key(max(0, math.ceil(t)), 0), _key(max(0, math.floor(t) + 1), 0)
        return None

    def _walk(self, start: Bound, stop: Bound, limit: int, newest: bool) -> list[Record]:
        """Up to ``limit`` wanted records from ``start`` towards ``stop`` (ZRANGE bounds,
        newest first when ``newest``), returned oldest first."""
        wanted = self.wanted
        out: list[bytes] = []
        step = limit if wanted is None else max(limit, self.STEP)
        order = ("REV",) if newest else ()
        while len(out) < limit:
            members = self.client.execute_command("ZRANGE", self.key, start, stop, "BYLEX",
                                                  *order, "LIMIT", 0, step)
            if wanted is None:
                out += members
            else:
                out += [m for m in members if m[12] in wanted]
            if len(members) < step:
                break
            start = b"(" + members[-1]
        del out[limit:]
        if newest:
            out.reverse()
        room = self.room
        return [_record(m, room) for m in out]

    def answer(self, query: Query, limit: int) -> list[Record]:
        ref = query.ref
        if ref is None:
            return self._walk(b"+", b"-", limit, True) if query.direction == "latest" else []
        pos = self.position(ref)
        if pos is None:
            return []
        low, high = pos
        if query.direction == "latest":
            return self._walk(b"+", b"[" + high, limit, True)
        if query.direction == "before":
            return self._walk(b"(" + low, b"-", limit, True)
        if query.direction == "after":
            return self._walk(b"[" + high, b"+", limit, False)
        if query.direction == "around":
            half = limit // 2
            older = self._walk(b"(" + low, b"-", half, True) if half else []
            return older + self._walk(b"[" + low, b"+", limit - half, False)
        if query.end is None:
            return []
        end = self.position(query.end)
        if end is None:
            return []
        if low <= end[0]:
            return self._walk(b"[" + high, b"(" + end[0], limit, False)
        return self._walk(b"(" + low, b"[" + end[1], limit, True)
