#!/usr/bin/env python3
"""Profile one of our engines under a benchmark workload with py-spy; print where time goes.

    .venv/bin/pip install py-spy
    .venv/bin/python scripts/bench_profile.py --engine asyncio --workload fanout-a

Starts the server under ``py-spy record`` (pinned to CPU 0, generator on CPU 1), runs the
workload a few times, and prints the functions with the most samples, self and inclusive.
The collapsed stacks are kept in bench-results/ for a flame graph.

``--callgrind`` instead counts the whole server's user-space instructions per message over
real sockets (engine, event loop, hub; not the kernel), which unlike CPU time do not move
with the machine's load: the server runs under valgrind with instrumentation off, a slow
``rooms`` workload (100 clients over 10 rooms, 0.5 messages/s each, so valgrind keeps up and
every message is its own flush, as at ``rooms`` full size) runs against it, and
instrumentation is on for ``--window`` seconds in the middle; the lines the server read in
that window come from its ``/metrics``. ``--tree`` runs another checkout's server::

    .venv/bin/python scripts/bench_profile.py --callgrind [--tree /tmp/before]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_compare import OUR_LIMITS, free_port, wait_listening  # noqa: E402

from chat.bench import procstat  # noqa: E402
from chat.bench.workloads import (  # noqa: E402
    FanoutParams,
    RoomsParams,
    Target,
    run_fanout,
    run_rooms,
)

PARAMS: dict[str, FanoutParams | RoomsParams] = {
    "fanout-a": FanoutParams(clients=100, senders=10, messages=2000),
    "fanout-b": FanoutParams(clients=1000, senders=1, messages=1000),
    "rate": FanoutParams(clients=100, senders=10, messages=500, rate=1000.0),
    "rooms": RoomsParams(clients=500, rooms=50, rate_per_client=2.0, duration=5.0),
    # as bench_compare.py's: ten senders at TCP's pace (no window), 10,000 messages each
    "overload": FanoutParams(clients=100, senders=10, messages=10000, window=0),
}


def report(collapsed: Path, top: int) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed ("raw") output."""
    self_c: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        frames = [re.sub(r" \((.*/)?([^/]+)\)", r" (\2)", f) for f in stack.split(";")[1:]]
        total += count
        if frames:
            self_c[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    out = [f"{total} samples", "", "self %  function"]
    out += [f"{100 * c / total:5.1f}  {f}" for f, c in self_c.most_common(top)]
    out += ["", "incl %  function"]
    out += [f"{100 * c / total:5.1f}  {f}" for f, c in incl.most_common(top)]
    return "\n".join(out)


def _lines_read(http_port: int) -> float:
    """``chat_lines_received_total`` from the server's metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=60) as reply:
        text = reply.read().decode()
    found = re.search(r"^chat_lines_received_total (\S+)$", text, re.MULTILINE)
    if found is None:
        raise SystemExit("no chat_lines_received_total in /metrics")
    return float(found.group(1))


def callgrind(tree: Path, window: float) -> int:
    """Instructions a message of the whole server (see the module docstring)."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 1
    port, http_port = free_port(), free_port()
    out = ROOT / "bench-results" / f"callgrind-server-{time.strftime('%H%M%S')}.out"
    out.parent.mkdir(exist_ok=True)
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
           sys.executable, "-m", "chat", "--engine", "asyncio", "--port", str(port),
           "--http-port", str(http_port), "--log-level", "WARNING", *OUR_LIMITS,
           "--data-dir", "none", "--history-max-per-room", "0", "--replay-lines", "0"]
    log = out.with_suffix(".log").open("wb")
    proc = subprocess.Popen(cmd, cwd=tree, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_listening(port, proc, timeout=120)  # type: ignore[arg-type]
        params = RoomsParams(clients=100, rooms=10, rate_per_client=0.5,
                             duration=window + 30, timeout=120)
        done: list[dict[str, object]] = []
        load = threading.Thread(target=lambda: done.append(asyncio.run(run_rooms(
            Target("127.0.0.1", port, "irc"), params))))
        load.start()
        time.sleep(15)  # connected, registered, joined: messages flowing
        before = _lines_read(http_port)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                       capture_output=True)
        time.sleep(window)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True,
                       capture_output=True)
        lines = _lines_read(http_port) - before
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True)
        load.join()
    finally:
        proc.terminate()
        proc.wait(60)
    total = 0
    for dump in out.parent.glob(out.name + ".*"):
        found = re.search(r"^totals: (\d+)", dump.read_text(), re.MULTILINE)
        if found:
            total += int(found.group(1))
    lost = done[0].get("lost") if done else "?"
    print(f"tree {tree}: {lines:.0f} messages in {window:g} s, {total:,} instructions, "
          f"{total / max(lines, 1):,.0f} instructions a message (lost {lost})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Profile, print the report; returns 1 if py-spy is missing."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", choices=["asyncio", "threaded"], default="asyncio")
    ap.add_argument("--workload", choices=sorted(PARAMS), default="fanout-a")
    ap.add_argument("--dialect", choices=["structured", "irc"], default="structured")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--callgrind", action="store_true",
                    help="instructions a message of the whole server, under valgrind")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the checkout to run (--callgrind)")
    ap.add_argument("--window", type=float, default=10.0, help="seconds counted (--callgrind)")
    args = ap.parse_args(argv)
    if args.callgrind:
        return callgrind(args.tree.resolve(), args.window)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 1
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    collapsed = out_dir / f"profile-{args.engine}-{args.workload}-{time.strftime('%H%M%S')}.txt"
    port = free_port()
    pin = (os.cpu_count() or 1) >= 2
    cmd = [spy, "record", "--format", "raw", "--rate", str(args.rate), "--nonblocking",
           *(["--threads"] if args.engine == "threaded" else []), "-o", str(collapsed), "--",
           sys.executable, "-m", "chat", "--engine", args.engine, "--port", str(port),
           "--http-port", str(free_port()), "--log-level", "WARNING", *OUR_LIMITS,
           # as bench_compare.py runs them: metrics on, no history
           "--data-dir", "none", "--history-max-per-room", "0", "--replay-lines", "0"]
    if pin:
        cmd = ["taskset", "-c", "0", *cmd]
        os.sched_setaffinity(0, {1})
    log = collapsed.with_suffix(".log").open("wb")  # never a pipe nobody reads: it would fill
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_listening(port, proc)  # type: ignore[arg-type]
        server_pid = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                        text=True).stdout.split()[0])
        for _ in range(args.runs):
            procstat.wait_quiet(server_pid, timeout_s=120)
            target = Target("127.0.0.1", port, args.dialect)
            params = PARAMS[args.workload]
            r = asyncio.run(run_rooms(target, params) if isinstance(params, RoomsParams)
                            else run_fanout(target, params))
            print(f"{r['deliveries_per_s']:,.0f} deliveries/s, lost {r['lost']} "
                  "(under the profiler: slower than without)")
    finally:
        # py-spy writes its output when the profiled program ends
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        for child in children:
            os.kill(int(child), signal.SIGINT)
        proc.wait(30)
    print(report(collapsed, args.top))
    print(f"\ncollapsed stacks: {collapsed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
