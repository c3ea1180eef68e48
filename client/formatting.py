"""IRC formatting codes in message text (bold, italics, underline, colours...) as prompt_toolkit
styled fragments: people on IRC format their lines, and the bundled client shows it.

The codes are read by ``chat.dialects.formatting`` (one parser, the server's); this module only
turns its spans into prompt_toolkit style strings.
"""

from __future__ import annotations

from prompt_toolkit.formatted_text import StyleAndTextTuples

from chat.dialects.formatting import Style, spans


def styled(base: str, text: str) -> StyleAndTextTuples:
    """``text`` as fragments in the ``base`` style, each carrying the formatting it asked for
    (codes removed); plain text is one fragment, ``(base, text)``."""
    return [(base + _style(style), part) for style, part in spans(text)]


def _style(style: Style) -> str:
    words = [name for name in ("bold", "italic", "underline", "strike", "reverse")
             if getattr(style, name)]
    if style.fg:
        words.append(f"fg:#{style.fg}")
    if style.bg:
        words.append(f"bg:#{style.bg}")
    return "".join(" " + word for word in words)
