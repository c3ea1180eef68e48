"""IRC history in memory (tests/memnet.py): batch, draft/chathistory, draft/event-playback,
server-time and msgid on past lines, FAIL replies, and the replay on join."""

from __future__ import annotations

import re

import pytest
from irc_lines import irc_params, irc_tags, irc_verb
from memnet import MemClient, MemoryNet

#: What a modern client (ergo's users: gamja, senpai, Goguma...) asks for.
FULL = ("batch", "server-time", "message-tags", "draft/chathistory")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def ask(client: MemClient, line: str) -> list[str]:
    """Send ``line`` and return everything received until the history answer is in."""
    client.new()
    client.line(line)
    client.net.advance(0)  # the history service answers through the hub's inbox
    return client.new()


def batch(lines: list[str], kind: str = "chathistory", *params: str) -> list[str]:
    """The lines of the one batch ``lines`` hold, checked: opened and closed once, each line
    inside tagged with its id."""
    assert lines, "no answer"
    opening, closing = irc_params(lines[0]), irc_params(lines[-1])
    assert irc_verb(lines[0]) == "BATCH" and opening[0].startswith("+"), lines
    ident = opening[0][1:]
    assert opening[1:] == [kind, *params], lines[0]
    assert irc_verb(lines[-1]) == "BATCH" and closing == [f"-{ident}"], lines[-1]
    body = lines[1:-1]
    assert all(irc_tags(line).get("batch") == ident for line in body), body
    return body


def texts(lines: list[str]) -> list[str]:
    return [irc_params(line)[-1] for line in lines]


class Room:
    """``#r``, where alice said m0..m5 one second apart; ``ids``/``times`` as a live watcher
    with message-tags and server-time saw them."""

    def __init__(self, net: MemoryNet, count: int = 6) -> None:
        self.net = net
        self.alice = net.irc("alice", "#r")
        self.watcher = net.irc("watcher", "#r", caps=("message-tags", "server-time"))
        self.ids: list[str] = []
        self.times: list[str] = []
        for i in range(count):
            net.advance(1)
            self.alice.line(f"PRIVMSG #r :m{i}")
            seen = irc_tags(self.watcher.expect(f":m{i}"))
            self.ids.append(seen["msgid"])
            self.times.append(seen["time"])
        net.advance(1)


@pytest.fixture
def net() -> MemoryNet:
    return MemoryNet()


@pytest.fixture
def room(net: MemoryNet) -> Room:
    return Room(net)


def test_cap_ls_offers_batch_chathistory_and_event_playback(net: MemoryNet) -> None:
    client = net.connect()
    client.line("CAP LS 302")
    offered = irc_params(client.verb("CAP"))[-1].split()
    for cap in ("batch", "draft/chathistory", "draft/event-playback", "server-time",
                "message-tags", "echo-message"):
        assert cap in offered
    client.line(f"CAP REQ :{' '.join(FULL)} draft/event-playback")
    assert " ACK " in client.verb("CAP")


def test_isupport_announces_chathistory_and_msgreftypes(net: MemoryNet) -> None:
    client = net.irc("ivan")
    tokens = [token for line in client.lines if irc_verb(line) == "005"
              for token in irc_params(line)[1:-1]]
    assert "CHATHISTORY=100" in tokens and "MSGREFTYPES=msgid,timestamp" in tokens


