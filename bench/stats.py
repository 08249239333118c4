"""How many repetitions, in which order, and which statistic of them."""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable

from .units import GB, MB


def pair_times(fa: Callable[[], float], fb: Callable[[], float], reps: int) -> tuple[list[float], list[float]]:
    """Interleaves a and b (alternating which goes first) so drift hits both."""
    ta: list[float] = []
    tb: list[float] = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for i in range(reps):
            if i % 2 == 0:
                ta.append(fa())
                tb.append(fb())
            else:
                tb.append(fb())
                ta.append(fa())
    finally:
        if gc_was:
            gc.enable()
    return ta, tb


def stat(times: list[float], nbytes: int = 0) -> float:
    """Median of many repetitions; best-of-N for few repetitions or for payloads
    of 1 MiB and more, whose times are bimodal (fresh vs reused pages)."""
    return statistics.median(times) if len(times) >= 15 and nbytes < MB else min(times)


def stat_name(reps: int, nbytes: int = 0) -> str:
    return "median" if reps >= 15 and nbytes < MB else "best"


def reps_for(nbytes: int, quick: bool) -> int:
    if quick:
        return max(5, min(500, (192 * MB) // max(nbytes, 1)))
    return max(8, min(1500, GB // max(nbytes, 1)))


def timer(f: Callable[[], Any]) -> Callable[[], float]:
    """`f` as a function returning its own wall time, for `pair_times`."""

    def timed() -> float:
        start = time.perf_counter()
        f()
        return time.perf_counter() - start

    return timed
