"""A short run of scripts/soak.py on each engine: misbehaving clients, invariants checked.

Half a second is enough for every kind of misbehaving client to connect and act many times (the
assertions below check it); longer runs are for scripts/soak.py itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parent.parent / "scripts" / "soak.py"


def test_short_soak(engine: str) -> None:
    proc = subprocess.run([sys.executable, str(SOAK), "--engine", engine, "--seconds", "0.5",
                           "--good", "6"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lost 0, reordered 0" in proc.stdout
    assert "result: PASS" in proc.stdout
    kinds = re.search(r"misbehaving connections: (.*)", proc.stdout)
    assert kinds, proc.stdout
    counts = dict(item.split() for item in kinds.group(1).split(", "))
    assert set(counts) == {"flood", "garbage", "midline", "stall", "storm"}, counts
    assert all(int(n) > 0 for n in counts.values()), counts
