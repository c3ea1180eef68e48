"""Server settings and limits, shared by both engines so they enforce the same bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

DEFAULT_PORT = 7777
DEFAULT_HOST = "127.0.0.1"
DEFAULT_TLS_PORT = 6697
#: The command line's default HTTP port (health checks and metrics); a bare ServerConfig has
#: none (0), so tests and embedders open no fixed port by accident.
DEFAULT_HTTP_PORT = 8080

MAX_SECONDS = 30 * 24 * 3600.0  # longest timer or timeout: beyond it, socket options overflow
#: Smallest sensible values where 0 or 1 would break a protocol rather than mean "off".
_MINIMUM = {"max_line": 512, "nick_len": 1, "room_len": 2, "topic_len": 1, "message_len": 1,
            "rate_burst": 1, "recvq_lines": 1}
_SECONDS = {"sendq_grace", "register_timeout", "ping_interval", "ping_timeout", "greet_delay",
            "shutdown_grace", "tls_handshake_timeout", "nick_grace", "node_lease"}


def _check_numbers(obj: object) -> None:
    """Refuse NaN, infinities, negatives and absurd values, naming the setting.

    TOML accepts ``nan`` and ``inf``; one of them in a timeout used to make every new
    connection fail deep inside socket tuning. Refused at start, with one clear line instead.
    """
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        name = "--" + f.name.replace("_", "-")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value}")
        if value < 0:
            raise ValueError(f"{name} cannot be negative ({value})")
        if value < _MINIMUM.get(f.name, 0):
            raise ValueError(f"{name} must be at least {_MINIMUM[f.name]} ({value})")
        if f.name in _SECONDS and value > MAX_SECONDS:
            raise ValueError(f"{name} is at most {MAX_SECONDS:g} seconds ({value})")


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound on what a client can make the server hold or do; 0 means unlimited.

    The defaults are what a small public server would use; benchmarks lift the rate limits
    through the command line, never by editing code.
    """

    max_line: int = 8192  # bytes per line in, terminator included (IRC uses 512 + 8191 for tags)
    nick_len: int = 30
    room_len: int = 50
    topic_len: int = 390
    message_len: int = 2000  # characters of message text
    reason_len: int = 200  # part/quit/kick reasons
    sendq: int = 1 << 20  # unsent bytes a client may leave behind before it counts as too slow
    sendq_grace: float = 10.0  # seconds a client may stay over sendq (catching up) before the cut
    rate_per_second: float = 10.0  # sustained commands per second per connection
    rate_burst: int = 40  # commands a connection may send at once before being slowed
    recvq_lines: int = 200  # commands held back by the rate limit before a flood disconnect
    register_timeout: float = 60.0  # seconds to pick a nick
    ping_interval: float = 120.0  # silence after which the server pings (0: never)
    ping_timeout: float = 60.0  # how long a pinged client has to answer
    max_connections: int = 10000
    max_per_ip: int = 50  # loopback is exempt unless limit_loopback is set
    limit_loopback: bool = False
    max_rooms_per_user: int = 50
    max_members_per_room: int = 0

    def __post_init__(self) -> None:
        _check_numbers(self)


#: Dialects a listener may pin (``chat.dialects`` defines them; named here so a config can be
#: checked before anything is imported or started).
DIALECT_NAMES = ("human", "structured", "irc", "http")


@dataclass(frozen=True, slots=True)
class Listener:
    """One address the server accepts connections on, and how.

    ``dialect`` pins what its connections speak, skipping detection (a WebSocket subprotocol
    will pick it the same way); None detects each connection's dialect from its first line.
    """

    port: int
    host: str = DEFAULT_HOST
    tls: bool = False
    dialect: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"listener port must be 0-65535, not {self.port}")
        if self.dialect is not None and self.dialect not in DIALECT_NAMES:
            raise ValueError(f"listener dialect must be one of {', '.join(DIALECT_NAMES)}, "
                             f"not {self.dialect!r}")


