"""Sizes, formatting and the arrays the workloads send."""

from __future__ import annotations

import numpy as np

KB = 1 << 10
MB = 1 << 20
GB = 1 << 30


def human(n: float) -> str:
    for unit, size in (("GiB", GB), ("MiB", MB), ("KiB", KB)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{int(n)} B"


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.3f}×"


def fmt_range(values: list[float], digits: int = 2) -> str:
    """`1.07–1.35×`, or one value when they agree to `digits` decimals."""
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return f"{lo}×" if lo == hi else f"{lo}–{hi}×"


def make_array(dtype: str, nbytes: int, rng: np.random.Generator, cols: int | None = None) -> np.ndarray:
    """Random data of about `nbytes` (incompressible, so RDB sizes are honest)."""
    dt = np.dtype(dtype)
    n = max(1, nbytes // dt.itemsize)
    arr: np.ndarray
    if dt.kind == "f":
        arr = rng.random(n, dtype=np.float32 if dt.itemsize == 4 else np.float64).astype(dt, copy=False)
    elif dt.kind == "c":
        arr = rng.random(2 * n).view(np.complex128).astype(dt, copy=False)
    else:
        arr = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max, size=n, dtype=dt, endpoint=True)
    return arr.reshape(-1, cols) if cols else arr
