"""Key bindings. They take priority over prompt_toolkit's defaults (app-level bindings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

if TYPE_CHECKING:
    from client.app import ChatApp


def build_key_bindings(app: ChatApp) -> KeyBindings:
    """Scrolling, switching conversations, completion and quitting."""
    kb = KeyBindings()
    model, pane = app.model, app.pane
    empty_input = Condition(lambda: not app.input_buffer.text)

    @kb.add("pageup")
    def _page_up(event: KeyPressEvent) -> None:
        pane.page_up()

    @kb.add("pagedown")
    def _page_down(event: KeyPressEvent) -> None:
        pane.page_down()

    @kb.add("c-end")
    @kb.add("escape", "end")
    def _to_end(event: KeyPressEvent) -> None:
        pane.scroll_to_end()

    @kb.add("c-n")
    @kb.add("escape", "right")
    def _next(event: KeyPressEvent) -> None:
        model.select_relative(1)

    @kb.add("c-p")
    @kb.add("escape", "left")
    def _prev(event: KeyPressEvent) -> None:
        model.select_relative(-1)

    # Alt+1..9, Alt+0 for the 10th, Alt+Q..O for the 11th to 19th (as in irssi); /window N
    # for any number.
    for index, key in enumerate("1234567890qwertyuio"):
        @kb.add("escape", key)
        def _select(event: KeyPressEvent, index: int = index) -> None:
            model.select_index(index)

    # Alt+J and two digits: conversation NN (as in weechat), for long side panels.
    for tens in "0123456789":
        for ones in "0123456789":
            @kb.add("escape", "j", tens, ones)
            def _jump(event: KeyPressEvent, number: int = int(tens + ones)) -> None:
                model.select_index(number - 1)

    @kb.add("escape", "a")
    def _next_active(event: KeyPressEvent) -> None:
        model.select_active()

    @kb.add("c-home")
    @kb.add("escape", "home")
    def _to_top(event: KeyPressEvent) -> None:
        pane.scroll_to_top()

    @kb.add("f2")
    def _toggle_sidebar(event: KeyPressEvent) -> None:
        app.show_sidebar = not app.show_sidebar

    @kb.add("tab")
    def _complete(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.complete_state:
            buf.complete_next()
        else:
            buf.start_completion(select_first=True)

    @kb.add("s-tab")
    def _complete_prev(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.complete_state:
            buf.complete_previous()

    @kb.add("c-c")
    @kb.add("c-d", filter=empty_input)
    def _quit(event: KeyPressEvent) -> None:
        app.quit("Leaving")

    @kb.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        app.paste(event.data)

    # "Send 12 pasted lines to #lobby? (y/n)": while it is asked, these keys answer and every
    # other key is ignored (added last, so they win over the bindings above).
    asking = Condition(lambda: app.pending_paste is not None)

    @kb.add("<any>", filter=asking)
    def _ignore_while_asking(event: KeyPressEvent) -> None:
        pass

    @kb.add("y", filter=asking)
    @kb.add("Y", filter=asking)
    @kb.add("enter", filter=asking)
    @kb.add("c-y", filter=asking)
    def _paste_yes(event: KeyPressEvent) -> None:
        app.answer_paste(True)

    @kb.add("n", filter=asking)
    @kb.add("N", filter=asking)
    @kb.add("escape", filter=asking)
    @kb.add("c-n", filter=asking)
    @kb.add(Keys.BracketedPaste, filter=asking)
    def _paste_no(event: KeyPressEvent) -> None:
        app.answer_paste(False)

    return kb
