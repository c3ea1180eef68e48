"""Measure the SQLite history store at size: build time, bytes per message, start-up, paging.

    python scripts/bench_history.py                      # 1,000,000 messages over 100 rooms
    python scripts/bench_history.py --messages 20000     # a quick run
    python scripts/bench_history.py --db DIR             # reuse (or build once into) DIR
    python scripts/bench_history.py --batch 100000       # ~1000 per room per append (chunks)
    python scripts/bench_history.py --cold 50            # also cold-cache samples (root)
    python scripts/bench_history.py --store redis --messages 200000   # the cluster's store,
                                    # on a redis-server of its own (or --redis-url URL)

``--batch`` is how many records (spread over the rooms at random) each ``append`` gets, so
``batch / rooms`` is about a chunk's size: 5000 over 100 rooms makes chunks of ~50. The build
writes two messages a second of simulated time, so one batch stands for a commit but covers far
more time than a server's 50 ms one; it lifts ``sqlite.CHUNK_SPAN_MAX`` so that chunks keep the
batch's size (``--span-max 10000``, the server's rule, would cut them to single records here).

Targets (see chat/history/sqlite.py): LATEST 100 and BEFORE paging p99 <= 5 ms, start-up <= 1 s,
under 300 bytes on disk per message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chat.history import redis_store, sqlite
from chat.history.records import Query, Record, Ref, RoomState, event_id
from chat.history.redis_store import RedisStore
from chat.history.sqlite import DB_NAME, SqliteStore, decode_chunk, open_data_dir
from chat.history.store import HistoryStore
from chat.wire.names import fold

WORDS = ["the", "a", "is", "it", "to", "and", "of", "in", "that", "you", "for", "on", "with",
         "this", "was", "but", "not", "have", "are", "just", "like", "what", "so", "can",
         "deploy", "server", "build", "merge", "review", "lunch", "today", "tomorrow", "bug",
         "fixed", "works", "broken", "patch", "release", "coffee", "meeting", "thanks", "ok",
         "python", "sqlite", "history", "message", "channel", "network", "latency", "disk"]


def _nick(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 10)))


def _text(rng: random.Random) -> str:
    length = rng.randint(20, 120)
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:length]


def build(directory: Path | HistoryStore, messages: int, rooms: int, batch: int,
          seed: int) -> float:
    """Append ``messages`` records over ``rooms`` rooms in batches; return the seconds it took.
    ``directory`` is an SQLite data directory, or a store to fill (Redis)."""
    rng = random.Random(seed)
    people = [(_nick(rng), _nick(rng)[:8], f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
               f"{rng.randint(1, 254)}") for _ in range(200)]
    room_names = [f"#room{i}" for i in range(rooms)]
    run = "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))
    ts = time.time() - messages * 0.5  # about two messages a second, ending now
    store = open_data_dir(directory) if isinstance(directory, Path) else directory
    started = time.perf_counter()
    # Every room has a lasting state too, as a server's rooms do (start-up loads them).
    store.save_rooms([RoomState(name, ts, f"topic of {name}", "op", ts, "nt")
                      for name in room_names])
    for start in range(0, messages, batch):
        records = []
        for i in range(start, min(start + batch, messages)):
            ts += rng.random()
            nick, ident, host = rng.choice(people)
            at = round(ts, 3)  # ids carry their time, as the server's do
            records.append(Record(event_id(at, run, i), at, rng.choice(room_names),
                                  "message" if rng.random() < 0.9 else "join", nick, ident,
                                  host, _text(rng)))
        store.append(records)
    if isinstance(directory, Path):
        store.close()
    return time.perf_counter() - started


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _drop_caches() -> None:
    """Empty the kernel's page cache (root only), so reads go to the disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def _reference_queries(store: HistoryStore, rng: random.Random, room_names: list[str],
                       random_record: Callable[[], tuple[str, str, float]]) -> dict[str, float]:
    """The query timings every store is measured on: the latest 100 of a random room, then
    from a random existing record (``random_record`` gives its msgid, room and time) paging
    back 20 pages of 100, 100 after and around a msgid, 100 before a time; last a prune with
    nothing to delete."""
    results: dict[str, float] = {}
    latest = [_timed(lambda: store.query(Query(rng.choice(room_names), "latest", limit=100)))
              for _ in range(500)]
    results["latest100_p50_ms"] = _percentile(latest, 0.5)
    results["latest100_p99_ms"] = _percentile(latest, 0.99)

    paging: list[float] = []
    for _ in range(50):
        msgid, room, _ts = random_record()
        ref = Ref(msgid=msgid)
        for _page in range(20):
            started = time.perf_counter()
            page = store.query(Query(room, "before", ref, limit=100))
            paging.append((time.perf_counter() - started) * 1000)
            if not page:
                break
            ref = Ref(msgid=page[0].msgid)
    results["before_paging_p50_ms"] = _percentile(paging, 0.5)
    results["before_paging_p99_ms"] = _percentile(paging, 0.99)

    for direction in ("after", "around"):
        samples = []
        for _ in range(300):
            msgid, room, _ts = random_record()
            samples.append(_timed(lambda room=room, msgid=msgid, direction=direction:
                                  store.query(Query(room, direction, Ref(msgid=msgid),
                                                    limit=100))))
        results[f"{direction}100_p99_ms"] = _percentile(samples, 0.99)

    samples = []
    for _ in range(300):
        _msgid, room, ts = random_record()
        samples.append(_timed(lambda room=room, ts=ts:
                              store.query(Query(room, "before", Ref(ts=ts), limit=100))))
    results["before_ts100_p99_ms"] = _percentile(samples, 0.99)

    results["prune_nothing_ms"] = _timed(lambda: store.prune(0, 10**9, 1000))
    return results


