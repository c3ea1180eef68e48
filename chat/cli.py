"""``chat-server`` / ``python -m chat``: parse options, start an engine, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys

from chat import __version__
from chat.config import DEFAULT_HOST, DEFAULT_PORT, Limits, ServerConfig
from chat.engines import ENGINES, make_engine

log = logging.getLogger("chat")

_LIMIT_HELP = {
    "max_line": "longest line accepted, in bytes, terminator included",
    "nick_len": "longest nickname",
    "room_len": "longest room name, # included",
    "topic_len": "longest topic",
    "message_len": "longest message text, in characters",
    "reason_len": "longest part/quit reason",
    "sendq": "bytes queued for one client before it is dropped as too slow",
    "rate_per_second": "sustained lines per second per connection (0: no rate limit)",
    "rate_burst": "lines a connection may send at once before it is slowed down",
    "recvq_lines": "lines held back by the rate limit before a flood disconnect",
    "register_timeout": "seconds a new connection has to pick a nickname (0: forever)",
    "ping_interval": "seconds of silence before the server pings a client (0: never)",
    "ping_timeout": "seconds a pinged client has to answer",
    "max_connections": "connections in total (0: unlimited)",
    "max_per_ip": "connections per IP address (0: unlimited; loopback exempt by default)",
    "limit_loopback": "apply --max-per-ip to loopback addresses too",
    "max_rooms_per_user": "rooms one user may be in (0: unlimited)",
    "max_members_per_room": "members one room may hold (0: unlimited)",
}


def build_parser() -> argparse.ArgumentParser:
    """The option set; every limit in :class:`Limits` is an option of the same name."""
    defaults = ServerConfig()
    parser = argparse.ArgumentParser(
        prog="chat-server",
        description="Chat-room server: telnet/nc, JSON-lines and IRC clients on one port.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--engine", choices=sorted(ENGINES), default="asyncio",
                        help="server engine")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="TCP port (0 picks a free one; the ready line shows it)")
    parser.add_argument("--name", default=defaults.name, help="server name shown to clients")
    parser.add_argument("--default-room", default=defaults.default_room,
                        help="room telnet/nc users are placed in on arrival ('' for none)")
    parser.add_argument("--greet-delay", type=float, default=defaults.greet_delay,
                        help="seconds of silence before a connection is greeted as a person")
    parser.add_argument("--motd", default=defaults.motd, help="message of the day")
    parser.add_argument("--shutdown-grace", type=float, default=defaults.shutdown_grace,
                        help="seconds to flush goodbyes when stopping")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    group = parser.add_argument_group("limits")
    for f in dataclasses.fields(Limits):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default,
                               help=_LIMIT_HELP.get(f.name))
        else:
            kind = float if f.type in ("float", float) else int
            group.add_argument(flag, type=kind, default=f.default, help=_LIMIT_HELP.get(f.name))
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """A ServerConfig from parsed options."""
    limits = Limits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)})
    return ServerConfig(
        host=args.host, port=args.port, name=args.name, default_room=args.default_room,
        greet_delay=args.greet_delay, motd=args.motd, shutdown_grace=args.shutdown_grace,
        limits=limits,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground until SIGINT/SIGTERM; exit 0 after a clean stop."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from_args(args)
    try:
        engine = make_engine(args.engine, config)
    except ValueError as exc:
        log.error("%s", exc)
        return 2

    def on_ready(host: str, port: int) -> None:
        log.info("ready: engine=%s host=%s port=%d", engine.name, host, port)

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        engine.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        engine.run(on_ready)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc.strerror or exc)
        return 1
    log.info("stopped")
    return 0
