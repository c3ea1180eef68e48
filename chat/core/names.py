"""Nick and room names: what is allowed and when two names are the same.

Names are ASCII-only on purpose: it rules out look-alike names made with Unicode tricks
(Cyrillic 'а' for Latin 'a', which NFKC does not fold) and it is what every IRC client handles.
Comparison is ASCII case-insensitive (IRC ``CASEMAPPING=ascii``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from chat.wire.names import fold  # re-exported: the core's callers import it from here

NICK_SPECIAL = "-_[]\\`^{}|"
_NICK_RE = re.compile(r"[A-Za-z_\[\]\\`^{}|][A-Za-z0-9_\-\[\]\\`^{}|]*\Z")
_ROOM_RE = re.compile(r"#[A-Za-z0-9_\-.+!@$%&*=~^]+\Z")

# Characters IRC users use for bold/colour/hex colour/reset/monospace/reverse/italics/
# strikethrough/underline; harmless in text (telnet readers get them stripped).
_FORMATTING = {0x02, 0x03, 0x04, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F}
# Every other C0 control, DEL and the C1 block (which includes the 8-bit escape CSI) goes.
_STRIP: dict[int, str | None] = {
    c: None for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in _FORMATTING
}
_STRIP[0x09] = " "  # a tab is spacing, not an attack
# Line and paragraph separators break lines in some terminals and clients.
_STRIP[0x2028] = " "
_STRIP[0x2029] = " "


def nick_problem(nick: str, max_len: int) -> str | None:
    """Why ``nick`` is not acceptable, or None if it is."""
    if not nick:
        return "A nickname cannot be empty"
    if len(nick) > max_len:
        return f"A nickname is at most {max_len} characters"
    if not _NICK_RE.match(nick):
        return (
            "A nickname uses letters, digits and - _ [ ] \\ ` ^ { } |, "
            "and does not start with a digit or -"
        )
    return None


def room_problem(room: str, max_len: int) -> str | None:
    """Why ``room`` is not an acceptable room name, or None if it is."""
    if not room.startswith("#"):
        return "A room name starts with #, like #lobby"
    if len(room) > max_len:
        return f"A room name is at most {max_len} characters"
    if not _ROOM_RE.match(room):
        return "A room name is # followed by letters, digits and - _ . + ! @ $ % & * = ~ ^"
    return None


# Code points no encoder should be handed: lone surrogates (a JSON "\\ud800" escape decodes to
# one, and UTF-8 cannot encode it) and the Unicode non-characters, which are never text.
_UNENCODABLE = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)


def unencodable(text: str) -> bool:
    """True if ``text`` holds a lone surrogate or a non-character.

    Such input is refused where it enters: relayed, it would fail (or mean nothing) when
    encoded for every other client that sees it.
    """
    return text.isascii() is False and _UNENCODABLE.search(text) is not None


def clean_text(text: str) -> str:
    """Text safe to relay: no control bytes a terminal or a line parser would act on.

    CR, LF, NUL, ESC and the rest of C0/C1 are removed (tabs become spaces) so nothing a client
    sends can start a new protocol line or drive another user's terminal.
    """
    if text.isprintable():
        return text
    return text.translate(_STRIP)


_IDENT_BAD = re.compile(r"[^A-Za-z0-9._~/\-]")


def clean_ident(ident: str) -> str:
    """A user name safe inside ``nick!ident@host``: no spaces, ``@``, ``!`` or ``:``.

    IRC clients parse hostmasks, so an ident from any dialect must not break them.
    """
    return _IDENT_BAD.sub("", ident)


def normalize_mask(mask: str) -> str:
    """A ban mask in full ``nick!ident@host`` form (``bob`` -> ``bob!*@*``), as IRC servers do."""
    mask = mask.strip()
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask


#: Masks longer than this are refused (WHO) or rejected (bans): a mask is a handful of
#: characters in practice, and the bound keeps every match cheap.
MAX_MASK = 128


_Piece = tuple[str | re.Pattern[str], int]  # a literal or a ``?`` pattern, and its width


@lru_cache(maxsize=512)
def _compile(mask: str) -> tuple[tuple[_Piece, ...], bool, bool]:
    """A glob split at its stars: literal pieces (or a small pattern when a piece has ``?``).

    Returns the pieces and whether the mask starts/ends with ``*``; runs of stars collapse.
    Matching then needs no backtracking across stars: taking each piece at its leftmost
    occurrence is exact for ``*`` globs, so the cost stays linear in the text per piece.
    """
    folded = fold(mask)
    pieces: list[_Piece] = []
    for part in folded.split("*"):
        if not part:
            continue
        if "?" in part:
            regex = "".join("." if ch == "?" else re.escape(ch) for ch in part)
            pieces.append((re.compile(regex, re.DOTALL), len(part)))
        else:
            pieces.append((part, len(part)))
    return tuple(pieces), folded.startswith("*"), folded.endswith("*")


def _at(piece: _Piece, text: str, pos: int, end: int) -> bool:
    """Whether ``piece`` occurs at ``pos`` and ends by ``end``."""
    what, width = piece
    if pos + width > end:
        return False
    if isinstance(what, str):
        return text.startswith(what, pos)
    return what.match(text, pos, end) is not None


def _find(piece: _Piece, text: str, pos: int, end: int) -> int:
    """Where ``piece`` first occurs in ``text[pos:end]`` (-1 if nowhere)."""
    what = piece[0]
    if isinstance(what, str):
        return text.find(what, pos, end)
    found = what.search(text, pos, end)  # a fixed-width pattern: no backtracking
    return -1 if found is None else found.start()


def mask_match(mask: str, text: str) -> bool:
    """True if ``text`` matches the IRC glob ``mask`` (``*``, ``?``), case-insensitively.

    Linear-time (no regex over the whole mask): ``*a*a*a*...*b`` against ``aaaa...`` is as
    cheap as any other mask, so no mask a user can send stalls the server.
    """
    pieces, open_start, open_end = _compile(mask)
    text = fold(text)
    end = len(text)
    if not pieces:
        return open_start or not text  # "" matches only ""; "*" (any run of stars) anything
    first, last, pos = 0, len(pieces), 0
    if not open_start:
        if not _at(pieces[0], text, 0, end):
            return False
        first, pos = 1, pieces[0][1]
        if last == 1 and not open_end:
            return pos == end
    if not open_end and first < last:
        tail = pieces[-1]
        tail_at = end - tail[1]
        if tail_at < pos or not _at(tail, text, tail_at, end):
            return False
        last, end = last - 1, tail_at
    for piece in pieces[first:last]:
        found = _find(piece, text, pos, end)
        if found < 0:
            return False
        pos = found + piece[1]
    return True
