"""Server resource use read from ``/proc/<pid>``, so any server (ours, ngircd, InspIRCd) is
measured the same way without cooperating."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One reading of a process: CPU seconds (user + system, all threads) and resident bytes."""

    cpu_s: float
    rss_bytes: int
    threads: int


def _cpu_clock_s(pid: int) -> float | None:
    """The process-wide CPU clock of another process, in ns precision (clock ticks in /proc are
    10 ms, too coarse for short runs): Linux's MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9
    except OSError:
        return None


def sample(pid: int) -> ProcSample | None:
    """Read a process's CPU time and RSS; ``None`` if it is gone or /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    threads = int(fields[17])
    rss_kib = 0
    for line in status.splitlines():
        if line.startswith(b"VmRSS:"):
            rss_kib = int(line.split()[1])
            break
    cpu = _cpu_clock_s(pid)
    if cpu is None:
        cpu = (utime + stime) / _TICKS
    return ProcSample(cpu_s=cpu, rss_bytes=rss_kib * 1024, threads=threads)


def wait_quiet(pid: int, *, idle_cpu_s: float = 0.01, window_s: float = 0.3,
               timeout_s: float = 60.0) -> bool:
    """Wait until a process uses less than ``idle_cpu_s`` CPU over ``window_s``.

    Runs in alternation must not overlap: a server still broadcasting the QUITs of the previous
    run's thousand clients would be charged to the next one.
    """
    deadline = time.monotonic() + timeout_s
    prev = sample(pid)
    while prev is not None and time.monotonic() < deadline:
        time.sleep(window_s)
        cur = sample(pid)
        if cur is None:
            return False
        if cur.cpu_s - prev.cpu_s <= idle_cpu_s:
            return True
        prev = cur
    return False
