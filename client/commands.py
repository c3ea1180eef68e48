"""What the user types: plain text goes to the current conversation, ``/commands`` do the rest.

Each command is a small function over a :class:`Context` (model, connection, a way to quit),
so the same table drives execution, ``/help`` and Tab completion of command names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chat.wire.names import fold
from client.config import MAX_LIST, ConfigError
from client.connection import Connection
from client.model import ChatModel, Conversation


def _no_saving(ignored: list[str]) -> str:
    return "for this session (no config file)"


@dataclass(slots=True)
class Context:
    """What commands act on; the UI supplies ``quit``, ``clear`` and ``save_ignore`` (which
    keeps the ignore list in the config file and says where, or raises ``ConfigError``)."""

    model: ChatModel
    connection: Connection
    quit: Callable[[str], None]
    clear: Callable[[], None] = lambda: None
    save_ignore: Callable[[list[str]], str] = _no_saving


@dataclass(frozen=True, slots=True)
class Command:
    """One ``/command``: its usage line, a one-line help and the function that runs it."""

    name: str
    usage: str
    help: str
    run: Callable[[Context, str], bool]
    alias_of: str | None = None  # a short form (/j for /join): listed apart in /help


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, help: str) -> Callable[[Callable[[Context, str], bool]], None]:
    """Register a command; its function returns False when the input should stay in the box."""
    def register(fn: Callable[[Context, str], bool]) -> None:
        COMMANDS[name] = Command(name, usage, help, fn)
    return register


def alias(short: str, name: str) -> None:
    """``/short`` does what ``/name`` does (the names irssi and weechat users type)."""
    target = COMMANDS[name]
    usage = target.usage.replace(f"/{name}", f"/{short}", 1)
    COMMANDS[short] = Command(short, usage, f"The same as /{name}", target.run, alias_of=name)


def execute(ctx: Context, text: str) -> bool:
    """Run one input line. Returns False if it failed (the user was told why): a paste stops
    at such a line. The input box is emptied either way (see ``ChatApp._accept``)."""
    if not text.strip():
        return True
    if text.startswith("/") and not text.startswith("//"):
        name, _, args = text[1:].partition(" ")
        cmd = COMMANDS.get(name.lower())
        if cmd is None:
            ctx.model.info(f"Unknown command /{name}. Type /help for the list.", kind="error")
            return False
        return cmd.run(ctx, args.strip())
    if text.startswith("//"):
        text = text[1:]  # "//etc" sends "/etc"
    return _say(ctx, text, "message")


def _not_connected(ctx: Context) -> bool:
    ctx.model.info("Not connected to the server yet; nothing was sent.", kind="error")
    return False


def _send(ctx: Context, request: str, /, **fields: object) -> bool:
    return ctx.connection.send(request, **fields) or _not_connected(ctx)


def say_in(ctx: Context, key: str, text: str) -> bool:
    """Send ``text`` as it is (no command) to the conversation ``key`` (pasted lines)."""
    conv = ctx.model.conversations.get(key)
    if conv is None:
        ctx.model.info("That conversation is closed; nothing was sent.", kind="error")
        return False
    return _say(ctx, text, "message", conv)


def _say(ctx: Context, text: str, kind: str, conv: Conversation | None = None) -> bool:
    conv = conv or ctx.model.current
    if conv.kind == "server":
        ctx.model.info("This is the server tab: /join #room to talk, /rooms to list rooms.",
                       kind="error")
        return False
    if conv.kind == "room" and not conv.joined:
        ctx.model.info(f"You are not in {conv.name}; /join {conv.name} first.", kind="error")
        return False
    # The server echoes what we send; that echo is what appears in the pane.
    return _send(ctx, "message", to=conv.name, text=text, kind=kind)


def _room_arg(name: str) -> str:
    return name if name.startswith("#") else "#" + name


def _usage(ctx: Context, name: str) -> bool:
    ctx.model.info(f"Usage: {COMMANDS[name].usage}", kind="error")
    return False


@command("help", "/help [command]", "List commands, or explain one")
def _help(ctx: Context, args: str) -> bool:
    if args:
        cmd = COMMANDS.get(args.lstrip("/").lower())
        if cmd is None:
            ctx.model.info(f"No command /{args.lstrip('/')}.", kind="error")
        else:
            ctx.model.info(f"{cmd.usage} — {cmd.help}")
        return True
    ctx.model.info("Commands (Tab completes commands, nicks and #rooms):")
    for cmd in COMMANDS.values():
        if cmd.alias_of is None:
            ctx.model.info(f"  {cmd.usage:<24} {cmd.help}")
    short = ", ".join(f"/{c.name} = /{c.alias_of}" for c in COMMANDS.values() if c.alias_of)
    ctx.model.info(f"Short forms: {short}")
    ctx.model.info("Keys: Ctrl+N/Ctrl+P, Alt+1..9, Alt+0, Alt+Q..O, Alt+J NN switch "
                   "conversations, Alt+A the next with activity, PageUp/PageDown scroll, "
                   "Alt+Home the top, F2 the side panel, Up/Down recall input, Ctrl+C quits.")
    return True


@command("join", "/join #room", "Join a room (created if it does not exist) and switch to it")
def _join(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "join")
    room = _room_arg(args.split()[0])
    conv = ctx.model.get(room)
    if conv is not None and conv.kind == "room" and conv.joined:
        ctx.model.select(conv.key)
        return True
    ctx.model.expect_join(room)
    return _send(ctx, "join", room=room)


@command("part", "/part [#room] [reason]", "Leave a room (the current one by default)")
def _part(ctx: Context, args: str) -> bool:
    first, _, rest = args.partition(" ")
    if first.startswith("#"):
        room, reason = first, rest.strip()
    else:
        room, reason = ctx.model.current.name, args
        if ctx.model.current.kind != "room":
            return _usage(ctx, "part")
    return _send(ctx, "part", room=room, reason=reason or None)


@command("msg", "/msg nick text", "Send a private message (opens a conversation)")
def _msg(ctx: Context, args: str) -> bool:
    nick, _, text = args.partition(" ")
    if not nick or not text.strip():
        return _usage(ctx, "msg")
    if not _send(ctx, "message", to=nick, text=text):
        return False
    if not nick.startswith("#"):
        ctx.model.open_private(nick)
    return True


@command("query", "/query nick", "Open a private conversation with someone")
def _query(ctx: Context, args: str) -> bool:
    if not args or args.startswith("#"):
        return _usage(ctx, "query")
    ctx.model.open_private(args.split()[0])
    return True


@command("me", "/me action", "Describe what you are doing (* alice waves)")
def _me(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "me")
    return _say(ctx, args, "action")


@command("nick", "/nick name", "Change your nickname")
def _nick(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "nick")
    return ctx.connection.change_nick(args.split()[0]) or _not_connected(ctx)


@command("topic", "/topic [text]", "Show the current room's topic, or set it")
def _topic(ctx: Context, args: str) -> bool:
    conv = ctx.model.current
    if conv.kind != "room":
        ctx.model.info("Topics belong to rooms; switch to one first.", kind="error")
        return False
    return _send(ctx, "topic", room=conv.name, topic=args or None)


@command("rooms", "/rooms", "List every room on the server")
def _rooms(ctx: Context, args: str) -> bool:
    return _send(ctx, "rooms")


@command("who", "/who [#room]", "List who is in a room")
def _who(ctx: Context, args: str) -> bool:
    room = _room_arg(args.split()[0]) if args else ctx.model.current.name
    if not room.startswith("#"):
        return _usage(ctx, "who")
    conv = ctx.model.get(room)
    if conv is not None and conv.kind == "room" and conv.joined and conv.members:
        names = " ".join(m.prefix + m.nick for m in conv.sorted_members())
        ctx.model.info(f"In {conv.name} ({len(conv.members)}): {names}")
        return True
    return _send(ctx, "who", room=room)


def _current_room(ctx: Context, name: str) -> str | None:
    """The current conversation's room, or None (after saying so) when it is not a room."""
    conv = ctx.model.current
    if conv.kind == "room":
        return conv.name
    ctx.model.info(f"/{name} works in a room; switch to one first.", kind="error")
    return None