def measure(directory: Path, messages: int, rooms: int, seed: int,
            cold: int = 0) -> dict[str, float]:
    """The read-side numbers, in milliseconds unless named otherwise."""
    rng = random.Random(seed + 1)
    db_path = directory / DB_NAME
    on_disk = sum(p.stat().st_size for p in directory.glob(DB_NAME + "*"))
    results: dict[str, float] = {"bytes_per_message": on_disk / messages}

    started = time.perf_counter()
    store = open_data_dir(directory)
    store.load_rooms()
    room_names = [name for (name,) in store._read.execute("SELECT name FROM rooms")]
    for name in room_names:
        store.query(Query(name, "latest", limit=25))
    results["startup_ms"] = (time.perf_counter() - started) * 1000

    # Random existing msgids: a random room, then a random time in its span.
    spans = {name: store._read.execute(
        "SELECT min(c.first_ts), max(c.last_ts), r.id FROM rooms r JOIN chunks c ON "
        "c.room_id = r.id WHERE r.name = ?", (name,)).fetchone() for name in room_names}
    chunk_counts = store._read.execute("SELECT count(*), avg(count), max(count) "
                                       "FROM chunks").fetchone()
    results["chunks"], results["records_per_chunk"], results["chunk_max"] = chunk_counts

    def random_record() -> tuple[str, str, float]:
        room = rng.choice(room_names)
        low, high, room_id = spans[room]
        t = rng.randint(low, high)
        row = store._read.execute(
            "SELECT first_ts, first_seq, data FROM chunks WHERE room_id = ? AND first_ts <= ? "
            "ORDER BY first_ts DESC LIMIT 1", (room_id, t)).fetchone()
        records = decode_chunk(*row)
        record = next((r for r in records if r.ts * 1000 >= t), records[-1])
        return record.msgid, room, record.ts

    results.update(_reference_queries(store, rng, room_names, random_record))

    if cold:
        def cold_timed(fn: Callable[[], object]) -> float:
            store._read.execute("PRAGMA shrink_memory")  # SQLite's own page cache
            _drop_caches()
            return _timed(fn)

        picks = [random_record() for _ in range(cold)]
        samples = [cold_timed(lambda: store.query(Query(rng.choice(room_names), "latest",
                                                        limit=100))) for _ in range(cold)]
        results["cold_latest100_p50_ms"] = _percentile(samples, 0.5)
        results["cold_latest100_max_ms"] = max(samples)
        samples = [cold_timed(lambda room=room, msgid=msgid: store.query(
            Query(room, "before", Ref(msgid=msgid), limit=100))) for msgid, room, _ts in picks]
        results["cold_before100_p50_ms"] = _percentile(samples, 0.5)
        results["cold_before100_max_ms"] = max(samples)
    store.close()
    if cold:
        _drop_caches()
        started = time.perf_counter()
        store = open_data_dir(directory)
        store.load_rooms()
        for name in room_names:
            store.query(Query(name, "latest", limit=25))
        results["cold_startup_ms"] = (time.perf_counter() - started) * 1000
        store.close()

    checker = SqliteStore(db_path)
    results["quick_check_s"] = _timed(lambda: checker._write.execute(
        "PRAGMA quick_check").fetchall()) / 1000
    checker.close()
    return results


def measure_redis(store: RedisStore, messages: int, rooms: int, seed: int,
                  empty_memory: int) -> dict[str, float]:
    """The read-side numbers for the Redis store (as ``measure`` for SQLite)."""
    rng = random.Random(seed + 1)
    client = store.client
    used = int(client.info("memory")["used_memory"])
    results: dict[str, float] = {"redis_bytes_per_message": (used - empty_memory) / messages}
    started = time.perf_counter()
    store.load_rooms()
    names = client.hvals(store.prefix + "names")
    room_names = [name.decode() for name in names]  # type: ignore[union-attr]
    for name in room_names:
        store.query(Query(name, "latest", limit=25))
    results["startup_ms"] = (time.perf_counter() - started) * 1000

    def random_record() -> tuple[str, str, float]:
        room = rng.choice(room_names)
        member = client.zrandmember(f"{store.prefix}room:{fold(room)}")
        record = redis_store._record(member, room)  # type: ignore[arg-type]
        return record.msgid, room, record.ts

    results.update(_reference_queries(store, rng, room_names, random_record))
    return results


