#!/usr/bin/env python3
"""Side-by-side benchmark: our two engines against ngircd and InspIRCd, in one run.

Starts every server that is available on its own loopback port, each with a generated
configuration that lifts its flood limits (every changed setting is listed in SETTINGS below and in
docs/benchmarks.md), runs the same workloads against each in alternation with the load generator
in this process, then prints one table with ratios against the best peer, writes the raw results
to bench-results/ and a chart to docs/bench-chart.png.

With two or more CPUs the servers are pinned to CPU 0 and the generator to CPU 1.

    .venv/bin/python scripts/bench_compare.py            # full run (several minutes)
    .venv/bin/python scripts/bench_compare.py --quick    # small sizes, for a smoke test

Our servers may carry variants, joined with "+": ``asyncio+history`` (SQLite history on),
``asyncio+nohttp`` (no HTTP listener, so no metrics kept: ``--http-port 0``), ``asyncio+ws``
(the generator's clients connect over WebSocket to the HTTP port instead of TCP). The table
after the main one sets each variant beside its plain server, as ratios from the same run:

    .venv/bin/python scripts/bench_compare.py --servers asyncio,asyncio+ws,threaded,threaded+ws \
        --our-dialect structured --workloads fanout-b
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.bench import procstat  # noqa: E402
from chat.bench.workloads import (  # noqa: E402
    FanoutParams,
    IdleParams,
    RoomsParams,
    Target,
    run_fanout,
    run_idle,
    run_rooms,
)

SERVER_CPU, GENERATOR_CPU = 0, 1

#: Every setting changed from a server's defaults, and why. Printed into docs/benchmarks.md.
SETTINGS: dict[str, list[str]] = {
    "ours": [
        "--rate-per-second 0: no per-connection command rate limit (default 10/s, burst 40)",
        "--max-connections 0, --max-per-ip 0: no connection caps (default 10000 and 50/IP)",
        "--max-rooms-per-user 0: the idle broadcaster joins every room (default 50)",
        "--sendq 67108864: 64 MiB per-client send queue (default 1 MiB), as for the peers",
        "--ping-interval 0, --register-timeout 0: no keep-alive traffic during runs",
        "--log-level WARNING: no per-connection log lines",
        "--http-port on a free port (health checks, metrics kept), except for +nohttp variants",
    ],
    "ngircd": [
        "MaxPenaltyTime = 0: no per-command penalty delay (the flood limit)",
        "MaxConnections = 0, MaxConnectionsIP = 0: no connection caps",
        "MaxJoins = 0: unlimited channels per user",
        "MaxNickLength = 30",
        "PingTimeout = 600, PongTimeout = 120: no keep-alive traffic during runs",
        "DNS = no, Ident = no, PAM = no: no lookups at connect",
    ],
    "inspircd": [
        "<connect threshold=1000000 commandrate=100000000 fakelag=no>: no flood limit",
        "<connect sendq/hardsendq/softsendq=64 MiB recvq=64 MiB>",
        "<connect localmax/globalmax/limit=100000 maxchans=1000>: no connection or channel caps",
        "<connect resolvehostnames=no useident=no pingfreq=600>: no lookups, no keep-alive",
        "<channels users=1000>: channels per user",
        "<performance netbuffersize=65534 softlimit=20000 somaxconn=1024> "
        "(default buffer 10240 stalls bursts)",
        "log level default, no USERINPUT/USEROUTPUT",
    ],
}

OUR_LIMITS = ["--rate-per-second", "0", "--max-connections", "0", "--max-per-ip", "0",
              "--max-rooms-per-user", "0", "--sendq", "67108864", "--ping-interval", "0",
              "--register-timeout", "0"]

NGIRCD_CONF = """[Global]
\tName = ngircd.bench
\tInfo = bench
\tListen = 127.0.0.1
\tPorts = {port}
\tPidFile = {dir}/ngircd.pid
\tMotdPhrase = bench
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxNickLength = 30
\tMaxPenaltyTime = 0
\tPingTimeout = 600
\tPongTimeout = 120
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
"""

INSPIRCD_CONF = """<server name="inspircd.bench" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="bench" allow="127.0.0.1" timeout="60" pingfreq="600"
         threshold="1000000" commandrate="100000000" fakelag="no"
         hardsendq="67108864" softsendq="67108864" recvq="67108864"
         localmax="100000" globalmax="100000" maxchans="1000" limit="100000"
         resolvehostnames="no" useident="no" maxconnwarn="no">