@command("whois", "/whois nick", "Who someone is: rooms, away message, idle time")
def _whois(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "whois")
    return _send(ctx, "whois", nick=args.split()[0])


@command("away", "/away [message]", "Mark yourself away (no message: back)")
def _away(ctx: Context, args: str) -> bool:
    return _send(ctx, "away", text=args)


@command("back", "/back", "You are back (the same as /away with no message)")
def _back(ctx: Context, args: str) -> bool:
    return _send(ctx, "away", text="")


@command("kick", "/kick nick [reason]", "Operators: remove someone from the current room")
def _kick(ctx: Context, args: str) -> bool:
    nick, _, reason = args.partition(" ")
    if not nick:
        return _usage(ctx, "kick")
    room = _current_room(ctx, "kick")
    return room is not None and _send(ctx, "kick", room=room, nick=nick,
                                      reason=reason.strip() or None)


@command("invite", "/invite nick [#room]", "Invite someone (into a +i room, for example)")
def _invite(ctx: Context, args: str) -> bool:
    nick, _, rest = args.partition(" ")
    if not nick:
        return _usage(ctx, "invite")
    room = _room_arg(rest.split()[0]) if rest.strip() else _current_room(ctx, "invite")
    return room is not None and _send(ctx, "invite", nick=nick, room=room)


