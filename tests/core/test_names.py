"""Name rules: ban masks and how they match."""

from __future__ import annotations

from chat.core.names import mask_match, normalize_mask


def test_masks() -> None:
    assert normalize_mask("bob") == "bob!*@*"
    assert normalize_mask("*@host") == "*!*@host"
    assert mask_match("[a]*!*@*", "[A]lice!x@y")  # [ is a nick character, not a class
    assert not mask_match("bob!*@*", "bobby!x@y")
