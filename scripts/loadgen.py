#!/usr/bin/env python3
"""Load generator for chat servers; a thin wrapper so it runs from a checkout without installing.

Same as ``chat-bench`` / ``python -m chat.bench``; see ``--help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.bench.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
