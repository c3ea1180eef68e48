"""Colours and text styles, in one place so the look can change without touching the layout."""

from __future__ import annotations

import zlib

from prompt_toolkit.styles import Style

# 36 colours of the xterm 256-colour cube, each readable on a black and on a white background
# (contrast at least 4:1 against black and 2.6:1 against white, no greys), picked one by one as
# far as possible (CIELAB distance) from those already picked. With 12 colours two of three
# people shared one in almost a quarter of rooms; with 36 it is about one room in twelve
# (tests/client/test_client_look.py measures it).
NICK_COLOURS: tuple[str, ...] = (
    "#d75f5f", "#00af00", "#af00ff", "#0087d7", "#ff00af", "#af8700", "#00875f", "#ff0000",
    "#005fff", "#af5fd7", "#d75f00", "#5f8700", "#ff005f", "#d75faf", "#d700d7", "#00afaf",
    "#5f87ff", "#00af5f", "#0087af", "#d7875f", "#d75f87", "#ff0087", "#af5fff", "#008700",
    "#ff5fd7", "#d78700", "#af5f00", "#878700", "#ff5f5f", "#d7005f", "#ff5f00", "#ff5f87",
    "#5faf00", "#5f5fd7", "#af87ff", "#d70087",
)
_palette: tuple[str, ...] = NICK_COLOURS


def set_nick_palette(palette: tuple[str, ...] | None) -> None:
    """Use the config file's nick colours (None: the built-in palette)."""
    global _palette
    _palette = palette or NICK_COLOURS


def nick_colour(nick: str, palette: tuple[str, ...] | None = None) -> str:
    """The same nick gets the same colour in every room, every run (crc32, not ``hash``)."""
    colours = palette or _palette
    return colours[zlib.crc32(nick.lower().encode("utf-8")) % len(colours)]


def nick_style(nick: str) -> str:
    """Style string for a nick."""
    return f"class:nick fg:{nick_colour(nick)} bold"


# Style classes and their default looks; the config file's [colours] table overrides any of them.
STYLE_RULES: dict[str, str] = {
    "timestamp": "ansibrightblack",
    "nick": "bold",
    "message": "",
    "message.own": "",
    "message.mention": "bg:#5f0000 fg:ansiwhite",
    "action": "italic",
    "event": "ansibrightblack",  # join/part/quit/nick lines
    "event.topic": "ansicyan",
    "notice": "ansiyellow",
    "info": "ansibrightblack italic",
    "error": "ansired bold",
    "scroll-hint": "reverse",
    "history": "dim",  # lines replayed from history, not seen live
    "day-separator": "ansibrightblack bold",
    "history-edge": "ansibrightblack italic",  # "beginning of history" / "loading older lines"
    "unread-marker": "ansired",  # above the first line not seen yet
    "sidebar": "bg:#1c1c1c",
    "sidebar.title": "bold underline",
    "sidebar.entry": "",
    "sidebar.entry.current": "reverse bold",
    "sidebar.entry.parted": "ansibrightblack",
    "sidebar.unread": "ansiyellow bold",
    "sidebar.mention": "ansired bold",
    "sidebar.op": "ansigreen bold",
    "status": "bg:#303030 fg:#d0d0d0",
    "status.connected": "bg:#303030 fg:ansigreen bold",
    "status.connecting": "bg:#303030 fg:ansiyellow bold",
    "status.disconnected": "bg:#303030 fg:ansired bold",
    "status.nick": "bg:#303030 fg:ansiwhite bold",
    "status.account": "bg:#303030 fg:ansigreen",
    "status.room": "bg:#303030 fg:ansicyan bold",
    "status.topic": "bg:#303030 fg:#d0d0d0",
    "status.left": "bg:#303030 fg:ansiyellow",
    "prompt": "bold",
    "question": "bg:ansiyellow fg:ansiblack",
    "question.keys": "bg:ansiyellow fg:ansiblack bold",
    "separator": "ansibrightblack",
}
STYLE = Style.from_dict(STYLE_RULES)
