"""Reading IRC lines as a test client receives them: the command, the parameters, and a check
that nothing but IRC arrived. Shared by the socket clients (conftest.py) and tests/memnet.py."""

from __future__ import annotations

import re


def _irc_strip(line: str) -> str:
    if line.startswith("@"):
        line = line.partition(" ")[2]
    if line.startswith(":"):
        line = line.partition(" ")[2]
    return line


def irc_verb(line: str) -> str:
    """The command of a received IRC line, its tags and prefix skipped."""
    return _irc_strip(line).partition(" ")[0]


def irc_params(line: str) -> list[str]:
    """The parameters of a received IRC line (trailing included as the last one)."""
    rest = _irc_strip(line).partition(" ")[2]
    head, sep, trailing = rest.partition(" :") if not rest.startswith(":") else ("", ":", rest[1:])
    params = head.split()
    if sep:
        params.append(trailing)
    return params


def assert_all_irc(lines: list[str]) -> None:
    """Every line an IRC client got is an IRC line (never human text or JSON)."""
    pattern = re.compile(r"(@\S+ )?(:\S+ )?([A-Z]+|\d{3})( |$)")
    bad = [line for line in lines if not pattern.match(line)]
    assert not bad, bad


def irc_tags(line: str) -> dict[str, str]:
    """The tags of a received IRC line, values still escaped (empty when it has none)."""
    if not line.startswith("@"):
        return {}
    head = line[1:].partition(" ")[0]
    return dict(tag.partition("=")[::2] for tag in head.split(";"))


def isupport_tokens(lines: list[str]) -> list[str]:
    """Every ISUPPORT token (``BOT=B``, ``UTF8ONLY``...) the 005 lines among ``lines`` gave."""
    return [token for line in lines if irc_verb(line) == "005"
            for token in irc_params(line)[1:-1]]
