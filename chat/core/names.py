"""Nick and room names: what is allowed and when two names are the same.

Names are ASCII-only on purpose: it rules out look-alike names made with Unicode tricks
(Cyrillic 'а' for Latin 'a', which NFKC does not fold) and it is what every IRC client handles.
Comparison is ASCII case-insensitive (IRC ``CASEMAPPING=ascii``).
"""

from __future__ import annotations

import re

from chat.wire.names import fold  # re-exported: the core's callers import it from here

NICK_SPECIAL = "-_[]\\`^{}|"
_NICK_RE = re.compile(r"[A-Za-z_\[\]\\`^{}|][A-Za-z0-9_\-\[\]\\`^{}|]*\Z")
_ROOM_RE = re.compile(r"#[A-Za-z0-9_\-.+!@$%&*=~^]+\Z")

# Characters IRC users use for bold/colour/italics/underline/reset/reverse; harmless in text.
_FORMATTING = {0x02, 0x03, 0x0F, 0x16, 0x1D, 0x1E, 0x1F}
# Every other C0 control, DEL and the C1 block (which includes the 8-bit escape CSI) goes.
_STRIP: dict[int, str | None]  # code point -> replacement, for str.translate
_STRIP = {c: None for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in _FORMATTING}
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


def _glob(mask: str) -> re.Pattern[str]:
    # Only * and ? are wildcards: nicks contain [ ] which fnmatch would treat as a class.
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in fold(mask))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def mask_match(mask: str, text: str) -> bool:
    """True if ``text`` matches the IRC glob ``mask`` (``*``, ``?``), case-insensitively."""
    return _glob(mask).match(fold(text)) is not None
