"""The end-to-end demo: real terminals (tmux), a real server process, two clients."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "client_tmux_demo.py"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_two_clients_chat_in_tmux_and_survive_a_server_restart(engine: str) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--engine", engine],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<alice> hello bob, ready for the release?" in result.stdout
    assert "<alice> and we are back" in result.stdout
    # The prompt survived a line wider than the box, and a two-line paste was two messages
    # (the script fails if either is not so; bob's screen shows the paste).
    lines = result.stdout.splitlines()
    one = next(i for i, line in enumerate(lines) if "<alice> pasted line one" in line)
    assert "<alice> pasted line two" in lines[one + 1]
    # Then a five-line paste, confirmed with "y": five messages in order.
    steps = [i for i, line in enumerate(lines) if "<alice> step " in line]
    assert [lines[i].split("<alice> ")[1].split()[1] for i in steps] == ["1", "2", "3", "4", "5"]
