"""``quick_init``: the fast constructor of the hottest events builds exactly what the dataclass
constructor builds, and leaves them frozen."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from chat.core import commands as c
from chat.core import events as e
from chat.core.quickinit import quick_init


def _plain(cls: type) -> type:
    """The same dataclass with the constructor dataclasses generates."""
    fields = [(f.name, f.type, f) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(f"Plain{cls.__name__}", [(n, t, dataclasses.field(
        default=f.default, kw_only=f.kw_only)) if f.default is not dataclasses.MISSING
        else (n, t, dataclasses.field(kw_only=f.kw_only)) for n, t, f in fields],
        frozen=True, slots=True)


@pytest.mark.parametrize("cls", [e.Message, e.Delivery, c.Say])
def test_same_signature_as_the_dataclass_constructor(cls: type) -> None:
    def shape(c: type) -> list[tuple[str, object, object]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(c).parameters.values()]

    assert shape(cls) == shape(_plain(cls))
    assert [name for name, _, _ in shape(cls)] == [f.name for f in sorted(
        dataclasses.fields(cls), key=lambda f: f.kw_only)]


def test_a_message_is_built_as_the_dataclass_would_and_stays_frozen() -> None:
    source = e.Source("alice", "a", "host")
    message = e.Message("id1", 1.5, "#room", source, target="#room", text="hi", ref="R")
    plain = _plain(e.Message)("id1", 1.5, "#room", source, target="#room", text="hi", ref="R")
    assert dataclasses.astuple(message) == dataclasses.astuple(plain)
    assert message.kind == "message" and message.tags == () and message.ref == "R"
    assert message == e.Message("id1", 1.5, "#room", source, "#room", "hi", ref="R")
    assert hash(message) == hash(e.Message("id1", 1.5, "#room", source, "#room", "hi", ref="R"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(message)) == message
    assert dataclasses.replace(message, text="bye").text == "bye"
    with pytest.raises(TypeError):
        e.Message("id1", 1.5, "#room", source, "#room")  # type: ignore[call-arg]
    delivery = e.Delivery(message, (1, 2))
    assert delivery.origin is None and delivery.recipients == (1, 2)


def test_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="needs the dataclass"):
        quick_init(WithFactory)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPostInit:
        value: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="__post_init__"):
        quick_init(WithPostInit)
