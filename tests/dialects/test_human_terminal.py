"""What telnet sends in character mode, byte for byte, through the real hub (no sockets).

The byte strings are captured from netkit telnet 0.17 after ``^]`` ``mode character``: it
sends ``IAC DO SGA IAC DO ECHO``, then every key as pressed (Enter as CR NUL, Backspace as
DEL, ^H, ^U, the arrows as ``ESC [ D``).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from memnet import MemClient, MemoryNet

from chat.dialects.human.terminal import LineEnds, edit
from chat.wire.framing import TelnetFilter

MODE_CHARACTER = b"\xff\xfd\x03\xff\xfd\x01"  # IAC DO SGA, IAC DO ECHO
REFUSED = b"\xff\xfc\x03\xff\xfc\x01"  # IAC WONT SGA, IAC WONT ECHO


def keys(person: MemClient, *presses: bytes) -> None:
    """One read per key press, as character mode sends them."""
    for press in presses:
        person.send(press)


def greeted(net: MemoryNet) -> MemClient:
    person = net.connect()
    net.advance(1)
    person.expect("Pick a nickname")
    return person


def test_character_mode_enter_erase_and_kill_line_arrive_as_the_person_meant() -> None:
    net = MemoryNet()
    bob = net.bot("bob", "#lobby")
    person = greeted(net)
    person.send(MODE_CHARACTER)
    keys(person, b"a", b"l", b"x", b"\x7f", b"i", b"\x08", b"ice", b"\r\x00")
    person.expect("Welcome to chat.local, alice!")
    keys(person, b"ab", b"\x7f", b"\x08", b"cd", b"\x15", b"x", b"\x1b[D", b"\x1bOA", b"y",
         b"\xc3\xa9", b"\x7f", b"!", b"\r\x00")
    assert bob.expect_json(type="message")["text"] == "xy!"


def test_telnet_is_told_no_so_it_echoes_and_edits_the_line_itself() -> None:
    """Left unanswered, a telnet that asked DO ECHO stops echoing: the person types blind.
    Refused (WONT SGA, WONT ECHO), it goes back to line mode with local echo; each option is
    refused once, so two peers never loop."""
    net = MemoryNet()
    person = greeted(net)
    person.send(MODE_CHARACTER + b"\xff\xfb\x1f")  # ... and WILL NAWS
    assert bytes(person.inbox) == REFUSED + b"\xff\xfe\x1f"  # ... DONT NAWS
    person.send(MODE_CHARACTER + b"\xff\xfc\x01")  # asked again, and a WONT (no answer)
    assert bytes(person.inbox) == REFUSED + b"\xff\xfe\x1f"  # nothing more
    person.send(b"alice\r\n")
    assert person.expect("Welcome to chat.local, alice!").startswith("\ufffd")  # the refusals
    assert not any("\ufffd" in line for line in person.new())


def test_arrow_keys_and_alt_keys_leave_no_junk() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.send(b"arrows\x1b[D\x1b[D\x1b[A\x1b[1;5C\x1bOB\x1b[15~\xc2\x9b2J\x1bx!\r\n")
    assert bob.expect_json(type="message")["text"] == "arrows!"
    alice.send(b"\x1b[A\x1b[A\r\x00")  # only arrows, then Enter: an empty line, nothing sent
    alice.send(b"after\r\n")
    assert bob.expect_json(type="message")["text"] == "after"


def test_a_nick_typed_in_character_mode_before_the_greeting() -> None:
    """Keys typed before the greeting (no telnet negotiation yet) are framed raw; Enter as
    CR NUL marks a telnet in character mode, and those keys are edited like any others."""
    net = MemoryNet()
    person = net.connect()
    keys(person, b"b", b"o", b"x", b"\x7f", b"b", b"\r\x00")
    person.expect("Welcome to chat.local, bob!")


def test_a_bare_cr_split_from_its_nul_before_the_greeting() -> None:
    net = MemoryNet()
    person = net.connect()
    keys(person, b"carol\r")  # the NUL is late, and the greeting comes first
    net.advance(1)
    person.expect("Welcome to chat.local, carol!")
    person.send(b"\x00hi\r\x00")
    person.expect("<carol> hi")


def test_telnet_erase_commands_edit_the_line() -> None:
    """IAC EC and IAC EL (telnet's erase character and erase line, with ``localchars``)."""
    net = MemoryNet()
    bob = net.bot("bob", "#lobby")
    alice = net.human("alice")
    alice.send(b"oops\xff\xf8hellp\xff\xf7o\r\n")
    assert bob.expect_json(type="message")["text"] == "hello"


def test_line_ends_every_way_a_terminal_ends_a_line() -> None:
    ends = LineEnds()
    assert ends.feed(b"a\r\nb\r\x00c\rd\n") == b"a\nb\nc\nd\n"
    assert ends.feed(b"e\r") == b"e\n"
    assert ends.feed(b"\x00f\r") == b"f\n"  # CR NUL split across reads: one line end
    assert ends.feed(b"\ng") == b"g"
    assert ends.feed(b"") == b""
    assert ends.feed(b"\n") == b"\n"  # not after a CR: a line end of its own


def test_edit_erases_characters_words_and_lines() -> None:
    assert edit("plain text") == "plain text"
    assert edit("caf\u00e9\x7f\x7fe!") == "cae!"  # one DEL erases one character, not one byte
    assert edit("\x7f\x08start") == "start"  # erasing nothing is harmless
    assert edit("one two \x17three") == "one three"
    assert edit("gone\x15kept") == "kept"
    assert edit("a\x1b[1;5Db\x1bOPc\x1b") == "abc"  # CSI with parameters, SS3, a lone ESC


def test_telnet_filter_refuses_each_option_once() -> None:
    telnet = TelnetFilter()
    assert telnet.feed(b"\xff\xfd") == b""
    assert telnet.feed(b"\x01x\xff\xfb\x18\xff\xfd\x01\xff\xfc\x01") == b"x"
    assert telnet.replies == b"\xff\xfc\x01\xff\xfe\x18"


@given(st.binary(max_size=64), st.lists(st.integers(0, 64), max_size=6))
def test_line_ends_do_not_depend_on_how_the_bytes_were_split(data: bytes,
                                                              cuts: list[int]) -> None:
    whole = LineEnds().feed(data)
    split, out, start = LineEnds(), b"", 0
    for cut in sorted(cuts):
        out += split.feed(data[start:cut])
        start = max(start, cut)
    out += split.feed(data[start:])
    assert out == whole
