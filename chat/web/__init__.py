"""The bundled web client: a page, a script and a style sheet shipped inside the package.

The HTTP dialect serves them at ``/`` (and the few paths below), and nothing else: the table
:data:`FILES` is the whole list, so no request path ever reaches the file system (no traversal,
no directory listing). The files are read once, from the installed package, and kept in memory;
each is bounded by :data:`MAX_FILE`. The page speaks the structured JSON dialect over a
WebSocket to the same host and port (``chat.json`` subprotocol); see docs/web.md.

Every response for these files carries a strict Content-Security-Policy: scripts and styles
only from this origin (no inline script, no ``eval``), no frames, no plugins, connections only
back to this server. The script writes what users send with ``textContent`` only; the policy is
the second line of defence should that ever slip.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

#: URL path -> (file in ``static/``, content type). Only these paths are ever served.
FILES: dict[bytes, tuple[str, str]] = {
    b"/": ("index.html", "text/html; charset=utf-8"),
    b"/index.html": ("index.html", "text/html; charset=utf-8"),
    b"/app.js": ("app.js", "text/javascript; charset=utf-8"),
    b"/style.css": ("style.css", "text/css; charset=utf-8"),
    b"/favicon.svg": ("favicon.svg", "image/svg+xml"),
    b"/favicon.ico": ("favicon.svg", "image/svg+xml"),
}
#: A shipped file larger than this is a packaging mistake, not something to send.
MAX_FILE = 256 * 1024

#: A Host header we are willing to echo into the policy (name or address, optional port).
_SAFE_HOST = re.compile(r"([A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?")


class MissingFile(Exception):
    """The web client's files are not in the installed package (a broken install)."""


@functools.cache
def _read(name: str) -> bytes:
    data = resources.files(__name__).joinpath("static", name).read_bytes()
    if len(data) > MAX_FILE:
        raise MissingFile(f"{name} is {len(data)} bytes, over the {MAX_FILE} bound")
    return data


def static_file(path: bytes) -> tuple[bytes, str] | None:
    """The body and content type for ``path``, or None if it is not one of :data:`FILES`.

    Raises :class:`MissingFile` when the path is known but the package lacks the file.
    """
    known = FILES.get(path)
    if known is None:
        return None
    name, content_type = known
    try:
        return _read(name), content_type
    except OSError as exc:
        raise MissingFile(f"{name}: {exc.strerror or exc}") from None


def security_headers(host: str | None) -> tuple[tuple[str, str], ...]:
    """The headers every web-client file is sent with (CSP, no sniffing, no framing).

    ``connect-src 'self'`` covers ws:/wss: to this origin in CSP Level 3 browsers; the
    explicit ``ws://host wss://host`` is for older ones, added only for a plain host name.
    """
    connect = "'self'"
    if host and _SAFE_HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
              f"connect-src {connect}; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return (("Content-Security-Policy", policy), ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"))