<channels users="1000" opers="1000">
<pid file="{dir}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{dir}/inspircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes"
         pingwarning="15" splitwhois="no" exemptchanops="">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no"
          hideulines="no" hidebans="no" maxtargets="100">
<performance quietbursts="yes" softlimit="20000" somaxconn="1024" netbuffersize="65534">
<whowas groupsize="10" maxgroups="100000" maxkeep="3d">
"""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_setup(pin: bool) -> Callable[[], None]:
    def setup() -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # room for idle connections
        if pin:
            os.sched_setaffinity(0, {SERVER_CPU})
    return setup


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Wait until the server accepts connections (or died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


@dataclass
class Server:
    """One server under test: how to start it and what we know while it runs."""

    name: str
    kind: str  # "ours", "ngircd", "inspircd"
    dialect: str
    engine: str = ""
    history: bool = False  # ours only: SQLite history on (a "+history" server name)
    tree: Path = ROOT  # ours only: the source tree it runs from ("asyncio@../before")
    http: bool = True  # ours only: an HTTP listener, so metrics are kept (off: "+nohttp")
    transport: str = "tcp"  # ours only: "ws" ("+ws"): clients connect over WebSocket
    port: int = 0
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    version: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, pin: bool) -> None:
        """Start with a fresh generated configuration on a free loopback port."""
        self.tmp = tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-")
        os.chmod(self.tmp.name, 0o777)  # ngircd drops privileges to nobody before writing files
        self.port = free_port()
        setup = _child_setup(pin)
        if self.kind == "ours":
            self.http_port = free_port() if self.http else 0
            # ``-m`` imports from the working directory first: the tree's own ``chat``
            cmd = [sys.executable, "-m", "chat", "--engine", self.engine, "--host", "127.0.0.1",
                   "--port", str(self.port), "--http-port", str(self.http_port),
                   "--log-level", "WARNING", *OUR_LIMITS]
            if self.history:  # the defaults: SQLite history, 25 lines replayed on join
                cmd += ["--data-dir", str(Path(self.tmp.name, "data"))]
            else:  # nothing kept, nothing replayed: the server as it was before history
                cmd += ["--data-dir", "none", "--history-max-per-room", "0",
                        "--replay-lines", "0"]
        elif self.kind == "ngircd":
            conf = Path(self.tmp.name, "ngircd.conf")
            conf.write_text(NGIRCD_CONF.format(port=self.port, dir=self.tmp.name))
            cmd = ["ngircd", "--nodaemon", "--config", str(conf)]
        else:
            conf = Path(self.tmp.name, "inspircd.conf")
            conf.write_text(INSPIRCD_CONF.format(port=self.port, dir=self.tmp.name))
            cmd = ["inspircd", "--config", str(conf), "--nofork", "--nopid"]
            if os.geteuid() == 0:
                cmd.append("--runasroot")
        with Path(self.tmp.name, "stdout.log").open("wb") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=setup,
                                         cwd=self.tree)
        wait_listening(self.port, self.proc)

    def stop(self) -> None:
        """Stop the server and remove its configuration."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "?"


def available_servers(names: list[str], our_dialect: str) -> list[Server]:
    """The servers asked for that are installed; says which are missing.

    ``ENGINE[+history][@TREE]`` is one of our engines, run from another checkout of this
    repository when ``@TREE`` is given (``git worktree add ../before COMMIT``), so a change is
    measured against the code before it in the same run, in alternation.
    """
    out: list[Server] = []
    for name in names:
        spec, _, tree = name.partition("@")
        engine, *extras = spec.split("+")
        if engine in ("asyncio", "threaded") and set(extras) <= set(VARIANTS) and not (
                "ws" in extras and "nohttp" in extras):
            where = Path(tree).resolve() if tree else ROOT
            if not (where / "chat" / "__main__.py").exists():
                raise SystemExit(f"{name}: no chat package in {where}")
            label = f"{spec}@{where.name}" if tree else spec
            srv = Server(label, "ours", our_dialect, engine=engine, history="history" in extras,
                         http="nohttp" not in extras,
                         transport="ws" if "ws" in extras else "tcp", tree=where)
            notes = [f"{our_dialect} dialect", *(VARIANTS[x] for x in extras)]
            if tree:
                notes.append(f"tree {where}")
            srv.version = f"chat-rooms ({', '.join(notes)})"
        elif shutil.which(name):
            srv = Server(name, name, "irc")
            srv.version = _version([name, "--version"])
        else:
            print(f"note: {name} is not installed; skipped", file=sys.stderr)
            continue
        out.append(srv)
    return out