def test_latest_star_returns_the_newest_oldest_first_with_original_time_and_msgid(
        net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    body = batch(ask(ivan, "CHATHISTORY LATEST #r * 3"), "chathistory", "#r")
    assert texts(body) == ["m3", "m4", "m5"]
    assert [irc_tags(line)["msgid"] for line in body] == room.ids[3:]
    assert [irc_tags(line)["time"] for line in body] == room.times[3:]
    assert all(irc_verb(line) == "PRIVMSG" and " :alice!alice@127.0.0.1 " in line
               for line in body)


def test_live_messages_carry_the_msgid_history_uses(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    room.alice.line("PRIVMSG #r :live")
    live = irc_tags(ivan.expect(":live"))
    assert re.fullmatch(ISO, live["time"]) and live["msgid"]
    net.advance(1)
    body = batch(ask(ivan, "CHATHISTORY LATEST #r * 1"), "chathistory", "#r")
    assert irc_tags(body[0])["msgid"] == live["msgid"] and texts(body) == ["live"]


@pytest.mark.parametrize(("query", "want"), [
    ("LATEST #r msgid={id2} 10", ["m3", "m4", "m5"]),
    ("LATEST #r timestamp={t2} 10", ["m3", "m4", "m5"]),
    ("LATEST #r msgid={id2} 2", ["m4", "m5"]),
    ("BEFORE #r msgid={id3} 2", ["m1", "m2"]),
    ("BEFORE #r timestamp={t3} 2", ["m1", "m2"]),
    ("BEFORE #r msgid={id0} 5", []),
    ("AFTER #r msgid={id1} 2", ["m2", "m3"]),
    ("AFTER #r timestamp={t1} 2", ["m2", "m3"]),
    ("AFTER #r msgid={id5} 5", []),
    ("AROUND #r msgid={id3} 3", ["m2", "m3", "m4"]),
    ("AROUND #r timestamp={t3} 4", ["m1", "m2", "m3", "m4"]),
    ("BETWEEN #r msgid={id1} msgid={id5} 10", ["m2", "m3", "m4"]),
    ("BETWEEN #r msgid={id1} msgid={id5} 2", ["m2", "m3"]),
    ("BETWEEN #r msgid={id5} msgid={id1} 2", ["m3", "m4"]),  # backwards: counted from m5
    ("BETWEEN #r timestamp={t0} timestamp={t4} 10", ["m1", "m2", "m3"]),
    ("BETWEEN #r timestamp={t4} msgid={id0} 10", ["m1", "m2", "m3"]),
    ("BEFORE #r msgid=no-such-id 10", []),
])
def test_subcommands_with_msgid_and_timestamp_refs(net: MemoryNet, room: Room, query: str,
                                                   want: list[str]) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    refs = {f"id{i}": msgid for i, msgid in enumerate(room.ids)}
    refs |= {f"t{i}": ts for i, ts in enumerate(room.times)}
    body = batch(ask(ivan, "CHATHISTORY " + query.format(**refs)), "chathistory", "#r")
    assert texts(body) == want
    by_text = dict(zip(texts(body), body, strict=True))
    for i, text in enumerate(f"m{i}" for i in range(6)):
        if text in by_text:
            assert irc_tags(by_text[text])["msgid"] == room.ids[i]
            assert irc_tags(by_text[text])["time"] == room.times[i]


def test_subcommand_and_room_name_are_case_insensitive(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    body = batch(ask(ivan, "chathistory latest #R * 2"), "chathistory", "#r")  # canonical name
    assert texts(body) == ["m4", "m5"]


def test_batch_ids_are_unique_on_a_connection(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    first = ask(ivan, "CHATHISTORY LATEST #r * 1")[0]
    second = ask(ivan, "CHATHISTORY LATEST #r * 1")[0]
    assert irc_params(first)[0] != irc_params(second)[0]


def test_an_empty_answer_is_an_empty_batch(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    assert batch(ask(ivan, f"CHATHISTORY AFTER #r msgid={room.ids[5]} 10"), "chathistory",
                 "#r") == []


def test_targets_lists_rooms_with_activity_newest_first(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", "#r", "#s", "#quiet", caps=FULL)
    net.advance(5)
    ivan.line("PRIVMSG #s :over here")
    net.advance(5)
    lines = ask(ivan, "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                      "timestamp=2100-01-01T00:00:00.000Z 10")
    body = batch(lines, "draft/chathistory-targets")
    assert [irc_params(line)[:2] for line in body] == [["TARGETS", "#s"], ["TARGETS", "#r"],
                                                        ["TARGETS", "#quiet"]]
    assert all(irc_verb(line) == "CHATHISTORY" and re.fullmatch(ISO, irc_params(line)[2])
               for line in body)
    # A window that ends before #s spoke: the rooms whose newest line is in it.
    body = batch(ask(ivan, f"CHATHISTORY TARGETS timestamp={room.times[0]} "
                           f"timestamp={room.times[5]} 10"), "draft/chathistory-targets")
    assert [irc_params(line)[1] for line in body] == ["#r"]


def test_event_playback_adds_joins_parts_topics_and_nicks(net: MemoryNet, room: Room) -> None:
    bob = net.irc("bob", "#r")
    net.advance(1)
    room.alice.line("TOPIC #r :news")
    net.advance(1)
    bob.line("NICK robert")
    net.advance(1)
    bob.line("PART #r :bye")
    net.advance(1)
    net.irc("carol", "#r")
    room.alice.line("KICK #r carol :out")
    net.advance(1)
    dave = net.irc("dave", "#r")
    dave.line("QUIT :later")
    net.advance(1)
    after = f"msgid={room.ids[5]}"
    playback = net.irc("ivan", "#r", caps=(*FULL, "draft/event-playback"))
    body = batch(ask(playback, f"CHATHISTORY AFTER #r {after} 20"), "chathistory", "#r")
    assert [irc_verb(line) for line in body] == [
        "JOIN", "TOPIC", "NICK", "PART", "JOIN", "KICK", "JOIN", "QUIT", "JOIN"]
    assert body[0].endswith(":bob!bob@127.0.0.1 JOIN #r")
    assert body[1].endswith(":alice!alice@127.0.0.1 TOPIC #r :news")
    assert body[2].endswith(":bob!bob@127.0.0.1 NICK :robert")
    assert body[3].endswith(":robert!bob@127.0.0.1 PART #r :bye")
    assert body[5].endswith(":alice!alice@127.0.0.1 KICK #r carol :out")
    assert body[7].endswith(":dave!dave@127.0.0.1 QUIT :later")
    assert all(irc_tags(line)["msgid"] and re.fullmatch(ISO, irc_tags(line)["time"])
               for line in body)
    # Without event-playback: PRIVMSG and NOTICE only; the topic change as a server notice.
    plain = net.irc("jane", "#r", caps=FULL)
    body = batch(ask(plain, f"CHATHISTORY AFTER #r {after} 20"), "chathistory", "#r")
    assert [irc_verb(line) for line in body] == ["NOTICE"]
    assert irc_params(body[0]) == ["#r", "alice set the topic: news"]
    assert " :chat.local NOTICE " in body[0]
    # event-playback without batch: membership lines would look live, so they are left out.
    bare = net.irc("lee", "#r", caps=("server-time", "draft/event-playback"))
    assert [irc_verb(line) for line in ask(bare, f"CHATHISTORY AFTER #r {after} 20")] == [
        "NOTICE"]


def test_actions_and_notices_come_back_as_they_were_sent(net: MemoryNet) -> None:
    alice = net.irc("alice", "#r")
    alice.line("PRIVMSG #r :\x01ACTION waves\x01")
    net.advance(1)
    alice.line("NOTICE #r :heads up")
    net.advance(1)
    ivan = net.irc("ivan", "#r", caps=FULL)
    body = batch(ask(ivan, "CHATHISTORY LATEST #r * 10"), "chathistory", "#r")
    assert [(irc_verb(line), irc_params(line)[-1]) for line in body] == [
        ("PRIVMSG", "\x01ACTION waves\x01"), ("NOTICE", "heads up")]


def test_own_lines_are_in_history_without_echo_message(net: MemoryNet, room: Room) -> None:
    alice = room.alice
    alice.line(f"CAP REQ :{' '.join(FULL)}")
    alice.verb("CAP")
    alice.line("PRIVMSG #r :mine")
    net.advance(1)
    body = batch(ask(alice, "CHATHISTORY LATEST #r * 1"), "chathistory", "#r")
    assert texts(body) == ["mine"]


def test_a_line_for_the_operators_alone_is_not_kept_for_the_room(
        net: MemoryNet, room: Room) -> None:
    """STATUSMSG (``PRIVMSG @#r``) reaches the room's operators only, so it must not come back
    to everyone else as the room's history."""
    net.irc("bob", "#r").line("PRIVMSG @#r :for the operators")
    assert room.alice.expect("for the operators")  # alice opened #r: an operator
    net.advance(1)
    ivan = net.irc("ivan", "#r", caps=FULL)
    body = batch(ask(ivan, "CHATHISTORY LATEST #r * 10"), "chathistory", "#r")
    assert texts(body) == [f"m{i}" for i in range(6)]
    assert not any("for the operators" in line for line in room.watcher.received)


@pytest.mark.parametrize(("line", "fail"), [
    ("CHATHISTORY FOO #r * 10", "INVALID_PARAMS FOO :Unknown command"),
    ("CHATHISTORY LATEST #r *", "INVALID_PARAMS LATEST :Insufficient parameters"),
    ("CHATHISTORY LATEST", "INVALID_PARAMS LATEST :Insufficient parameters"),
    ("CHATHISTORY BETWEEN #r msgid=a 10", "INVALID_PARAMS BETWEEN :Insufficient parameters"),
    ("CHATHISTORY BEFORE #r msgid=a 10 extra", "INVALID_PARAMS BEFORE :Too many parameters"),
    ("CHATHISTORY BEFORE #r * 10", "INVALID_PARAMS BEFORE * :Invalid message reference"),
    ("CHATHISTORY BEFORE #r garbage 10", "INVALID_PARAMS BEFORE garbage :Invalid message"),
    ("CHATHISTORY AFTER #r msgid= 10", "INVALID_PARAMS AFTER msgid= :Invalid message"),
    ("CHATHISTORY AFTER #r timestamp=yesterday 10",
     "INVALID_PARAMS AFTER timestamp=yesterday :Invalid timestamp"),
    ("CHATHISTORY AFTER #r timestamp=2024-13-45T99:00:00.000Z 10",
     "INVALID_PARAMS AFTER timestamp=2024-13-45T99:00:00.000Z :Invalid timestamp"),
    ("CHATHISTORY AFTER #r timestamp=2024-01-01T00:00:00.000 10",  # no Z
     "INVALID_PARAMS AFTER timestamp=2024-01-01T00:00:00.000 :Invalid timestamp"),
    ("CHATHISTORY AROUND #r seq=12 10", "INVALID_MSGREFTYPE AROUND #r seq=12 :"),
    ("CHATHISTORY LATEST #r * ten", "INVALID_PARAMS LATEST ten :The limit must be"),
    ("CHATHISTORY LATEST #r * 0", "INVALID_PARAMS LATEST 0 :The limit must be"),
    ("CHATHISTORY LATEST #r * -1", "INVALID_PARAMS LATEST -1 :The limit must be"),
    ("CHATHISTORY LATEST #r * 101", "INVALID_PARAMS LATEST 101 :The limit must be"),
    ("CHATHISTORY LATEST #r * \u00b2", "INVALID_PARAMS LATEST \u00b2 :The limit must be"),
    ("CHATHISTORY TARGETS msgid=a timestamp=2024-01-01T00:00:00.000Z 10",
     "INVALID_PARAMS TARGETS :TARGETS takes two timestamp= references"),
    ("CHATHISTORY TARGETS timestamp=2024-01-01T00:00:00.000Z 10",
     "INVALID_PARAMS TARGETS :Insufficient parameters"),
    ("CHATHISTORY LATEST #nowhere * 10", "INVALID_TARGET LATEST #nowhere :No room named"),
    ("CHATHISTORY LATEST #bad,name * 10", "INVALID_TARGET LATEST #bad,name :"),
])
def test_bad_requests_get_fail_replies(net: MemoryNet, room: Room, line: str,
                                       fail: str) -> None:
    ivan = net.irc("ivan", "#r", caps=FULL)
    got = ask(ivan, line)
    assert len(got) == 1 and got[0].startswith(f":chat.local FAIL CHATHISTORY {fail}"), got


def test_history_of_a_room_you_are_not_in_is_refused(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", caps=FULL)
    got = ask(ivan, "CHATHISTORY LATEST #r * 10")
    assert got == [":chat.local FAIL CHATHISTORY INVALID_TARGET LATEST #r "
                   ":Join #r to read its history"]
    ivan.line("JOIN #r")
    ivan.line("PART #r")
    assert ask(ivan, f"CHATHISTORY BEFORE #r msgid={room.ids[3]} 2")[0].startswith(
        ":chat.local FAIL CHATHISTORY INVALID_TARGET BEFORE #r ")


def test_bare_chathistory_is_461(net: MemoryNet) -> None:
    ivan = net.irc("ivan", caps=FULL)
    assert irc_verb(ask(ivan, "CHATHISTORY")[0]) == "461"


def test_private_history_needs_accounts(net: MemoryNet, room: Room) -> None:
    """A nick as target goes to the core, which keeps private history between accounts only
    (the conversation itself: tests/dialects/test_irc_operators_services.py)."""
    ivan = net.irc("ivan", "#r", caps=FULL)
    ivan.line("PRIVMSG alice :psst")
    net.advance(1)
    got = ask(ivan, "CHATHISTORY LATEST alice * 10")
    assert [irc_params(line)[:4] for line in got] == [
        ["CHATHISTORY", "INVALID_TARGET", "LATEST", "alice"]]
    assert irc_verb(got[0]) == "FAIL"


def test_without_batch_the_answer_is_bare_tagged_lines(net: MemoryNet, room: Room) -> None:
    got = ask(room.watcher, "CHATHISTORY LATEST #r * 1")  # message-tags and server-time only
    assert got == [f"@time={room.times[5]};msgid={room.ids[5]} "
                   ":alice!alice@127.0.0.1 PRIVMSG #r :m5"]


def test_a_client_without_the_caps_may_still_ask(net: MemoryNet, room: Room) -> None:
    plain = net.irc("jane", "#r")
    got = ask(plain, "CHATHISTORY LATEST #r * 2")
    assert [irc_verb(line) for line in got] == ["PRIVMSG", "PRIVMSG"]
    assert re.fullmatch(r"\[\d\d:\d\d\] m4", texts(got)[0]) and texts(got)[1].endswith(" m5")
    assert not any(line.startswith("@") for line in got)


# -- the replay on join --------------------------------------------------------------------

def joined(client: MemClient, room: str = "#r") -> list[str]:
    """What ``client`` received after joining ``room``, from its NAMES end on."""
    client.new()
    client.line(f"JOIN {room}")
    client.sync()
    lines = client.received
    end = max(i for i, line in enumerate(lines) if irc_verb(line) == "366")
    return [line for line in lines[end + 1:] if irc_verb(line) != "PONG"]


def test_replay_without_caps_is_bare_lines_stamped_with_their_time(
        net: MemoryNet, room: Room) -> None:
    plain = net.irc("jane")
    got = joined(plain)
    assert [irc_verb(line) for line in got] == ["PRIVMSG"] * 6
    hhmm = room.times[0][11:16]  # the fake clock's UTC time, as server-time showed it
    assert texts(got) == [f"[{hhmm}] m{i}" for i in range(6)]
    assert got[0].startswith(":alice!alice@127.0.0.1 PRIVMSG #r :")


def test_replay_with_batch_and_server_time_is_a_tagged_batch(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", caps=("batch", "server-time", "message-tags"))
    body = batch(joined(ivan), "chathistory", "#r")
    assert texts(body) == [f"m{i}" for i in range(6)]  # no stamp: the time tag says it
    assert [irc_tags(line)["time"] for line in body] == room.times
    assert [irc_tags(line)["msgid"] for line in body] == room.ids


def test_replay_with_batch_only_is_stamped_inside_a_batch(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", caps=("batch",))
    body = batch(joined(ivan), "chathistory", "#r")
    assert [set(irc_tags(line)) for line in body] == [{"batch"}] * 6
    assert all(re.fullmatch(rf"\[\d\d:\d\d\] m{i}", text) for i, text in enumerate(texts(body)))


def test_replay_with_server_time_only_is_tagged_without_a_batch(
        net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", caps=("server-time",))
    got = joined(ivan)
    assert texts(got) == [f"m{i}" for i in range(6)]
    assert [irc_tags(line) for line in got] == [{"time": ts} for ts in room.times]


def test_replay_includes_topic_changes_as_notices(net: MemoryNet, room: Room) -> None:
    room.alice.line("TOPIC #r :fresh")
    net.advance(1)
    ivan = net.irc("ivan", caps=("batch", "server-time"))
    body = batch(joined(ivan), "chathistory", "#r")
    assert irc_verb(body[-1]) == "NOTICE" and texts(body)[-1] == "alice set the topic: fresh"
    plain = net.irc("jane")
    assert re.fullmatch(r"\[\d\d:\d\d\] alice set the topic: fresh", texts(joined(plain))[-1])


def test_no_replay_for_a_client_with_chathistory(net: MemoryNet, room: Room) -> None:
    ivan = net.irc("ivan", caps=FULL)
    assert joined(ivan) == []
    playback = net.irc("kim", caps=("draft/chathistory",))
    assert joined(playback) == []


def test_no_replay_in_a_room_without_lines(net: MemoryNet) -> None:
    net.irc("alice", "#empty")
    for caps in ((), ("batch",)):
        assert joined(net.irc(f"u{len(caps)}", caps=caps), "#empty") == []
