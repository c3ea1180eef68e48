"""``chat-server`` / ``python -m chat``: parse options, start an engine, stop on SIGINT/SIGTERM.

Every option can also be set in a TOML file given with ``--config``; options on the command line
win over the file. The file uses the option names (``-`` or ``_``), at the top level, and limits
may also go in a ``[limits]`` table::

    engine = "threaded"
    port = 7777
    tls-cert = "/etc/chat/cert.pem"
    tls-key = "/etc/chat/key.pem"

    [limits]
    max-per-ip = 20
    rate-per-second = 5
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import getpass
import logging
import os
import signal
import ssl
import sys
import threading
import tomllib
from typing import Any, NoReturn

from chat import __version__, collector, logs
from chat.accounts.passwords import Hasher, password_problem
from chat.config import (
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
    Limits,
    Listener,
    ServerConfig,
)
from chat.engines import ENGINES, make_engine
from chat.engines.fdlimit import fit_to_fd_limit
from chat.history.store import StoreError
from chat.workers import Supervisor, node_names, parse_workers, worker_commands

log = logging.getLogger("chat")

_LIMIT_HELP = {
    "max_line": "longest line accepted, in bytes, terminator included",
    "nick_len": "longest nickname",
    "room_len": "longest room name, # included",
    "topic_len": "longest topic",
    "message_len": "longest message text, in characters",
    "reason_len": "longest part/quit reason",
    "sendq": "unsent bytes one client may leave behind before it counts as too slow",
    "sendq_grace": "seconds a client may stay over --sendq while catching up before it is cut",
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


#: Longest MOTD file read (the MOTD is sent to every client on arrival).
MAX_MOTD_BYTES = 16 * 1024


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown in ``--help``, except an absent one: "(default: None)" says nothing, and
    an option whose help explains its default (``--tls-key``) would show it twice."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Errors in one line, with a suggestion for a misspelt option, not after the whole usage
    text (a screenful that hides the one line that matters)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}{self.suggestion(message)}\n")

    def suggestion(self, message: str) -> str:
        """`` (did you mean --port?)`` for the first unknown option close to a real one."""
        if not message.startswith("unrecognized arguments:"):
            return ""
        known = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        for word in message.partition(":")[2].split():
            if word.startswith("-"):
                close = difflib.get_close_matches(word.partition("=")[0], known, n=1)
                if close:
                    return f" (did you mean {close[0]}?)"
        return ""


def build_parser() -> argparse.ArgumentParser:
    """The option set; every limit in :class:`Limits` is an option of the same name."""
    defaults = ServerConfig()
    parser = _Parser(
        prog="chat-server",
        description="Chat-room server: telnet/nc, JSON-lines and IRC clients on one port.",
        formatter_class=_HelpFormatter,
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
    parser.add_argument("--motd-file", metavar="FILE", default=None,
                        help="read the message of the day from FILE (UTF-8, several lines "
                             f"allowed, at most {MAX_MOTD_BYTES // 1024} KiB); wins over --motd")
    parser.add_argument("--shutdown-grace", type=float, default=defaults.shutdown_grace,
                        help="seconds to flush goodbyes when stopping")
    parser.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT,
                        help="HTTP port on --host for the web client (/), WebSocket, health "
                             "checks (/healthz, /readyz) and Prometheus metrics (/metrics); "
                             "HTTPS with --tls-cert; 0 turns it off")
    parser.add_argument("--web-origin", metavar="ORIGIN", action="append", default=[],
                        dest="web_origins",
                        help="an Origin allowed to open a WebSocket on the HTTP port "
                             "(repeatable; e.g. https://app.example.org, or * for any); "
                             "default: same-origin browsers and clients sending no Origin")
    parser.add_argument("--listen", metavar="[HOST:]PORT[/tls][/DIALECT]", action="append",
                        type=parse_listener, default=[], dest="listeners",
                        help="another listener (repeatable), e.g. 6667/irc pins IRC and skips "
                             "detection; /tls needs --tls-cert")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="TOML file with any of these options (the command line wins)")
    tls = parser.add_argument_group("TLS")
    tls.add_argument("--tls-cert", metavar="PEM", default=None,
                     help="certificate chain; serve TLS on --tls-port as well, and HTTPS "
                          "(wss://) on --http-port")
    tls.add_argument("--tls-key", metavar="PEM", default=None,
                     help="private key (default: read from the --tls-cert file)")
    tls.add_argument("--tls-port", type=int, default=DEFAULT_TLS_PORT,
                     help="TLS port (0 picks a free one)")
    tls.add_argument("--tls-handshake-timeout", type=float,
                     default=defaults.tls_handshake_timeout,
                     help="seconds a TLS client has to finish its handshake")
    kept = parser.add_argument_group("history and rooms")
    kept.add_argument("--data-dir", metavar="DIR", default="chat-data",
                      help="where rooms and history are kept (an SQLite database, created on "
                           "first start); 'none' keeps them in memory only")
    kept.add_argument("--replay-lines", type=int, default=defaults.replay_lines,
                      help="recent lines shown to someone joining a room (0: none)")
    kept.add_argument("--history-days", type=float, default=defaults.history_days,
                      help="days of history kept (0: for ever)")
    kept.add_argument("--history-max-per-room", type=int,
                      default=defaults.history_max_per_room,
                      help="newest history records kept per room")
    accounts = parser.add_argument_group("accounts")
    accounts.add_argument("--nick-protection", choices=["grace", "strict", "off"],
                          default=defaults.nick_protection,
                          help="a registered nick used without logging in: renamed after "
                               "--nick-grace seconds (grace), refused (strict), or allowed")
    accounts.add_argument("--nick-grace", type=float, default=defaults.nick_grace,
                          help="seconds to log in before a registered nick is taken back")
    accounts.add_argument("--password-hash-time", type=int, default=defaults.password_hash_time,
                          help="argon2id passes per password hash")
    accounts.add_argument("--password-hash-memory", type=int,
                          default=defaults.password_hash_memory,
                          help="argon2id memory per password hash, in KiB")
    cluster = parser.add_argument_group("cluster (see docs/scaling.md)")
    cluster.add_argument("--cluster", metavar="redis://HOST:PORT/DB", default=defaults.cluster,
                         help="join the servers on this Redis as one chat server; rooms, "
                              "accounts and history are kept there (--data-dir is not used)")
    cluster.add_argument("--node-name", default=defaults.node_name,
                         help="this node's name in the cluster and logs "
                              "(default: host and process id)")
    cluster.add_argument("--node-lease", type=float, default=defaults.node_lease,
                         help="seconds without a heartbeat before a node counts as lost "
                              "and its users are quit")
    cluster.add_argument("--workers", metavar="N|auto", default=None,
                         help="start N server processes on the same ports (auto: one per "
                              "CPU), each a cluster node <node-name or host>-w<i>; needs "
                              "--cluster and fixed ports")
    cluster.add_argument("--reuse-port", action="store_true", default=defaults.reuse_port,
                         help="SO_REUSEPORT on every listener, so several servers share "
                              "its ports (--workers sets it in each worker)")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="least important log lines shown")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="log lines as text, or one JSON object per line")
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


def parse_listener(spec: str) -> Listener:
    """``[HOST:]PORT[/tls][/DIALECT]`` (an IPv6 host in brackets) as a :class:`Listener`."""
    address, *flags = spec.split("/")
    host, port = DEFAULT_HOST, address
    if ":" in address:
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{spec!r}: the port must be a number") from None
    tls = "tls" in flags
    dialects = [flag for flag in flags if flag != "tls"]
    if len(dialects) > 1:
        raise argparse.ArgumentTypeError(f"{spec!r}: one dialect at most")
    try:
        return Listener(number, host, tls, dialects[0] if dialects else None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{spec!r}: {exc}") from None


class ConfigFileError(ValueError):
    """The config file cannot be read or names an option that does not exist."""


def _convert(action: argparse.Action, key: str, value: Any) -> Any:
    """A TOML value checked (and converted) the way the command line would treat it."""
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise ConfigFileError(f"{key!r} must be true or false")
        return value
    kind = action.type or str
    if action.dest == "listeners":  # a list of listener specs, as on the command line
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigFileError(f"{key!r} must be a list of strings like \"6667/irc\"")
        try:
            return [parse_listener(v) for v in value]
        except argparse.ArgumentTypeError as exc:
            raise ConfigFileError(f"{key!r}: {exc}") from None
    if action.dest == "web_origins":  # a list of origins, as on the command line
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigFileError(f"{key!r} must be a list of strings like "
                                  "\"https://app.example.org\"")
        return value
    if action.dest == "workers" and isinstance(value, int | str) and not isinstance(value, bool):
        return str(value)  # a number or "auto", checked with the other options
    if isinstance(value, bool | dict | list):
        raise ConfigFileError(f"{key!r} must be a {getattr(kind, '__name__', 'value')}")
    if kind is int and not isinstance(value, int):
        raise ConfigFileError(f"{key!r} must be an integer")
    if kind is float and not isinstance(value, int | float):
        raise ConfigFileError(f"{key!r} must be a number")
    if kind in (str, str.upper) and not isinstance(value, str):
        raise ConfigFileError(f"{key!r} must be a string")
    value = kind(value)  # type: ignore[operator]
    if action.choices is not None and value not in action.choices:
        raise ConfigFileError(f"{key!r} must be one of {', '.join(map(str, action.choices))}")
    return value


def load_config_file(path: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Option values from a TOML file, keyed by argparse ``dest``; unknown keys are errors."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path} is not valid TOML: {exc}") from None
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in
               ("help", "version", "config")}
    limit_names = {f.name for f in dataclasses.fields(Limits)}
    values: dict[str, Any] = {}
    if "operators" in data:
        values["operators"] = _operators(path, data.pop("operators"))
    items = [(k, v) for k, v in data.items() if k != "limits"]
    limits_table = data.get("limits", {})
    if not isinstance(limits_table, dict):
        raise ConfigFileError(f"{path}: 'limits' must be a table")
    items += [(k, v) for k, v in limits_table.items()]
    for key, value in items:
        dest = key.replace("-", "_")
        action = actions.get(dest)
        if action is None or (key in limits_table and dest not in limit_names):
            close = difflib.get_close_matches(dest, list(actions), n=1)
            hint = f" (did you mean {close[0].replace('_', '-')!r}?)" if close else ""
            raise ConfigFileError(f"{path}: unknown option {key!r}{hint}")
        try:
            values[dest] = _convert(action, key, value)
        except ConfigFileError as exc:
            raise ConfigFileError(f"{path}: {exc}") from None
    return values


def _operators(path: str, table: object) -> tuple[tuple[str, str], ...]:
    """``[operators.NAME]`` tables, each with ``password = "<argon2id hash>"``."""
    if not isinstance(table, dict):
        raise ConfigFileError(f"{path}: 'operators' must hold [operators.NAME] tables")
    found = []
    for name, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("password"), str) or (
                set(entry) - {"password"}):
            raise ConfigFileError(f"{path}: [operators.{name}] needs password = \"<hash>\" "
                                  "(and nothing else)")
        found.append((name, entry["password"]))
    return tuple(found)


def hash_password(stdin: Any = None) -> int:
    """``chat-server hash-password``: read a password from stdin, print its argon2id hash (for
    ``[operators.NAME] password = "..."``). Nothing is echoed or logged."""
    stdin = stdin or sys.stdin
    password = (getpass.getpass("Password: ") if stdin.isatty()
                else stdin.readline().rstrip("\r\n"))
    problem = password_problem(password)
    if problem:
        print(f"chat-server: {problem}", file=sys.stderr)
        return 2
    print(Hasher().hash(password)[0])
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options from the config file (if any), then the command line over them."""
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    if first.config:
        try:
            parser.set_defaults(**load_config_file(first.config, parser))
        except ConfigFileError as exc:
            parser.error(str(exc))
    args = parser.parse_args(argv)
    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key needs --tls-cert")
    if args.motd_file:
        args.motd = _read_motd(parser, args.motd_file)
    try:
        config = config_from_args(args)
        args.workers = check_workers(args, config)
    except ValueError as exc:  # NaN, infinities, negatives: one clear line, before anything runs
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return args


