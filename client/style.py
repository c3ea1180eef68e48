"""Colours and text styles, in one place so the look can change without touching the layout."""

from __future__ import annotations

import zlib

from prompt_toolkit.styles import Style

# Readable on both dark and light backgrounds; no blue-on-black, no yellow-on-white.
NICK_COLOURS = (
    "ansired", "ansigreen", "ansimagenta", "ansicyan", "ansibrightred", "ansibrightgreen",
    "ansibrightmagenta", "ansibrightcyan", "ansiyellow", "ansibrightblue", "#d78700", "#5f87d7",
)


def nick_colour(nick: str) -> str:
    """The same nick gets the same colour in every room, every run (crc32, not ``hash``)."""
    return NICK_COLOURS[zlib.crc32(nick.lower().encode("utf-8")) % len(NICK_COLOURS)]


def nick_style(nick: str) -> str:
    """Style string for a nick."""
    return f"class:nick fg:{nick_colour(nick)} bold"


STYLE = Style.from_dict({
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
})
