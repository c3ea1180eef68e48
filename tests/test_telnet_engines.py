"""telnet over real sockets on both engines: exactly the bytes netkit telnet sends in character
mode (``^]`` ``mode character``), a key per write. The editing rules themselves are tested in
memory in tests/dialects/test_human_terminal.py."""

from __future__ import annotations

from support import WAIT, Clients, LineClient

MODE_CHARACTER = b"\xff\xfd\x03\xff\xfd\x01"  # IAC DO SGA, IAC DO ECHO
REFUSED = b"\xff\xfc\x03\xff\xfc\x01"  # IAC WONT SGA, IAC WONT ECHO


def read_exactly(client: LineClient, size: int) -> bytes:
    """The next ``size`` bytes, whether or not they end a line."""
    client.sock.settimeout(WAIT)
    data, client._buf = client._buf[:size], client._buf[size:]
    while len(data) < size:
        chunk = client.sock.recv(size - len(data))
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def test_telnet_in_character_mode(clients: Clients) -> None:
    bob = clients.bot("bob", "#lobby")
    person = clients.raw()
    person.send(MODE_CHARACTER)  # telnet's first bytes: taken for a person at once
    person.expect("Pick a nickname")
    assert read_exactly(person, len(REFUSED)) == REFUSED  # just after the greeting
    for key in (b"a", b"l", b"x", b"\x7f", b"i", b"\x08", b"ice", b"\r\x00"):
        person.send(key)
    person.expect("Welcome to chat.local, alice!")
    for key in (b"ab", b"\x7f", b"\x08", b"cd", b"\x15", b"x", b"\x1b[D", b"\x1bOA", b"y",
                b"\xff\xfb\x1f", b"\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0", b"!", b"\r\x00"):
        person.send(key)
    assert bob.expect_json(type="message", **{"from": "alice"})["text"] == "xy!"


def test_a_person_at_the_prompt_is_answered_not_taken_for_irc(clients: Clients) -> None:
    """What a new person typed in the issue, over a socket: every line gets an answer."""
    bob = clients.bot("bob", "#lobby")
    person = clients.raw()
    person.expect("Pick a nickname (letters, digits and - _ [ ] \\ ` ^ { } |")
    person.send("nick is what I want\r\n")
    person.expect("! Invalid nickname 'nick is what I want'")
    person.send("alice\r\n")
    person.expect("Welcome to chat.local, alice!")
    for typed, answer in (("/mode +o", "! Usage: /mode [#room] +o NICK"),
                          ("/join #bad room", "! #bad has no key"),
                          ("/j #good", "-- In #good (1): @alice")):
        person.send(typed + "\r\n")
        person.expect(answer)
    person.send("/join #lobby\r\n")
    person.send("y" * 2500 + "\r\n")
    assert [len(bob.expect_json(type="message")["text"]) for _ in range(2)] == [2000, 500]
