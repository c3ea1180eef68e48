"""Server settings and limits, shared by both engines so they enforce the same bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PORT = 7777
DEFAULT_HOST = "127.0.0.1"
DEFAULT_TLS_PORT = 6697


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
    limits: Limits = field(default_factory=Limits)

    @property
    def tls(self) -> bool:
        """True when a certificate is configured, so a TLS listener is opened too."""
        return bool(self.tls_cert)
