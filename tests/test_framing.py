"""Line framing and telnet filtering: the one place lines are split."""

from __future__ import annotations

from chat.wire.framing import LineReader, LineTooLong, TelnetFilter


def test_lines_split_across_chunks_and_crlf() -> None:
    reader = LineReader(100)
    assert reader.feed(b"hel") == []
    assert reader.feed(b"lo\r\nwor") == [b"hello"]
    assert reader.feed(b"ld\nx\n\n") == [b"world", b"x", b""]


def test_limit_counts_the_terminator() -> None:
    reader = LineReader(6)
    assert reader.feed(b"12345\n") == [b"12345"]
    assert reader.feed(b"123456\nok\n") == [LineTooLong(6), b"ok"]


def test_endless_line_never_grows_the_buffer() -> None:
    reader = LineReader(1024)
    out = []
    for _ in range(1000):
        out += reader.feed(b"z" * 4096)
        assert reader.pending < 1024
    assert out == [LineTooLong(1024)]  # reported once, not once per chunk
    assert reader.feed(b"zzz\nnext\n") == [b"next"]


def test_telnet_sequences_removed_even_when_split() -> None:
    telnet = TelnetFilter()
    data = b"a\xff\xfb\x01b\xff\xfa\x18\x01\xff\xf0c\xff\xff"
    out = b"".join(telnet.feed(data[i:i + 1]) for i in range(len(data)))
    assert out == b"abc"
    assert TelnetFilter().feed(b"plain text\n") == b"plain text\n"
