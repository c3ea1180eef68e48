"""Client state without a UI or a socket: events in, conversations out."""

from __future__ import annotations

import itertools
from typing import Any

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chat.wire.jsonlines import encode_json_line
from client.completion import ChatCompleter
from client.model import SERVER_KEY, ChatModel
from client.pane import MessagePane, wrap
from client.protocol import ClientProtocol, hello, request

TS = "2026-11-25T14:03:12.345Z"
_IDS = itertools.count(1)


def ev(type: str, **fields: Any) -> dict[str, Any]:
    # Every event gets its own id, as from a real server (the model drops repeated ids).
    base = {"type": type, "id": f"x{next(_IDS)}", "ts": TS, "room": None, "from": None,
            "text": ""}
    base.update(fields)
    return base


def joined(model: ChatModel, room: str, *others: str) -> None:
    model.apply(ev("join", room=room, **{"from": model.nick}, text=f"{model.nick} joined {room}"))
    members = [{"nick": n, "op": False} for n in (model.nick, *others)]
    model.apply(ev("members", room=room, members=members))


def msg(room: str | None, sender: str, text: str, to: str | None = None, kind: str = "message"):
    return ev("message", room=room, text=text, to=to or room, kind=kind, **{"from": sender})


def test_welcome_sets_nick_and_server_name() -> None:
    model = ChatModel("alice")
    model.apply(ev("welcome", nick="alice", server="chat.local", text="Welcome", limits={}))
    assert model.server.name == "chat.local" and model.registered_once
    assert model.server.lines[-1].text == "Welcome"


def test_our_join_creates_the_room_and_members_fill_it() -> None:
    model = ChatModel("alice")
    model.expect_join("#Lobby")
    joined(model, "#lobby", "bob")
    conv = model.get("#LOBBY")
    assert conv.joined and model.current is conv
    assert [m.nick for m in conv.sorted_members()] == ["alice", "bob"]
    model.apply(ev("join", room="#lobby", text="carol joined", **{"from": "carol"}))
    model.apply(ev("part", room="#lobby", text="bob left", reason="", **{"from": "bob"}))
    assert set(conv.members) == {"alice", "carol"}
    assert [line.kind for line in conv.lines] == ["join", "join", "part"]


def test_a_join_without_asking_does_not_steal_the_screen() -> None:
    model = ChatModel("alice")
    joined(model, "#lobby")
    assert model.current_key == SERVER_KEY


def test_unread_counts_and_mentions_only_for_rooms_not_on_screen() -> None:
    model = ChatModel("alice")
    joined(model, "#a", "bob")
    joined(model, "#b", "bob")
    model.select("#a")
    model.apply(msg("#a", "bob", "seen right away"))
    model.apply(msg("#b", "bob", "hello"))
    model.apply(msg("#b", "bob", "Alice, look"))
    model.apply(msg("#b", "bob", "malice is not a mention"))
    a, b = model.get("#a"), model.get("#b")
    assert a.unread == 0 and not a.mentioned
    assert b.unread == 3 and b.mentioned
    assert [line.mention for line in b.lines][-3:] == [False, True, False]
    model.select("#b")
    assert b.unread == 0 and not b.mentioned


def test_own_messages_never_count_as_mentions() -> None:
    model = ChatModel("alice")
    joined(model, "#a")
    model.apply(msg("#a", "alice", "I am alice"))
    line = model.get("#a").lines[-1]
    assert line.own and not line.mention


def test_private_messages_open_a_conversation_with_the_peer() -> None:
    model = ChatModel("alice")
    model.apply(msg(None, "bob", "psst", to="alice"))
    model.apply(msg(None, "alice", "yes?", to="bob"))  # the server's echo of ours
    conv = model.get("bob")
    assert conv.kind == "private" and [line.text for line in conv.lines] == ["psst", "yes?"]
    assert conv.unread == 2 and conv.mentioned
    assert list(model.conversations) == [SERVER_KEY, "bob"]


def test_quit_removes_the_member_everywhere_and_tells_each_room() -> None:
    model = ChatModel("alice")
    joined(model, "#a", "bob")
    joined(model, "#b", "bob")
    joined(model, "#c")
    model.apply(ev("quit", text="bob quit (bye)", reason="bye", rooms=["#a", "#b"],
                   **{"from": "bob"}))
    assert "bob" not in model.get("#a").members and "bob" not in model.get("#b").members
    assert model.get("#a").lines[-1].text == "bob quit (bye)"
    assert model.get("#c").lines[-1].kind == "join"


