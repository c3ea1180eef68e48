"""Keys irssi and weechat users reach for, in the real app against a real server (both engines):
Alt+A, conversations past 9, the top of the scrollback, hiding the side panel, and the marker
above the first unread line."""

from __future__ import annotations

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

ENTER, CTRL_N, CTRL_P = "\r", "\x0e", "\x10"
ALT_A, ALT_0, ALT_Q, ALT_HOME, CTRL_END, F2 = (
    "\x1ba", "\x1b0", "\x1bq", "\x1b\x1b[H", "\x1b[1;5F", "\x1bOQ")


async def test_alt_a_goes_to_the_next_conversation_with_activity(clients) -> None:
    alice = await clients.start("alice", "#lobby", "#dev", "#ops")
    bob = await clients.start("bob", "#lobby", "#dev", "#ops")
    await alice.wait_joined("#ops", "bob")
    alice.model.select("#lobby")

    bob.type("/join #ops" + ENTER)  # already there: switches bob to #ops
    await bob.wait(lambda: bob.model.current.name == "#ops", "bob in #ops")
    bob.type("quiet news in ops" + ENTER)
    await alice.wait_line("#ops", "quiet news in ops")
    bob.type("/msg alice psst" + ENTER)
    await alice.wait_line("bob", "psst")

    alice.type(ALT_A)  # the private message mentions her: first, though #ops comes before it
    await alice.wait(lambda: alice.model.current.name == "bob", "to the private chat")
    alice.type(ALT_A)
    await alice.wait(lambda: alice.model.current.name == "#ops", "then to #ops")
    alice.type(ALT_A)  # nothing left unread: stays
    await alice.wait(lambda: all(not c.unread for c in alice.model.conversations.values()),
                     "all read")
    assert alice.model.current.name == "#ops"


async def test_conversations_past_nine(clients) -> None:
    alice = await clients.start("alice")
    for n in range(1, 11):
        alice.type(f"/query friend{n}" + ENTER)
    await alice.wait(lambda: len(alice.model.conversations) == 12, "12 conversations")
    side = alice.sidebar()
    assert " 9 friend7 (private)" in side and "10 friend8 (private)" in side
    assert "12 friend10 (private)" in side

    alice.type(ALT_0)
    await alice.wait(lambda: alice.model.current.name == "friend8", "Alt+0: the 10th")
    alice.type(ALT_Q)
    await alice.wait(lambda: alice.model.current.name == "friend9", "Alt+Q: the 11th")
    alice.type("\x1bj12")
    await alice.wait(lambda: alice.model.current.name == "friend10", "Alt+J 1 2")
    alice.type("/window 3" + ENTER)
    await alice.wait(lambda: alice.model.current.name == "friend1", "/window 3")


async def test_alt_home_goes_to_the_top_of_the_scrollback(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    for i in range(60):
        bob.type(f"line {i}" + ENTER)
    await alice.wait_line("#lobby", "line 59")

    alice.type(ALT_HOME)
    await alice.wait(lambda: "<bob> line 0" in alice.pane(), "the oldest lines")
    assert "line 59" not in alice.pane() and "newer lines below" in alice.pane()
    alice.type(CTRL_END)
    await alice.wait(lambda: "line 59" in alice.pane(), "back to the newest")


async def test_f2_hides_and_shows_the_side_panel(clients) -> None:
    alice = await clients.start("alice")
    await alice.wait(lambda: any(row.endswith("│Conversations") for row in alice.screen()),
                     "the side panel")
    alice.type(F2)
    await alice.wait(lambda: not any("Conversations" in row for row in alice.screen()),
                     "hidden")
    assert alice.app.pane.width == 80  # the messages take the whole width
    alice.type(F2)
    await alice.wait(lambda: any("Conversations" in row for row in alice.screen()), "shown")


async def test_a_marker_above_the_first_unread_line(clients) -> None:
    alice = await clients.start("alice", "#lobby", "#dev")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")
    alice.model.select("#lobby")
    bob.type("seen before leaving" + ENTER)
    await alice.wait_line("#lobby", "seen before leaving")
    assert "─── unread" not in alice.pane()

    alice.type(CTRL_N)  # to #dev: what is on screen in #lobby counts as read
    await alice.wait(lambda: alice.model.current.name == "#dev", "in #dev")
    bob.type("said while away" + ENTER)
    await alice.wait_line("#lobby", "said while away")
    alice.type(CTRL_P)
    await alice.wait(lambda: alice.model.current.name == "#lobby", "back in #lobby")
    rows = [row for row in alice.pane().splitlines() if row.strip()]
    marker = next(i for i, row in enumerate(rows) if row.startswith("─── unread"))
    assert "seen before leaving" in rows[marker - 1] and "said while away" in rows[marker + 1]

    # Leaving again with nothing new: the marker moves to the end, so it is not drawn.
    alice.type(CTRL_N + CTRL_P)
    await alice.wait(lambda: "─── unread" not in alice.pane(), "no marker")
