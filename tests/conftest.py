"""Shared pytest set-up: make the repo root and every handler folder importable.

Each folder in handlers/ is the root of one Lambda package, and holds one uniquely named
Python package (handlers/api/nl2sql_api, handlers/websocket/sensor_ws, ...), so all of them
can share one test process without module-name clashes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for handler_root in sorted((ROOT / "handlers").iterdir()):
    if handler_root.is_dir() and str(handler_root) not in sys.path:
        sys.path.insert(0, str(handler_root))
