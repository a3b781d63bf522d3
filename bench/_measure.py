"""Timing and memory helpers shared by the benchmarks (run as scripts from bench/)."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["max_rss_mb", "measure_memory", "proc_status_mb", "reset_peak_rss", "timed"]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def max_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (ru_maxrss is KB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def proc_status_mb(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak since the last reset) from /proc, MB; None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Linux: restart the peak (VmHWM) at the current RSS, so that the peak measured after
    the evaluation is the evaluation's and not the data generation's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_memory(fn: Callable[[], Any]) -> tuple[float, float, str]:
    """(peak MB during fn, RSS MB before fn, how the peak was measured)."""
    before = proc_status_mb("VmRSS")
    if before is not None and reset_peak_rss():
        fn()
        peak = proc_status_mb("VmHWM")
        if peak is not None:
            return peak, before, "VmHWM since reset"
    start = max_rss_mb()
    fn()
    return max_rss_mb(), before if before is not None else start, "ru_maxrss"