#: Lines replayed on join are held in memory per room: a bound keeps that memory small.
MAX_REPLAY_LINES = 1000


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What a server is started with; the CLI builds one from options and the config file."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    name: str = "chat.local"
    default_room: str = "#lobby"
    greet_delay: float = 0.4  # silence before a connection is taken for a person on telnet/nc
    motd: str = "Be kind."
    shutdown_grace: float = 1.0  # seconds to flush goodbyes on shutdown
    tls_cert: str | None = None  # PEM certificate chain; with tls_key, also serve TLS
    tls_key: str | None = None  # PEM private key
    tls_port: int = DEFAULT_TLS_PORT  # TLS gets its own port, as IRC servers use 6697
    tls_handshake_timeout: float = 10.0  # a TLS client that never finishes the handshake
    #: HTTP health checks, Prometheus metrics, WebSocket and the web client on ``host`` (0:
    #: none; the CLI's default is 8080). HTTPS (and wss://) when ``tls_cert`` is set.
    http_port: int = 0
    limits: Limits = field(default_factory=Limits)
    #: Origins a browser may open a WebSocket from on the HTTP listener ("*": any). Empty:
    #: same-origin only (the Origin's host:port is the Host header), plus clients sending no
    #: Origin at all (not browsers).
    web_origins: tuple[str, ...] = ()
    #: Extra listeners beyond the plain port (and the TLS port when a certificate is set).
    listeners: tuple[Listener, ...] = ()
    #: Where rooms and history are kept (an SQLite database in it); None keeps them in memory.
    data_dir: str | None = None
    replay_lines: int = 25  # recent lines a joiner is shown (0: none)
    history_days: float = 30.0  # history older than this is pruned (0: kept for ever)
    history_max_per_room: int = 100_000  # newest records kept per room
    #: A registered nick used without its account: rename after ``nick_grace`` seconds
    #: ("grace"), refuse it at once ("strict"), or let it be ("off").
    nick_protection: str = "grace"
    nick_grace: float = 30.0
    #: argon2id cost for account passwords: passes, and memory in KiB (OWASP's minimum).
    password_hash_time: int = 2
    password_hash_memory: int = 19456
    #: Server operators: (name, argon2id hash) pairs, from ``[operators.NAME]`` tables in the
    #: config file (hashes made by ``chat-server hash-password``).
    operators: tuple[tuple[str, str], ...] = ()
    #: Cluster mode: a ``redis://HOST:PORT/DB`` URL joins this process to the other servers on
    #: that Redis as one chat server ("": standalone).
    cluster: str = ""
    #: This node's name in the cluster ("": hostname and process id).
    node_name: str = ""
    #: Seconds without a heartbeat after which the other nodes count a node as lost.
    node_lease: float = 10.0
    #: SO_REUSEPORT on every listener, so several server processes share its ports (the
    #: kernel spreads new connections over them); ``--workers`` sets it in each worker.
    reuse_port: bool = False

    def __post_init__(self) -> None:
        _check_numbers(self)
        for name in ("port", "tls_port", "http_port"):
            if getattr(self, name) > 65535:
                raise ValueError(f"--{name.replace('_', '-')} must be a port number (0-65535)")
        if not self.tls_handshake_timeout:
            raise ValueError("--tls-handshake-timeout must be more than 0")
        for name, password_hash in self.operators:
            if not password_hash.startswith("$argon2"):
                raise ValueError(f"operator {name!r}: password must be a hash made by "
                                 "'chat-server hash-password'")
        if self.nick_protection not in ("grace", "strict", "off"):
            raise ValueError("--nick-protection must be grace, strict or off, "
                             f"not {self.nick_protection!r}")
        if self.password_hash_time < 1 or self.password_hash_memory < 8:
            raise ValueError("--password-hash-time must be at least 1 and "
                             "--password-hash-memory at least 8 (KiB)")
        if self.replay_lines > MAX_REPLAY_LINES:
            raise ValueError(f"--replay-lines is at most {MAX_REPLAY_LINES} ({self.replay_lines})")
        if self.cluster and not self.cluster.startswith(("redis://", "rediss://", "unix://")):
            scheme = self.cluster.partition(":")[0][:20]  # not the rest: it may hold a password
            raise ValueError(f"--cluster must be a redis://, rediss:// or unix:// URL, not "
                             f"{scheme!r}:...")
        if not self.node_lease:
            raise ValueError("--node-lease must be more than 0")
        if any(listener.tls for listener in self.listeners) and not self.tls_cert:
            raise ValueError("a TLS listener needs --tls-cert")

    def all_listeners(self) -> tuple[Listener, ...]:
        """Every listener: the plain port, the TLS port (with a certificate), the HTTP port
        (TLS too with a certificate: a browser page served over https may only open wss://),
        then the extras."""
        main = [Listener(self.port, self.host)]
        if self.tls:
            main.append(Listener(self.tls_port, self.host, tls=True))
        if self.http_port:
            main.append(Listener(self.http_port, self.host, tls=self.tls, dialect="http"))
        return (*main, *self.listeners)

    @property
    def http(self) -> bool:
        """True when some listener serves HTTP (health checks and metrics), so the hub counts."""
        return any(listener.dialect == "http" for listener in self.all_listeners())

    @property
    def tls(self) -> bool:
        """True when a certificate is configured, so a TLS listener is opened too."""
        return bool(self.tls_cert)
