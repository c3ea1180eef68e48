"""Room and user modes: parsing IRC's ``+o-v bob carol`` syntax, applying it, showing it.

Every dialect sends modes in IRC's syntax, so this is the one place that parses it.
"""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.history import save
from chat.core.model import Room, User
from chat.core.moderation import is_op
from chat.core.names import MAX_MASK, clean_text, fold, normalize_mask

HANDLERS = Handlers()

#: Room modes the core understands, grouped as IRC's CHANMODES advertises them:
#: lists (b bans, e ban exceptions, I invite exceptions), always with an argument (k), with an
#: argument when set (l), flags (i invite-only, m moderated, n no outside messages, p private,
#: s secret, t topic lock). o and v (operator, voice) are member statuses and take a nick.
LIST_MODES, KEY_MODES, LIMIT_MODES, FLAG_MODES, STATUS_MODES = "beI", "k", "l", "imnpst", "ov"
ROOM_MODES = LIST_MODES + KEY_MODES + LIMIT_MODES + FLAG_MODES + STATUS_MODES
#: i invisible, w wallops, B bot (a program: shown in WHO/WHOIS, tagged on its messages).
USER_MODES = "iwB"
#: The room attribute holding each list mode's masks.
MASK_LISTS = {"b": "bans", "e": "excepts", "I": "invex"}
MAX_MODE_ARGS = 6  # mode changes with an argument per command (IRC MODES=6)
MAX_BANS = 100


@HANDLERS.on(c.Mode)
def mode(ctx: Context, fx: Effects, user: User, cmd: c.Mode) -> None:
    """Show or change a room's modes (changes: operators only), or the user's own."""
    target = cmd.target
    if target is not None and not target.startswith("#"):
        _user_mode(ctx, fx, user, target, cmd)
        return
    room = ctx.find_room(fx, user, target)
    if room is None:
        return
    if not cmd.modes:
        modes, args = room.mode_string(show_key=user.conn in room.members)
        ctx.reply(fx, user, e.ModeInfo, room.name, target=room.name, modes=modes, args=args,
                  created=room.created)
        return
    changes = _parse(ctx, fx, user, room, cmd)
    if not changes or not is_op(ctx, fx, user, room):
        return
    applied = tuple(ch for ch in (_apply(ctx, fx, user, room, ch) for ch in changes)
                    if ch is not None)
    if applied:
        event = e.ModeChanged(*ctx.envelope(room.name, user.source), target=room.name,
                              changes=applied)
        fx.send(event, room.recipients)
        save(fx, room)


def _parse(ctx: Context, fx: Effects, user: User, room: Room,
           cmd: c.Mode) -> list[e.ModeChange]:
    """The changes ``cmd`` asks for, as IRC servers read them.

    An unknown letter is reported once; a letter missing its argument is skipped (``+b``
    alone answers the ban list); at most MAX_MODE_ARGS changes with an argument are kept.
    """
    adding, queue, changes = True, list(cmd.args), []
    with_args = 0
    listed: set[str] = set()
    unknown = False
    for char in cmd.modes:
        if char in "+-":
            adding = char == "+"
            continue
        if char not in ROOM_MODES:
            if not unknown:
                unknown = True
                ctx.error(fx, user, "unknown_mode", f"Unknown mode {char!r}", char, room.name)
            continue
        arg = None
        if char in LIST_MODES + KEY_MODES + STATUS_MODES or (char in LIMIT_MODES and adding):
            if not queue:
                if char in LIST_MODES and char not in listed:
                    listed.add(char)
                    _show_list(ctx, fx, user, room, char, listed)
                continue
            arg = queue.pop(0)
            with_args += 1
            if with_args > MAX_MODE_ARGS:
                break
        changes.append(e.ModeChange(adding, char, arg))
    return changes


def _show_list(ctx: Context, fx: Effects, user: User, room: Room, char: str,
               listed: set[str]) -> None:
    """Answer a list query (``MODE #room b``). Bans are for anyone; the exception lists only
    for the room's operators, as on solanum: they name who gets past the bans and ``+i``,
    which is the operators' business (one refusal per command, in ``listed`` as ``!``)."""
    if char != "b" and user.conn not in room.ops:
        if "!" not in listed:
            listed.add("!")
            is_op(ctx, fx, user, room)  # says so
        return
    masks = getattr(room, MASK_LISTS[char])
    ctx.reply(fx, user, e.BanList, room.name, bans=tuple(masks), kind=char)