def run_redis(args: argparse.Namespace, results: dict[str, float]) -> None:
    """Build and measure on ``--redis-url``, or on a redis-server started here (no
    persistence, like the tests'), flushed first."""
    server = None
    url = args.redis_url
    if not url:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from redis_server import RedisServer  # type: ignore[import-not-found]

        server = RedisServer()
        server.start()
        url = server.url
    store = RedisStore.from_url(url, prefix="bench:h:")
    try:
        for key in store.client.scan_iter("bench:h:*", count=1000):
            store.client.delete(key)
        empty = int(store.client.info("memory")["used_memory"])
        results["build_s"] = build(store, args.messages, args.rooms, args.batch, args.seed)
        results.update(measure_redis(store, args.messages, args.rooms, args.seed, empty))
        for key in store.client.scan_iter("bench:h:*", count=1000):
            store.client.delete(key)
    finally:
        store.close()
        if server is not None:
            server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="data directory to reuse (built if empty)")
    parser.add_argument("--out", type=Path, default=Path("bench-history.json"))
    parser.add_argument("--span-max", type=int, default=10**12, metavar="MS",
                        help="CHUNK_SPAN_MAX while building (default: no limit)")
    parser.add_argument("--cold", type=int, default=0, metavar="N",
                        help="also N cold-cache LATEST and BEFORE samples (needs root)")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--redis-url", default="",
                        help="with --store redis: this Redis (keys under bench:h:, deleted "
                             "after); default: a redis-server started for the run")
    args = parser.parse_args(argv)

    results: dict[str, float] = {"messages": args.messages, "rooms": args.rooms,
                                 "cpus": os.cpu_count() or 0}
    if args.store == "redis":
        run_redis(args, results)
    else:
        directory = args.db or Path(tempfile.mkdtemp(prefix="bench-history-"))
        try:
            if not (directory / DB_NAME).exists():
                sqlite.CHUNK_SPAN_MAX = args.span_max
                results["build_s"] = build(directory, args.messages, args.rooms, args.batch,
                                           args.seed)
            results.update(measure(directory, args.messages, args.rooms, args.seed,
                                   args.cold))
        finally:
            if args.db is None:
                shutil.rmtree(directory, ignore_errors=True)

    print(f"history store ({args.store}): {args.messages:,} messages, {args.rooms} rooms, "
          f"{results['cpus']} CPUs")
    labels = {
        "build_s": (f"build (append, batches of {args.batch})", "s", None),
        "bytes_per_message": ("bytes on disk per message", "B", 300),
        "redis_bytes_per_message": ("bytes of Redis memory per message (INFO)", "B", None),
        "chunks": ("chunks", "", None),
        "records_per_chunk": ("records per chunk (mean)", "", None),
        "chunk_max": ("records per chunk (max)", "", None),
        "startup_ms": ("start-up (open + load_rooms + latest 25/room)", "ms", 1000),
        "latest100_p50_ms": ("LATEST 100 p50", "ms", None),
        "latest100_p99_ms": ("LATEST 100 p99", "ms", 5),
        "before_paging_p50_ms": ("BEFORE paging (msgid, 100/page) p50", "ms", None),
        "before_paging_p99_ms": ("BEFORE paging (msgid, 100/page) p99", "ms", 5),
        "after100_p99_ms": ("AFTER 100 by msgid p99", "ms", None),
        "around100_p99_ms": ("AROUND 100 by msgid p99", "ms", None),
        "before_ts100_p99_ms": ("BEFORE 100 by timestamp p99", "ms", None),
        "prune_nothing_ms": ("prune with nothing due", "ms", None),
        "quick_check_s": ("PRAGMA quick_check (not run at open)", "s", None),
        "cold_startup_ms": ("cold: start-up", "ms", 1000),
        "cold_latest100_p50_ms": ("cold: LATEST 100 p50", "ms", None),
        "cold_latest100_max_ms": ("cold: LATEST 100 max", "ms", None),
        "cold_before100_p50_ms": ("cold: BEFORE 100 by msgid p50", "ms", None),
        "cold_before100_max_ms": ("cold: BEFORE 100 by msgid max", "ms", None),
    }
    for key, (label, unit, target) in labels.items():
        if key in results:
            verdict = "" if target is None else (
                "  ok" if results[key] <= target else f"  MISSED (target {target} {unit})")
            print(f"  {label:<48} {results[key]:>10.2f} {unit}{verdict}")
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
