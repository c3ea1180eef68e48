"""The input line as a person meets it: the prompt, pastes, lines that fail (real app, real
server, both engines; the screen is what prompt_toolkit drew)."""

from __future__ import annotations

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

from client.paste import Paste, send_paced, split_paste

ENTER, CTRL_U, UP, HOME = "\r", "\x15", "\x1b[A", "\x1b[H"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def paste(text: str) -> str:
    """What a terminal sends for a bracketed paste of ``text``."""
    return PASTE_START + text + PASTE_END


async def test_the_prompt_survives_a_line_wider_than_the_input_box(clients) -> None:
    alice = await clients.start("alice")
    await alice.wait(lambda: alice.input_row() == "[#lobby]", "the prompt drawn")
    long_line = "a line wider than the box " + "x" * 120
    alice.type(long_line)
    await alice.wait(lambda: alice.input_row().endswith("xxxx") and
                     not alice.input_row().startswith("[#lobby]"), "the input scrolled")
    alice.type(ENTER)
    await alice.wait_line("#lobby", long_line)
    await alice.wait(lambda: alice.input_row() == "[#lobby]", "the prompt back after sending")

    # Typing again, deleting back to a short line, and Home in a long line all show it.
    alice.type("short")
    await alice.wait(lambda: alice.input_row() == "[#lobby] short", "a short line")
    alice.type("y" * 150 + CTRL_U + "again")
    await alice.wait(lambda: alice.input_row() == "[#lobby] again", "after Ctrl+U")
    alice.type(CTRL_U + "z" * 150 + HOME)
    await alice.wait(lambda: alice.input_row().startswith("[#lobby] zzz"), "Home in a long line")


async def test_a_line_that_fails_is_cleared_and_kept_in_history(clients) -> None:
    alice = await clients.start("alice")
    buf = alice.app.input_buffer
    alice.type("/nosuch thing" + ENTER)
    await alice.wait(lambda: "Unknown command /nosuch" in alice.text(), "the error")
    await alice.wait(lambda: buf.text == "", "the box emptied")

    # What comes next runs on its own, not appended to the failed line.
    alice.type("/nick dora_new" + ENTER)
    await alice.wait(lambda: alice.model.nick == "dora_new", "the nick change")
    alice.model.select_index(0)  # the server tab takes no plain text
    alice.type("am I still here?" + ENTER)
    await alice.wait(lambda: "This is the server tab" in alice.text(), "the refusal")
    await alice.wait(lambda: buf.text == "", "the box emptied again")

    # Both failed lines are in the history: Up brings back the last one to fix it. (The box
    # loads the history into its working lines on its next redraw: wait for that first.)
    assert buf.history.get_strings() == ["/nosuch thing", "/nick dora_new", "am I still here?"]
    await alice.wait(lambda: buf.working_index == 3, "the history loaded into the box")
    alice.type(UP)
    await alice.wait(lambda: buf.text == "am I still here?", "Up recalls the failed line")
    lobby = alice.model.get("#lobby")
    assert not any("am I still here" in line.text for line in lobby.lines)


async def test_a_pasted_line_per_message_and_a_slash_line_is_text(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")

    alice.type("so: ")
    await alice.wait(lambda: alice.app.input_buffer.text == "so: ", "typed text")
    alice.type(paste("pasted line one\r\npasted line two\n/quit oops\n"))
    await bob.wait_line("#lobby", "/quit oops")
    said = [line.text for line in bob.model.get("#lobby").lines if line.kind == "message"]
    assert said == ["so: pasted line one", "pasted line two", "/quit oops"]
    assert alice.app.input_buffer.text == "" and alice.task is not None
    assert not alice.task.done()  # the pasted /quit was a message, not a command

    # One line (with the line end copying usually takes) is typed into the box, not sent.
    alice.type(paste("just this\n"))
    await alice.wait(lambda: alice.app.input_buffer.text == "just this", "one line in the box")


async def test_a_long_paste_is_confirmed_first(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")
    five = "\n".join(f"row {i}" for i in range(1, 6))

    def question() -> str:
        return next((row for row in alice.screen() if "pasted lines" in row), "")

    alice.type(paste(five))
    await alice.wait(lambda: "Send 5 pasted lines to #lobby" in question(), "the question")
    assert "y: send them  n: cancel" in question()
    alice.type("x")  # any other key is ignored while asking
    alice.type("n")
    await alice.wait(lambda: "Paste of 5 lines cancelled" in alice.text(), "cancelled")
    await alice.wait(lambda: question() == "", "the question gone")
    assert alice.app.input_buffer.text == ""

    alice.type(paste(five))
    await alice.wait(lambda: "Send 5 pasted lines" in question(), "asked again")
    alice.type("y")
    await bob.wait_line("#lobby", "row 5")
    said = [line.text for line in bob.model.get("#lobby").lines if line.kind == "message"]
    assert said == ["row 1", "row 2", "row 3", "row 4", "row 5"]  # in order, and only once


async def test_a_long_paste_goes_out_paced_and_stops_at_a_failure() -> None:
    sent: list[tuple[str, bool]] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # the pacing, recorded instead of waited out
        slept.append(seconds)

    def send_one(line: str, as_command: bool) -> bool:
        sent.append((line, as_command))
        return line != "fails"

    lines = [f"l{i}" for i in range(14)]
    assert await send_paced(Paste(lines, "#lobby", first_is_command=True), send_one,
                            burst=10, interval=0.25, sleep=sleep) == 14
    assert [line for line, _ in sent] == lines and sent[0][1] and not sent[1][1]
    assert slept == [0.25] * 4  # the first ten at once, then one per interval

    sent.clear()
    assert await send_paced(Paste(["a", "fails", "b"], "#lobby"), send_one, sleep=sleep) == 1
    assert [line for line, _ in sent] == ["a", "fails"]


def test_split_paste_line_ends() -> None:
    assert split_paste("a\r\nb\rc\n") == ["a", "b", "c"]
    assert split_paste("one\n") == ["one"]
    assert split_paste("a\n\nb") == ["a", "", "b"]
