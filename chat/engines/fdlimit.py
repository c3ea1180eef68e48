"""File descriptors: fit ``max_connections`` to the process's limit, and back off quietly when
``accept`` runs out of them anyway.

Every connection costs one descriptor. A server whose soft ``RLIMIT_NOFILE`` (often 1024) is
below its connection limit would hit EMFILE on ``accept``: new clients then hang in the listen
backlog instead of being told the server is full. So at start the soft limit is raised to the
hard limit, and if the connection limit plus a reserve still does not fit, the limit is lowered
(with one log line): the hub then refuses the extra clients with ``ERROR :Server is full``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import time

from chat.config import ServerConfig

log = logging.getLogger("chat.engine")

#: Descriptors kept back for what is not a connection: listeners, the selector, the wake-up
#: pair, log files, a refused connection being told why, the odd library file.
RESERVE = 32

#: accept() errors that mean "out of resources": retrying at once would only spin.
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def fit_connections(max_connections: int, soft: int, hard: int, infinity: int = -1,
                    reserve: int = RESERVE) -> tuple[int, int]:
    """The soft descriptor limit to ask for and the connection limit that fits it (pure).

    ``soft``/``hard`` are the current limits (``infinity`` stands for no limit);
    ``max_connections`` 0 means unlimited, which a finite descriptor limit makes finite.
    """
    if soft == infinity:
        return soft, max_connections
    target = hard if hard != infinity and hard > soft else soft
    usable = max(1, target - reserve)
    if not max_connections or max_connections > usable:
        return target, usable
    return target, max_connections


def fit_to_fd_limit(config: ServerConfig) -> ServerConfig:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; lower ``max_connections`` to fit."""
    try:
        import resource
    except ImportError:  # not a POSIX system: nothing to fit
        return config
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    target, fitted = fit_connections(config.limits.max_connections, soft, hard, infinity)
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            target = soft
            _, fitted = fit_connections(config.limits.max_connections, soft, soft, infinity)
    if fitted == config.limits.max_connections:
        return config
    log.warning("open file limit is %d: max-connections lowered from %s to %d "
                "(raise the limit with ulimit -n or LimitNOFILE= to allow more)", target,
                config.limits.max_connections or "unlimited", fitted)
    limits = dataclasses.replace(config.limits, max_connections=fitted)
    return dataclasses.replace(config, limits=limits)


class AcceptBackoff:
    """What an accept loop does on an error: how long to wait, and one log line in a while.

    Out of descriptors (or memory), ``accept`` fails at once every time it is tried: retrying
    at once would spin and logging every failure would fill the disk. The wait doubles up to
    ``ceiling`` while the failures go on, and a warning is logged at most every ``quiet``
    seconds with how many failures it stands for.
    """

    def __init__(self, name: str, floor: float = 0.05, ceiling: float = 1.0,
                 quiet: float = 10.0) -> None:
        self.name = name
        self.floor, self.ceiling, self.quiet = floor, ceiling, quiet
        self.delay = 0.0
        self.failures = 0  # since the last log line
        self.total = 0  # for tests and metrics
        self._logged = float("-inf")

    def failed(self, exc: OSError) -> float:
        """``accept`` raised ``exc``: the seconds to wait before trying again."""
        self.total += 1
        self.failures += 1
        now = time.monotonic()
        if now - self._logged >= self.quiet:
            with contextlib.suppress(Exception):
                log.warning("%s: accept failed %d time(s): %s; backing off", self.name,
                            self.failures, exc.strerror or exc)
            self._logged = now
            self.failures = 0
        if exc.errno in EXHAUSTED:
            self.delay = min(self.ceiling, max(self.floor, self.delay * 2))
        else:
            self.delay = 0.0 if exc.errno == errno.ECONNABORTED else self.floor
        return self.delay

    def succeeded(self) -> None:
        """``accept`` worked: the next failure starts from the shortest wait again."""
        self.delay = 0.0
