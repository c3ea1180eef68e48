"""Line framing shared by every dialect, the server and the bundled client.

Splitting lines lives here, once, with one length limit, so neither engine splits lines itself
(asyncio's ``readline`` raises at 64 KiB, a socket file's has no limit at all: both are traps).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """Marker yielded in place of a line that exceeded the limit (its bytes were discarded)."""

    limit: int


class LineReader:
    """Turns a byte stream into lines, never buffering more than ``max_line`` bytes.

    Lines end in LF; a CR before the LF is dropped. A line longer than ``max_line`` bytes
    (terminator included) yields one :class:`LineTooLong` and the rest of it, up to the next LF,
    is thrown away as it arrives, so an endless line costs no memory.
    """

    __slots__ = ("_buf", "_discarding", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held so far."""
        return len(self._buf)

    def take_pending(self) -> bytes:
        """Hand back (and forget) the unfinished line: bytes framed before a dialect was known
        go through that dialect's ``filter_bytes`` once it is."""
        pending = bytes(self._buf)
        self._buf.clear()
        return pending

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        """Add received bytes; return every line they complete, in order."""
        out: list[bytes | LineTooLong] = []
        start = 0
        n = len(data)
        while start < n:
            nl = data.find(b"\n", start)
            if nl < 0:
                if self._discarding:
                    return out
                self._buf += data[start:]
                if len(self._buf) >= self.max_line:
                    # Not even a terminator fits any more: report now, drop until the next LF.
                    self._buf.clear()
                    self._discarding = True
                    out.append(LineTooLong(self.max_line))
                return out
            if self._discarding:
                self._discarding = False
            elif len(self._buf) + (nl - start) + 1 > self.max_line:
                self._buf.clear()
                out.append(LineTooLong(self.max_line))
            else:
                if self._buf:
                    self._buf += data[start:nl]
                    line = bytes(self._buf)
                    self._buf.clear()
                else:
                    line = data[start:nl]
                if line.endswith(b"\r"):
                    line = line[:-1]
                out.append(line)
            start = nl + 1
        return out


_IAC, _SB, _SE = 255, 250, 240
_WILL, _WONT, _DO, _DONT = 251, 252, 253, 254
_EC, _EL = 247, 248  # telnet's "erase character" and "erase line" commands
#: What a refusal answers: DO -> WONT (we will not), WILL -> DONT (please don't).
_REFUSAL = {_DO: _WONT, _WILL: _DONT}


class TelnetFilter:
    """Removes telnet IAC sequences (option negotiation, subnegotiation) from a byte stream.

    Telnet clients may send these at any time; they must never reach the line parser or another
    user. Stateful, because a sequence can be split across reads.

    Every option the client asks for (``DO ECHO``, ``WILL NAWS``...) is refused once, in
    ``replies``: a telnet switched to character mode that asked ``DO ECHO`` and heard nothing
    stops echoing what the person types, while one told ``WONT ECHO`` / ``WONT SGA`` goes back
    to line mode, echoing and editing locally. ``IAC EC`` and ``IAC EL`` become the DEL and ^U
    the human dialect's line editing understands.
    """

    __slots__ = ("_answered", "_state", "_sub", "_verb", "replies")

    #: Longest subnegotiation kept track of: real ones (terminal type, window size) are a few
    #: bytes; an ``IAC SB`` never closed must not swallow everything the user types after it.
    MAX_SUBNEGOTIATION = 256

    def __init__(self) -> None:
        self._state = 0  # 0 data, 1 after IAC, 2 expecting option byte, 3 in SB, 4 IAC in SB
        self._sub = 0  # bytes seen inside the current subnegotiation
        self._verb = 0  # WILL/WONT/DO/DONT awaiting its option byte
        #: (verb << 8 | option) refused already, once each; made on first use (most
        #: connections never negotiate, and idle ones are counted in thousands).
        self._answered: set[int] | None = None
        #: Refusals owed to the peer, taken (and cleared) by whoever sends them.
        self.replies = b""

    def feed(self, data: bytes) -> bytes:
        """Bytes in, the same bytes minus telnet commands out."""
        if self._state == 0 and _IAC not in data:
            return data
        out = bytearray()
        state, sub = self._state, self._sub
        for b in data:
            if state == 0:
                if b == _IAC:
                    state = 1
                else:
                    out.append(b)
            elif state == 1:
                if b == _IAC:  # escaped 0xFF data byte: not valid UTF-8 text anyway, drop it
                    state = 0
                elif b in (_WILL, _WONT, _DO, _DONT):
                    state, self._verb = 2, b
                elif b == _SB:
                    state, sub = 3, 0
                else:
                    if b == _EC:
                        out.append(0x7F)
                    elif b == _EL:
                        out.append(0x15)
                    state = 0
            elif state == 2:
                self._refuse(self._verb, b)
                state = 0
            elif state == 3:
                sub += 1
                if b == _IAC:
                    state = 4
                elif sub > self.MAX_SUBNEGOTIATION:
                    state = 0  # never closed: give up on it and take what follows as data
            else:  # state 4
                state = 0 if b == _SE else 3
        self._state, self._sub = state, sub
        return bytes(out)

    def _refuse(self, verb: int, option: int) -> None:
        """Answer DO/WILL with WONT/DONT, once per option (so two peers never loop)."""
        answer = _REFUSAL.get(verb)
        key = verb << 8 | option
        if answer is None:
            return
        if self._answered is None:
            self._answered = set()
        if key not in self._answered:  # at most 512 keys: bounded
            self._answered.add(key)
            self.replies += bytes((_IAC, answer, option))
