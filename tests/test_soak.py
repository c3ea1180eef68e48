"""A short run of scripts/soak.py on each engine: misbehaving clients, invariants checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "scripts" / "soak.py"


@pytest.mark.parametrize("engine", ["asyncio", "threaded"])
def test_short_soak(engine: str) -> None:
    proc = subprocess.run([sys.executable, str(SOAK), "--engine", engine, "--seconds", "3",
                           "--good", "6"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lost 0, reordered 0" in proc.stdout
    assert "result: PASS" in proc.stdout
