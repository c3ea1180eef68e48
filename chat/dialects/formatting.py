"""IRC text formatting (bold, italics, colours...) as it arrives in message text: stripped for
readers that cannot show it (telnet), read into styled spans for those that can (the bundled
client). The codes travel unchanged through the core, as part of the text.

Codes (modern.ircdocs.horse/formatting): ``\\x02`` bold, ``\\x1d`` italics, ``\\x1f``
underline, ``\\x1e`` strikethrough, ``\\x11`` monospace, ``\\x16`` reverse, ``\\x0f`` reset,
``\\x03`` colour with up to two digits of foreground and optionally ``,`` and two digits of
background, ``\\x04`` hex colour (``RRGGBB[,RRGGBB]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

#: One formatting code, with a colour code's numbers.
_CODE = re.compile(
    r"\x03(?:(\d{1,2})(?:,(\d{1,2}))?)?"
    r"|\x04(?:([0-9a-fA-F]{6})(?:,([0-9a-fA-F]{6}))?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]")
_TOGGLES = {"\x02": "bold", "\x1d": "italic", "\x1f": "underline", "\x1e": "strike",
            "\x11": "monospace", "\x16": "reverse"}
#: The 16 standard IRC colours (0-15) as hex, for readers that draw them.
COLOURS = ("ffffff", "000000", "00007f", "009300", "ff0000", "7f0000", "9c009c", "fc7f00",
           "ffff00", "00fc00", "009393", "00ffff", "0000fc", "ff00ff", "7f7f7f", "d2d2d2")


_ANY_CODE = re.compile(r"[\x02-\x04\x0f\x11\x16\x1d-\x1f]")


def strip(text: str) -> str:
    """``text`` without formatting codes (and without a colour code's numbers)."""
    if _ANY_CODE.search(text) is None:
        return text
    return _CODE.sub("", text)


@dataclass(frozen=True, slots=True)
class Style:
    """What formatting applies to one span of text (colours as ``rrggbb`` or "")."""

    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False
    monospace: bool = False
    reverse: bool = False
    fg: str = ""
    bg: str = ""


PLAIN = Style()


def spans(text: str) -> list[tuple[Style, str]]:
    """``text`` as (style, text) spans in order, codes removed; plain text is one span."""
    out: list[tuple[Style, str]] = []
    style = PLAIN
    pos = 0
    for match in _CODE.finditer(text):
        if match.start() > pos:
            out.append((style, text[pos:match.start()]))
        pos = match.end()
        code = match.group(0)[0]
        if code == "\x0f":
            style = PLAIN
        elif code in _TOGGLES:
            attr = _TOGGLES[code]
            flipped: dict[str, bool] = {attr: not getattr(style, attr)}
            style = replace(style, **flipped)  # type: ignore[arg-type]
        elif code == "\x03":
            fg, bg = match.group(1), match.group(2)
            if fg is None:
                style = replace(style, fg="", bg="")
            else:
                style = replace(style, fg=_colour(fg),
                                bg=_colour(bg) if bg is not None else style.bg)
        else:  # \x04 hex colour
            fg, bg = match.group(3), match.group(4)
            if fg is None:
                style = replace(style, fg="", bg="")
            else:
                style = replace(style, fg=fg.lower(),
                                bg=bg.lower() if bg is not None else style.bg)
    if pos < len(text):
        out.append((style, text[pos:]))
    return out


def _colour(number: str) -> str:
    index = int(number)
    return COLOURS[index] if index < len(COLOURS) else ""  # 99: the default colour
