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