def missing_file(args: argparse.Namespace) -> str | None:
    """What is wrong with the certificate or key files named, checked before anything starts
    (the engine would only report "cannot listen: No such file or directory")."""
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not os.path.isfile(path):
            return f"{option}: the file {path} does not exist"
        if path and not os.access(path, os.R_OK):
            return f"{option}: the file {path} cannot be read (permissions)"
    return None


def _read_motd(parser: argparse.ArgumentParser, path: str) -> str:
    """The MOTD file's text, its trailing blank lines dropped; any problem is one error line."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_MOTD_BYTES + 1)
    except OSError as exc:
        parser.error(f"--motd-file: cannot read {path}: {exc.strerror or exc}")
    if len(data) > MAX_MOTD_BYTES:
        parser.error(f"--motd-file: {path} is over {MAX_MOTD_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8").rstrip()
    except UnicodeDecodeError:
        parser.error(f"--motd-file: {path} is not UTF-8 text")


def check_workers(args: argparse.Namespace, config: ServerConfig) -> int | None:
    """The number of worker processes ``--workers`` asks for (``auto`` resolved once, here).
    It needs a cluster (the workers share everything through it) and fixed ports (with port 0
    each worker would get a port of its own)."""
    if args.workers is None:
        return None
    count = parse_workers(str(args.workers))
    if not config.cluster:
        raise ValueError("--workers needs --cluster redis://HOST:PORT/DB: the workers share "
                         "rooms, nicks and history through it")
    ports = [listener.port for listener in config.all_listeners()]
    if count > 1 and 0 in ports:
        raise ValueError("--workers needs fixed ports: with port 0 each worker would listen "
                         "on a port of its own")
    return count


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """A ServerConfig from parsed options."""
    limits = Limits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)})
    return ServerConfig(
        host=args.host, port=args.port, name=args.name, default_room=args.default_room,
        greet_delay=args.greet_delay, motd=args.motd, shutdown_grace=args.shutdown_grace,
        tls_cert=args.tls_cert, tls_key=args.tls_key, tls_port=args.tls_port,
        tls_handshake_timeout=args.tls_handshake_timeout, http_port=args.http_port,
        limits=limits,
        listeners=tuple(args.listeners), web_origins=tuple(args.web_origins),
        operators=tuple(getattr(args, "operators", ())),
        data_dir=None if args.data_dir.strip().lower() == "none" else args.data_dir,
        replay_lines=args.replay_lines, history_days=args.history_days,
        history_max_per_room=args.history_max_per_room,
        nick_protection=args.nick_protection, nick_grace=args.nick_grace,
        password_hash_time=args.password_hash_time,
        password_hash_memory=args.password_hash_memory,
        cluster=args.cluster, node_name=args.node_name, node_lease=args.node_lease,
        reuse_port=args.reuse_port,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground until SIGINT/SIGTERM; exit 0 after a clean stop."""
    if (sys.argv[1:] if argv is None else argv)[:1] == ["hash-password"]:
        return hash_password()
    args = parse_args(argv)
    problem = missing_file(args)
    if problem is not None:
        print(f"chat-server: error: {problem}", file=sys.stderr)
        return 2
    logs.configure(args.log_level, args.log_format)
    if args.cluster and args.node_name and args.workers == 1:
        logs.mark_node(args.node_name)  # a --workers child: one stderr for all of them
    if args.workers is not None and args.workers > 1:
        names = node_names(args.node_name, args.workers)
        given = sys.argv[1:] if argv is None else argv
        supervisor = Supervisor(worker_commands(given, names), args.shutdown_grace)
        return supervisor.run()
    config = fit_to_fd_limit(config_from_args(args))
    collector.install()  # short garbage-collector pauses however many users are held
    try:
        engine = make_engine(args.engine, config)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    except StoreError as exc:  # corrupt, read-only, locked by another server, disk full
        log.error("cannot use %s: %s",
                  "the cluster's Redis" if config.cluster else "the data directory", exc)
        return 1

    def on_ready(host: str, port: int) -> None:
        if engine.tls_port is not None:
            log.info("TLS on port %d", engine.tls_port)
        for spec, (_, http_port) in engine.addresses:
            if spec.dialect == "http":
                log.info("%s (web client, WebSocket, health checks, metrics) on port %d",
                         "HTTPS" if spec.tls else "HTTP", http_port)
        log.info("ready: engine=%s host=%s port=%d", engine.name, host, port)

    # The handler only records the signal: it may interrupt the main thread anywhere, even
    # inside a lock the logging module or an Event holds, so logging and stopping happen
    # in the main thread's loop below, which never waits untimed.
    signals: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        signals.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            engine.run(on_ready)
        except BaseException as exc:  # reported by the main thread below
            failure.append(exc)

    runner = threading.Thread(target=serve, name="chat-engine")
    runner.start()
    stopping = False
    while runner.is_alive():
        runner.join(0.2)
        if signals and not stopping:
            stopping = True
            log.info("received %s, shutting down", signal.Signals(signals[0]).name)
            engine.stop()
    if failure:
        error = failure[0]
        if config.cluster:
            from chat.cluster.backplane import ClusterUnavailable
            if isinstance(error, ClusterUnavailable):
                log.error("%s", error)
                return 1
        if isinstance(error, ssl.SSLError):
            log.error("cannot use the TLS certificate/key: %s", error)
            return 1
        if isinstance(error, OSError):
            if config.tls and error.filename:
                log.error("cannot read %s: %s", error.filename, error.strerror or error)
            else:
                log.error("cannot listen on %s: %s", config.host, error.strerror or error)
            return 1
        raise error
    log.info("stopped")
    return 0


if __name__ == "__main__":  # ``python -m chat.cli`` runs the server too, not silently nothing
    sys.exit(main())
