"""Real IRC client programs against both engines: ``ii`` (driven through files) and
``weechat-headless`` (driven through its FIFO, read through its log files).

Each talks with a telnet-mode user and a structured-mode user in #lobby. The programs write
files, not sockets we own, so waiting here means polling a file until a line shows up, with a
deadline; nothing sleeps for a fixed time. A missing binary skips its test with the install
command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import IrcClient
from support import TEST_LIMITS, WAIT, Clients, LineClient

from chat.config import ServerConfig


@pytest.fixture
def server_config() -> ServerConfig:
    """People land in #hall; the tests meet in #lobby, which tina creates and so runs (the
    default room belongs to the server, so nobody would be its operator)."""
    return ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5, default_room="#hall")


def host_of_lobby(clients: Clients) -> LineClient:
    """tina, on telnet, in #lobby as its operator."""
    person = clients.human("tina")
    person.send("/join #lobby\r\n")
    person.expect("In #lobby")
    return person


def need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed; install with: apt-get install -y {package}")
    return path


def wait_for(path: Path, text: str, timeout: float = WAIT) -> str:
    """Poll ``path`` until it contains ``text``; return the contents."""
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        try:
            content = path.read_text(errors="replace")
        except FileNotFoundError:
            content = ""
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}; it has:\n{content[-2000:]}")


