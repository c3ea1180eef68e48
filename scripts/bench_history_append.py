"""Measure the history thread's write path: CPU per record of ``HistoryService._commit``.

    python scripts/bench_history_append.py                  # SQLite, 20,000 messages
    python scripts/bench_history_append.py --store memory
    python scripts/bench_history_append.py --store redis --per-commit 1700 --per-ms 100
    git show main:chat/history/redis_store.py > /tmp/before.py
    python scripts/bench_history_append.py --store redis ... --before /tmp/before.py

With ``--store redis`` the script starts its own redis-server (tests/redis_server.py,
persistence off) and also reports Redis's own CPU per record while ``store.append`` runs: the
main thread's run time (/proc/PID/schedstat) and, from ``INFO commandstats``, the append
script's EVALSHA time and the commands it issues (ZADD, ZRANGE, HSET, INCRBY). ``--per-ms``
stamps that many consecutive messages with one millisecond, as a cluster stamps a whole log
entry (up to 100 messages) with one. ``--before FILE`` also runs the RedisStore of another
version of chat/history/redis_store.py, alternating with this one run by run (the machine's
speed drifts between runs more than some differences measured).

Core calls (one room message each, as the hub hands them over) are queued the way the engines
queue them, then committed in batches the way the history thread does every 50 ms: all in one
room (``--per-commit`` messages a commit), and spread over ``--rooms`` rooms. Each case reports
``time.process_time()`` per record for the whole ``_commit`` and for ``store.append`` alone
(records converted beforehand), plus the ``threaded=False`` service, which commits every core
call on its own. The product target: history costs at most ~1.8 us of CPU per message in all.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from redis_server import RedisServer

import chat
from chat.config import ServerConfig
from chat.core import events as e
from chat.history import convert
from chat.history.memory import MemoryStore
from chat.history.records import Record, event_id
from chat.history.redis_store import RedisStore
from chat.history.service import HistoryService
from chat.history.sqlite import SqliteStore
from chat.history.store import HistoryStore

WORDS = ["the", "a", "is", "it", "to", "and", "of", "in", "that", "you", "deploy", "server",
         "build", "merge", "review", "lunch", "bug", "fixed", "works", "patch", "coffee", "ok"]


def core_calls(messages: int, rooms: int, per_commit: int, seed: int = 1,
               per_ms: int = 0) -> list[list[e.Output]]:
    """One core call's outputs per message: a Delivery of the message to 100 members;
    ``per_ms`` consecutive messages share one millisecond when it is not 0."""
    rng = random.Random(seed)
    people = [e.Source("".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 10))),
                       "u" + str(rng.randint(100, 999)), f"10.0.{rng.randint(0, 255)}."
                       f"{rng.randint(1, 254)}") for _ in range(50)]
    names = [f"#room{i}" for i in range(rooms)]
    recipients = tuple(range(100))
    ts = time.time() - messages * 0.05 / per_commit * (seed - 1)  # seed 2: the past
    step = 0.05 / per_commit  # per_commit messages every 50 ms
    calls: list[list[e.Output]] = []
    first_ms = round(ts * 1000)
    for n in range(messages):
        ts = (first_ms + n // per_ms) / 1000 if per_ms else ts + step
        room = names[n % rooms]
        words = rng.choices(WORDS, k=rng.randint(3, 20))
        message = e.Message(event_id(ts, "a1", n), ts, room, rng.choice(people), target=room,
                            text=" ".join(words))
        calls.append([e.Delivery(message, recipients, origin=1)])
    return calls


def _sqlite(directory: Path, prefill: int) -> Callable[[], HistoryStore]:
    """Each call: a new SQLite store holding ``prefill`` older messages (built once, copied)."""
    template = directory / "template.sqlite3"
    store = SqliteStore(template)
    calls = core_calls(prefill, 100, 5_000, seed=2)
    for start in range(0, prefill, 5_000):
        store.append(_records(calls[start:start + 5_000]))
    store.close()
    counter = iter(range(1_000_000))

    def make() -> HistoryStore:
        path = directory / f"bench-{next(counter)}.sqlite3"
        shutil.copyfile(template, path)
        return SqliteStore(path)

    return make


class RedisMeter:
    """A redis-server of the script's own: a store on it, emptied for each run, and what
    Redis spent while the records were appended."""

    #: Commands the append script issues for each room, reported per record (the seq
    #: counter's INCRBY, once a commit, is shown on its own).
    NESTED = ("zadd", "zrange", "hset")

    def __init__(self, server: RedisServer) -> None:
        assert server.process is not None
        self.server = server
        self.schedstat = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/schedstat")
        self.client = RedisStore.from_url(server.url).client
        self.started = 0

    def maker(self, store: type[RedisStore]) -> Callable[[], HistoryStore]:
        """Each call: a ``store`` on an emptied Redis."""
        def make() -> HistoryStore:
            self.client.flushall()
            return store.from_url(self.server.url)
        return make

    def _ns(self) -> int:
        """Run time of Redis's main thread, ns (the thread that runs every command)."""
        return int(self.schedstat.read_text().split()[0])

    def start(self) -> None:
        self.client.config_resetstat()
        self.started = self._ns()

    def stop(self) -> dict[str, float]:
        """Seconds of Redis CPU since :meth:`start`: all of it, and by command."""
        spent = (self._ns() - self.started) / 1e9
        stats: dict[str, Any] = self.client.info("commandstats")
        used = {name: stats.get(f"cmdstat_{name}", {}).get("usec", 0) / 1e6
                for name in ("evalsha", "incrby", *self.NESTED)}
        return {"redis": spent, **used}


