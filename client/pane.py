"""The message pane: a conversation's lines, wrapped, pinned to the bottom unless scrolled back.

A custom control rather than a ``Window`` over a text control, because prompt_toolkit scrolls
to keep a cursor visible, and a chat log has no cursor: it has "the newest line at the bottom"
or "where the user scrolled to". We wrap and slice the rows ourselves, so new messages never
move the view while the user reads history, and PageUp/PageDown move by whole screens.

The scroll position is the line at the bottom of the view (the object, not its index), so
history lines inserted above it never move what the user is reading. A day separator row goes
between lines of different local days; above the oldest line a row says whether older lines are
loading or there are none. Paging up onto the oldest line calls ``on_top`` (the app asks the
server for an older page there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout.controls import UIContent, UIControl
from prompt_toolkit.mouse_events import MouseEvent, MouseEventType
from prompt_toolkit.utils import get_cwidth

from chat.dialects.formatting import strip
from client.formatting import styled
from client.model import ChatModel, Conversation, Line
from client.style import nick_style

INDENT = 6  # continuation rows start under the text, after "HH:MM "
_MARKERS = {"join": "-->", "part": "<--", "quit": "<--", "nick": "---", "topic": "---"}


def day_separator(ts: datetime) -> str:
    """The row between lines of different days: ``─── Monday 30 November 2026 ───``."""
    return f"─── {ts:%A} {ts.day} {ts:%B %Y} ───"


def unread_marker(width: int) -> str:
    """The row above the first line not seen yet."""
    return ("─── unread " + "─" * width)[:width]


def render_line(line: Line) -> StyleAndTextTuples:
    """One logical line as styled fragments (not yet wrapped); history lines are dimmed."""
    out = _render_line(line)
    if line.history:
        out = [(style + " class:history", text) for style, text, *_ in out]
    return out


def _render_line(line: Line) -> StyleAndTextTuples:
    out: StyleAndTextTuples = [("class:timestamp", line.ts.strftime("%H:%M") + " ")]
    nick = line.nick or ""
    if line.kind == "message":
        body = "class:message.mention" if line.mention else "class:message"
        out += [("class:nick", "<"), (nick_style(nick), nick), ("class:nick", "> "),
                *styled(body, line.text)]
    elif line.kind == "action":
        body = "class:action class:message.mention" if line.mention else "class:action"
        out += [("class:action", "* "), (nick_style(nick) + " italic", nick),
                *styled(body, " " + line.text)]
    elif line.kind == "notice":
        who = f"-{nick}- " if nick else "-!- "
        out += [("class:notice", who), *styled("class:notice", line.text)]
    elif line.kind in _MARKERS:
        style = "class:event.topic" if line.kind == "topic" else "class:event"
        out += styled(style, _MARKERS[line.kind] + " " + line.text)
    elif line.kind == "error":
        out += [("class:error", "!!! " + line.text)]
    else:
        out += [("class:info", "  " + strip(line.text))]
    return out


# What counts as a URL when wrapping: kept whole on one row whenever it fits on one.
URL_RE = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"\S+|\s+")


def wrap(
    fragments: StyleAndTextTuples, width: int, indent: int = INDENT
) -> list[StyleAndTextTuples]:
    """Split fragments into rows at most ``width`` cells wide, at spaces, continuation rows
    indented.

    A word is only split when it is longer than a whole continuation row. A URL is never split
    while it fits on a row: it moves to a row of its own, unindented if that is what it takes
    (so it can be selected and opened whole); only a URL longer than the pane itself is split,
    and then its rows are unindented too.
    """
    width = max(width, indent + 10)
    styled = [(style, ch) for style, text, *_ in fragments for ch in text]
    text = "".join(ch for _, ch in styled)
    urls = [m.span() for m in URL_RE.finditer(text)]
    rows: list[StyleAndTextTuples] = []
    row: StyleAndTextTuples = []
    used = 0
    has_text = False  # the row holds more than its indent

    def put(start: int, end: int) -> None:
        nonlocal used, has_text
        for style, ch in styled[start:end]:
            if row and row[-1][0] == style:
                row[-1] = (style, row[-1][1] + ch)
            else:
                row.append((style, ch))
            used += get_cwidth(ch)
        has_text = True

    def new_row(pad: int = indent) -> None:
        nonlocal row, used, has_text
        rows.append(row)
        row, used, has_text = ([("", " " * pad)] if pad else []), pad, False

    for match in _TOKEN_RE.finditer(text):
        start, end = match.span()
        w = get_cwidth(match.group())
        if match.group().isspace():
            if used + w <= width:
                put(start, end)
            elif has_text:
                new_row()  # the break goes here; the spaces are dropped
            continue
        if used + w <= width:
            put(start, end)
            continue
        is_url = any(a <= start < b for a, b in urls)
        if w <= width - indent:
            if has_text:
                new_row()
            put(start, end)
        elif is_url and w <= width:
            new_row(0)
            put(start, end)
        else:
            if is_url and (has_text or used):
                new_row(0)
            pad = 0 if is_url else indent
            for i in range(start, end):  # longer than any row: split it
                cw = get_cwidth(text[i])
                if used + cw > width:
                    new_row(pad)
                put(i, i + 1)
    rows.append(row)
    return rows


class MessagePane(UIControl):
    """Draws the model's current conversation; remembers a scroll position per conversation."""

    def __init__(self, model: ChatModel,
                 on_top: Callable[[Conversation], object] | None = None) -> None:
        self.model = model
        self.on_top = on_top
        # conversation key -> the line shown at the bottom; absent means "follow".
        self._bottom: dict[str, Line] = {}
        self._hint: dict[str, int] = {}  # where that line was last found
        self.width = 80
        self.height = 24

    # -- scrolling -------------------------------------------------------------------------

    def is_pinned(self, conv: Conversation | None = None) -> bool:
        """Whether the pane follows new messages for ``conv`` (default: the current one)."""
        return (conv or self.model.current).key not in self._bottom

    def bottom_index(self, conv: Conversation) -> int | None:
        """Index of the line at the bottom of the view; None when following new lines."""
        line = self._bottom.get(conv.key)
        if line is None:
            return None
        lines = conv.lines
        hint = self._hint.get(conv.key, -1)
        if not (0 <= hint < len(lines) and lines[hint] is line):
            # Lines were inserted above it (history) or dropped: find it again.
            hint = next((i for i, x in enumerate(lines) if x is line), -1)
        if hint < 0 or hint >= len(lines) - 1:  # gone, or the newest line: follow again
            self.forget(conv.key)
            return None
        self._hint[conv.key] = hint
        return hint

    def _set_bottom(self, conv: Conversation, index: int) -> None:
        self._bottom[conv.key] = conv.lines[index]
        self._hint[conv.key] = index

    def _line_rows(self, conv: Conversation, i: int, width: int) -> list[StyleAndTextTuples]:
        """Line ``i`` wrapped, after a day separator (or, for the oldest, the top row)."""
        lines = conv.lines
        rows = wrap(render_line(lines[i]), width)
        if i > 0 and lines[i - 1] is conv.read_marker:
            rows.insert(0, [("class:unread-marker", unread_marker(width))])
        if i > 0 and lines[i - 1].ts.date() != lines[i].ts.date():
            rows.insert(0, [("class:day-separator", day_separator(lines[i].ts)[:width])])
        elif i == 0 and conv.kind == "room":
            if conv.loading_older:
                rows.insert(0, [("class:history-edge", "─── loading older lines… ───"[:width])])
            elif conv.history_start:
                rows.insert(0, [("class:history-edge", "─── beginning of history ───"[:width])])
        return rows

    def _rows(self, conv: Conversation, i: int) -> int:
        return len(self._line_rows(conv, i, self.width))

    def page_up(self) -> None:
        """Back by a screen, stopping when the oldest line is at the top (which asks for more)."""
        conv = self.model.current
        lines: Sequence[Line] = conv.lines
        if not lines:
            self._reached_top(conv)
            return
        bottom = self.bottom_index(conv)
        bottom = len(lines) - 1 if bottom is None else bottom
        page = max(1, self.height - 2)
        rows = 0
        i = bottom
        while i > 0 and rows < page:
            rows += self._rows(conv, i)
            i -= 1
        # Never scroll so far that the screen would not be full.
        first_full, rows = 0, 0
        for j in range(len(lines)):
            rows += self._rows(conv, j)
            if rows >= self.height - 1:
                first_full = j
                break
        else:
            self._reached_top(conv)  # everything fits: nothing to scroll, but maybe older lines
            return
        self._set_bottom(conv, max(i, first_full))
        if i <= first_full:
            self._reached_top(conv)

    def _reached_top(self, conv: Conversation) -> None:
        if self.on_top is not None and conv.kind == "room":
            self.on_top(conv)

    def page_down(self) -> None:
        """Forward by a screen; reaching the newest line pins the view again."""
        conv = self.model.current
        bottom = self.bottom_index(conv)
        if bottom is None:
            return
        page = max(1, self.height - 2)
        rows = 0
        i = bottom
        while i < len(conv.lines) - 1 and rows < page:
            i += 1
            rows += self._rows(conv, i)
        if i >= len(conv.lines) - 1:
            self.forget(conv.key)
        else:
            self._set_bottom(conv, i)

    def scroll_to_top(self) -> None:
        """Show the oldest loaded lines (and, in a room, ask for older ones)."""
        conv = self.model.current
        rows = 0
        for j in range(len(conv.lines)):
            rows += self._rows(conv, j)
            if rows >= self.height - 1:
                if j < len(conv.lines) - 1:
                    self._set_bottom(conv, j)
                break
        self._reached_top(conv)

    def scroll_to_end(self) -> None:
        """Follow new messages again."""
        self.forget(self.model.current.key)

    def forget(self, key: str) -> None:
        """Drop the scroll position of a conversation (cleared or closed)."""
        self._bottom.pop(key, None)
        self._hint.pop(key, None)

    # -- drawing -----------------------------------------------------------------------------

    def visible_rows(self, width: int, height: int) -> list[StyleAndTextTuples]:
        """Exactly ``height`` rows (older ones above, padding at the top) for the current view."""
        conv = self.model.current
        lines = conv.lines
        bottom = self.bottom_index(conv)
        room = height - (1 if bottom is not None else 0)
        rows: list[StyleAndTextTuples] = []
        i = len(lines) - 1 if bottom is None else bottom
        while i >= 0 and len(rows) < room:
            rows[:0] = self._line_rows(conv, i, width)
            i -= 1
        rows = rows[-room:] if room > 0 else []
        rows[:0] = [[] for _ in range(room - len(rows))]
        if bottom is not None:
            below = len(lines) - 1 - bottom
            hint = f" -- {below} newer line{'s' if below != 1 else ''} below: PageDown -- "
            rows.append([("class:scroll-hint", hint[:width])])
        return rows

    def render_text(self, width: int | None = None, height: int | None = None) -> str:
        """The pane as plain text (tests and screenshots)."""
        rows = self.visible_rows(width or self.width, height or self.height)
        return "\n".join("".join(t for _, t, *_ in row).rstrip() for row in rows)

    def create_content(self, width: int, height: int) -> UIContent:
        self.width, self.height = width, height
        rows = self.visible_rows(width, height)
        return UIContent(get_line=lambda i: rows[i], line_count=len(rows), show_cursor=False)

    def is_focusable(self) -> bool:
        return False

    def mouse_handler(self, mouse_event: MouseEvent) -> object:
        if mouse_event.event_type == MouseEventType.SCROLL_UP:
            self.page_up()
            return None
        if mouse_event.event_type == MouseEventType.SCROLL_DOWN:
            self.page_down()
            return None
        return NotImplemented