def test_nick_changes_rename_members_private_chats_and_ourselves() -> None:
    model = ChatModel("alice")
    joined(model, "#a", "bob")
    model.open_private("bob")
    model.apply(ev("nick", nick="robert", rooms=["#a"], text="bob is now known as robert",
                   **{"from": "bob"}))
    assert "robert" in model.get("#a").members and "bob" not in model.get("#a").members
    assert model.get("robert").kind == "private" and model.current.name == "robert"
    model.apply(ev("nick", nick="alicia", rooms=["#a"], text="...", **{"from": "alice"}))
    assert model.nick == "alicia" and model.mentions_me("hey alicia")
    assert not model.mentions_me("hey alice")


def test_topic_is_kept_and_changes_are_shown() -> None:
    model = ChatModel("alice")
    joined(model, "#a")
    model.apply(ev("topic", room="#a", topic="Friday release", set_by="bob", changed=True,
                   text="bob set the topic of #a to: Friday release"))
    conv = model.get("#a")
    assert conv.topic == "Friday release" and conv.lines[-1].kind == "topic"


def test_our_part_closes_the_room_entry() -> None:
    model = ChatModel("alice")
    model.expect_join("#a")
    joined(model, "#a")
    model.apply(ev("part", room="#a", reason="", text="alice left #a", **{"from": "alice"}))
    assert model.get("#a") is None and model.current_key == SERVER_KEY
    assert model.current.lines[-1].text == "alice left #a"


def test_connection_lost_keeps_rooms_to_rejoin_but_forgets_members() -> None:
    model = ChatModel("alice")
    joined(model, "#a", "bob")
    model.connection_lost()
    assert model.joined_rooms() == ["#a"] and not model.get("#a").members


def test_navigation_wraps_and_selects_by_index() -> None:
    model = ChatModel("alice")
    joined(model, "#a")
    joined(model, "#b")
    model.select_relative(-1)
    assert model.current.name == "#b"
    model.select_relative(1)
    assert model.current_key == SERVER_KEY
    assert model.select_index(1) and model.current.name == "#a"
    assert not model.select_index(7)


def test_rooms_listing_is_shown_and_feeds_completion() -> None:
    model = ChatModel("alice")
    rooms = [{"room": "#dev", "members": 3, "topic": "code"}, {"room": "#lobby", "members": 9,
                                                                "topic": ""}]
    model.apply(ev("rooms", rooms=rooms, text="2 room(s)"))
    assert "#dev (3) — code" in [line.text.strip() for line in model.server.lines]
    assert model.all_rooms() == ["#dev", "#lobby"]


def test_unknown_event_types_are_shown_not_fatal() -> None:
    model = ChatModel("alice")
    model.apply(ev("future-thing", text="something new"))
    assert model.server.lines[-1].text == "something new"


# -- protocol -------------------------------------------------------------------------------

def test_protocol_splits_lines_across_reads_and_skips_garbage() -> None:
    proto = ClientProtocol(max_line=200)
    data = encode_json_line(ev("join", room="#a")) + b"not json\n" + b'{"no": "type"}\n'
    data += b"x" * 300 + b"\n" + encode_json_line(ev("part", room="#a"))
    events = []
    for i in range(0, len(data), 7):
        events += proto.receive_data(data[i:i + 7])
    assert [e["type"] for e in events] == ["join", "part"]
    assert proto.skipped == 3


def test_requests_leave_out_absent_fields() -> None:
    assert request("part", room="#a", reason=None) == b'{"type":"part","room":"#a"}\n'
    assert b'"nick":"alice"' in hello("alice") and b'"version":1' in hello("alice")


# -- completion -----------------------------------------------------------------------------

def complete(model: ChatModel, text: str) -> list[str]:
    doc = Document(text, len(text))
    return [c.text for c in ChatCompleter(model).get_completions(doc, CompleteEvent())]


def test_completion_of_commands_nicks_and_rooms() -> None:
    model = ChatModel("alice")
    model.expect_join("#lobby")
    joined(model, "#lobby", "bob", "Bobby")
    assert complete(model, "/jo") == ["/join "]
    assert complete(model, "bo") == ["bob: ", "Bobby: "]
    assert complete(model, "hi bo") == ["bob ", "Bobby "]
    assert complete(model, "al") == []  # never ourselves
    assert complete(model, "/join #lo") == ["#lobby "]
    assert complete(model, "") == []


# -- the message pane ----------------------------------------------------------------------

