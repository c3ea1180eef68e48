"""How lines look: word wrapping that never breaks a URL that fits, and nick colours that
people talking in one room rarely share."""

from __future__ import annotations

import itertools

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

from client.pane import wrap
from client.style import NICK_COLOURS, nick_colour

ENTER = "\r"
# 60 nicks as people pick them: names, names with digits, handles.
NICKS = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "rupert", "sybil", "trent", "victor", "walter", "anna", "ben", "chris",
    "dan", "eve", "fred", "gina", "hank", "iris", "jack", "kate", "leo", "mia", "nick", "olga",
    "paul", "quinn", "rosa", "sam", "tina", "uma", "vic", "wendy", "xena", "yuri", "zoe", "alex2",
    "sam_", "k8", "dora_new", "mike_w", "jbloggs", "neo", "tux", "zed", "r2d2", "ghost", "lurker",
    "pixel", "hacker42", "moss", "kim",
)


def rows_text(rows: list) -> list[str]:
    return ["".join(t for _, t, *_ in row) for row in rows]


def test_wrap_breaks_at_spaces_and_indents() -> None:
    text = "12:00 <bob> " + "the quick brown fox jumps over the lazy dog " * 3
    rows = rows_text(wrap([("", text)], width=30))
    words = set(text.split())
    for row in rows:
        assert len(row) <= 30
        assert all(word in words for word in row.split())  # no word cut in two
    assert all(row.startswith("      ") for row in rows[1:])
    assert " ".join(" ".join(rows).split()) == " ".join(text.split())  # nothing lost


def test_a_url_is_never_broken_while_it_fits_on_a_row() -> None:
    url = "https://example.com/releases/2026/chat-rooms-0.2.tar.gz?mirror=eu"  # 66 cells
    text = f"12:00 <bob> the new release is at {url} enjoy"
    for width in range(40, 100):
        rows = rows_text(wrap([("", text)], width=width))
        assert all(len(row) <= width for row in rows)
        if len(url) <= width:
            assert any(url in row for row in rows), width
    # A URL longer than the whole pane is the one exception: split, its rows unindented.
    rows = rows_text(wrap([("", text)], width=30))
    assert "".join(row for row in rows if not row.startswith(" ")).count("https://") == 1
    assert url in "".join(r for r in rows if not r.startswith(" ") and "<bob>" not in r)


def test_styles_follow_the_text_across_rows() -> None:
    rows = wrap([("class:timestamp", "12:00 "), ("class:nick", "<bob> "),
                 ("class:message", "word " * 12)], width=24)
    assert rows[0][0] == ("class:timestamp", "12:00 ")
    assert all(style in ("", "class:message") for row in rows[1:] for style, _ in row)


def collision_rate(palette: tuple[str, ...]) -> float:
    """Share of three-person rooms (every trio of NICKS) where two share a colour."""
    trios = list(itertools.combinations(NICKS, 3))
    clashes = sum(len({nick_colour(n, palette) for n in trio}) < 3 for trio in trios)
    return clashes / len(trios)


def test_three_people_in_a_room_rarely_share_a_colour() -> None:
    assert len(set(NICK_COLOURS)) == len(NICK_COLOURS) >= 32
    rate = collision_rate(NICK_COLOURS)
    assert rate < 0.10, rate  # about one room of three in twelve (1 - 35/36 * 34/36 = 8%)
    # The old palette of 12 clashed in about a quarter of such rooms: the test tells them apart.
    assert collision_rate(NICK_COLOURS[:12]) > 0.18


def test_every_nick_colour_is_readable_on_black_and_on_white() -> None:
    def luminance(colour: str) -> float:
        def lin(c: int) -> float:
            v = c / 255
            return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)

    for colour in NICK_COLOURS:
        lum = luminance(colour)
        assert (lum + 0.05) / 0.05 >= 4.0, colour  # on black
        assert 1.05 / (lum + 0.05) >= 2.6, colour  # on white


async def test_a_long_message_wraps_at_words_in_the_app(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")
    url = "https://example.org/docs/client.md#keys-and-commands"
    text = ("please read the notes about the client before friday, they are at " + url
            + " and tell me what you think about them")
    bob.type(text + ENTER)
    await alice.wait_line("#lobby", "what you think")
    rows = [row for row in alice.pane().splitlines() if row.strip()]
    first = next(i for i, row in enumerate(rows) if "<bob> please" in row)
    shown = rows[first:first + 4]
    assert any(url in row for row in shown)  # whole on one row
    words = set(text.split())
    assert all(w in words for row in shown for w in row.split()[1:] if w != "<bob>")
