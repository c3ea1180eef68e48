"""Start-up mistakes end in one clear line on stderr (exit 2), never a traceback or a screen of
usage text; what ``--help`` says about the options it is asked about."""

from __future__ import annotations

from pathlib import Path

import pytest
from memnet import MemoryNet

from chat.cli import build_parser, config_from_args, main, parse_args


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line ``argv`` gets."""
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("chat-server: error: ")
    return lines[0]


@pytest.mark.parametrize(("argv", "named"), [
    (["--nick-len", "-5"], "--nick-len"),
    (["--max-connections", "-1"], "--max-connections"),
    (["--greet-delay", "-1"], "--greet-delay"),
    (["--rate-per-second", "-2"], "--rate-per-second"),
    (["--port", "99999"], "--port"),
    (["--tls-port", "70000"], "--tls-port"),
    (["--http-port", "99999"], "--http-port"),
    (["--listen", "99999/irc"], "0-65535"),
])
def test_out_of_range_options_are_one_line(argv: list[str], named: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert named in refused(argv, capsys)


@pytest.mark.parametrize(("toml", "named"), [
    ("[limits]\nnick-len = -5\n", "--nick-len"),
    ("nick_len = -5\n", "--nick-len"),
    ("max-connections = -1\n", "--max-connections"),
    ("greet-delay = -0.5\n", "--greet-delay"),
    ("[limits]\nrate-per-second = -1\n", "--rate-per-second"),
    ("port = 99999\n", "--port"),
])
def test_out_of_range_values_in_the_config_file_are_one_line(
        toml: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "chat.toml"
    config.write_text(toml)
    assert named in refused(["--config", str(config)], capsys)


def test_a_cluster_url_that_is_not_redis_is_refused_without_echoing_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(["--cluster", "http://:pw-not-for-logs@redis.example/0"], capsys)
    assert "--cluster must be a redis://" in line and "pw-not-for-logs" not in line


def test_a_misspelt_option_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(["--prot", "5"], capsys)
    assert line == "chat-server: error: unrecognized arguments: --prot 5 (did you mean --port?)"
    assert "did you mean --greet-delay?" in refused(["--greet-dealy=1"], capsys)
    assert "did you mean" not in refused(["--zzzzzz"], capsys)


def test_a_misspelt_config_key_gets_a_suggestion(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "chat.toml"
    config.write_text("[limits]\nmax-conections = 5\n")
    assert "unknown option 'max-conections' (did you mean 'max-connections'?)" in refused(
        ["--config", str(config)], capsys)


def test_a_missing_certificate_is_named_as_such(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "cert.pem"
    assert main(["--tls-cert", str(missing), "--http-port", "0", "--port", "0"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"chat-server: error: --tls-cert: the file {missing} does not exist"]
    missing.write_text("not really a certificate")  # its contents are the engine's business
    assert main(["--tls-cert", str(missing), "--tls-key", str(tmp_path / "key.pem")]) == 2
    assert "--tls-key: the file" in capsys.readouterr().err


def test_help_explains_every_option_and_each_default_once() -> None:
    text = build_parser().format_help()
    assert "(default: None)" not in text
    flat = " ".join(text.split())
    assert "--tls-key PEM private key (default: read from the --tls-cert file) --tls-port" in flat
    log_level = flat.partition("--log-level {DEBUG,INFO,WARNING,ERROR} ")[2]
    assert log_level.startswith("least important log lines shown (default: INFO)")


def test_motd_file_keeps_every_line_prefixed(tmp_path: Path) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_text("Be kind.\nRules: /help\n\n", encoding="utf-8")
    config = config_from_args(parse_args(["--motd-file", str(motd), "--motd", "ignored"]))
    assert config.motd == "Be kind.\nRules: /help"
    net = MemoryNet(config)
    person = net.human("alice")
    assert person.new()[:2] == ["*** Be kind.", "*** Rules: /help"]


def test_motd_file_problems_are_one_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.txt"
    assert refused(["--motd-file", str(missing)], capsys).endswith(
        f"--motd-file: cannot read {missing}: No such file or directory")
    big = tmp_path / "big.txt"
    big.write_text("x" * (17 * 1024))
    assert "is over 16 KiB" in refused(["--motd-file", str(big)], capsys)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9")
    assert "is not UTF-8 text" in refused(["--motd-file", str(latin)], capsys)


def test_python_m_chat_cli_runs_the_server_command() -> None:
    """``python -m chat.cli`` used to import the module and exit 0 without a word."""
    import subprocess
    import sys

    from chat import __version__
    result = subprocess.run([sys.executable, "-m", "chat.cli", "--version"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    assert result.stdout.strip() == f"chat-server {__version__}"


def test_log_level_takes_any_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--log-level", "debug"]).log_level == "DEBUG"
    config = tmp_path / "chat.toml"
    config.write_text('log-level = "warning"\n')
    assert parse_args(["--config", str(config)]).log_level == "WARNING"
    config.write_text("log-level = 5\n")
    assert "'log-level' must be a string" in refused(["--config", str(config)], capsys)
