"""m) Server-side maths: NP.REDUCE over 100 MB of float32 against NumPy's own
(single-threaded) reduction of the same array in this process, and NP.UPDATE's
in-place add over 1M elements against a memcpy of the same bytes."""

from __future__ import annotations

import io
import time
from typing import Any, Callable

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


OPS = ["sum", "prod", "mean", "min", "max", "argmin", "argmax", "std", "var", "count_nonzero", "any", "all"]


def _numpy_op(op: str, arr: np.ndarray) -> Callable[[], Any]:
    if op == "count_nonzero":
        return lambda: np.count_nonzero(arr)
    return lambda: getattr(np, op)(arr)


def _server_cpu(b: Bench) -> float:
    """CPU seconds of the server's main thread so far (INFO cpu), or 0 where
    the server does not report it."""
    info = b.r.info("cpu")
    return float(info.get("used_cpu_user_main_thread", 0.0)) + float(info.get("used_cpu_sys_main_thread", 0.0))


def run(b: Bench) -> list[Table]:
    nbytes = 32 * MB if b.quick else 100 * MB
    t = Table(
        "m",
        f"m) Compute: NP.REDUCE over {human(nbytes)} float32 vs NumPy; NP.UPDATE add over 1M elements vs memcpy",
        ["case", "server", "reference", "ratio", "CPU: server", "CPU: NumPy", "CPU ratio", "target", "result"],
    )
    reps = 5 if b.quick else 11
    arr = b.rng.standard_normal(nbytes // 4).astype(np.float32)
    b.call("NP.SET", "np:compute", npy(arr))
    try:
        info_cost = min(-_server_cpu(b) + _server_cpu(b) for _ in range(5))  # one INFO cpu's own CPU time
        for op in OPS:
            numpy_op = _numpy_op(op, arr)
            got = np.load(io.BytesIO(b.call("NP.REDUCE", "np:compute", op)))
            want = numpy_op()
            assert np.allclose(got, want, equal_nan=True), f"NP.REDUCE {op} is wrong"
            server_cpu: list[float] = []
            local_cpu: list[float] = []

            def server_once() -> float:
                before = _server_cpu(b)
                elapsed = b.timed("NP.REDUCE", "np:compute", op)
                server_cpu.append(max(_server_cpu(b) - before - info_cost, 1e-6))
                return elapsed

            def local_once() -> float:
                before = time.thread_time()
                elapsed = _numpy_time(numpy_op, 1)[0]
                local_cpu.append(max(time.thread_time() - before, 1e-6))
                return elapsed

            server, local = pair_times(server_once, local_once, reps)
            speed = stat(local, nbytes) / stat(server, nbytes)  # NumPy time ÷ server time
            cpu_speed = min(local_cpu) / min(server_cpu) if _server_cpu(b) else speed
            ok = cpu_speed >= targets.REDUCE_SPEED
            t.add(
                f"NP.REDUCE {op}", f"{stat(server, nbytes) * 1e3:.1f} ms", f"np.{op} {stat(local, nbytes) * 1e3:.1f} ms",
                fmt_ratio(speed), f"{min(server_cpu) * 1e3:.1f} ms", f"{min(local_cpu) * 1e3:.1f} ms",
                fmt_ratio(cpu_speed), f"≥ {targets.REDUCE_SPEED}× NumPy's speed", verdict(ok),
                ok=ok, miss_label=f"m) NP.REDUCE {op} at {cpu_speed:.2f}× NumPy's speed (CPU time) < {targets.REDUCE_SPEED}×",
            )
            t.facts[f"reduce-{op}-s-per-gb"] = f"{min(server_cpu) / (nbytes / 1e9):.2f} s"
            t.facts[f"reduce-{op}-numpy-s-per-gb"] = f"{min(local_cpu) / (nbytes / 1e9):.2f} s"
            print(f"  m) reduce {op}: {cpu_speed:.2f}× NumPy's speed (CPU time; {speed:.2f}× wall)", flush=True)
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
                fmt_ratio(ratio), "", "", "", f"≤ {targets.UPDATE_VS_MEMCPY}×", verdict(ok),
                ok=ok, miss_label=f"m) NP.UPDATE add {label} {ratio:.2f}× memcpy > {targets.UPDATE_VS_MEMCPY}×",
            )
            print(f"  m) update add {label}: {ratio:.2f}× memcpy", flush=True)
        t.notes.append(
            "Reductions: round trip of NP.REDUCE (a few bytes of reply) against np.<op> on the same array in the "
            "benchmark process, interleaved, best of the runs; ratio = NumPy's time ÷ the server's. The CPU columns "
            "are the CPU time of the server's main thread (INFO cpu) and of the benchmark's thread for the same runs: "
            "on a shared machine they leave out the time each waited for a core, so the target is judged on them. "
            "NP.UPDATE: server time (INFO commandstats) against np.copyto of the same 4 MiB, best of the runs."
        )
    finally:
        b.call("DEL", "np:compute", "np:update")
    return [t]
