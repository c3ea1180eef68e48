"""IRCv3 message tags on received lines: reading them (with their escapes), keeping the
client-only ones (``+typing``, ``+draft/reply``...) within the spec's size, and writing them.

Pure functions over text; the dialect decides what to do with them.
"""

from __future__ import annotations

#: Bytes of tag data a client may send (message-tags: 4094, the leading ``@`` and the space
#: excluded); more is refused with 417.
MAX_CLIENT_TAG_DATA = 4094
MAX_LABEL = 64  # bytes in a labeled-response label

_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})

#: Tags as the core carries them: (key, value) pairs, in the order received.
Tags = tuple[tuple[str, str], ...]


def unescape(value: str) -> str:
    """A tag value as sent (``\\s`` for a space...) back to its text; a lone trailing
    backslash is dropped and an unknown escape stands for the character itself."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append(_UNESCAPE.get(following, following))
    return "".join(out)


def escape(value: str) -> str:
    """A tag value as it goes on the wire."""
    return value.translate(_ESCAPE)


def split_tags(raw: str) -> dict[str, str]:
    """``a=b;+c;d=x\\sy`` (without the ``@``) as a dict; a later duplicate key wins, as the
    spec says; an empty key is skipped."""
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        key, _, value = item.partition("=")
        if key:
            tags[key] = unescape(value)
    return tags


def client_only(tags: dict[str, str]) -> Tags:
    """The client-only tags (``+`` prefix) a server relays; keys with characters outside the
    spec's set are dropped."""
    return tuple((key, value) for key, value in tags.items()
                 if key.startswith("+") and _valid_key(key[1:]))


def _valid_key(key: str) -> bool:
    # vendor/name: letters, digits, hyphens, and one slash-separated vendor (dots allowed).
    return bool(key) and key.isascii() and all(
        ch.isalnum() or ch in "-./" for ch in key)


def format_tags(tags: Tags) -> str:
    """``key=value;key`` for an outgoing line (a tag with an empty value goes bare)."""
    return ";".join(f"{key}={escape(value)}" if value else key for key, value in tags)