def wait_path(path: Path, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def write_fifo(path: Path, line: str) -> None:
    """Write one line to a FIFO the client program reads (it keeps it open)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:  # no reader yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@pytest.fixture
def programs() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start client programs; every one is stopped (then killed) at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_ii_joins_and_talks_with_telnet_and_structured_users(
        clients: Clients, programs: Callable[..., subprocess.Popen[bytes]], tmp_path: Path,
        irc: Callable[..., IrcClient]) -> None:
    ii = need("ii", "ii")
    person = host_of_lobby(clients)
    bot = clients.bot("bert", "#lobby")
    host, port = clients.server.host, clients.server.port
    programs(ii, "-s", host, "-p", str(port), "-n", "iiuser", "-i", str(tmp_path),
             "-f", "ii user")
    server_dir = tmp_path / host
    wait_for(server_dir / "out", "Welcome to the chat.local IRC network, iiuser")
    write_fifo(server_dir / "in", "/j #lobby")
    room = server_dir / "#lobby"
    wait_for(room / "out", "iiuser(iiuser@127.0.0.1) has joined #lobby")
    person.expect("iiuser joined #lobby")
    person.send("hello ii\r\n")
    wait_for(room / "out", "<tina> hello ii")
    bot.request(type="message", to="#lobby", text="hello from json")
    wait_for(room / "out", "<bert> hello from json")
    write_fifo(room / "in", "hi both, from ii")
    person.expect("<iiuser> hi both, from ii")
    assert bot.expect_json(type="message", text="hi both, from ii")["from"] == "iiuser"
    write_fifo(server_dir / "in", "/names #lobby")
    wait_for(server_dir / "out", "@tina bert iiuser")
    write_fifo(server_dir / "in", "/j bert psst")  # ii: /j NICK TEXT is a private message
    assert bot.expect_json(type="message", text="psst")["room"] is None


def _weechat(programs: Callable[..., subprocess.Popen[bytes]], home: Path, host: str,
             port: int, nick: str) -> None:
    weechat = need("weechat-headless", "weechat-headless")
    setup = ";".join([
        "/set logger.file.flush_delay 0",
        f"/set logger.file.path {home}/logs",
        f"/set fifo.file.path {home}/fifo",
        f"/set irc.server_default.nicks {nick}",
        "/set irc.server_default.autoreconnect off",
        # WeeChat paces its own commands (2 s apart); a test need not wait for that.
        "/set irc.server_default.anti_flood_prio_high 0",
        "/set irc.server_default.anti_flood_prio_low 0",
        f"/server add test {host}/{port} -notls -autojoin=#lobby",
        "/connect test",
    ])
    programs(weechat, "--dir", str(home), "-r", setup)


def test_weechat_joins_talks_sees_members_sets_topic_and_kicks(
        clients: Clients, programs: Callable[..., subprocess.Popen[bytes]],
        tmp_path: Path) -> None:
    person = host_of_lobby(clients)
    bot = clients.bot("bert", "#lobby")
    _weechat(programs, tmp_path, clients.server.host, clients.server.port, "wee")
    log = tmp_path / "logs" / "irc.test.#lobby.weechatlog"
    person.expect("wee joined #lobby")
    wait_for(log, "Channel #lobby: 3 nicks (1 op, 0 voices, 2 normals)")
    fifo = tmp_path / "fifo"
    wait_path(fifo)
    person.send("hello weechat\r\n")
    wait_for(log, "tina\thello weechat")
    bot.request(type="message", to="#lobby", text="hello from json")
    wait_for(log, "bert\thello from json")
    write_fifo(fifo, "irc.test.#lobby *hi all, from weechat")
    person.expect("<wee> hi all, from weechat")
    bot.expect_json(type="message", text="hi all, from weechat")
    write_fifo(fifo, "irc.test.#lobby */me waves")
    person.expect("* wee waves")
    person.send("/op wee\r\n")
    wait_for(log, "Mode #lobby [+o wee] by tina")
    write_fifo(fifo, "irc.test.#lobby */topic weechat was here")
    assert bot.expect_json(type="topic", changed=True)["topic"] == "weechat was here"
    person.expect("wee set the topic of #lobby to: weechat was here")
    write_fifo(fifo, "irc.test.#lobby */kick bert out you go")
    event = bot.expect_json(type="kick")
    assert event["from"] == "wee" and event["nick"] == "bert" and event["reason"] == "out you go"
    person.expect("bert was kicked from #lobby by wee (out you go)")
    write_fifo(fifo, "irc.test.#lobby */quit bye")
    person.expect("wee quit (bye)")


def test_irssi_in_tmux_joins_talks_sets_topic_and_kicks(
        clients: Clients, tmp_path: Path) -> None:
    irssi = need("irssi", "irssi")
    tmux = need("tmux", "tmux")
    sock = str(tmp_path / "tmux.sock")  # a private tmux server, killed at the end

    def keys(text: str) -> None:
        subprocess.run([tmux, "-S", sock, "send-keys", "-t", "t", text, "Enter"], check=True,
                       timeout=WAIT)

    def screen_has(text: str) -> None:
        deadline = time.monotonic() + WAIT
        shown = ""
        while time.monotonic() < deadline:
            shown = subprocess.run([tmux, "-S", sock, "capture-pane", "-p", "-t", "t"],
                                   capture_output=True, text=True, timeout=WAIT).stdout
            if text in shown:
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never shown by irssi; screen:\n{shown}")

    person = host_of_lobby(clients)
    bot = clients.bot("bert", "#lobby")
    host, port = clients.server.host, clients.server.port
    # irssi paces its own commands (2.2 s apart after a burst of 5); a test need not wait.
    (tmp_path / "config").write_text(
        'settings = { "irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "100"; }; };\n')
    command = f"{irssi} --home={tmp_path} -c {host} -p {port} -n irssy"
    subprocess.run([tmux, "-S", sock, "new-session", "-d", "-s", "t", "-x", "160", "-y", "40",
                    command], check=True, timeout=WAIT)
    try:
        screen_has("End of /MOTD command.")  # registered: commands now go to the server
        keys("/join #lobby")
        person.expect("irssy joined #lobby")
        screen_has("Total of 3 nicks [1 ops, 0 halfops, 0 voices, 2 normal]")
        person.send("hello irssi\r\n")
        screen_has("<@tina> hello irssi")
        bot.request(type="message", to="#lobby", text="hello from json")
        screen_has("< bert> hello from json")
        keys("hi all, from irssi")
        person.expect("<irssy> hi all, from irssi")
        bot.expect_json(type="message", text="hi all, from irssi")
        person.send("/op irssy\r\n")
        screen_has("mode/#lobby [+o irssy] by tina")
        keys("/topic irssi was here")
        assert bot.expect_json(type="topic", changed=True)["topic"] == "irssi was here"
        keys("/kick bert bye")
        assert bot.expect_json(type="kick")["from"] == "irssy"
        keys("/quit done")
        person.expect("irssy quit (done)")
    finally:
        subprocess.run([tmux, "-S", sock, "kill-server"], capture_output=True, timeout=WAIT)


@pytest.mark.parametrize("mechanism", ["plain", "scram-sha-256"])
def test_weechat_logs_in_with_sasl_to_an_account_registered_beforehand(
        clients: Clients, programs: Callable[..., subprocess.Popen[bytes]], tmp_path: Path,
        mechanism: str) -> None:
    """WeeChat's own SASL (PLAIN, and SCRAM-SHA-256 where it checks the server's signature)
    against an account a structured client registered; the server then says WeeChat's user is
    logged in."""
    weechat = need("weechat-headless", "weechat-headless")
    owner = clients.bot("weeacct")
    owner.request(type="register", password="sasl-password-1", ref="r")
    assert owner.expect_json(type="account", ref="r")["status"] == "registered"
    owner.close()
    host, port = clients.server.host, clients.server.port
    setup = ";".join([
        "/set logger.file.flush_delay 0",
        f"/set logger.file.path {tmp_path}/logs",
        "/set irc.server_default.nicks wee",
        "/set irc.server_default.autoreconnect off",
        f"/server add test {host}/{port} -notls",
        f"/set irc.server.test.sasl_mechanism {mechanism}",
        "/set irc.server.test.sasl_username weeacct",
        "/set irc.server.test.sasl_password sasl-password-1",
        "/set irc.server.test.sasl_fail disconnect",
        "/connect test",
    ])
    programs(weechat, "--dir", str(tmp_path), "-r", setup)
    log = wait_for(tmp_path / "logs" / "irc.server.test.weechatlog",
                   "SASL authentication successful")
    assert "You are now logged in as weeacct" in log
    watcher = clients.bot("watcher")
    watcher.request(type="whois", nick="wee")
    assert watcher.expect_json(type="whois")["account"] == "weeacct"
