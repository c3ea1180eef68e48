"""docs/irc.md against the IRC dialect itself, so the reference cannot drift from the server:
every verb the dialect understands, every capability it offers, every ISUPPORT token it sends
(with its value), every room and user mode and every numeric it can send are listed, and the
tables list nothing the server does not do."""

from __future__ import annotations

import re
from pathlib import Path

from irc_lines import irc_params, irc_verb
from memnet import MemoryNet

from chat.core.modes import ROOM_MODES, USER_MODES
from chat.dialects.irc import CAPS
from chat.dialects.irc.commands import COMMANDS
from chat.dialects.irc.registration import BEFORE

DOC = (Path(__file__).resolve().parents[2] / "docs" / "irc.md").read_text(encoding="utf-8")
SOURCE = Path(__file__).resolve().parents[2] / "chat" / "dialects" / "irc"


def section(title: str) -> str:
    """The text of the ``## title`` section (its ``###`` subsections included)."""
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end >= 0 else len(DOC)]


def first_column(text: str) -> list[str]:
    """The first cell of every table row in ``text`` (header and rule rows skipped)."""
    cells = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells.append(line.split(" | ")[0].removeprefix("| ").strip())
    return cells[1:] if cells else []


def table_rows(text: str, header: str) -> dict[str, list[str]]:
    """The table that starts with ``header`` in ``text``: first cell (backticks off) -> cells."""
    lines = text[text.index(header):].splitlines()
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_every_verb_the_dialect_understands_is_in_the_commands_table() -> None:
    commands = section("Commands")
    verbs = set(COMMANDS) | set(BEFORE)
    missing = sorted(verb for verb in verbs
                     if not re.search(rf"`{verb}(?![\w-])", commands))
    assert not missing, f"docs/irc.md ## Commands does not list {missing}"


def test_every_command_the_commands_table_names_is_understood() -> None:
    named = set()
    for cell in first_column(section("Commands")):
        named.update(re.findall(r"`([A-Z]{2,})(?=[ `])", cell))
    assert named, "no commands found in the table"
    unknown = sorted(named - set(COMMANDS) - set(BEFORE))
    assert not unknown, f"docs/irc.md lists commands the server does not have: {unknown}"


def test_the_capabilities_table_is_exactly_what_cap_ls_offers() -> None:
    net = MemoryNet()
    client = net.connect()
    client.line("CAP LS")
    offered = set(irc_params(client.verb("CAP"))[-1].split())
    assert offered == set(CAPS)
    listed = set(table_rows(section("Capabilities (IRCv3)"),
                            "| capability | what the server does |"))
    assert listed == offered, (f"missing: {sorted(offered - listed)}, "
                               f"not offered: {sorted(listed - offered)}")


def test_the_isupport_table_is_exactly_what_005_sends_with_the_values_sent() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    sent = {}
    for line in alice.lines:
        if irc_verb(line) == "005":
            for token in irc_params(line)[1:-1]:
                name, _, value = token.partition("=")
                sent[name] = value
    rows = table_rows(section("ISUPPORT (005)"), "| token | value | meaning |")
    assert set(rows) == set(sent), (f"missing: {sorted(set(sent) - set(rows))}, "
                                    f"not sent: {sorted(set(rows) - set(sent))}")
    for name, value in sent.items():
        if name == "NETWORK":  # the server's name, whatever it is configured to be
            continue
        assert rows[name][0].strip("`") == value, f"{name}: the server sends {value!r}"


def test_every_mode_letter_is_in_the_modes_tables() -> None:
    modes = section("Modes")
    room = {cell.strip("`").split()[0] for cell in first_column(modes[:modes.index(
        "| user mode |")]) if cell.startswith("`")}
    assert room == set(ROOM_MODES)
    user = set(table_rows(modes, "| user mode | what it does |"))
    assert user == set(USER_MODES + "o")


def _numerics_in(cell: str) -> set[str]:
    """``001–004``, ``311, 312`` or ``904–907`` as the codes they name."""
    codes: set[str] = set()
    for part in cell.split(","):
        part = part.strip().split()[0] if part.strip() else ""
        if "–" in part:
            low, high = part.split("–")
            codes.update(f"{n:03d}" for n in range(int(low), int(high) + 1))
        elif part.isdigit():
            codes.add(part)
    return codes


def test_every_numeric_the_dialect_can_send_is_in_the_numerics_tables() -> None:
    source = "".join(path.read_text(encoding="utf-8") for path in SOURCE.glob("*.py"))
    # Numerics are written "353" (d.num) or inside an f-string (`{d.server} 353 {d.me}`).
    sent = {code for quoted, inline in re.findall(r'"(\d{3})"|\} (\d{3}) \{', source)
            for code in (quoted, inline) if code}
    documented: set[str] = set()
    for title in ("Numerics", "Accounts"):
        for cell in first_column(section(title)):
            documented |= _numerics_in(cell)
    assert sorted(sent - documented) == []
    assert sorted(documented - sent) == [], "docs/irc.md lists numerics the server never sends"
