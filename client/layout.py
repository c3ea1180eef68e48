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
    for n, conv in enumerate(model.ordered(), start=1):
        current = conv.key == model.current_key
        style = "class:sidebar.entry.current" if current else "class:sidebar.entry"
        if conv.kind == "room" and not conv.joined:
            style += " class:sidebar.entry.parted"
        label = conv.name if conv.kind != "private" else f"{conv.name} (private)"
        tail: StyleAndTextTuples = []
        tail_text = ""
        if conv.mentioned:
            tail.append(("class:sidebar.mention", " !"))
            tail_text += " !"
        if conv.unread:
            tail.append(("class:sidebar.unread", f" {conv.unread}"))
            tail_text += f" {conv.unread}"
        num = f"{n}" if n < 10 else " "
        room_for_label = max(4, width - 3 - get_cwidth(tail_text))
        if get_cwidth(label) > room_for_label:
            label = label[: room_for_label - 1] + "…"
        out += [(style, f"{num} {label}"), *tail, ("", "\n")]
    conv = model.current
    if conv.kind == "room":
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
    if conv.kind == "room" and conv.topic:
        out += [("class:status", " — "), ("class:status.topic", conv.topic)]
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
            VSplit([Window(width=1, char="│", style="class:separator"), sidebar]), ~narrow),
    ])
    status = Window(FormattedTextControl(lambda: status_fragments(model)), height=1,
                    style="class:status")
    prompt = BeforeInput(lambda: [("class:prompt", f"[{model.current.name}] ")])
    input_window = Window(BufferControl(app.input_buffer,
                                        input_processors=[MaskPasswords(), prompt]),
                          height=1, wrap_lines=False)
    # One candidate is simply inserted; a menu is only worth showing when there is a choice.
    several_completions = Condition(lambda: bool(
        app.input_buffer.complete_state
        and len(app.input_buffer.complete_state.completions) > 1))
    root = FloatContainer(
        HSplit([body, status, input_window]),
        floats=[Float(xcursor=True, ycursor=True, content=ConditionalContainer(
            CompletionsMenu(max_height=8), several_completions))],
    )
    return Layout(root, focused_element=input_window)
