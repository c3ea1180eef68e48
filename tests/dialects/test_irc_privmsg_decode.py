"""PRIVMSG/NOTICE decoding: the one-room fast path gives what the general path gives."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chat.core import commands as c
from chat.dialects.irc.messaging import privmsg


def decode(params: list[str], verb: str = "PRIVMSG", tags: dict[str, str] | None = None) -> Any:
    dialect: Any = SimpleNamespace(received_tags=tags or {})
    return privmsg(dialect, verb, params)


@pytest.mark.parametrize("verb, kind", [("PRIVMSG", "message"), ("NOTICE", "notice")])
def test_plain_text_to_one_room_is_one_say(verb: str, kind: str) -> None:
    assert decode(["#room", "hello there"], verb) == [
        c.Say("#room", "hello there", kind, ref=verb, status="", tags=())]


def test_what_the_fast_path_leaves_to_the_general_one_still_comes_out_right() -> None:
    # An action (CTCP framing), several targets, a status prefix, client-only tags.
    assert decode(["#room", "\x01ACTION waves\x01"]) == [
        c.Say("#room", "waves", "action", ref="PRIVMSG")]
    assert decode(["#a,#b", "hi"]) == [c.Say("#a", "hi", ref="PRIVMSG"),
                                       c.Say("#b", "hi", ref="PRIVMSG")]
    assert decode(["@#room", "ops only"]) == [
        c.Say("#room", "ops only", ref="PRIVMSG", status="op")]
    assert decode(["#room", "typing"], tags={"+typing": "active", "time": "x"}) == [
        c.Say("#room", "typing", ref="PRIVMSG", tags=(("+typing", "active"),))]
    # CTCP other than ACTION to a room is dropped, as ever.
    assert decode(["#room", "\x01VERSION\x01"]) == []
