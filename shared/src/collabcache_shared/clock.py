"""Wall-clock time as cache entries, write fences and cache events record it."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the epoch, in integer arithmetic (no float rounding)."""
    return time.time_ns() // 1_000_000
