"""``chat-client``: parse options, run the app, turn every expected failure into one line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import re
import ssl
import sys
from pathlib import Path

from chat import __version__
from chat.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TLS_PORT
from chat.core.names import nick_problem
from chat.tls import client_context
from client.app import ChatApp
from client.config import ConfigError, as_style_rules, config_path, load_config
from client.paste import PASTE_MAX_LINES
from client.style import set_nick_palette

PASSWORD_ENV = "CHAT_PASSWORD"


def default_nick() -> str:
    """The login name, made into a valid nick (people rarely want to type one)."""
    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers
        name = ""
    name = re.sub(r"[^A-Za-z0-9_\-\[\]\\`^{}|]", "", name)[:30]
    return name if name and not nick_problem(name, 30) else "guest"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; options left out are None, so the config file can fill them."""
    p = argparse.ArgumentParser(
        prog="chat-client", description="Full-screen terminal chat client.",
        epilog=f"Settings not given here come from the config file ({config_path()}; "
               "see docs/client.md), then the defaults.")
    p.add_argument("--version", action="version", version=f"chat-client {__version__}")
    p.add_argument("--config", metavar="FILE", type=Path, default=None,
                   help="the config file to read (and to keep /ignore in); default "
                        f"{config_path()}, or under $XDG_CONFIG_HOME when that is set")
    p.add_argument("--host", default=None,
                   help=f"server address (default {DEFAULT_HOST}; config: server)")
    p.add_argument("--port", type=int, default=None,
                   help=f"server port (default {DEFAULT_PORT}, or {DEFAULT_TLS_PORT} with --tls)")
    p.add_argument("--tls", action="store_true", default=None,
                   help="connect with TLS and verify the server's certificate")
    p.add_argument("--ca-file", metavar="PEM",
                   help="trust this CA (for a self-signed or private CA); implies --tls")
    p.add_argument("--nick", default=None, help="your nickname (default: your login name)")
    p.add_argument("--join", action="append", metavar="ROOM", default=None,
                   help="room to join on connect; repeat for more (default #lobby)")
    p.add_argument("--login", nargs="?", const="", default=None, metavar="ACCOUNT",
                   help=f"log in to ACCOUNT (default: your nick) on every connect; the password "
                        f"comes from ${PASSWORD_ENV} or is asked for, never from the command line")
    p.add_argument("--mouse", action="store_true",
                   help="scroll with the mouse wheel (the terminal's own text selection then "
                        "needs Shift)")
    p.add_argument("--log", metavar="FILE", help="write debug logs to FILE")
    return p.parse_args(argv)


def read_password(account: str) -> str | None:
    """``$CHAT_PASSWORD`` if set, else asked for on the terminal (before the full-screen UI);
    None if the user gave up (Ctrl+C, Ctrl+D) or there is no terminal to ask on."""
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    try:
        password = getpass.getpass(f"Password for {account}: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return None
    return password or None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parse_args(argv)
    path = args.config or config_path()
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"chat-client: {exc}", file=sys.stderr)
        return 2
    if args.config is not None and not path.exists():
        print(f"chat-client: no config file {path}", file=sys.stderr)
        return 2
    args.host = args.host or config.server or DEFAULT_HOST
    args.port = args.port if args.port is not None else config.port
    args.nick = args.nick or config.nick
    args.tls = args.tls or bool(config.tls)
    args.ca_file = args.ca_file or config.ca_file
    args.join = args.join or config.join
    nick = args.nick or default_nick()
    problem = nick_problem(nick, 30)
    if problem:
        print(f"chat-client: invalid nickname {nick!r}: {problem}", file=sys.stderr)
        return 2
    use_tls = args.tls or bool(args.ca_file)
    if args.port is None:
        args.port = DEFAULT_TLS_PORT if use_tls else DEFAULT_PORT
    if not 0 < args.port < 65536:
        print(f"chat-client: invalid port {args.port}", file=sys.stderr)
        return 2
    if args.log:
        logging.basicConfig(filename=args.log, level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    else:
        # Log records must never be printed over the full-screen UI.
        logging.basicConfig(handlers=[logging.NullHandler()])
    rooms = [r if r.startswith("#") else "#" + r for r in (args.join or ["#lobby"])]
    account = password = None
    if args.login is not None:
        account = args.login or nick
        password = read_password(account)
        if password is None:
            print(f"chat-client: no password for {account}; set {PASSWORD_ENV} or type it",
                  file=sys.stderr)
            return 2
    context = None
    if use_tls:
        try:
            context = client_context(args.ca_file)
        except (OSError, ssl.SSLError) as exc:
            print(f"chat-client: cannot use CA file {args.ca_file!r}: {exc}", file=sys.stderr)
            return 2
    set_nick_palette(config.nick_colours)
    app = ChatApp(args.host, args.port, nick, rooms, mouse=args.mouse, ssl=context,
                  account=account, password=password, ignore=config.ignore, config_path=path,
                  paste_max_lines=config.paste_max_lines or PASTE_MAX_LINES,
                  sidebar=config.sidebar, style_rules=as_style_rules(config),
                  ca_file=args.ca_file)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C before the UI took the terminal
        asyncio.run(app.run_async())
    return 0


if __name__ == "__main__":
    sys.exit(main())