def _store_class(path: str) -> type[RedisStore]:
    """The RedisStore class of another version of redis_store.py (its imports are ours)."""
    spec = importlib.util.spec_from_file_location("redis_store_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RedisStore


def _records(calls: list[list[e.Output]]) -> list[Record]:
    """The records these core calls leave, as the history thread makes them."""
    records: list[Record] = []
    for outputs in calls:
        convert.records(outputs, records, [])
    return records


def run_commits(make: Callable[[], HistoryStore], calls: list[list[e.Output]],
                per_commit: int, meter: RedisMeter | None = None,
                ) -> tuple[float, float, dict[str, float]]:
    """(us per record of the whole _commit, us per record of store.append alone, and with a
    ``meter`` what Redis spent per record while store.append ran, us)."""
    store = make()
    service = HistoryService(store, ServerConfig(), threaded=True)  # never started
    spent = 0.0
    for start in range(0, len(calls), per_commit):
        for outputs in calls[start:start + per_commit]:
            service.record(outputs)
        started = time.process_time()
        service._commit()
        spent += time.process_time() - started
    assert service.written == len(calls), (service.written, service.failed)
    store.close()

    store = make()
    batches: list[list[Record]] = [_records(calls[start:start + per_commit])
                                   for start in range(0, len(calls), per_commit)]
    appending = 0.0
    if meter is not None:
        meter.start()
    for batch in batches:
        started = time.process_time()
        store.append(batch)
        appending += time.process_time() - started
    redis = {} if meter is None else meter.stop()
    store.close()
    per_record = {name: used / len(calls) * 1e6 for name, used in redis.items()}
    return spent / len(calls) * 1e6, appending / len(calls) * 1e6, per_record


def run_unthreaded(make: Callable[[], HistoryStore], calls: list[list[e.Output]]) -> float:
    """us per record with ``threaded=False``: every core call committed on its own."""
    store = make()
    service = HistoryService(store, ServerConfig(), threaded=False)
    started = time.process_time()
    for outputs in calls:
        service.record(outputs)
    spent = time.process_time() - started
    assert service.written == len(calls)
    store.close()
    return spent / len(calls) * 1e6


def _report(label: str, runs: list[tuple[float, float, dict[str, float]]],
            redis: bool) -> None:
    """One case's medians: Python CPU per record, and Redis's with ``redis``."""
    commit = statistics.median(r[0] for r in runs)
    append = statistics.median(r[1] for r in runs)
    print(f"  {label:<17} _commit {commit:6.2f}   store.append {append:6.2f}   "
          f"(convert and the rest {commit - append:5.2f})")
    if redis:
        used = {name: statistics.median(r[2][name] for r in runs) for name in runs[0][2]}
        nested = sum(used[name] for name in RedisMeter.NESTED)
        print(f"  {'':<17} Redis: CPU {used['redis']:5.2f}   evalsha {used['evalsha']:5.2f} "
              f"(Lua alone {used['evalsha'] - nested:5.2f}, "
              + ", ".join(f"{name} {used[name]:4.2f}" for name in (*RedisMeter.NESTED, "incrby"))
              + ")")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--per-commit", type=int, default=1_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--store", choices=("sqlite", "memory", "redis"), default="sqlite")
    parser.add_argument("--per-ms", type=int, default=0,
                        help="messages stamped with one millisecond (0: spread evenly)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median shown)")
    parser.add_argument("--unthreaded-messages", type=int, default=2_000)
    parser.add_argument("--prefill", type=int, default=0,
                        help="older messages (over 100 rooms) in the store before each run")
    parser.add_argument("--before", metavar="FILE",
                        help="with --store redis: also run this redis_store.py's RedisStore")
    args = parser.parse_args(argv)

    directory = Path(tempfile.mkdtemp(prefix="bench-append-"))
    server: RedisServer | None = None
    meter: RedisMeter | None = None
    try:
        make: Callable[[], HistoryStore]
        variants: list[tuple[str, Callable[[], HistoryStore]]]
        if args.store == "redis":
            if args.prefill:
                parser.error("--prefill is for the SQLite store")
            server = RedisServer()
            server.start()
            meter = RedisMeter(server)
            make = meter.maker(RedisStore)
            variants = [("", make)]
            if args.before:
                variants = [("before", meter.maker(_store_class(args.before))), ("now", make)]
        elif args.store == "sqlite":
            make = _sqlite(directory, args.prefill)
            variants = [("", make)]
        else:
            make = lambda: MemoryStore(10**9)  # noqa: E731
            variants = [("", make)]
        print(f"history write path, {args.store} store ({Path(chat.__file__).parent}), "
              f"{args.messages:,} messages, {args.per_commit} per commit, "
              f"{args.per_ms or 'none'} per ms, {args.prefill:,} already stored; "
              f"us of CPU per record (median of {args.repeat})")
        for label, rooms in (("one room", 1), (f"{args.rooms} rooms", args.rooms)):
            calls = core_calls(args.messages, rooms, args.per_commit, per_ms=args.per_ms)
            runs: dict[str, list[tuple[float, float, dict[str, float]]]] = {
                name: [] for name, _ in variants}
            for _ in range(args.repeat):  # alternating, so that drift hits every variant
                for name, made in variants:
                    runs[name].append(run_commits(made, calls, args.per_commit, meter))
            for name, _ in variants:
                _report(f"{label} {name}".strip(), runs[name], meter is not None)
        calls = core_calls(args.unthreaded_messages, 1, args.per_commit, per_ms=args.per_ms)
        for name, made in variants:
            unthreaded = statistics.median(run_unthreaded(made, calls)
                                           for _ in range(args.repeat))
            print(f"  threaded=False (a commit per core call, {len(calls):,} calls)"
                  f"{' ' + name if name else ''}: {unthreaded:8.2f}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if server is not None:
            server.close()


if __name__ == "__main__":
    main()
