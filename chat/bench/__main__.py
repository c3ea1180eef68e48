"""``chat-bench`` / ``python -m chat.bench``: run one workload against a running server.

Examples::

    chat-bench fanout --port 6667 --dialect irc -n 100 -s 10 -m 2000 --server-pid 1234
    chat-bench fanout --port 7777 --dialect structured -n 100 -s 10 -m 100 --rate 1000
    chat-bench rooms --port 6667 -n 100 -r 10 --rate-per-client 5 --duration 10
    chat-bench idle --port 7777 --dialect structured -c 15000 --server-pid 1234
    chat-bench fanout --port 8080 --transport ws --dialect structured -n 1000 -s 1 -m 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from chat.bench.workloads import (
    FanoutParams,
    IdleParams,
    RoomsParams,
    Target,
    run_fanout,
    run_idle,
    run_rooms,
)


def build_parser() -> argparse.ArgumentParser:
    """The command line; shared options first, then one sub-command per workload."""
    parser = argparse.ArgumentParser(prog="chat-bench", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default="127.0.0.1")
    common.add_argument("--port", type=int, default=6667)
    common.add_argument("--dialect", choices=["irc", "structured"], default="irc")
    common.add_argument("--transport", choices=["tcp", "ws"], default="tcp",
                        help="ws: a WebSocket to --port (the server's HTTP port), the dialect "
                             "inside it (structured: chat.json, irc: text.ircv3.net)")
    common.add_argument("--server-pid", type=int, default=None,
                        help="read the server's RSS and CPU time from /proc/PID")
    common.add_argument("--json", type=Path, default=None, help="append raw results here")
    common.add_argument("--timeout", type=float, default=None,
                        help="seconds per handshake step and before a stall counts as loss")
    sub = parser.add_subparsers(dest="workload", required=True)

    fan = sub.add_parser("fanout", parents=[common], help="N clients in one room, S senders")
    fan.add_argument("-n", "--clients", type=int, default=100)
    fan.add_argument("-s", "--senders", type=int, default=10)
    fan.add_argument("-m", "--messages", type=int, default=2000, help="messages per sender")
    fan.add_argument("--rate", type=float, default=0.0,
                     help="total messages/s (default 0: full speed)")
    fan.add_argument("--window", type=int, default=200,
                     help="messages a sender may be ahead of its reference receiver (0: off)")
    fan.add_argument("--batch", type=int, default=32, help="messages per write at full speed")
    fan.add_argument("--probes", type=int, default=0, help="clients that record latency")
    fan.add_argument("--pad", type=int, default=0, help="extra bytes per message")

    rooms = sub.add_parser("rooms", parents=[common], help="N clients over R rooms, fixed rate")
    rooms.add_argument("-n", "--clients", type=int, default=100)
    rooms.add_argument("-r", "--rooms", type=int, default=10)
    rooms.add_argument("--rate-per-client", type=float, default=2.0)
    rooms.add_argument("--duration", type=float, default=5.0)
    rooms.add_argument("--pad", type=int, default=0)

    idle = sub.add_parser("idle", parents=[common], help="many idle connections + 1 broadcast")
    idle.add_argument("-c", "--connections", type=int, default=1000)
    idle.add_argument("--rooms", type=int, default=50)
    return parser


async def run_args(args: argparse.Namespace) -> dict[str, Any]:
    """Run the workload the parsed arguments describe."""
    target = Target(host=args.host, port=args.port, dialect=args.dialect,
                    server_pid=args.server_pid, transport=args.transport)
    extra = {"timeout": args.timeout} if args.timeout else {}
    if args.workload == "fanout":
        return await run_fanout(target, FanoutParams(
            clients=args.clients, senders=args.senders, messages=args.messages, rate=args.rate,
            window=args.window, batch=args.batch, probes=args.probes, pad=args.pad, **extra))
    if args.workload == "rooms":
        return await run_rooms(target, RoomsParams(
            clients=args.clients, rooms=args.rooms, rate_per_client=args.rate_per_client,
            duration=args.duration, pad=args.pad, **extra))
    return await run_idle(target, IdleParams(connections=args.connections, rooms=args.rooms,
                                             **extra))


def summarize(r: dict[str, Any]) -> str:
    """One human line per result."""
    lat = r.get("latency", {})
    parts = [f"{r['workload']}: {r.get('deliveries_per_s') or 0:,.0f} deliveries/s",
             f"lost {r.get('lost')}"]
    if lat.get("p50_ms") is not None:
        parts.append(f"latency p50 {lat['p50_ms']:.2f} ms p99 {lat['p99_ms']:.2f} ms "
                     f"max {lat['max_ms']:.2f} ms")
    if r.get("server_cpu_ns_per_delivery") is not None:
        parts.append(f"server {r['server_cpu_ns_per_delivery']:.0f} ns CPU/delivery, "
                     f"RSS {r['server_rss_bytes'] / 2**20:.1f} MiB")
    if "rss_per_conn_registered_bytes" in r:
        parts.append(f"{r['rss_per_conn_registered_bytes'] / 1024:.2f} KiB/conn registered, "
                     f"{r['rss_per_conn_joined_bytes'] / 1024:.2f} KiB/conn joined, "
                     f"reached {r['reached']}")
    parts.append(f"generator CPU {r.get('generator_cpu_pct') or 0:.0f}%"
                 + (" (generator-bound: the server figure is a lower bound)"
                    if r.get("generator_bound") else ""))
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 1 when any message was lost or any client was disconnected."""
    args = build_parser().parse_args(argv)
    result = asyncio.run(run_args(args))
    print(summarize(result))
    for err in result.get("errors", [])[:5]:
        print(f"  error: {err}", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a") as f:
            f.write(json.dumps(result) + "\n")
    ok = result.get("lost") == 0 and not result.get("disconnected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
