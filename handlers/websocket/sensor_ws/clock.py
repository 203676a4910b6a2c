"""Wall-clock time in the units the tables use. Callers use ``clock.now_ms()`` so tests can pin time."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000
