"""c) NP.SHAPE / NP.INFO on a huge array vs a 4-byte one: metadata is O(1)."""

from __future__ import annotations

from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, stat
from ..table import Table, verdict
from ..units import MB, fmt_ratio, fmt_time, human, make_array


def run(b: Bench) -> list[Table]:
    big = 64 * MB if b.quick else 256 * MB
    t = Table(
        "c",
        f"c) Metadata: NP.SHAPE / NP.INFO on a {human(big)} array vs a 4-byte array",
        ["command", "4 B array", f"{human(big)} array", "ratio", "server µs (4 B / big)", "server ratio",
         "target", "result"],
    )
    b.call("NP.SET", "np:small", npy(make_array("float32", 4, b.rng)))
    b.call("NP.SET", "np:big", npy(make_array("float32", big, b.rng, 256)))
    reps = 1000 if b.quick else 4000
    t.notes.append(f"Median of {reps} interleaved calls each.")
    for cmd in ("NP.SHAPE", "NP.INFO"):
        b.call("CONFIG", "RESETSTAT")
        ts, tb = pair_times(lambda: b.timed(cmd, "np:small"), lambda: b.timed(cmd, "np:big"), reps)
        # server-side: separate runs so the two keys do not share one commandstats entry
        server = []
        for key in ("np:small", "np:big"):
            b.call("CONFIG", "RESETSTAT")
            for _ in range(reps):
                b.call(cmd, key)
            server.append(b.usec_per_call(b.cmdstats(), cmd) or 0.0)
        s_small, s_big = server
        ratio = stat(tb) / stat(ts)
        ok = ratio <= targets.METADATA
        t.add(
            cmd, fmt_time(stat(ts)), fmt_time(stat(tb)), fmt_ratio(ratio), f"{s_small:.2f} / {s_big:.2f}",
            fmt_ratio(s_big / s_small) if s_small else "—", f"≤ {targets.METADATA}×", verdict(ok),
            ok=ok,
            miss_label=f"c) {cmd} big/small {ratio:.3f}× > {targets.METADATA}×",
        )
        print(f"  c) {cmd}: {ratio:.3f}×", flush=True)
    b.call("DEL", "np:small", "np:big")
    return [t]
