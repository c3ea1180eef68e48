"""Room operator commands in the real app against a real server (both engines)."""

from __future__ import annotations

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

ENTER = "\r"


async def test_operator_ops_kicks_and_the_room_sees_it(clients) -> None:
    alice = await clients.start("alice", "#ops")  # creates the room: alice is its operator
    bob = await clients.start("bob", "#ops")
    carol = await clients.start("carol", "#ops")
    await alice.wait_joined("#ops", "alice", "bob", "carol")

    alice.type("/op bob" + ENTER)
    await carol.wait(lambda: "@bob" in carol.sidebar(), "bob shown as an operator")

    bob.type("/kick carol enough" + ENTER)
    await carol.wait(lambda: not carol.model.get("#ops").joined, "carol out of #ops")
    assert "enough" in carol.text("#ops")
    await alice.wait(lambda: "carol" not in alice.sidebar().split("Members")[1],
                     "carol gone from alice's member list")

    carol.type("/kick alice revenge" + ENTER)  # not an operator (and not even in the room)
    await carol.wait(lambda: "error" in [line.kind for line in carol.model.current.lines],
                     "an error for carol")
    assert "alice" in alice.sidebar().split("Members")[1]


async def test_a_room_you_were_kicked_from_shows_as_left(clients) -> None:
    alice = await clients.start("alice", "#ops")
    bob = await clients.start("bob", "#ops")
    await alice.wait_joined("#ops", "alice", "bob")
    alice.type("/topic release planning" + ENTER)
    await bob.wait(lambda: any("release planning" in row for row in bob.screen()),
                   "the topic in bob's status bar")

    alice.type("/kick bob enough" + ENTER)
    await bob.wait(lambda: not bob.model.get("#ops").joined, "bob out of #ops")
    assert bob.model.current.name == "#ops"  # still on screen, the reason readable
    await bob.wait(lambda: "#ops (left)" in "\n".join(bob.screen()), "#ops marked as left")
    status = next(row for row in bob.screen() if "] bob in" in row)
    assert "release planning" not in status and "not joined (/join #ops" in status
    assert "Members" not in bob.sidebar()  # no member list for a room we are not in
    assert "#ops (left)" in bob.sidebar()

    bob.type("/join #ops" + ENTER)
    await bob.wait_joined("#ops", "alice", "bob")
    await bob.wait(lambda: "#ops (left)" not in "\n".join(bob.screen()), "joined again")
    assert "release planning" in next(row for row in bob.screen() if "] bob in" in row)
