"""Timing helpers shared by the benchmark cases (:mod:`bench.run`, :mod:`bench.gaussian`)."""

from __future__ import annotations

import sys
import time


def best(fn, repeats: int):
    """``(fastest wall time of repeats calls, the last value)``, by ``time.perf_counter``."""
    fastest, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, value


def once(fn):
    """``(wall time of one call, its value)``: the first call, compilation included."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def say(message: str) -> None:
    """Progress on stderr, so the table on stdout stays clean."""
    print(message, file=sys.stderr, flush=True)


def row(name, seconds, baseline=None, baseline_seconds=None, max_abs_diff=None) -> dict:
    """One row of ``bench.json``: our time, the baseline's, their ratio and the agreement."""
    return {
        "name": name,
        "seconds": seconds,
        "baseline": baseline,
        "baseline_seconds": baseline_seconds,
        "speedup": None if baseline_seconds is None else baseline_seconds / seconds,
        "max_abs_diff": max_abs_diff,
    }
