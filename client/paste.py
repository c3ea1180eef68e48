"""Multi-line pastes: each line is its own message, and a long paste is confirmed first.

A terminal delivers a bracketed paste as one key event with the lines inside it. Put in the
single-line input box, they ran together into one message. Here a paste of one line is typed
into the box as usual; a paste of several lines is sent line by line to the conversation that
was on screen, as text (a pasted line starting with ``/`` is not run as a command), after a
yes/no question when it has more than ``max_lines`` lines, as weechat asks. Lines go out paced
(a burst, then a few a second) so a long paste never trips the server's flood limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

PASTE_MAX_LINES = 3  # pastes longer than this are confirmed first (weechat: paste_max_lines)
PASTE_LIMIT = 1000  # a paste longer than this is refused whole: that is a file, not a chat line
PASTE_BURST = 10  # lines sent at once...
PASTE_INTERVAL = 0.25  # ...then one every this many seconds (under the server's rate limit)


def split_paste(data: str) -> list[str]:
    """The pasted lines, whatever the line ends (``\\r\\n``, ``\\r``, ``\\n``); one trailing line
    end (copying a whole line usually takes it) does not make an extra line."""
    text = data.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


@dataclass(slots=True)
class Paste:
    """Lines waiting to be sent (or confirmed): where to, and whether the first was typed as a
    command before the paste (``/msg bob `` then a paste: that line runs as typed)."""

    lines: list[str]
    conversation: str  # key of the conversation on screen when the paste came
    first_is_command: bool = False


async def send_paced(paste: Paste, send_one: Callable[[str, bool], bool],
                     burst: int = PASTE_BURST, interval: float = PASTE_INTERVAL,
                     sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> int:
    """Send each line with ``send_one(line, as_command)``; stops at the first that fails.
    Returns how many were sent."""
    for n, line in enumerate(paste.lines):
        if n >= burst:
            await sleep(interval)
        if not send_one(line, n == 0 and paste.first_is_command):
            return n
    return len(paste.lines)