#: Our servers' variants (a "+name" suffix), what each means, and which side of the
#: side-by-side table is the reference: "plain" (ratio = variant ÷ plain) or "variant".
VARIANTS = {"history": "SQLite history", "nohttp": "no HTTP listener, no metrics",
            "ws": "clients over WebSocket"}
REFERENCE = {"history": "plain", "ws": "plain", "nohttp": "variant"}


@dataclass(frozen=True)
class Workload:
    """A named workload with its parameters for each server kind."""

    key: str
    title: str
    run: Callable[[Target, Server], Any]
    fresh: bool = False  # restart the server first (idle capacity measures RSS growth)


def workloads(quick: bool, idle_ours: int, idle_threaded: int, idle_peers: int) -> list[Workload]:
    """The workloads of issue 5; ``quick`` scales them down for a smoke test."""
    q = 10 if quick else 1
    # A new room every round: a room with history would replay its last lines to each of the
    # joiners while the measured phase starts (that cost is bench_join_replay.py's to measure).
    rounds = itertools.count()

    def room() -> str:
        return f"#bench{next(rounds)}"

    def fan_a(t: Target, _s: Server) -> Any:
        return run_fanout(t, FanoutParams(clients=100, senders=10, messages=2000 // q,
                                          room=room()))

    def fan_b(t: Target, _s: Server) -> Any:
        return run_fanout(t, FanoutParams(clients=1000 // q, senders=1, messages=1000 // q,
                                          room=room()))

    def rated(t: Target, _s: Server) -> Any:
        return run_fanout(t, FanoutParams(clients=100, senders=10, messages=500 // q,
                                          rate=1000.0, room=room()))

    def rooms(t: Target, _s: Server) -> Any:
        return run_rooms(t, RoomsParams(clients=500 // q, rooms=50 // q, rate_per_client=2.0,
                                        duration=5.0 / q))

    def overload(t: Target, _s: Server) -> Any:
        # fan-out A with no window: the senders are held back only by TCP, i.e. by how much
        # the server reads from them while its readers fall behind
        # 10,000 messages a sender (650 KB): at 2,000 the senders' kernel buffers took every
        # message within 20 ms of an 850 ms run (see "Overload" in docs/benchmarks.md)
        return run_fanout(t, FanoutParams(clients=100, senders=10, messages=10000 // q,
                                          window=0, room=room()))

    def idle(t: Target, s: Server) -> Any:
        n = idle_threaded if s.engine == "threaded" else idle_ours if s.kind == "ours" \
            else idle_peers
        return run_idle(t, IdleParams(connections=max(10, n // q), rooms=50, timeout=120.0))

    return [
        Workload("fanout-a", "fan-out A: N=100, S=10, M=2000, full speed", fan_a),
        Workload("fanout-b", "fan-out B: N=1000, S=1, M=1000, full speed", fan_b),
        Workload("rate", "fixed rate: N=100, S=10, 1000 msg/s total, 5 s", rated),
        Workload("rooms", "many rooms: N=500 over 50 rooms, 2 msg/s each, 5 s", rooms),
        Workload("overload", "overload: N=100, S=10, M=10000, no window (senders at TCP's pace)",
                 overload),
        Workload("idle", "idle capacity: registered connections + 1 broadcast", idle,
                 fresh=True),
    ]


def run_all(servers: list[Server], loads: list[Workload], repeats: int, pin: bool,
            out: list[dict[str, Any]]) -> None:
    """Each workload on every server in turn (alternation), ``repeats`` rounds."""
    for load in loads:
        # idle capacity restarts every server and takes a minute a server: one round is enough
        for rnd in range(1 if load.fresh else repeats):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for srv in order:
                if load.fresh:
                    srv.stop()
                    srv.start(pin)
                procstat.wait_quiet(srv.pid, timeout_s=120)
                gc.collect()
                port = srv.http_port if srv.transport == "ws" else srv.port
                target = Target("127.0.0.1", port, srv.dialect, server_pid=srv.pid,
                                transport=srv.transport)
                t0 = time.monotonic()
                try:
                    result = asyncio.run(load.run(target, srv))
                except Exception as exc:  # a server that breaks is a result, not a crash
                    result = {"workload": load.key, "failed": repr(exc)}
                result.update(server=srv.name, workload_key=load.key, round=rnd)
                out.append(result)
                print(f"  {load.key:9} {srv.name:9} round {rnd}: {short(result)} "
                      f"[{time.monotonic() - t0:.1f}s]", flush=True)


def short(r: dict[str, Any]) -> str:
    """One-line summary of a result."""
    if "failed" in r:
        return f"FAILED {r['failed']}"
    lat = r.get("latency") or {}
    bits = [f"{(r.get('deliveries_per_s') or 0):,.0f}/s", f"lost {r.get('lost')}"]
    if lat.get("p99_ms") is not None:
        bits.append(f"p50 {lat['p50_ms']:.2f} p99 {lat['p99_ms']:.2f} ms")
    if r.get("server_cpu_ns_per_delivery"):
        bits.append(f"{r['server_cpu_ns_per_delivery']:.0f} ns/deliv")
    if "rss_per_conn_registered_bytes" in r:
        bits.append(f"{r['rss_per_conn_registered_bytes'] / 1024:.2f} KiB/conn, "
                    f"reached {r['reached']}/{r['params']['connections']}")
    bits.append(f"gen {r.get('generator_cpu_pct') or 0:.0f}%")
    return ", ".join(bits)


def _median(values: list[float]) -> float | None:
    v = sorted(x for x in values if x is not None)
    return v[len(v) // 2] if v else None


def summarize(results: list[dict[str, Any]], servers: list[Server],
              loads: list[Workload]) -> list[dict[str, Any]]:
    """Median over rounds per (workload, server), with ratios against the best peer."""
    rows: list[dict[str, Any]] = []
    peers = {s.name for s in servers if s.kind != "ours"}
    for load in loads:
        group: dict[str, dict[str, Any]] = {}
        for srv in servers:
            rs = [r for r in results if r["workload_key"] == load.key and r["server"] == srv.name]
            ok = [r for r in rs if "failed" not in r]
            if not ok:
                group[srv.name] = {"failed": rs[0]["failed"] if rs else "not run"}
                continue
            group[srv.name] = {
                "dps": _median([r["deliveries_per_s"] for r in ok]),
                "cpu_ns": _median([r.get("server_cpu_ns_per_delivery") for r in ok]),
                "p50": _median([r["latency"]["p50_ms"] for r in ok]),
                "p99": _median([r["latency"]["p99_ms"] for r in ok]),
                "max": _median([r["latency"]["max_ms"] for r in ok]),
                "lost": sum(r["lost"] for r in ok) + sum(r.get("disconnected", 0) for r in ok),
                "rss_mib": _median([r.get("server_rss_bytes", 0) / 2**20 for r in ok]),
                "gen_pct": _median([r["generator_cpu_pct"] for r in ok]),
                "gen_bound": any(r.get("generator_bound") for r in ok),
                "kib_conn": _median([r.get("rss_per_conn_registered_bytes", 0) / 1024
                                     for r in ok]) if load.key == "idle" else None,
                "kib_conn_joined": _median([r.get("rss_per_conn_joined_bytes", 0) / 1024
                                            for r in ok]) if load.key == "idle" else None,
                "conns": ok[0]["params"].get("connections"),
                "reached": min(r.get("reached", 0) for r in ok) if load.key == "idle" else None,
                "rounds": len(ok),
            }
        ok_peers = [group[p] for p in peers if "dps" in group.get(p, {})]
        best_dps = max((g["dps"] for g in ok_peers if g["dps"]), default=None)
        best_cpu = min((g["cpu_ns"] for g in ok_peers if g["cpu_ns"]), default=None)
        best_p99 = min((g["p99"] for g in ok_peers if g["p99"] is not None), default=None)
        for name, g in group.items():
            g.update(workload=load.key, title=load.title, server=name)
            if "dps" in g:
                g["x_dps"] = g["dps"] / best_dps if best_dps and g["dps"] else None
                g["x_cpu"] = g["cpu_ns"] / best_cpu if best_cpu and g["cpu_ns"] else None
                g["x_p99"] = g["p99"] / best_p99 if best_p99 and g["p99"] is not None else None
            rows.append(g)
    return rows


def _f(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the summary rows."""
    head = ("| workload | server | deliveries/s | × best peer | server CPU ns/delivery | "
            "× best peer | p50 ms | p99 ms | max ms | lost | server RSS MiB | generator CPU |")
    lines = [head, "|" + "---|" * 12]
    for g in rows:
        if g["workload"] == "idle":
            continue  # its own table below: throughput of one broadcast means little
        if "dps" not in g:
            lines.append(f"| {g['workload']} | {g['server']} | failed: {g['failed']} |"
                         + " |" * 9)
            continue
        gen = f"{g['gen_pct']:.0f}%" + (" (bound)" if g["gen_bound"] else "")
        lines.append(
            f"| {g['workload']} | {g['server']} | {_f(g['dps'], ',.0f')} | "
            f"{_f(g['x_dps'], '.2f')} | {_f(g['cpu_ns'], ',.0f')} | {_f(g['x_cpu'], '.2f')} | "
            f"{_f(g['p50'], '.2f')} | {_f(g['p99'], '.2f')} | {_f(g['max'], '.2f')} | "
            f"{g['lost']} | {_f(g['rss_mib'], '.1f')} | {gen} |")
    idle = [g for g in rows if g["workload"] == "idle" and "dps" in g]
    if idle:
        lines += ["", "| idle capacity | connections | reached by broadcast | "
                  "server RSS KiB/conn (registered) | KiB/conn (after joining rooms) |",
                  "|---|---|---|---|---|"]
        for g in idle:
            lines.append(f"| {g['server']} | {g['conns']} | {g['reached']} | "
                         f"{_f(g['kib_conn'], '.2f')} | {_f(g['kib_conn_joined'], '.2f')} |")
    return "\n".join(lines)


def side_by_side(rows: list[dict[str, Any]], servers: list[Server]) -> str:
    """Each variant beside its server without that variant, as ratios from the same run:
    ``B ÷ A`` where A is the reference (the plain server; for ``nohttp`` the variant, so the
    ratio reads "with HTTP and metrics ÷ without")."""
    names = {s.name for s in servers}
    lines = ["| workload | A | B | deliveries/s A → B | B ÷ A | server CPU ns/delivery A → B "
             "| B ÷ A |", "|" + "---|" * 7]
    for srv in servers:
        engine, *extras = srv.name.split("+")
        for extra in extras:
            plain = "+".join([engine, *(x for x in extras if x != extra)])
            if plain not in names:
                continue
            a, b = (plain, srv.name) if REFERENCE[extra] == "plain" else (srv.name, plain)
            for key in dict.fromkeys(g["workload"] for g in rows):
                ga = next((g for g in rows if g["workload"] == key and g["server"] == a), {})
                gb = next((g for g in rows if g["workload"] == key and g["server"] == b), {})
                if not (ga.get("dps") and gb.get("dps")) or key == "idle":
                    continue
                cpu = (gb["cpu_ns"] / ga["cpu_ns"]) if ga.get("cpu_ns") and gb.get("cpu_ns") \
                    else None
                lines.append(
                    f"| {key} | {a} | {b} | {ga['dps']:,.0f} → {gb['dps']:,.0f} | "
                    f"{gb['dps'] / ga['dps']:.2f} | {_f(ga.get('cpu_ns'), ',.0f')} → "
                    f"{_f(gb.get('cpu_ns'), ',.0f')} | {_f(cpu, '.2f')} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def chart(rows: list[dict[str, Any]], servers: list[Server], path: Path, note: str) -> None:
    """Grouped bars: deliveries/s and p99 latency per workload and server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in dict.fromkeys(g["workload"] for g in rows) if k != "idle"]
    names = [s.name for s in servers]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    width = 0.8 / max(1, len(names))
    for metric, ax, label in (("dps", axes[0], "deliveries/s (higher is better)"),
                              ("p99", axes[1], "p99 latency, ms (lower is better, log)")):
        for i, name in enumerate(names):
            vals = []
            for k in keys:
                g = next((g for g in rows if g["workload"] == k and g["server"] == name), {})
                vals.append(g.get(metric) or 0)
            ax.bar([x + i * width for x in range(len(keys))], vals, width, label=name)
        ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(keys))], keys)
        ax.set_title(label)
        if metric == "p99":
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.suptitle(note, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "?"
    with contextlib.suppress(OSError):
        m = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = m.group(1) if m else "?"
    mem = "?"
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 2**20:.1f} GiB"
    return {"cpu": model, "cpus": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "python": platform.python_version(), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; exit 1 if any server lost a message."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="asyncio,threaded,ngircd,inspircd",
                    help="comma-separated; ENGINE@TREE runs one of ours from another checkout")
    ap.add_argument("--workloads", default="fanout-a,fanout-b,rate,rooms,idle")
    ap.add_argument("--repeats", type=int, default=3, help="rounds per workload (median kept)")
    ap.add_argument("--quick", action="store_true", help="sizes divided by 10")
    ap.add_argument("--our-dialect", choices=["auto", "irc", "structured"], default="auto",
                    help="how the generator talks to our server (auto: IRC if it speaks it)")
    ap.add_argument("--idle-asyncio", type=int, default=15000)
    ap.add_argument("--idle-threaded", type=int, default=5000)
    ap.add_argument("--idle-peers", type=int, default=15000)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench-results")
    ap.add_argument("--chart", type=Path, default=ROOT / "docs" / "bench-chart.png")
    args = ap.parse_args(argv)

    dialect = args.our_dialect
    if dialect == "auto":
        irc = ROOT / "chat" / "dialects" / "irc"  # a package now; a module before
        speaks_irc = irc.with_suffix(".py").exists() or (irc / "__init__.py").exists()
        dialect = "irc" if speaks_irc else "structured"
    servers = available_servers(args.servers.split(","), dialect)
    wanted = args.workloads.split(",")
    loads = [w for w in workloads(args.quick, args.idle_asyncio, args.idle_threaded,
                                  args.idle_peers) if w.key in wanted]
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    if pin:
        os.sched_setaffinity(0, {GENERATOR_CPU})
        pinning = f"servers pinned to CPU {SERVER_CPU}, generator to CPU {GENERATOR_CPU}"
    else:
        pinning = "no CPU pinning"
    info = machine()
    print(f"machine: {info['cpus']} x {info['cpu']}, {info['memory']}, Linux {info['kernel']}, "
          f"Python {info['python']}; {pinning}; our server speaks the {dialect} dialect here")
    for s in servers:
        print(f"  {s.name}: {s.version}")

    results: list[dict[str, Any]] = []
    try:
        for s in servers:
            s.start(pin)
        run_all(servers, loads, args.repeats, pin, results)
    finally:
        for s in servers:
            s.stop()

    rows = summarize(results, servers, loads)
    md = table(rows)
    pairs = side_by_side(rows, servers)
    if pairs:
        md += "\n\nSide by side (same run):\n\n" + pairs
    print()
    print(md)
    print(f"\n{pinning}. Ratios: against the best of the peers (ngircd, InspIRCd) in this run; "
          "'(bound)': the generator used > 90% of its core, so the figure is a lower bound.")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    raw = args.out_dir / f"compare-{stamp}.json"
    raw.write_text(json.dumps({"machine": info, "pinning": pinning, "our_dialect": dialect,
                               "argv": sys.argv, "settings": SETTINGS,
                               "servers": {s.name: s.version for s in servers},
                               "summary": rows, "results": results}, indent=1))
    (args.out_dir / f"compare-{stamp}.md").write_text(md + "\n")
    print(f"raw results: {raw}")
    try:
        chart(rows, servers, args.chart, f"{info['cpus']} x {info['cpu']}; {pinning}")
        print(f"chart: {args.chart}")
    except ImportError:
        print("matplotlib is not installed: no chart (pip install -e '.[bench]')")
    lost = sum(g.get("lost", 0) for g in rows)
    return 1 if lost or any("failed" in g for g in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
