"""The features added beside the cluster, checked across its nodes: a client on any node sees
what it would see on a single server. One set of three nodes (asyncio, threaded, asyncio) on
one real redis-server serves the whole module (starting nodes is the slow part); every test
uses its own nicks and rooms, and ends by checking that every replica holds the same state
and that a snapshot of it loads back whole (what a late node would get)."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from redis_server import RedisServer
from support import (
    TEST_LIMITS,
    Clients,
    LineClient,
    http_listener_port,
    wait_until,
    ws_expect_irc,
    ws_expect_json,
)

from chat.cluster import snapshot
from chat.config import Listener, ServerConfig
from chat.core import ChatCore
from chat.engines import BackgroundServer, serve_in_background

CONFIG = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5, nick_grace=1.0,
                      password_hash_time=1, password_hash_memory=64,
                      listeners=(Listener(0, "127.0.0.1", dialect="http"),))


@pytest.fixture(scope="module")
def nodes(redis_server_module: RedisServer) -> Iterator[list[BackgroundServer]]:
    """Three nodes sharing one log, for the whole module."""
    redis_server_module.flush()
    config = replace(CONFIG, cluster=redis_server_module.url)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve_in_background(engine, config))
               for engine in ("asyncio", "threaded", "asyncio")]


@pytest.fixture
def clients(nodes: list[BackgroundServer]) -> Iterator[list[Clients]]:
    """Clients on each node, closed after the test; then the replicas must agree."""
    made = [Clients(node) for node in nodes]
    yield made
    for each in made:
        each.close_all()
    agree(nodes)


def agree(nodes: list[BackgroundServer]) -> None:
    """Every node holds the same state, and a snapshot of it loads back to the same state."""
    def dumps() -> list[dict[str, Any]] | None:
        try:  # read while the engines run: a dict may change under us; then look again
            return [snapshot.dump(node.hub.core) for node in nodes]
        except RuntimeError:
            return None

    agreed: list[dict[str, Any]] = []

    def same() -> bool:
        found = dumps()
        if found is None or any(dump != found[0] for dump in found):
            return False
        agreed.append(found[0])
        return True
    try:
        wait_until(same)
    except AssertionError:
        found = dumps() or []
        differ = {key: [dump[key] for dump in found] for key in found[0]
                  if any(dump[key] != found[0][key] for dump in found)}
        raise AssertionError(f"the replicas differ: {differ}") from None
    state = json.loads(json.dumps(agreed[-1]))  # (the one read whole, not under a change)
    fresh = ChatCore(nodes[0].hub.config)
    snapshot.load(fresh, state)
    assert json.loads(json.dumps(snapshot.dump(fresh))) == state
    # The text a late node loads (encoded a piece at a time) holds the node's state.
    node = nodes[0]
    texts: list[Any] = []

    def text_is_state() -> bool:
        try:  # (read while the engine runs: look again if the state changed under it)
            texts.append(json.loads(node.hub.gate._dump(False)))  # type: ignore[attr-defined]
            return bool(texts[-1]["core"] == json.loads(json.dumps(
                snapshot.dump(node.hub.core))))
        except RuntimeError:
            return False
    wait_until(text_is_state)
    assert texts[-1]["replica"]["last_id"] != "0-0"


def irc(on: Clients, nick: str, *caps: str, realname: str = "") -> LineClient:
    """An IRC client registered as ``nick`` with ``caps`` enabled."""
    client = on.raw()
    lines = ["CAP LS 302"] if caps else []
    lines += [f"NICK {nick}", f"USER {nick} 0 * :{realname or nick}"]
    if caps:
        lines += [f"CAP REQ :{' '.join(caps)}", "CAP END"]
    client.send("".join(line + "\r\n" for line in lines))
    client.expect(lambda line: " 001 " in line)
    client.expect(lambda line: " 376 " in line or " 422 " in line)  # end of the MOTD
    return client


def joined(client: LineClient, room: str) -> None:
    client.send(f"JOIN {room}\r\n")
    client.expect(lambda line: " 366 " in line and room in line)


def numeric(code: str) -> Any:
    return lambda line: f" {code} " in line


def test_monitor_whowas_setname_and_bot_mode_across_nodes(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    watcher = irc(clients[0], "mwatch", "extended-monitor", "setname")
    watcher.send("MONITOR + mbob,mcarol\r\n")
    assert "mbob" in watcher.expect(numeric("731"))  # offline
    bob = irc(clients[1], "mbob", "setname", realname="Bob Original")
    assert "mbob!" in watcher.expect(numeric("730"))  # online, seen from another node
    bob.send("SETNAME :Robert Renamed\r\n")
    bob.expect(lambda line: " SETNAME :Robert Renamed" in line)
    bob.send("MODE mbob +B\r\n")
    bob.expect(lambda line: " MODE mbob " in line and "+B" in line)
    wait_until(lambda: "B" in nodes[0].hub.core.nicks["mbob"].modes)
    watcher.send("WHOIS mbob\r\n")
    whois = [watcher.expect(numeric("311"))]
    whois.append(watcher.expect(numeric("318")))
    assert "Robert Renamed" in whois[0]
    assert any(" 335 " in line for line in watcher.received[-10:])  # a bot
    bob.send("QUIT :bye\r\n")
    assert "mbob" in watcher.expect(numeric("731"))
    watcher.send("WHOWAS mbob\r\n")  # it left on another node
    assert "Robert Renamed" in watcher.expect(numeric("314"))
    # A node that goes away: its users are quit, and their watchers told.
    with serve_in_background("threaded", replace(CONFIG, cluster=nodes[0].hub.config.cluster)) \
            as fourth:
        carol = irc(Clients(fourth), "mcarol")
        assert "mcarol!" in watcher.expect(numeric("730"))
        agree([*nodes, fourth])  # it loaded the snapshot: monitor lists, nick history...
    assert "mcarol" in watcher.expect(numeric("731"))
    carol.close()
    watcher.send("WHOWAS mcarol\r\n")
    watcher.expect(numeric("314"))


def test_away_and_invite_notify_secret_rooms_and_exception_lists(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    alice = irc(clients[0], "aalice", "away-notify", "invite-notify")
    joined(alice, "#aroom")
    bob = irc(clients[1], "abob")
    bob.send("AWAY :lunch\r\n")
    bob.expect(numeric("306"))
    joined(bob, "#aroom")
    alice.expect(lambda line: line.startswith(":abob!") and " JOIN " in line)
    assert "lunch" in alice.expect(lambda line: line.startswith(":abob!") and " AWAY " in line)
    # Invite-notify: a member on another node sees alice invite someone.
    carol = irc(clients[2], "acarol", "invite-notify")
    joined(carol, "#aroom")
    dave = irc(clients[1], "adave")
    alice.send("INVITE adave #aroom\r\n")
    dave.expect(lambda line: " INVITE adave " in line)
    carol.expect(lambda line: line.startswith(":aalice!") and " INVITE adave #aroom" in line)
    # +s and +p: outsiders on another node see neither the rooms nor who is in them.
    alice.send("MODE #aroom +s\r\nJOIN #aprivate\r\nMODE #aprivate +p\r\n")
    carol.expect(lambda line: " MODE #aroom +s" in line)
    alice.expect(lambda line: " MODE #aprivate +p" in line)
    outsider = irc(clients[2], "aout")
    outsider.send("LIST\r\n")
    listed = []
    while " 323 " not in (line := outsider.line()):
        listed.append(line)
    # +s hides the room; +p shows it without its topic (as a single server does).
    assert not any("#aroom" in line for line in listed), listed
    assert any(line.endswith("#aprivate 1 :") for line in listed), listed
    outsider.send("NAMES #aroom\r\n")
    assert "aalice" not in outsider.expect(lambda line: " 353 " in line or " 366 " in line)
    outsider.send("WHOIS aalice\r\n")
    whois = []
    while " 318 " not in (line := outsider.line()):
        whois.append(line)
    assert any(" 311 " in line for line in whois)
    assert not any("#aroom" in line or "#aprivate" in line for line in whois), whois
    # +I lets a masked nick into a +i room; +e lets one through a ban.
    alice.send("JOIN #aguard\r\nMODE #aguard +i\r\nMODE #aguard +I aout!*@*\r\n")
    alice.expect(lambda line: " MODE #aguard +I aout!*@*" in line)
    joined(outsider, "#aguard")
    alice.send("MODE #aguard -i\r\nMODE #aguard +b adave!*@*\r\nMODE #aguard +e adave!*@*\r\n")
    alice.expect(lambda line: " MODE #aguard +e adave!*@*" in line)
    joined(dave, "#aguard")
    outsider.send("MODE #aguard e\r\n")  # exception lists are for the room's operators
    outsider.expect(numeric("482"))
    alice.send("MODE #aguard +o aout\r\n")
    outsider.expect(lambda line: " MODE #aguard +o aout" in line)
    outsider.send("MODE #aguard e\r\n")  # the exception list, read on another node
    assert "adave!*@*" in outsider.expect(numeric("348"))


def test_statusmsg_tagmsg_and_client_only_tags(clients: list[Clients]) -> None:
    alice = irc(clients[0], "salice", "message-tags")
    joined(alice, "#sroom")
    bob = irc(clients[1], "sbob", "message-tags")
    joined(bob, "#sroom")
    carol = irc(clients[2], "scarol", "message-tags")
    joined(carol, "#sroom")
    alice.send("MODE #sroom +v scarol\r\n")
    carol.expect(lambda line: " MODE #sroom +v scarol" in line)
    bob.send("PRIVMSG +#sroom :for the voiced\r\nPRIVMSG #sroom :for everyone\r\n")
    assert "for the voiced" in alice.expect(lambda line: " PRIVMSG " in line)
    assert "for the voiced" in carol.expect(lambda line: " PRIVMSG " in line)
    carol.expect(lambda line: "for everyone" in line)
    # bob sent both; the voiced-only one never reached a plain member on node three
    bob.send("@+typing=active TAGMSG #sroom\r\n")
    got = carol.expect(lambda line: " TAGMSG #sroom" in line)
    assert got.startswith("@") and "+typing=active" in got
    assert "+typing=active" in alice.expect(lambda line: " TAGMSG #sroom" in line)


def test_labelled_commands_get_their_replies_labelled_after_the_log(
        clients: list[Clients]) -> None:
    alice = irc(clients[0], "lalice", "labeled-response", "batch", "echo-message")
    bob = irc(clients[1], "lbob", "labeled-response", "batch")
    joined(bob, "#lroom")
    alice.send("@label=j1 JOIN #lroom\r\n")
    opened = alice.expect(lambda line: "label=j1" in line)
    assert " BATCH +" in opened  # JOIN, topic, names: one labelled batch
    alice.expect(lambda line: " BATCH -" in line)
    alice.send("@label=m1 PRIVMSG #lroom :labelled hello\r\n")
    echo = alice.expect(lambda line: "labelled hello" in line)
    assert "label=m1" in echo  # the echo, made when the entry came back, carries the label
    bob.expect(lambda line: "labelled hello" in line and "label=" not in line)
    bob.send("@label=a1 PRIVMSG #lroom :no echo, so an ACK\r\n")
    assert bob.expect(lambda line: "label=a1" in line).endswith(" ACK")
    bob.send("@label=w1 WHOIS lalice\r\n")  # answered locally: labelled at once
    assert " BATCH +" in bob.expect(lambda line: "label=w1" in line)
    alice.send("@label=x1 AWAY :away now\r\n")
    assert " 306 " in alice.expect(lambda line: "label=x1" in line)


def test_ctcp_version_to_a_telnet_user_on_another_node_is_answered_by_the_server(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    carol = clients[1].human("ccarol")
    bob = irc(clients[0], "cbob")
    wait_until(lambda: all("ccarol" in node.hub.core.nicks for node in nodes))
    assert all(node.hub.core.nicks["ccarol"].ctcp_by_server for node in nodes)
    bob.send("PRIVMSG ccarol :\x01VERSION\x01\r\n")
    answer = bob.expect(lambda line: " NOTICE cbob :\x01VERSION" in line)
    assert answer.startswith(":ccarol!") and "terminal user" in answer
    bob.send("PRIVMSG ccarol :plain text after\r\n")
    carol.expect("plain text after")
    assert not any("VERSION" in line for line in carol.received)


def test_lusers_counts_users_on_every_node_as_one_server(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    users = [irc(clients[i], f"uuser{i}") for i in range(3)]
    wait_until(lambda: all(len(node.hub.core.nicks) == len(nodes[0].hub.core.nicks)
                           for node in nodes))
    total = len(nodes[0].hub.core.nicks)
    for user in users:
        user.send("LUSERS\r\n")
        line = user.expect(numeric("251"))
        assert f"There are {total} users" in line and "on 1 servers" in line
        assert f"I have {total} clients" in user.expect(numeric("255"))


def test_accounts_sasl_nick_protection_and_history_across_nodes(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    owner = clients[0].bot("hown", "#hroom")
    owner.request(type="register", password="correct horse", ref=1)
    assert owner.expect_json(type="account", ref=1)["status"] == "registered"
    owner.request(type="message", to="#hroom", text="kept for later")
    owner.expect_json(type="message", text="kept for later")
    owner.close()
    wait_until(lambda: all("hown" not in node.hub.core.nicks for node in nodes))
    # SASL PLAIN on another node, for the account made on the first.
    sasl = clients[2].raw()
    token = base64.b64encode(b"\0hown\0correct horse").decode()
    sasl.send("CAP LS 302\r\nNICK hown\r\nUSER hown 0 * :h\r\nCAP REQ :sasl draft/chathistory "
              "batch server-time\r\nAUTHENTICATE PLAIN\r\n")
    sasl.expect("AUTHENTICATE +")
    sasl.send(f"AUTHENTICATE {token}\r\n")
    assert "hown" in sasl.expect(numeric("900"))  # logged in as
    sasl.expect(numeric("903"))
    sasl.send("CAP END\r\n")
    sasl.expect(numeric("001"))
    joined(sasl, "#hroom")
    import redis
    store = redis.Redis.from_url(nodes[0].hub.config.cluster)
    try:
        wait_until(lambda: any(b"kept for later" in member for member in
                               store.zrange("chat:h:room:#hroom", 0, -1)))
    finally:
        store.close()
    sasl.send("CHATHISTORY LATEST #hroom * 10\r\n")
    sasl.expect(lambda line: "PRIVMSG #hroom :kept for later" in line)
    sasl.expect(lambda line: " BATCH -" in line)
    # Nick protection: the account's nick taken on the third node without logging in.
    sasl.send("NICK hother\r\n")
    sasl.expect(lambda line: " NICK " in line and "hother" in line)
    squatter = irc(clients[1], "hsquat")
    squatter.send("NICK hown\r\n")
    squatter.expect(lambda line: " NICK " in line and "hown" in line)
    # After the grace (1 s here, timed on the squatter's node) every node renames it.
    renamed = squatter.expect(lambda line: line.startswith(":hown!") and " NICK " in line)
    guest = renamed.rsplit(" ", 1)[1].lstrip(":")
    assert guest.startswith("Guest")
    wait_until(lambda: all(guest.lower() in node.hub.core.nicks for node in nodes))


def test_history_asked_on_another_node_has_a_line_its_node_has_not_written_yet(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    """As on one server, a page never misses a line the asker has seen: while the node where
    it was said holds it back (its history writes stalled here), a page asked on another node
    has it, and once both nodes have written it the store holds it once."""
    import redis

    history = nodes[0].hub.history
    assert history is not None
    store, real_append = history.store, history.store.append
    stalled, release = threading.Event(), threading.Event()

    def held_back(records: Any) -> None:
        if any(record.text == "not written yet" for record in records):
            stalled.set()
            assert release.wait(30)
        real_append(records)

    caps = ("batch", "draft/chathistory", "server-time")
    speaker = irc(clients[0], "fspeak")
    reader, late = irc(clients[1], "fread", *caps), irc(clients[2], "flate", *caps)
    for client in (speaker, reader, late):
        joined(client, "#fresh")
    store.append = held_back  # type: ignore[method-assign]
    try:
        speaker.send("PRIVMSG #fresh :not written yet\r\n")
        reader.expect(lambda line: "PRIVMSG #fresh :not written yet" in line)
        assert stalled.wait(10)
        reader.send("CHATHISTORY LATEST #fresh * 10\r\n")
        reader.expect(lambda line: "batch=" in line and ":not written yet" in line)
        reader.expect(lambda line: " BATCH -" in line)
    finally:
        release.set()
        store.append = real_append  # type: ignore[method-assign]
    wait_until(lambda: history.queued == 0 and not history.last_error)
    client = redis.Redis.from_url(nodes[0].hub.config.cluster)
    try:
        wait_until(lambda: sum(b"not written yet" in member for member in
                               client.zrange("chat:h:room:#fresh", 0, -1)) >= 1)
        assert sum(b"not written yet" in member
                   for member in client.zrange("chat:h:room:#fresh", 0, -1)) == 1
    finally:
        client.close()
    late.send("CHATHISTORY LATEST #fresh * 10\r\n")
    late.expect(lambda line: " BATCH -" in line)
    assert sum("batch=" in line and ":not written yet" in line for line in late.received) == 1


def test_the_web_clients_websocket_on_a_cluster_node(
        nodes: list[BackgroundServer], clients: list[Clients]) -> None:
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    port = http_listener_port(nodes[2])
    tcp = irc(clients[0], "wtcp")
    joined(tcp, "#wroom")
    with connect(f"ws://127.0.0.1:{port}/", subprotocols=[Subprotocol("chat.json")],
                 open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "nick": "wweb"}))
        ws_expect_json(ws, type="welcome")
        ws.send(json.dumps({"type": "join", "room": "#wroom"}))
        members = ws_expect_json(ws, type="members", room="#wroom")
        assert {m["nick"] if isinstance(m, dict) else m for m in members["members"]} >= {
            "wtcp", "wweb"}
        ws.send(json.dumps({"type": "message", "to": "#wroom", "text": "from the web"}))
        tcp.expect(lambda line: line.startswith(":wweb!") and "from the web" in line)
        tcp.send("PRIVMSG #wroom :from irc\r\n")
        ws_expect_json(ws, type="message", text="from irc")
    tcp.expect(lambda line: line.startswith(":wweb!") and " QUIT " in line)


def test_flow_control_on_a_cluster_node_with_the_log_in_between(
        nodes: list[BackgroundServer]) -> None:
    """A talker whose local reader is behind is braked (its node stops reading it) while its
    lines go through the log; a reader on another node gets them all, in order; a newcomer
    pipelining its registration meanwhile (held per entry: ``waiting``) is served."""
    import socket
    import threading

    from support import WAIT

    limits = replace(TEST_LIMITS, sendq=8 << 20, sendq_grace=60.0, message_len=2000)
    config = replace(CONFIG, cluster=nodes[0].hub.config.cluster, limits=limits)
    with serve_in_background("asyncio", config) as here, \
            serve_in_background("threaded", config) as there:
        here.hub.flow.patience = 600.0  # about braking, not about stalled readers
        on_here, on_there = Clients(here), Clients(there)
        try:
            slow = [on_here.bot(f"fslow{i}", "#flow", rcvbuf=4096) for i in range(2)]
            far = on_there.bot("ffar", "#flow")
            talker = on_here.bot("ftalker", "#flow")
            talker_conn = here.hub.gate.conn_base + here.hub.opened
            talker.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
            count, text = 3000, "f" * 1000  # 3 MB: past what the kernel holds for a reader
            burst = "".join(json.dumps({"type": "message", "to": "#flow", "text": f"{n} {text}"})
                            + "\n" for n in range(count)).encode()
            sender = threading.Thread(target=talker.sock.sendall, args=(burst,), daemon=True)
            sender.start()
            got: dict[str, list[int]] = {}

            def read_all(client: LineClient, name: str) -> None:
                numbers: list[int] = []
                while len(numbers) < count:
                    obj = json.loads(client.line())
                    if obj.get("type") == "message" and obj.get("from") == "ftalker":
                        numbers.append(int(obj["text"].split()[0]))
                got[name] = numbers
            far_reader = threading.Thread(target=read_all, args=(far, "far"), daemon=True)
            far_reader.start()
            wait_until(lambda: talker_conn in here.hub.flow.braked)
            newcomer = on_here.raw()
            newcomer.send('{"type":"hello","version":1,"nick":"fnew"}\n'
                          '{"type":"join","room":"#other"}\n'
                          '{"type":"message","to":"#other","text":"while braked"}\n')
            newcomer.expect_json(type="message", text="while braked")
            readers = [threading.Thread(target=read_all, args=(client, f"slow{i}"), daemon=True)
                       for i, client in enumerate(slow)]
            for thread in readers:
                thread.start()
            for thread in (sender, far_reader, *readers):
                thread.join(WAIT * 3)
            assert got == {name: list(range(count)) for name in ("far", "slow0", "slow1")}
            assert here.hub.flow.pauses >= 1
            agree([*nodes, here, there])
        finally:
            on_here.close_all()
            on_there.close_all()
    agree(nodes)


def test_labelled_commands_over_an_irc_websocket_on_a_cluster_node(
        nodes: list[BackgroundServer], clients: list[Clients],
        redis_server_module: RedisServer) -> None:
    """The WebSocket wraps a labelled command's replies (framed once they are gathered); on a
    cluster node they come back from the log, and what arrives meanwhile (here: the notice
    that Redis stalled, sent while the command waits in the queue) is framed as usual."""
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    port = http_listener_port(nodes[1])
    other = irc(clients[2], "wsother")
    joined(other, "#wsroom")
    with connect(f"ws://127.0.0.1:{port}/", subprotocols=[Subprotocol("text.ircv3.net")],
                 open_timeout=10) as ws:
        for line in ("CAP LS 302", "NICK wsirc", "USER wsirc 0 * :w",
                     "CAP REQ :labeled-response batch", "CAP END"):
            ws.send(line)
        ws_expect_irc(ws, " 001 ")
        ws.send("JOIN #wsroom")
        ws_expect_irc(ws, " 366 ")
        redis_server_module.pause()
        try:
            ws.send("@label=ws1 PRIVMSG #wsroom :over the websocket")
            ws_expect_irc(ws, "degraded")
        finally:
            redis_server_module.resume()
        ws_expect_irc(ws, "link is back")
        assert ws_expect_irc(ws, "label=ws1").endswith(" ACK")
        other.expect(lambda line: "over the websocket" in line)
