"""n) A rolling buffer of camera frames: append one 480×640×3 uint8 frame with
MAXLEN 100, then read the last 30 through the client, against a Redis stream
(XADD MAXLEN 100, then XREVRANGE COUNT 30 and np.frombuffer of each frame):
each step alone, and the two in turn."""

from __future__ import annotations

import numpy as np
import redis
from redis_numpy import Numpy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, timer
from ..table import Table, verdict
from ..units import fmt_ratio

FRAME = (480, 640, 3)
KEEP = 100
READ = 30


def run(b: Bench) -> list[Table]:
    t = Table(
        "n",
        f"n) Rolling buffer: one {FRAME[0]}×{FRAME[1]}×{FRAME[2]} uint8 frame appended with MAXLEN {KEEP}, "
        f"the last {READ} read through the client, against XADD MAXLEN + XREVRANGE COUNT",
        ["step", "module ms", "stream ms", "ratio", "median ratio", "server µs/step module → stream", "server ratio",
         "target", "result"],
    )
    client = redis.Redis(port=b.port, protocol=2, socket_timeout=600)
    arrays = Numpy(redis.Redis(port=b.port, protocol=2, socket_timeout=600))
    frames = b.rng.integers(0, 256, (8, 1) + FRAME, dtype=np.uint8)
    raw = [f.tobytes() for f in frames]
    try:
        b.call("DEL", "np:roll", "st:roll")
        # Past the buffer's growth: from 2 × KEEP appends on its capacity is
        # steady (it last grows near 1.5 × KEEP), as a stream's node count is.
        for i in range(2 * KEEP + 10):
            arrays.append("np:roll", frames[i % 8], maxlen=KEEP)
            client.xadd("st:roll", {"f": raw[i % 8]}, maxlen=KEEP, approximate=False)
        counter = iter(range(1 << 30))

        def read_stream() -> list[np.ndarray]:
            entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrevrange("st:roll", count=READ)  # type: ignore[assignment]
            return [np.frombuffer(v[b"f"], np.uint8).reshape(FRAME) for _, v in entries]

        reps = 60 if b.quick else 300

        def cycle_module() -> None:
            arrays.append("np:roll", frames[next(counter) % 8], maxlen=KEEP)
            arrays.get("np:roll", slice=np.s_[-READ:])

        def cycle_stream() -> None:
            client.xadd("st:roll", {"f": raw[next(counter) % 8]}, maxlen=KEEP, approximate=False)
            read_stream()

        steps = {
            "append": (
                lambda: arrays.append("np:roll", frames[next(counter) % 8], maxlen=KEEP),
                lambda: client.xadd("st:roll", {"f": raw[next(counter) % 8]}, maxlen=KEEP, approximate=False),
                ("NP.APPEND",), ("XADD",),
            ),
            "read": (
                lambda: arrays.get("np:roll", slice=np.s_[-READ:]),
                read_stream,
                ("NP.GET",), ("XREVRANGE",),
            ),
            "append + read": (cycle_module, cycle_stream, ("NP.APPEND", "NP.GET"), ("XADD", "XREVRANGE")),
        }
        got, want = arrays.get("np:roll", slice=np.s_[-READ:]), read_stream()[::-1]
        assert got is not None and got.shape == (READ,) + FRAME and all(np.array_equal(g, w) for g, w in zip(got, want)), "frames differ"
        for step, (module, stream, np_cmds, st_cmds) in steps.items():
            b.call("CONFIG", "RESETSTAT")
            tm, ts = pair_times(timer(module), timer(stream), reps)
            stats = b.cmdstats()

            def usec(cmds: tuple[str, ...]) -> float:
                return sum(float(stats.get(f"cmdstat_{cmd.lower()}", {}).get("usec", 0)) for cmd in cmds)

            # Per step, not per command: a read past a few MiB is several NP.GETs
            # (pieces, in one MULTI), where the stream's read is one XREVRANGE.
            steps_run = float(stats.get(f"cmdstat_{st_cmds[0].lower()}", {}).get("calls", 0)) or 1.0
            server_m, server_s = usec(np_cmds) / steps_run, usec(st_cmds) / steps_run
            # Judged on the means, what a camera pays over time: an occasional
            # slow call (a buffer growth, a stream node) counts in full.
            m, s = float(np.mean(tm)), float(np.mean(ts))
            median_ratio = float(np.median(tm)) / float(np.median(ts))
            target = targets.ROLLING
            ok = m / s <= target
            key = step.replace(" + ", "-")
            t.add(
                step, f"{m * 1e3:.3f}", f"{s * 1e3:.3f}", fmt_ratio(m / s), fmt_ratio(median_ratio),
                f"{server_m:.0f} → {server_s:.0f}", fmt_ratio(server_m / server_s if server_s else None),
                f"≤ {target}×", verdict(ok),
                ok=ok, miss_label=f"n) rolling {step} {m / s:.3f}× > {target}×",
            )
            t.facts[f"rolling-{key}"] = fmt_ratio(m / s)
            t.facts[f"rolling-{key}-median"] = fmt_ratio(median_ratio)
            t.facts[f"rolling-{key}-server"] = fmt_ratio(server_m / server_s if server_s else None)
            print(f"  n) rolling {step}: {m / s:.3f}× mean, {median_ratio:.3f}× median "
                  f"(server {server_m:.0f} vs {server_s:.0f} µs)", flush=True)
        t.notes.append(
            f"Mean of {reps} interleaved calls per side (the ratio the target judges; the median's beside it); server "
            "columns are commandstats' mean time per step over the same calls (a read is the client's pieces, "
            "several NP.GETs in one MULTI; append + read is the two in turn, the issue's cycle)."
        )
    finally:
        b.call("DEL", "np:roll", "st:roll")
        client.close()
        arrays.close()
    return [t]