@command("mode", "/mode [+/-modes] [args]",
         "Show or (operators) change the current room's modes: o v t m i n s p k l b e I")
def _mode(ctx: Context, args: str) -> bool:
    room = _current_room(ctx, "mode")
    if room is None:
        return False
    words = args.split()
    if not words:
        return _send(ctx, "mode", target=room)
    return _send(ctx, "mode", target=room, modes=words[0], args=words[1:])


def _status_command(name: str, modes: str, help: str) -> None:
    def run(ctx: Context, args: str) -> bool:
        if not args:
            return _usage(ctx, name)
        room = _current_room(ctx, name)
        return room is not None and _send(ctx, "mode", target=room, modes=modes,
                                          args=[args.split()[0]])
    command(name, f"/{name} nick", help)(run)


_status_command("op", "+o", "Operators: make someone an operator of the current room")
_status_command("deop", "-o", "Operators: take operator status away")
_status_command("voice", "+v", "Operators: let someone talk in a moderated (+m) room")
_status_command("devoice", "-v", "Operators: take voice away")


@command("close", "/close", "Close this conversation (leaves the room)")
def _close(ctx: Context, args: str) -> bool:
    conv = ctx.model.current
    if conv.kind == "room" and conv.joined:
        return _send(ctx, "part", room=conv.name, reason=args or None)
    if conv.kind == "server":
        ctx.model.info("The server tab stays; /quit to leave.", kind="error")
        return False
    ctx.model.close(conv.key)
    return True


@command("window", "/window N", "Go to conversation N of the side panel (Alt+N for 1 to 9)")
def _window(ctx: Context, args: str) -> bool:
    word = args.split()[0] if args else ""
    if not word.isdigit():
        return _usage(ctx, "window")
    if not ctx.model.select_index(int(word) - 1):
        count = len(ctx.model.conversations)
        ctx.model.info(f"No conversation {word}: there are {count}.", kind="error")
        return False
    return True


@command("say", "/say text", "Send text as it is, even if it starts with /")
def _say_command(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "say")
    return _say(ctx, args, "message")


@command("notice", "/notice nick|#room text", "Send a notice (clients do not answer notices)")
def _notice(ctx: Context, args: str) -> bool:
    target, _, text = args.partition(" ")
    if not target or not text.strip():
        return _usage(ctx, "notice")
    return _send(ctx, "message", to=target, text=text.strip(), kind="notice")


@command("ignore", "/ignore [nick ...]",
         "Hide someone's messages, joins, parts and away notices (* and ? match any); "
         "alone, list who is ignored")
def _ignore(ctx: Context, args: str) -> bool:
    model = ctx.model
    if not args:
        names = ", ".join(model.ignored) if model.ignored else "nobody"
        model.info(f"Ignoring: {names}.")
        return True
    new = [n for n in args.split() if fold(n) not in {fold(x) for x in model.ignored}]
    if any(model.is_me(n) for n in new):
        model.info("You cannot ignore yourself.", kind="error")
        return False
    if len(model.ignored) + len(new) > MAX_LIST:
        model.info(f"The ignore list holds at most {MAX_LIST} entries.", kind="error")
        return False
    return _set_ignored(ctx, [*model.ignored, *new], f"Ignoring {', '.join(args.split())}")


