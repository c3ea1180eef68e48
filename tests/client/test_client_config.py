"""The client's config file and command line: where the file is, what it may say, how a mistake
is reported, how /ignore writes it back, and that the command line wins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

from chat import __version__
from client import cli
from client.config import ConfigError, config_path, load_config, save_ignore

ENTER = "\r"


def test_the_file_is_under_xdg_config_home_or_dot_config() -> None:
    assert config_path({"HOME": "/home/a"}) == Path("/home/a/.config/chat-client/config.toml")
    assert (config_path({"HOME": "/home/a", "XDG_CONFIG_HOME": "/cfg"})
            == Path("/cfg/chat-client/config.toml"))
    # A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    assert (config_path({"HOME": "/home/a", "XDG_CONFIG_HOME": "rel"})
            == Path("/home/a/.config/chat-client/config.toml"))


def test_a_full_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('server = "chat.example.org"\nport = 6697\nnick = "alice"\ntls = true\n'
                    'ca_file = "~/ca.pem"\njoin = ["#lobby", "#dev"]\nignore = ["spam*"]\n'
                    'paste_max_lines = 5\nsidebar = false\n\n[colours]\n'
                    'nicks = ["ansired", "#ff8700"]\ntimestamp = "ansiblue"\n')
    config = load_config(path)
    assert (config.server, config.port, config.nick, config.tls) == (
        "chat.example.org", 6697, "alice", True)
    assert config.ca_file == str(Path.home() / "ca.pem")
    assert config.join == ["#lobby", "#dev"] and config.ignore == ["spam*"]
    assert config.paste_max_lines == 5 and config.sidebar is False
    assert config.nick_colours == ("ansired", "#ff8700")
    assert config.colours == {"timestamp": "ansiblue"}
    assert load_config(tmp_path / "missing.toml").server is None  # no file: defaults


@pytest.mark.parametrize(("text", "message"), [
    ('sever = "x"\n', "unknown setting 'sever' (did you mean 'server'?)"),
    ("port = \"7777\"\n", "port must be a whole number"),
    ("port = 99999\n", "port must be between 1 and 65535"),
    ("tls = 1\n", "tls must be true or false"),
    ("ignore = \"bob\"\n", "ignore must be a list of strings"),
    ("nick = \n", "not valid TOML"),
    ("[colours]\ntimestmap = \"ansiblue\"\n", "unknown colour 'timestmap' (did you mean"),
    ("[colours]\ntimestamp = \"nosuchcolour\"\n", "colours.timestamp: 'nosuchcolour' is not"),
    ("[colours]\nnicks = [\"#12\"]\n", "'#12' is not a colour"),
])
def test_a_mistake_is_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_saving_the_ignore_list_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    save_ignore(path, ["bob"])  # no file (nor directory) yet
    assert tomllib.loads(path.read_text()) == {"ignore": ["bob"]}

    path.write_text('# my settings\nnick = "alice"\nignore = [\n  "bob",\n  "carol",\n]\n'
                    'port = 7777  # the plain port\n\n[colours]\ntimestamp = "ansiblue"\n')
    save_ignore(path, ["carol", 'we"ird'])
    text = path.read_text()
    assert text.startswith("# my settings\n") and "# the plain port" in text
    assert tomllib.loads(text) == {"nick": "alice", "ignore": ["carol", 'we"ird'], "port": 7777,
                                   "colours": {"timestamp": "ansiblue"}}

    path.write_text('nick = "alice"\n[colours]\ntimestamp = "ansiblue"\n')
    save_ignore(path, ["dave"])  # added at the top level, before the table
    assert tomllib.loads(path.read_text())["ignore"] == ["dave"]


def test_version_and_config_errors_on_the_command_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"chat-client {__version__}"

    bad = tmp_path / "config.toml"
    bad.write_text("prot = 7777\n")
    assert cli.main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"chat-client: {bad}: unknown setting 'prot' "
                           "(did you mean 'port'?)")
    assert cli.main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert "no config file" in capsys.readouterr().err


def test_the_command_line_wins_over_the_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('server = "filehost"\nport = 7001\nnick = "filenick"\njoin = ["#a"]\n'
                    'ignore = ["x"]\n')
    made: dict[str, object] = {}

    class Recorder:
        def __init__(self, host: str, port: int, nick: str, rooms: list[str], **kw: object):
            made.update(host=host, port=port, nick=nick, rooms=rooms, **kw)

        async def run_async(self) -> None:
            return None

    monkeypatch.setattr(cli, "ChatApp", Recorder)
    assert cli.main(["--config", str(path)]) == 0
    assert (made["host"], made["port"], made["nick"], made["rooms"]) == (
        "filehost", 7001, "filenick", ["#a"])
    assert made["ignore"] == ["x"] and made["config_path"] == path
    assert cli.main(["--config", str(path), "--host", "h2", "--port", "7002", "--nick", "n2",
                     "--join", "#b"]) == 0
    assert (made["host"], made["port"], made["nick"], made["rooms"]) == ("h2", 7002, "n2", ["#b"])


async def test_ignore_is_kept_in_the_config_file_across_runs(clients, tmp_path: Path) -> None:
    path = tmp_path / "chat-client" / "config.toml"
    alice = await clients.start("alice", config_path=path)
    spammer = await clients.start("spammer")
    await alice.wait_joined("#lobby", "spammer")
    alice.type("/ignore spammer" + ENTER)
    await alice.wait(lambda: "Ignoring spammer" in alice.text(), "the ignore")
    assert f"kept in {path}" in alice.text()
    assert load_config(path).ignore == ["spammer"]
    await alice.quit()

    # The next run reads the list back (as chat-client does) and hides what they say.
    again = await clients.start("alice", ignore=load_config(path).ignore, config_path=path)
    bob = await clients.start("bob")
    await bob.wait_joined("#lobby", "alice", "spammer")
    spammer.type("buy now" + ENTER)
    await bob.wait_line("#lobby", "buy now")  # said before bob's line, for everyone
    bob.type("after the spam" + ENTER)
    await again.wait_line("#lobby", "after the spam")
    assert "buy now" not in again.text("#lobby")
    assert again.model.ignored_count == 1


def test_the_example_in_the_docs_is_a_valid_config(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text()
    example = doc.split("## Config file")[1].split("```toml\n")[1].split("```")[0]
    path = tmp_path / "config.toml"
    path.write_text(example)
    config = load_config(path)
    assert config.server == "chat.example.org" and config.ignore == ["spammer", "bot*"]
    assert "unread-marker" in config.colours
