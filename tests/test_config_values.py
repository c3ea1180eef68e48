"""Settings are checked at start: NaN, infinities, negatives and nonsense are refused."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from chat.config import Limits, ServerConfig


@pytest.mark.parametrize(("field", "value"), [
    ("ping_interval", math.nan), ("ping_timeout", math.inf), ("sendq", -1),
    ("rate_per_second", -0.5), ("register_timeout", 1e300), ("max_line", 10),
    ("sendq_grace", math.nan), ("rate_burst", 0),
])
def test_bad_limits_are_refused_with_the_option_named(field: str, value: float) -> None:
    with pytest.raises(ValueError, match="--" + field.replace("_", "-")):
        Limits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [
    ("greet_delay", math.nan), ("shutdown_grace", -1.0), ("port", 70000),
    ("tls_handshake_timeout", 0.0),
])
def test_bad_server_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match="--" + field.replace("_", "-")):
        ServerConfig(**{field: value})  # type: ignore[arg-type]


def test_zero_still_means_off() -> None:
    Limits(ping_interval=0, rate_per_second=0, sendq=0, max_connections=0, register_timeout=0)


def test_a_nan_in_the_config_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "chat.toml"
    config.write_text("[limits]\nping-interval = nan\n")
    start = "import sys; from chat.cli import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", start, "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chat-server: error: --ping-interval must be a finite number, not nan"]
