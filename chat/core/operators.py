"""Server operators: OPER (checked by the account workers against the config's hashes), KILL,
WALLOPS and server-wide bans with expiry. Every operator action is logged.
"""

from __future__ import annotations

import logging
import math

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User
from chat.core.moderation import hostmask
from chat.core.names import MAX_MASK, clean_text, fold, mask_match, normalize_mask
from chat.core.registration import disconnect

HANDLERS = Handlers()
log = logging.getLogger("chat.operators")

#: Server bans in force at once: enough for any real server, a bound on each registration's
#: check.
MAX_SERVER_BANS = 1000


def _is_oper(ctx: Context, fx: Effects, user: User) -> bool:
    if not user.oper:
        ctx.error(fx, user, "not_oper", "Only server operators may do that")
    return bool(user.oper)


@HANDLERS.on(c.Oper)
def oper(ctx: Context, fx: Effects, user: User, cmd: c.Oper) -> None:
    """Check the operator password off the engine's thread (it is an argon2 hash)."""
    if user.oper:
        ctx.reply(fx, user, e.OperStatus, name=user.oper)
        return
    wait = ctx.failed_logins.wait(ctx.clock(), "host:" + user.host, "oper:" + fold(cmd.name))
    if wait:
        text = f"Too many failed attempts; try again in {math.ceil(wait)} seconds"
        ctx.error(fx, user, "login_throttled", text)
        return
    if user.authenticating:
        ctx.error(fx, user, "login_in_progress", "Wait for your last account request to finish")
        return
    user.authenticating = True
    fx.out.append(e.Authenticate(user.conn, "oper", cmd.name, cmd.password, ref=fx.ref))


def opered(ctx: Context, fx: Effects, user: User, request: e.Authenticate,
           result: e.AuthResult) -> None:
    """The workers checked an OPER: promote, or count the failure."""
    if result.ok:
        user.oper = result.account
        added = tuple(e.ModeChange(True, m) for m in "ow" if m not in user.modes)
        user.modes = set(user.modes) | {"o", "w"}
        log.warning("operator %s: %s (%s) is now a server operator", result.account,
                    user.nick, user.host)
        ctx.reply(fx, user, e.OperStatus, name=result.account)
        if added:  # told as any user-mode change is, so every dialect shows it
            fx.send(e.ModeChanged(*ctx.envelope(), target=user.nick, changes=added),
                    (user.conn,))
        return
    ctx.failed_logins.failed(ctx.clock(), "host:" + user.host, "oper:" + fold(request.account))
    log.warning("failed OPER as %r from %s (%s)", request.account, user.nick, user.host)
    ctx.error(fx, user, "oper_failed", "Wrong operator name or password")


@HANDLERS.on(c.Kill)
def kill(ctx: Context, fx: Effects, user: User, cmd: c.Kill) -> None:
    """Disconnect someone; its rooms hear why."""
    if not _is_oper(ctx, fx, user):
        return
    victim = ctx.find_nick(fx, user, cmd.nick)
    if victim is None:
        return
    reason = ctx.reason(cmd.reason) or "no reason given"
    log.warning("operator %s (%s): KILL %s (%s@%s): %s", user.oper, user.nick, victim.nick,
                victim.ident, victim.host, reason)
    disconnect(ctx, fx, victim, f"Killed by {user.nick} ({reason})")


@HANDLERS.on(c.Wallops)
def wallops(ctx: Context, fx: Effects, user: User, cmd: c.Wallops) -> None:
    """To everyone with user mode +w (operators have it), the sender included."""
    if not _is_oper(ctx, fx, user):
        return
    text = clean_text(cmd.text)[: ctx.limits.message_len]
    if not text.strip():
        ctx.error(fx, user, "empty_message", "Nothing to send")
        return
    log.warning("operator %s (%s): WALLOPS %s", user.oper, user.nick, text)
    recipients = tuple(u.conn for u in ctx.users.values() if u.registered and "w" in u.modes)
    fx.send(e.WallopsMessage(*ctx.envelope(None, user.source), text=text), recipients)


@HANDLERS.on(c.ServerBan)
def server_ban(ctx: Context, fx: Effects, user: User, cmd: c.ServerBan) -> None:
    """List, add or lift a server-wide ban; adding one disconnects whoever matches it now."""
    if not _is_oper(ctx, fx, user):
        return
    now = ctx.clock()
    ctx.server_bans[:] = [b for b in ctx.server_bans if not b.expires or b.expires > now]
    if not cmd.mask:
        ctx.reply(fx, user, e.ServerBanList, bans=tuple(ctx.server_bans))
        return
    mask = normalize_mask(cmd.mask)
    if len(mask) > MAX_MASK:
        ctx.error(fx, user, "mask_too_long", f"Masks are at most {MAX_MASK} characters", mask)
        return
    existing = [b for b in ctx.server_bans if fold(b.mask) == fold(mask)]
    if cmd.remove:
        if not existing:
            ctx.error(fx, user, "no_such_ban", f"No server ban on {mask}", mask)
            return
        ctx.server_bans.remove(existing[0])
        log.warning("operator %s (%s): UNBAN %s", user.oper, user.nick, mask)
        ctx.reply(fx, user, e.Notice, text=f"Server ban on {mask} lifted")
    else:
        if len(ctx.server_bans) >= MAX_SERVER_BANS and not existing:
            ctx.error(fx, user, "list_full", f"There are {MAX_SERVER_BANS} server bans already")
            return
        reason = ctx.reason(cmd.reason) or "Banned"
        expires = now + cmd.seconds if cmd.seconds > 0 else 0.0
        for old in existing:
            ctx.server_bans.remove(old)
        ban = e.ServerBanInfo(mask, reason, user.oper, now, expires)
        ctx.server_bans.append(ban)
        until = f"for {cmd.seconds:g} s" if expires else "until lifted"
        log.warning("operator %s (%s): BAN %s %s: %s", user.oper, user.nick, mask, until, reason)
        ctx.reply(fx, user, e.Notice, text=f"Server ban on {mask} {until}: {reason}")
        # By connection id, not the users dict's order: a cluster node makes its own users
        # before the log has them, so that order differs between replicas (and with it the
        # order of quits, of WHOWAS entries and of rooms going idle).
        for victim in sorted((u for u in ctx.users.values() if u.registered and u is not user
                              and mask_match(mask, hostmask(u))), key=lambda u: u.conn):
            disconnect(ctx, fx, victim, f"Banned from this server: {reason}")
    fx.out.append(e.SaveServerBans(tuple(ctx.server_bans)))
