"""m) Server-side maths: NP.REDUCE over 100 MB of float32 against NumPy's own
(single-threaded) reduction of the same array in this process, and NP.UPDATE's
in-place add over 1M elements against a memcpy of the same bytes."""

from __future__ import annotations

import io
import time
from typing import Callable

import numpy as np
from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, stat
from ..table import Table, verdict
from ..units import MB, fmt_ratio, human


def _numpy_time(fn: Callable[[], object], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def run(b: Bench) -> list[Table]:
    nbytes = 32 * MB if b.quick else 100 * MB
    t = Table(
        "m",
        f"m) Compute: NP.REDUCE over {human(nbytes)} float32 vs NumPy; NP.UPDATE add over 1M elements vs memcpy",
        ["case", "server", "reference", "ratio", "target", "result"],
    )
    reps = 5 if b.quick else 11
    arr = b.rng.standard_normal(nbytes // 4).astype(np.float32)
    b.call("NP.SET", "np:compute", npy(arr))
    try:
        for op in ["sum", "mean", "max", "argmax", "std"]:
            got = np.load(io.BytesIO(b.call("NP.REDUCE", "np:compute", op)))
            want = getattr(np, op)(arr)
            assert np.allclose(got, want, equal_nan=True), f"NP.REDUCE {op} is wrong"
            server, local = pair_times(
                lambda: b.timed("NP.REDUCE", "np:compute", op),
                lambda: _numpy_time(lambda: getattr(np, op)(arr), 1)[0],
                reps,
            )
            speed = stat(local, nbytes) / stat(server, nbytes)  # NumPy time ÷ server time
            ok = speed >= targets.REDUCE_SPEED
            t.add(
                f"NP.REDUCE {op}", f"{stat(server, nbytes) * 1e3:.1f} ms", f"np.{op} {stat(local, nbytes) * 1e3:.1f} ms",
                fmt_ratio(speed), f"≥ {targets.REDUCE_SPEED}× NumPy's speed", verdict(ok),
                ok=ok, miss_label=f"m) NP.REDUCE {op} at {speed:.2f}× NumPy's speed < {targets.REDUCE_SPEED}×",
            )
            t.facts[f"reduce-{op}-s-per-gb"] = f"{stat(server, nbytes) / (nbytes / 1e9):.2f} s"
            print(f"  m) reduce {op}: {speed:.2f}× NumPy's speed", flush=True)
        n = 1 << 20
        small = np.arange(n, dtype=np.float32)
        src, dst = small.copy(), np.empty_like(small)
        b.call("NP.SET", "np:update", npy(small))
        for label, payload in [("scalar", npy(np.float32(1))), ("array", npy(small))]:
            b.cmdstats()
            server = []
            for _ in range(reps * 3):
                b.r.config_resetstat()
                b.call("NP.UPDATE", "np:update", "add", payload)
                usec = Bench.usec_per_call(b.cmdstats(), "np.update")
                assert usec is not None, "NP.UPDATE ran"
                server.append(usec / 1e6)
            memcpy = _numpy_time(lambda: np.copyto(dst, src), reps * 3)
            ratio = min(server) / min(memcpy)
            ok = ratio <= targets.UPDATE_VS_MEMCPY
            t.add(
                f"NP.UPDATE add {label} (1M float32)", f"{min(server) * 1e6:.0f} µs", f"memcpy {min(memcpy) * 1e6:.0f} µs",
                fmt_ratio(ratio), f"≤ {targets.UPDATE_VS_MEMCPY}×", verdict(ok),
                ok=ok, miss_label=f"m) NP.UPDATE add {label} {ratio:.2f}× memcpy > {targets.UPDATE_VS_MEMCPY}×",
            )
            print(f"  m) update add {label}: {ratio:.2f}× memcpy", flush=True)
        t.notes.append(
            "Reductions: round trip of NP.REDUCE (a few bytes of reply) against np.<op> on the same array in the "
            "benchmark process, interleaved, best of the runs; ratio = NumPy's time ÷ the server's. NP.UPDATE: server "
            "time (INFO commandstats) against np.copyto of the same 4 MiB, best of the runs."
        )
    finally:
        b.call("DEL", "np:compute", "np:update")
    return [t]