def test_wrap_indents_continuation_rows() -> None:
    rows = wrap([("", "12:00 " + "word " * 10)], width=20)
    texts = ["".join(t for _, t in row) for row in rows]
    assert all(len(t) <= 20 for t in texts) and len(texts) > 1
    assert all(t.startswith("      ") for t in texts[1:])


def test_pane_scrolls_back_and_holds_still_while_lines_arrive() -> None:
    model = ChatModel("alice")
    model.expect_join("#a")
    joined(model, "#a", "bob")
    for i in range(50):
        model.apply(msg("#a", "bob", f"line {i}"))
    pane = MessagePane(model)
    pane.width, pane.height = 60, 10
    assert pane.render_text().splitlines()[-1].endswith("line 49")
    pane.page_up()
    view = pane.render_text()
    assert "line 49" not in view and "50 newer" not in view and "newer lines below" in view
    model.apply(msg("#a", "bob", "new"))
    assert pane.render_text().splitlines()[:-1] == view.splitlines()[:-1]
    for _ in range(20):
        pane.page_up()
    assert "line 0" in pane.render_text()  # stops at the oldest line, screen still full
    assert pane.render_text().splitlines()[0].strip()
    for _ in range(20):
        pane.page_down()
    assert pane.is_pinned() and pane.render_text().splitlines()[-1].endswith("new")


def test_kick_and_mode_changes_update_members() -> None:
    model = ChatModel("alice")
    joined(model, "#a", "bob", "carol")
    model.apply(ev("mode", target="#a", modes="+ov-t", args=["bob", "carol"],
                   text="alice set mode +ov-t bob carol on #a", **{"from": "alice"}))
    members = model.get("#a").members
    assert members["bob"].op and members["carol"].voice and not members["carol"].op
    model.apply(ev("kick", room="#a", nick="carol", reason="spam",
                   text="carol was kicked from #a by bob (spam)", **{"from": "bob"}))
    assert "carol" not in members
    model.apply(ev("kick", room="#a", nick="alice", reason="",
                   text="alice was kicked from #a by bob", **{"from": "bob"}))
    conv = model.get("#a")
    assert not conv.joined and conv.mentioned and model.joined_rooms() == []
    assert conv.lines[-1].text == "alice was kicked from #a by bob"


def test_ignored_nicks_comings_and_goings_are_hidden_but_followed() -> None:
    model = ChatModel("alice")
    model.expect_join("#lobby")  # on screen: away notices show where the user looks
    joined(model, "#lobby", "bob")
    model.set_ignored(["ivan*"])
    model.apply(ev("join", room="#lobby", text="ivan joined #lobby", **{"from": "ivan"}))
    model.apply(ev("away", nick="ivan", away="lunch", changed=True, text="ivan is away: lunch",
                   **{"from": "ivan"}))
    model.apply(ev("away", nick="ivan", away="", changed=True, text="ivan is back",
                   **{"from": "ivan"}))
    model.apply(ev("nick", nick="ivan2", text="ivan is now ivan2", **{"from": "ivan"}))
    model.apply(ev("nick", nick="ivan_", text="ivan2 is now ivan_", **{"from": "ivan2"}))
    assert "ivan_" in model.get("#lobby").members  # followed: the member list is right
    model.apply(ev("part", room="#lobby", text="ivan_ left #lobby", **{"from": "ivan_"}))
    assert "ivan_" not in model.get("#lobby").members
    model.apply(ev("away", nick="bob", away="", changed=True, text="bob is back",
                   **{"from": "bob"}))
    model.apply(ev("join", room="#lobby", text="ivan joined #lobby", **{"from": "ivan"}))
    model.apply(ev("quit", text="ivan quit", **{"from": "ivan"}))
    texts = [line.text for line in model.get("#lobby").lines]
    assert texts[-1] == "bob is back"  # others' are shown
    assert not any("ivan" in text for text in texts), texts
    # The replay of a room's past (history) leaves them out too.
    past = [ev("join", room="#lobby", text="ivan joined #lobby", **{"from": "ivan"}),
            ev("nick", nick="ivan2", text="ivan is now ivan2", **{"from": "ivan"}),
            ev("join", room="#lobby", text="carol joined #lobby", **{"from": "carol"})]
    assert model.merge_history(model.get("#lobby"), past) == 1
    model.set_ignored([])
    model.apply(ev("away", nick="ivan", away="", changed=True, text="ivan is back",
                   **{"from": "ivan"}))
    assert model.get("#lobby").lines[-1].text == "ivan is back"
