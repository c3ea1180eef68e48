"""What a person's terminal sends besides text: line ends, editing keys, escape sequences.

telnet in character mode (``mode character``, and any telnet that got no answer to its
``DO ECHO``) sends every key as it is pressed: Enter as CR NUL, Backspace as DEL or ^H, ^U to
clear the line, and the arrow keys as escape sequences (``ESC [ D``). Here those become what the
person meant: the line ends where they pressed Enter, erased characters are gone, and no escape
sequence reaches anyone as text. Only the human dialect uses this: IRC and JSON lines are
written by programs, where these bytes mean nothing.
"""

from __future__ import annotations

import re


class LineEnds:
    """Every way a terminal ends a line becomes LF, before line framing.

    CR LF (telnet in line mode, nc -C), CR NUL (telnet in character mode: RFC 854's bare
    carriage return), a bare CR (some terminals) and LF each end exactly one line. Stateful,
    because CR and what follows it can arrive in different reads.
    """

    __slots__ = ("_after_cr",)

    def __init__(self) -> None:
        self._after_cr = False  # the last byte seen was a CR (already turned into LF)

    def feed(self, data: bytes) -> bytes:
        """Bytes in, the same bytes with every line end as one LF out."""
        if self._after_cr and data[:1] in (b"\n", b"\x00"):
            data = data[1:]  # the second half of a CR LF or CR NUL split across reads
        if not data:
            return data
        self._after_cr = data[-1] == 0x0D
        if b"\r" not in data:
            return data
        return data.replace(b"\r\n", b"\n").replace(b"\r\x00", b"\n").replace(b"\r", b"\n")


#: Escape sequences a terminal sends for keys that are not text: CSI (``ESC [`` parameters,
#: intermediates, a final byte: the arrows, Home, F5...), SS3 (``ESC O`` and one byte: the
#: arrows and F1-F4 in application mode), 8-bit CSI, and ESC with any one character (Alt+key),
#: each dropped whole so no ``[D`` is left behind. A sequence cut short by Enter goes too.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|O.?|.)?|\x9b[0-?]*[ -/]*[@-~]?", re.DOTALL)
_ERASE = "\x7f\x08"  # Backspace sends DEL or ^H, depending on the terminal
_KILL_LINE = "\x15"  # ^U
_KILL_WORD = "\x17"  # ^W


def edit(text: str) -> str:
    """A line as typed (keys and all) -> the line the person meant.

    Backspace (DEL, ^H) erases the character before it, ^U everything before it, ^W the word
    before it; escape sequences are dropped. Works on characters, not bytes, so erasing an
    ``é`` erases both of its bytes.
    """
    if text.isprintable():
        return text  # nothing typed but text: the usual case, and nc's only one
    text = _ESCAPE.sub("", text)
    out: list[str] = []
    for char in text:
        if char in _ERASE:
            if out:
                out.pop()
        elif char == _KILL_LINE:
            out.clear()
        elif char == _KILL_WORD:
            while out and out[-1] == " ":
                out.pop()
            while out and out[-1] != " ":
                out.pop()
        else:
            out.append(char)
    return "".join(out)
