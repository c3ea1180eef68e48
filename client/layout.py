"""The screen: message pane and side panel on top, status bar, then the input line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout import (
    ConditionalContainer,
    Float,
    FloatContainer,
    HSplit,
    Layout,
    ScrollOffsets,
    VSplit,
    Window,
)
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.menus import CompletionsMenu
from prompt_toolkit.layout.processors import (
    BeforeInput,
    Processor,
    Transformation,
    TransformationInput,
)
from prompt_toolkit.utils import get_cwidth

from chat.dialects.formatting import strip
from chat.wire.names import fold
from client.commands import secret_spans
from client.model import ChatModel, ConnState
from client.style import nick_style

if TYPE_CHECKING:
    from client.app import ChatApp

SIDEBAR_WIDTH = 24


def sidebar_fragments(model: ChatModel, width: int = SIDEBAR_WIDTH) -> StyleAndTextTuples:
    """Conversations (numbered for Alt+N, with unread counts and a mention marker), then members."""
    out: StyleAndTextTuples = [("class:sidebar.title", "Conversations"), ("", "\n")]
    count = len(model.conversations)
    for n, conv in enumerate(model.ordered(), start=1):
        current = conv.key == model.current_key
        style = "class:sidebar.entry.current" if current else "class:sidebar.entry"
        label = conv.name if conv.kind != "private" else f"{conv.name} (private)"
        if conv.kind == "room" and not conv.joined:
            style += " class:sidebar.entry.parted"
            label = f"{conv.name} (left)"  # kicked: on screen to read why, but not joined
        tail: StyleAndTextTuples = []
        tail_text = ""
        if conv.mentioned:
            tail.append(("class:sidebar.mention", " !"))
            tail_text += " !"
        if conv.unread:
            tail.append(("class:sidebar.unread", f" {conv.unread}"))
            tail_text += f" {conv.unread}"
        num = f"{n:>{len(str(count))}}"
        room_for_label = max(4, width - 2 - len(num) - get_cwidth(tail_text))
        if get_cwidth(label) > room_for_label:
            label = label[: room_for_label - 1] + "…"
        out += [(style, f"{num} {label}"), *tail, ("", "\n")]
    conv = model.current
    if conv.kind == "room" and conv.joined:
        out += [("", "\n"), ("class:sidebar.title", f"Members ({len(conv.members)})"), ("", "\n")]
        for m in conv.sorted_members():
            out += [("class:sidebar.op", m.prefix or " "), (nick_style(m.nick), m.nick),
                    ("", "\n")]
    return out


_STATE_STYLE = {
    ConnState.CONNECTED: "class:status.connected",
    ConnState.REGISTERING: "class:status.connecting",
    ConnState.CONNECTING: "class:status.connecting",
    ConnState.DISCONNECTED: "class:status.disconnected",
    ConnState.CLOSED: "class:status.disconnected",
}


def status_fragments(model: ChatModel) -> StyleAndTextTuples:
    """Connection state, our nick (and account), the current conversation and its topic."""
    state = model.state.value + (f": {model.state_detail}" if model.state_detail else "")
    conv = model.current
    out: StyleAndTextTuples = [
        ("class:status", " ["), (_STATE_STYLE[model.state], state), ("class:status", "] "),
        ("class:status.nick", model.nick),
    ]
    if model.account:
        same = fold(model.account) == fold(model.nick)
        out.append(("class:status.account",
                    " (logged in)" if same else f" (logged in as {model.account})"))
    out += [("class:status", " in "), ("class:status.room", conv.name)]
    if conv.kind == "room" and not conv.joined:
        out += [("class:status", " — "),
                ("class:status.left", f"not joined (/join {conv.name} to go back)")]
    elif conv.kind == "room" and conv.topic:
        out += [("class:status", " — "), ("class:status.topic", strip(conv.topic))]
    elif conv.kind == "private":
        out += [("class:status", " — private conversation")]
    return out


class MaskPasswords(Processor):
    """Shows the password of ``/login``, ``/register``... as ``*`` while it is typed (one star
    per character, so the cursor stays where it is)."""

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        spans = secret_spans(ti.document.text)
        if not spans:
            return Transformation(ti.fragments)
        out: StyleAndTextTuples = []
        pos = 0
        for style, text, *_ in ti.fragments:
            chars = "".join("*" if any(a <= pos + i < b for a, b in spans) else ch
                            for i, ch in enumerate(text))
            out.append((style, chars))
            pos += len(text)
        return Transformation(out)


def prompt_text(model: ChatModel) -> str:
    """The prompt before the input: the conversation the line goes to."""
    return f"[{model.current.name}] "


def input_scroll(window: Window, app: ChatApp) -> int:
    """Where the input line's horizontal scroll starts before prompt_toolkit keeps the cursor
    in view: 0 whenever the prompt and the text fit in the box.

    The prompt is part of the line's content, so once a wide line scrolled the box sideways,
    prompt_toolkit only scrolled back as far as the cursor -- which after sending sits just
    after the prompt, so the prompt stayed scrolled off for good. Starting from 0 when the
    whole line fits (and keeping the prompt's width of context left of the cursor, the scroll
    offset) brings it back.
    """
    info = window.render_info
    width = info.window_width if info is not None else app.application.output.get_size().columns
    line = prompt_text(app.model) + app.input_buffer.text
    return 0 if get_cwidth(line) < width else window.horizontal_scroll


def paste_question(model: ChatModel, app: ChatApp) -> StyleAndTextTuples:
    """The row above the input while a long paste waits for yes or no."""
    pending = app.pending_paste
    if pending is None:
        return []
    conv = model.conversations.get(pending.conversation)
    where = conv.name if conv is not None else "?"
    first = pending.lines[0]
    first = first if len(first) <= 30 else first[:29] + "…"
    return [("class:question", f" Send {len(pending.lines)} pasted lines to {where} "
                               f"(first: {first!r})? "),
            ("class:question.keys", "y: send them  n: cancel")]


def build_layout(app: ChatApp) -> Layout:
    """Assemble the screen; every control draws from the model at render time."""
    model = app.model
    messages = Window(app.pane, wrap_lines=False, always_hide_cursor=True)
    sidebar = Window(
        FormattedTextControl(lambda: sidebar_fragments(model), focusable=False),
        width=SIDEBAR_WIDTH, style="class:sidebar", wrap_lines=False,
    )
    narrow = Condition(lambda: app.application.output.get_size().columns < 60)
    body = VSplit([
        messages,
        ConditionalContainer(
            VSplit([Window(width=1, char="│", style="class:separator"), sidebar]),
            ~narrow & Condition(lambda: app.show_sidebar)),
    ])
    status = Window(FormattedTextControl(lambda: status_fragments(model)), height=1,
                    style="class:status")
    prompt = BeforeInput(lambda: [("class:prompt", prompt_text(model))])
    input_window = Window(BufferControl(app.input_buffer,
                                        input_processors=[MaskPasswords(), prompt]),
                          height=1, wrap_lines=False,
                          get_horizontal_scroll=lambda w: input_scroll(w, app),
                          scroll_offsets=ScrollOffsets(left=lambda: get_cwidth(prompt_text(model))))
    # One candidate is simply inserted; a menu is only worth showing when there is a choice.
    several_completions = Condition(lambda: bool(
        app.input_buffer.complete_state
        and len(app.input_buffer.complete_state.completions) > 1))
    question = ConditionalContainer(
        Window(FormattedTextControl(lambda: paste_question(model, app)), height=1,
               style="class:question"),
        Condition(lambda: app.pending_paste is not None))
    root = FloatContainer(
        HSplit([body, status, question, input_window]),
        floats=[Float(xcursor=True, ycursor=True, content=ConditionalContainer(
            CompletionsMenu(max_height=8), several_completions))],
    )
    return Layout(root, focused_element=input_window)
