"""The client's config file: ``$XDG_CONFIG_HOME/chat-client/config.toml`` (by default
``~/.config/chat-client/config.toml``).

It holds what a person would otherwise type on every start (server, port, nick, TLS, rooms), the
ignore list (``/ignore`` writes it back here) and colours. Command-line options win over the file.
A missing file is no error; a file with a mistake is one line naming the file and the key (with a
"did you mean" for a misspelt key), never a traceback. Example::

    server = "chat.example.org"
    port = 6697
    nick = "alice"
    tls = true                  # or ca_file = "~/ca.pem" (implies tls)
    join = ["#lobby", "#dev"]
    ignore = ["spammer", "bot*"]
    paste_max_lines = 3         # longer pastes are confirmed first
    sidebar = true              # F2 hides it

    [colours]
    nicks = ["ansired", "#ff8700", "#5fafff"]   # the nick palette
    timestamp = "ansiblue"                      # any style class of client/style.py
    "message.mention" = "bg:#5f0000 fg:ansiwhite"
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prompt_toolkit.styles import Style
from prompt_toolkit.styles.style import parse_color

from client.style import STYLE_RULES

APP_DIR = "chat-client"
FILE_NAME = "config.toml"
MAX_LIST = 1000  # entries in join/ignore/nicks: a config file is written by hand


class ConfigError(Exception):
    """The config file cannot be used; the message is the one line to show."""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file is: under ``$XDG_CONFIG_HOME`` when that is set to an absolute
    path (the XDG rule), else under ``~/.config``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home(),
                                                               ".config")
    return root / APP_DIR / FILE_NAME


@dataclass(slots=True)
class ClientConfig:
    """What the file said (None: not said, the command line or the default decides)."""

    path: Path | None = None
    server: str | None = None
    port: int | None = None
    nick: str | None = None
    tls: bool | None = None
    ca_file: str | None = None
    join: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    paste_max_lines: int | None = None
    sidebar: bool = True
    nick_colours: tuple[str, ...] | None = None
    colours: dict[str, str] = field(default_factory=dict)  # style class -> style string


_SCALARS: dict[str, type] = {"server": str, "port": int, "nick": str, "tls": bool, "ca_file": str,
                             "paste_max_lines": int, "sidebar": bool}
_LISTS = ("join", "ignore")
KEYS = (*_SCALARS, *_LISTS, "colours")


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _string_list(path: Path, key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of strings, like [\"a\", \"b\"]")
    if len(value) > MAX_LIST:
        raise ConfigError(f"{path}: {key} has more than {MAX_LIST} entries")
    return list(value)


def load_config(path: Path) -> ClientConfig:
    """Read and check the file at ``path``; a missing file gives the defaults."""
    config = ClientConfig(path=path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return config
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown setting {key!r}{_did_you_mean(key, list(KEYS))}")
        if key in _SCALARS:
            want = _SCALARS[key]
            # TOML booleans are not integers here, whatever Python thinks.
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise ConfigError(f"{path}: {key} must be {_TYPE_WORDS[want]}, not {value!r}")
            setattr(config, key, value)
        elif key in _LISTS:
            setattr(config, key, _string_list(path, key, value))
        else:
            _colours(path, value, config)
    if config.port is not None and not 0 < config.port < 65536:
        raise ConfigError(f"{path}: port must be between 1 and 65535, not {config.port}")
    if config.paste_max_lines is not None and config.paste_max_lines < 1:
        raise ConfigError(f"{path}: paste_max_lines must be 1 or more")
    if config.ca_file:
        config.ca_file = os.path.expanduser(config.ca_file)
    return config


_TYPE_WORDS: dict[type, str] = {str: "a string in quotes", int: "a whole number",
                                bool: "true or false"}


def _colours(path: Path, value: object, config: ClientConfig) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: colours must be a table: [colours]")
    for name, style in value.items():
        if name == "nicks":
            palette = _string_list(path, "colours.nicks", style)
            if not palette:
                raise ConfigError(f"{path}: colours.nicks needs at least one colour")
            for colour in palette:
                try:
                    parse_color(colour)
                except ValueError:
                    raise ConfigError(f"{path}: colours.nicks: {colour!r} is not a colour "
                                      "(ansired, #ff8700, ...)") from None
            config.nick_colours = tuple(palette)
            continue
        if name not in STYLE_RULES:
            raise ConfigError(f"{path}: unknown colour {name!r}"
                              f"{_did_you_mean(name, [*STYLE_RULES, 'nicks'])}")
        if not isinstance(style, str):
            raise ConfigError(f"{path}: colours.{name} must be a style string in quotes")
        try:
            Style.from_dict({name: style})
        except (ValueError, AssertionError) as exc:
            raise ConfigError(f"{path}: colours.{name}: {style!r} is not a style ({exc})") from None
        config.colours[name] = style


_IGNORE_LINE = re.compile(r"^\s*ignore\s*=")
_TABLE_LINE = re.compile(r"^\s*\[")


def save_ignore(path: Path, ignore: list[str]) -> None:
    """Write the ignore list into the file, keeping every other line (and comment) as it is:
    the ``ignore = [...]`` line is replaced, or added before the first table."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    new = "ignore = [" + ", ".join(json.dumps(n) for n in ignore) + "]"
    start = next((i for i, line in enumerate(lines) if _IGNORE_LINE.match(line)), None)
    if start is not None:
        end = start
        depth = lines[start].count("[") - lines[start].count("]")
        while depth > 0 and end + 1 < len(lines):  # a list written over several lines
            end += 1
            depth += lines[end].count("[") - lines[end].count("]")
        lines[start:end + 1] = [new]
    else:
        at = next((i for i, line in enumerate(lines) if _TABLE_LINE.match(line)), len(lines))
        lines.insert(at, new)
    text = "\n".join(lines) + "\n"
    try:
        written = tomllib.loads(text).get("ignore")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot update {path}: {exc}") from None
    if written != ignore:
        raise ConfigError(f"cannot update the ignore list in {path}: edit it by hand")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from None


def as_style_rules(config: ClientConfig) -> dict[str, Any]:
    """The style rules with the file's colours over the defaults."""
    return {**STYLE_RULES, **config.colours}