@command("unignore", "/unignore nick", "Stop ignoring someone")
def _unignore(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "unignore")
    drop = {fold(n) for n in args.split()}
    kept = [n for n in ctx.model.ignored if fold(n) not in drop]
    if len(kept) == len(ctx.model.ignored):
        ctx.model.info(f"You were not ignoring {args}.", kind="error")
        return False
    return _set_ignored(ctx, kept, f"No longer ignoring {args}")


def _set_ignored(ctx: Context, ignored: list[str], said: str) -> bool:
    ctx.model.set_ignored(ignored)
    try:
        where = ctx.save_ignore(ignored)
    except ConfigError as exc:
        ctx.model.info(f"{said}, for this session only: {exc}", kind="error")
        return True
    ctx.model.info(f"{said} (kept {where}).")
    return True


@command("clear", "/clear", "Clear this conversation's lines")
def _clear(ctx: Context, args: str) -> bool:
    ctx.model.current.lines.clear()
    ctx.clear()
    return True


# -- accounts: lines with a password never reach the input history or the scrollback ------------

MASK = "********"  # always eight: the length of a password is not shown either
# Per command: which of its arguments are secret ("last": all but a first word, when two or more).
SECRET_COMMANDS = {"register": "all", "login": "last", "identify": "last", "password": "all"}


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where the passwords are in an input line (start, end), for masking; [] if it has none."""
    if not text.startswith("/"):
        return []
    name, sep, _ = text[1:].partition(" ")
    rule = SECRET_COMMANDS.get(name.lower())
    if rule is None or not sep:
        return []
    start = len(name) + 2
    args = text[start:]
    if rule == "all":
        return [(start, len(text))] if args.strip() else []
    # /login [account] password: the account is the first word only when another follows.
    stripped = args.lstrip()
    first, _, rest = stripped.partition(" ")
    if not rest.strip():
        return [(start, len(text))] if first else []
    after_first = start + (len(args) - len(stripped)) + len(first)
    return [(after_first + len(rest) - len(rest.lstrip()) + 1, len(text))]


def is_secret(text: str) -> bool:
    """Whether ``text`` is an account command (it must stay out of the input history)."""
    name = text[1:].partition(" ")[0].lower() if text.startswith("/") else ""
    return name in SECRET_COMMANDS


def _account_command(ctx: Context, text: str, sent: bool) -> bool:
    if not sent:
        return _not_connected(ctx)
    ctx.model.info(text)
    return True


@command("register", "/register password",
         "Register your nick as an account (and log in); the password stays out of the history")
def _register(ctx: Context, args: str) -> bool:
    if not args:
        return _usage(ctx, "register")
    return _account_command(ctx, f"/register {MASK}", ctx.connection.register(args))


def _login_command(name: str) -> Callable[[Context, str], bool]:
    def run(ctx: Context, args: str) -> bool:
        first, _, rest = args.partition(" ")
        if not first:
            return _usage(ctx, name)
        account, password = (first, rest.strip()) if rest.strip() else (None, first)
        shown = f"/{name} {account + ' ' if account else ''}{MASK}"
        return _account_command(ctx, shown, ctx.connection.login(account, password))
    return run


command("login", "/login [account] password",
        "Log in to your account (default: your nick); reconnects log in again")(
    _login_command("login"))
command("identify", "/identify [account] password", "The same as /login")(
    _login_command("identify"))


@command("logout", "/logout", "Log out of your account (reconnects stay logged out)")
def _logout(ctx: Context, args: str) -> bool:
    return _account_command(ctx, "/logout", ctx.connection.logout())


@command("password", "/password old new", "Change your account's password")
def _password(ctx: Context, args: str) -> bool:
    words = args.split()
    if len(words) != 2:
        return _usage(ctx, "password")
    return _account_command(ctx, f"/password {MASK} {MASK}",
                            ctx.connection.change_password(words[0], words[1]))


@command("reconnect", "/reconnect", "Try to reconnect now instead of waiting")
def _reconnect(ctx: Context, args: str) -> bool:
    ctx.connection.reconnect_now()
    return True


@command("quit", "/quit [reason]", "Leave the chat (Ctrl+C and Ctrl+D too)")
def _quit(ctx: Context, args: str) -> bool:
    ctx.quit(args or "Leaving")
    return True


for _short, _name in (("j", "join"), ("leave", "part"), ("names", "who"), ("list", "rooms"),
                      ("w", "whois"), ("wc", "close"), ("win", "window")):
    alias(_short, _name)
