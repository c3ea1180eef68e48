"""Accounts: registering one, logging in and out, changing the password; throttling guessers.

Hashing is slow by design, so the core never does it: a handler checks what it can at once
(lengths, throttling, state) and returns an :class:`~chat.core.events.Authenticate` effect; the
answer comes back through :func:`authenticated`. Failed logins are counted per address and per
account name, and the error never tells whether an account exists.
"""

from __future__ import annotations

import math

from chat.accounts.passwords import MAX_PASSWORD, password_problem
from chat.core import commands as c
from chat.core import events as e
from chat.core import operators
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User
from chat.core.monitor import tell_watchers
from chat.core.names import fold, nick_problem
from chat.core.owners import grant_founder

HANDLERS = Handlers()

WRONG = "Wrong account name or password"
#: A SCRAM message is a few hundred bytes; anything much longer is not one.
MAX_SCRAM_MESSAGE = 2048


def _throttled(ctx: Context, fx: Effects, user: User, account: str) -> bool:
    wait = ctx.failed_logins.wait(ctx.clock(), "host:" + user.host, "account:" + fold(account))
    if wait:
        text = f"Too many failed logins; try again in {math.ceil(wait)} seconds"
        ctx.error(fx, user, "login_throttled", text)
    return bool(wait)


def _busy(ctx: Context, fx: Effects, user: User) -> bool:
    if user.authenticating:
        ctx.error(fx, user, "login_in_progress", "Wait for your last account request to finish")
    return user.authenticating


@HANDLERS.on(c.RegisterAccount)
def register_account(ctx: Context, fx: Effects, user: User, cmd: c.RegisterAccount) -> None:
    """Register the user's nick as an account (its owner then logs in with the password)."""
    if user.account:
        ctx.error(fx, user, "already_logged_in", f"You are logged in as {user.account}")
        return
    problem = password_problem(cmd.password)
    if problem:
        ctx.error(fx, user, "password_invalid", problem)
        return
    if fold(user.nick) in ctx.accounts:
        ctx.error(fx, user, "account_taken", f"The account {user.nick} is already registered",
                  user.nick)
        return
    if _busy(ctx, fx, user):
        return
    user.authenticating = True
    fx.out.append(e.Authenticate(user.conn, "register", user.nick, cmd.password, ref=fx.ref))


@HANDLERS.on(c.Login)
def login(ctx: Context, fx: Effects, user: User, cmd: c.Login) -> None:
    """Log in (IRC's SASL does it before registration completes, so no nick is needed)."""
    account = cmd.account or user.nick
    if user.account:
        ctx.error(fx, user, "already_logged_in", f"You are logged in as {user.account}")
        return
    if not account or nick_problem(account, ctx.limits.nick_len):
        ctx.error(fx, user, "login_failed", WRONG)
        return
    if len(cmd.password) > MAX_PASSWORD:
        ctx.error(fx, user, "password_invalid", f"Passwords are at most {MAX_PASSWORD} characters")
        return
    if _throttled(ctx, fx, user, account) or _busy(ctx, fx, user):
        return
    user.authenticating = True
    fx.out.append(e.Authenticate(user.conn, "login", account, cmd.password, ref=fx.ref))


@HANDLERS.on(c.ScramStep)
def scram_step(ctx: Context, fx: Effects, user: User, cmd: c.ScramStep) -> None:
    """SASL SCRAM-SHA-256, a step at a time (the workers hold the exchange between steps)."""
    if user.account:
        ctx.error(fx, user, "already_logged_in", f"You are logged in as {user.account}")
        return
    if len(cmd.message) > MAX_SCRAM_MESSAGE:
        ctx.error(fx, user, "login_failed", WRONG)
        return
    if not cmd.final:
        wait = ctx.failed_logins.wait(ctx.clock(), "host:" + user.host)
        if wait:
            text = f"Too many failed logins; try again in {math.ceil(wait)} seconds"
            ctx.error(fx, user, "login_throttled", text)
            return
    if _busy(ctx, fx, user):
        return
    user.authenticating = True
    op = "scram-final" if cmd.final else "scram-first"
    fx.out.append(e.Authenticate(user.conn, op, "", cmd.message, ref=fx.ref))


@HANDLERS.on(c.Logout)
def logout(ctx: Context, fx: Effects, user: User, cmd: c.Logout) -> None:
    """Stop being logged in; the rooms are told (IRC account-notify)."""
    if not user.account:
        ctx.error(fx, user, "not_logged_in", "You are not logged in")
        return
    user.account = ""
    ctx.reply(fx, user, e.AccountStatus, account="", status="logged_out")
    _tell_rooms(ctx, fx, user)


@HANDLERS.on(c.ChangePassword)
def change_password(ctx: Context, fx: Effects, user: User, cmd: c.ChangePassword) -> None:
    """A new password for the logged-in account, the old one proving ownership."""
    if not user.account:
        ctx.error(fx, user, "not_logged_in", "Log in first")
        return
    problem = password_problem(cmd.new)
    if problem:
        ctx.error(fx, user, "password_invalid", problem)
        return
    if _throttled(ctx, fx, user, user.account) or _busy(ctx, fx, user):
        return
    user.authenticating = True
    fx.out.append(e.Authenticate(user.conn, "password", user.account, cmd.old, cmd.new,
                                 ref=fx.ref))


def authenticated(ctx: Context, user: User, request: e.Authenticate,
                  result: e.AuthResult) -> list[e.Output]:
    """A worker's answer to ``request``: the user is told, and the rooms if it logged in."""
    fx = Effects(user.conn, request.ref)
    user.authenticating = False
    op = request.op
    if op == "oper":
        operators.opered(ctx, fx, user, request, result)
        return fx.out
    if result.ok and op == "scram-first":
        if _throttled(ctx, fx, user, result.account):
            return fx.out
        ctx.reply(fx, user, e.SaslChallenge, data=result.reply)
        return fx.out
    if result.ok:
        if op == "scram-final":
            ctx.reply(fx, user, e.SaslChallenge, data=result.reply)
        if op == "password":
            ctx.reply(fx, user, e.AccountStatus, account=user.account, status="password_changed")
            return fx.out
        if op == "register":
            ctx.accounts.add(fold(result.account))
        user.account = result.account
        status = "registered" if op == "register" else "logged_in"
        ctx.reply(fx, user, e.AccountStatus, account=result.account, status=status)
        _tell_rooms(ctx, fx, user)
        for room in user.rooms.values():  # rooms it founded, it runs
            grant_founder(ctx, fx, user, room)
        return fx.out
    if result.problem == "taken":
        ctx.accounts.add(fold(result.account))
        ctx.error(fx, user, "account_taken",
                  f"The account {result.account} is already registered", result.account)
    elif result.problem in ("busy", "error"):
        ctx.error(fx, user, "try_again", "The server could not check that now; try again soon")
    else:
        keys = ["host:" + user.host]
        if result.account:
            keys.append("account:" + fold(result.account))
        ctx.failed_logins.failed(ctx.clock(), *keys)
        ctx.error(fx, user, "login_failed", WRONG)
    return fx.out


def _tell_rooms(ctx: Context, fx: Effects, user: User) -> None:
    if not user.registered:
        return
    told = ctx.neighbours(user)
    event = e.AccountChanged(*ctx.envelope(None, user.source), account=user.account)
    if len(told) > 1:
        fx.send(event, told[1:])
    tell_watchers(ctx, fx, user, event, told)
