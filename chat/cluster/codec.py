"""JSON for the values that cross the backplane: commands, events and the records inside them.

Never pickle (a Redis anyone can write to must not be able to run code in every node): only
dataclasses registered here (by class name) are rebuilt, and anything else is refused with
:class:`CodecError`. JSON arrays come back as tuples (every sequence field of a command or an
event is a tuple), ``{"@s": [...]}`` is a frozenset and ``{"@d": {...}}`` a plain dict (a
structured client's ``ref`` may be an object; escaping it means no client can forge a type tag).
Fields equal to their default are left out, so the common command is a short line.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from types import ModuleType
from typing import Any, cast

from chat.accounts import records as account_records
from chat.core import commands, envelope, events
from chat.dialects.irc import numerics as irc_refs
from chat.history import records as history_records


class CodecError(ValueError):
    """An entry that is not a value this codec writes (corrupt, foreign, or from a newer node)."""


def _registry(*modules: ModuleType) -> dict[str, type]:
    found: dict[str, type] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                other = found.get(value.__name__)
                if other is not None and other is not value:
                    raise RuntimeError(f"two dataclasses named {value.__name__}")
                found[value.__name__] = value
    return found


#: Every type that may cross the backplane, by name (a dialect's ``ref`` objects too: the
#: core echoes them, so they travel with the commands that carry them).
TYPES = _registry(commands, envelope, events, history_records, account_records, irc_refs)
_MISSING = dataclasses.MISSING
#: Per type: (name, default or _MISSING) per field, for encoding without dataclasses.fields().
_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {
    cls: tuple((f.name, f.default if f.default_factory is _MISSING else f.default_factory())
               for f in dataclasses.fields(cls))
    for cls in TYPES.values()
}


def to_plain(value: Any) -> Any:
    """A value made only of JSON types (the inverse of :func:`from_plain`)."""
    cls = value.__class__
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is tuple or cls is list:
        return [to_plain(item) for item in value]
    fields = _FIELDS.get(cls)
    if fields is not None:
        out: dict[str, Any] = {"@": cls.__name__}
        for name, default in fields:
            item = getattr(value, name)
            if default is _MISSING or item != default or item.__class__ is not default.__class__:
                out[name] = to_plain(item)
        return out
    if cls is frozenset or cls is set:
        return {"@s": sorted(to_plain(item) for item in value)}
    if cls is dict:
        return {"@d": {str(key): to_plain(item) for key, item in value.items()}}
    raise CodecError(f"cannot encode a {cls.__name__}")


def from_plain(value: Any) -> Any:
    """Rebuild what :func:`to_plain` made; anything it could not have made is refused."""
    if isinstance(value, list):
        return tuple(from_plain(item) for item in value)
    if not isinstance(value, dict):
        return value
    if "@" in value:
        cls = TYPES.get(value["@"])
        if cls is None:
            raise CodecError(f"unknown type {value['@']!r}")
        kwargs = {key: from_plain(item) for key, item in value.items() if key != "@"}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise CodecError(f"bad {cls.__name__}: {exc}") from None
    if "@s" in value:
        return frozenset(from_plain(item) for item in value["@s"])
    if "@d" in value:
        return {key: from_plain(item) for key, item in value["@d"].items()}
    raise CodecError("an object without a type tag")


#: Made once: ``json.dumps`` with any option builds a new encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ASCII: the fastest path here
_STRING = encode_basestring_ascii  # C: a str as a JSON string literal, as ``_ENCODER`` writes it
#: Per type: ('"name":' prefix, name, default or _MISSING) per field, and the '{"@":"Type"'
#: opening, for writing JSON straight from the object.
_WRITERS: dict[type, tuple[str, tuple[tuple[str, str, Any], ...]]] = {
    cls: ('{"@":' + _STRING(cls.__name__),
          tuple(("," + _STRING(name) + ":", name, default) for name, default in fields))
    for cls, fields in _FIELDS.items()
}


def _compile_writer(cls: type) -> Callable[[Any, list[str]], None]:
    """A function writing one ``cls`` the way :func:`_write`'s loop over ``_WRITERS`` does,
    with the fields unrolled and string fields written inline (a call is encoded on the
    engine's thread for every command a node appends: this halves it)."""
    opening, fields = _WRITERS[cls]
    env: dict[str, Any] = {"_write": _write, "_STRING": _STRING}
    body = ["def write(value, out):", "    append = out.append", f"    append({opening!r})"]
    for i, (prefix, name, default) in enumerate(fields):
        body.append(f"    item = value.{name}")
        indent = "    "
        if default is not _MISSING:
            env[f"D{i}"], env[f"C{i}"] = default, default.__class__
            body.append(f"    if item != D{i} or item.__class__ is not C{i}:")
            indent = "        "
        body += [f"{indent}if item.__class__ is str:",
                 f"{indent}    append({prefix!r} + _STRING(item))",
                 f"{indent}else:",
                 f"{indent}    append({prefix!r})",
                 f"{indent}    _write(item, out)"]
    body.append("    append('}')")
    exec("\n".join(body), env)
    return cast(Callable[[Any, list[str]], None], env["write"])


def _write(value: Any, out: list[str]) -> None:
    """Append ``value``'s JSON to ``out``: the same text as ``_ENCODER.encode(to_plain(value))``
    for the common values (strings, ints, None, tuples, registered dataclasses), without
    building the intermediate dicts; anything else goes through that general path."""
    cls = value.__class__
    if cls is str:
        out.append(_STRING(value))
    elif cls is int:
        out.append(int.__repr__(value))
    elif value is None:
        out.append("null")
    elif cls is bool:
        out.append("true" if value else "false")
    elif cls is tuple or cls is list:
        out.append("[")
        first = True
        for item in value:
            if not first:
                out.append(",")
            first = False
            _write(item, out)
        out.append("]")
    else:
        writer = _COMPILED.get(cls)
        if writer is None:
            out.append(_ENCODER.encode(to_plain(value)))  # floats, sets, dicts
            return
        writer(value, out)


_COMPILED: dict[type, Callable[[Any, list[str]], None]] = {
    cls: _compile_writer(cls) for cls in _WRITERS}


def dumps(value: Any) -> str:
    """``value`` as one compact JSON text (about 3× faster than ``json.dumps(to_plain(...))``
    for a command: this runs on the engine's thread for every call a node appends)."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def dumps_call(call: tuple[Any, ...]) -> str:
    """A core call (``("handle", conn, command)``...) as :func:`dumps` writes it, the common
    shape written without the general loop."""
    if len(call) == 3 and call[1].__class__ is int:
        writer = _COMPILED.get(call[2].__class__)
        kind = call[0]
        if writer is not None and kind.__class__ is str:
            out = ["[", _STRING(kind), ",", int.__repr__(call[1]), ","]
            writer(call[2], out)
            out.append("]")
            return "".join(out)
    return dumps(call)


def loads(text: str | bytes) -> Any:
    """The value :func:`dumps` wrote; :class:`CodecError` for anything else."""
    try:
        plain = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"not JSON: {exc}") from None
    return from_plain(plain)
