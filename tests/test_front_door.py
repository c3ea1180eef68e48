"""scripts/serve and scripts/test: each sets up .venv when needed, then runs its one thing.

Run against a stand-in .venv (CHAT_VENV) whose programs only write down how they were called,
so nothing is installed and no server starts; what is checked is the wiring: set-up once (and
again after pyproject.toml changes), the order ruff, mypy, pytest, and arguments passed on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A stand-in virtualenv: every program appends its name and arguments to calls.log."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "chat-server", "ruff", "mypy"):
        program = bin_dir / name
        program.write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls.log"\n')
        program.chmod(0o755)
    return tmp_path / "venv"


def run(script: str, venv: Path, *args: str) -> list[str]:
    """Run ``scripts/<script>``; the calls its stand-in programs saw, in order."""
    env = {**os.environ, "CHAT_VENV": str(venv), "PYTHON": sys.executable}
    result = subprocess.run([str(ROOT / "scripts" / script), *args], env=env, cwd="/",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    log = venv.parent / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def test_serve_sets_up_once_then_runs_the_server(venv: Path) -> None:
    assert run("serve", venv, "--engine", "threaded") == [
        "python -m pip install -q -e .", "chat-server --engine threaded"]
    assert run("serve", venv) == ["chat-server "]  # set up already: straight to the server
    os.utime(venv / ".installed", (0, 0))  # older than pyproject.toml: set up again
    assert run("serve", venv)[0] == "python -m pip install -q -e ."


def test_test_runs_ruff_mypy_then_pytest_with_its_arguments(venv: Path) -> None:
    assert run("test", venv, "-x", "tests/test_engines.py") == [
        "python -m pip install -q -e .[test,lint]", "ruff check .", "mypy chat client",
        "python -m pytest -x tests/test_engines.py"]
    assert run("test", venv) == ["ruff check .", "mypy chat client", "python -m pytest"]


def test_ci_runs_the_same_script() -> None:
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec scripts/test")
