"""Measure the history thread's write path: CPU per record of ``HistoryService._commit``.

    python scripts/bench_history_append.py                  # SQLite, 20,000 messages
    python scripts/bench_history_append.py --store memory

Core calls (one room message each, as the hub hands them over) are queued the way the engines
queue them, then committed in batches the way the history thread does every 50 ms: all in one
room (``--per-commit`` messages a commit), and spread over ``--rooms`` rooms. Each case reports
``time.process_time()`` per record for the whole ``_commit`` and for ``store.append`` alone
(records converted beforehand), plus the ``threaded=False`` service, which commits every core
call on its own. The product target: history costs at most ~1.8 us of CPU per message in all.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chat.config import ServerConfig
from chat.core import events as e
from chat.history import convert
from chat.history.memory import MemoryStore
from chat.history.records import Record, event_id
from chat.history.service import HistoryService
from chat.history.sqlite import SqliteStore
from chat.history.store import HistoryStore

WORDS = ["the", "a", "is", "it", "to", "and", "of", "in", "that", "you", "deploy", "server",
         "build", "merge", "review", "lunch", "bug", "fixed", "works", "patch", "coffee", "ok"]


def core_calls(messages: int, rooms: int, per_commit: int,
               seed: int = 1) -> list[list[e.Output]]:
    """One core call's outputs per message: a Delivery of the message to 100 members."""
    rng = random.Random(seed)
    people = [e.Source("".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 10))),
                       "u" + str(rng.randint(100, 999)), f"10.0.{rng.randint(0, 255)}."
                       f"{rng.randint(1, 254)}") for _ in range(50)]
    names = [f"#room{i}" for i in range(rooms)]
    recipients = tuple(range(100))
    ts = time.time() - messages * 0.05 / per_commit * (seed - 1)  # seed 2: the past
    step = 0.05 / per_commit  # per_commit messages every 50 ms
    calls: list[list[e.Output]] = []
    for n in range(messages):
        ts += step
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


def _records(calls: list[list[e.Output]]) -> list[Record]:
    """The records these core calls leave, as the history thread makes them."""
    records: list[Record] = []
    for outputs in calls:
        convert.records(outputs, records, [])
    return records


def run_commits(make: Callable[[], HistoryStore], calls: list[list[e.Output]],
                per_commit: int) -> tuple[float, float]:
    """(us per record of the whole _commit, us per record of store.append alone)."""
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
    for batch in batches:
        started = time.process_time()
        store.append(batch)
        appending += time.process_time() - started
    store.close()
    return spent / len(calls) * 1e6, appending / len(calls) * 1e6


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--per-commit", type=int, default=1_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median shown)")
    parser.add_argument("--unthreaded-messages", type=int, default=2_000)
    parser.add_argument("--prefill", type=int, default=0,
                        help="older messages (over 100 rooms) in the store before each run")
    args = parser.parse_args(argv)

    directory = Path(tempfile.mkdtemp(prefix="bench-append-"))
    try:
        make: Callable[[], HistoryStore] = (_sqlite(directory, args.prefill)
                                            if args.store == "sqlite"
                                            else lambda: MemoryStore(10**9))
        print(f"history write path, {args.store} store, {args.messages:,} messages, "
              f"{args.per_commit} per commit, {args.prefill:,} already stored; "
              f"us of CPU per record (median of {args.repeat})")
        for label, rooms in (("one room", 1), (f"{args.rooms} rooms", args.rooms)):
            calls = core_calls(args.messages, rooms, args.per_commit)
            runs = [run_commits(make, calls, args.per_commit) for _ in range(args.repeat)]
            commit = statistics.median(r[0] for r in runs)
            append = statistics.median(r[1] for r in runs)
            print(f"  {label:<10} _commit {commit:6.2f}   store.append {append:6.2f}   "
                  f"(convert and the rest {commit - append:5.2f})")
        calls = core_calls(args.unthreaded_messages, 1, args.per_commit)
        unthreaded = statistics.median(run_unthreaded(make, calls) for _ in range(args.repeat))
        print(f"  threaded=False (a commit per core call, {len(calls):,} calls): "
              f"{unthreaded:8.2f}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