def _apply(ctx: Context, fx: Effects, user: User, room: Room,
           ch: e.ModeChange) -> e.ModeChange | None:
    """Apply one change to ``room``; the change as it took effect, or None if it did not."""
    char, add, arg = ch.char, ch.add, ch.arg or ""
    if char in FLAG_MODES:
        if (char in room.modes) == add:
            return None
        (room.modes.add if add else room.modes.discard)(char)
        return ch
    if char in STATUS_MODES:
        member = ctx.find_nick(fx, user, arg)
        if member is None:
            return None
        if member.conn not in room.members:
            text = f"{member.nick} is not in {room.name}"
            ctx.error(fx, user, "user_not_in_room", text, member.nick, room.name)
            return None
        group = room.ops if char == "o" else room.voiced
        if (member.conn in group) == add:
            return None
        (group.add if add else group.discard)(member.conn)
        return e.ModeChange(add, char, member.nick)
    if char in KEY_MODES:
        key = clean_text(arg).replace(" ", "").replace(",", "").lstrip(":")[:23]
        if add:
            if not key or key == room.key:
                return None
            room.key = key
            return e.ModeChange(True, char, key)
        if not room.key:
            return None
        room.key = ""
        return e.ModeChange(False, char, "*")
    if char in LIMIT_MODES:
        if not add:
            if not room.limit:
                return None
            room.limit = 0
            return e.ModeChange(False, char)
        if not arg.isdigit() or int(arg) <= 0 or int(arg) == room.limit:
            return None
        room.limit = min(int(arg), 1_000_000)
        return e.ModeChange(True, char, str(room.limit))
    return _apply_mask(ctx, fx, user, room, char, add, arg)


def _apply_mask(ctx: Context, fx: Effects, user: User, room: Room, char: str, add: bool,
                arg: str) -> e.ModeChange | None:
    """Add or remove one mask of a list mode (normalised: ``bob`` means ``bob!*@*``)."""
    masks: list[e.BanInfo] = getattr(room, MASK_LISTS[char])
    mask = normalize_mask(clean_text(arg).replace(" ", "").lstrip(":"))
    existing = next((b for b in masks if fold(b.mask) == fold(mask)), None)
    if not add:
        if existing is None:
            return None
        masks.remove(existing)
        return e.ModeChange(False, char, existing.mask)
    if existing is not None:
        return None
    if len(mask) > MAX_MASK:
        text = f"Ban masks are at most {MAX_MASK} characters"
        ctx.error(fx, user, "mask_too_long", text, "MODE", room.name)
        return None
    if len(masks) >= MAX_BANS:
        text = f"The +{char} list of {room.name} is full ({MAX_BANS})"
        ctx.error(fx, user, "list_full", text, char, room.name)
        return None
    masks.append(e.BanInfo(mask, user.nick, ctx.clock()))
    return e.ModeChange(True, char, mask)


def _user_mode(ctx: Context, fx: Effects, user: User, target: str, cmd: c.Mode) -> None:
    """Show or change one's own user modes (``+i`` invisible, ``+w`` wallops)."""
    if fold(target) != fold(user.nick):
        if fold(target) not in ctx.nicks:
            ctx.error(fx, user, "no_such_nick", f"Nobody is called {target}", target)
        else:
            ctx.error(fx, user, "users_dont_match", "You can only change your own modes", target)
        return
    if not cmd.modes:
        ctx.reply(fx, user, e.ModeInfo, target=user.nick, modes="+" + "".join(sorted(user.modes)))
        return
    adding, changes, unknown = True, [], False
    for char in cmd.modes:
        if char in "+-":
            adding = char == "+"
        elif char in USER_MODES:
            if (char in user.modes) != adding:
                if not isinstance(user.modes, set):
                    user.modes = set()
                (user.modes.add if adding else user.modes.discard)(char)
                changes.append(e.ModeChange(adding, char))
        elif not unknown:
            unknown = True
            ctx.error(fx, user, "unknown_user_mode", f"Unknown user mode {char!r}", char)
    if changes:
        event = e.ModeChanged(*ctx.envelope(None, user.source), target=user.nick,
                              changes=tuple(changes), ref=fx.ref)
        fx.send(event, (user.conn,))  # only the user sees its own modes: a reply
