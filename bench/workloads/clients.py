"""b) NP.GET vs GET with 50 concurrent clients (redis-benchmark)."""

from __future__ import annotations

import re
import subprocess

from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..table import Table, verdict
from ..units import KB, MB, fmt_ratio, human, make_array


def run(b: Bench) -> list[Table]:
    t = Table(
        "b",
        "b) 50 clients: redis-benchmark -c 50 NP.GET vs GET",
        ["data", "requests", "GET req/s", "NP.GET req/s", "time ratio (GET rps / NP.GET rps)", "target", "result"],
    )
    if not b.redis_benchmark:
        raise SystemExit("redis-benchmark not found (Debian: apt-get install redis-tools)")
    # about 0.5 s (quick) or 1.5–3 s per redis-benchmark run on 2 cores
    if b.quick:
        cases, rounds = [(KB, 40_000), (64 * KB, 15_000), (MB, 800)], 2
    else:
        cases, rounds = [(KB, 150_000), (64 * KB, 50_000), (MB, 3_000)], 3
    t.notes.append(
        f"Best of {rounds} alternating runs per command; `-q` requests/sec. "
        "Server and benchmark share the machine's cores."
    )
    for nbytes, n in cases:
        payload = npy(make_array("float32", nbytes, b.rng))
        b.call("NP.SET", "np:rb", payload)
        b.call("SET", "str:rb", payload)
        best = {"GET": 0.0, "NP.GET": 0.0}
        for _ in range(rounds):
            for cmd, key in (("GET", "str:rb"), ("NP.GET", "np:rb")):
                out = subprocess.run(
                    [b.redis_benchmark, "-h", "127.0.0.1", "-p", str(b.port), "-c", "50", "-n", str(n), "-q", cmd, key],
                    capture_output=True, text=True, timeout=300,
                )
                found = re.findall(r"([\d.]+) requests per second", out.stdout)
                if not found:
                    raise RuntimeError(f"cannot parse redis-benchmark output:\n{out.stdout}\n{out.stderr}")
                best[cmd] = max(best[cmd], float(found[-1]))
        ratio = best["GET"] / best["NP.GET"]
        target = targets.getset(nbytes)
        ok = ratio <= target
        t.add(
            human(nbytes), n, f"{best['GET']:.0f}", f"{best['NP.GET']:.0f}", fmt_ratio(ratio),
            f"≤ {target}×", verdict(ok),
            ok=ok,
            miss_label=f"b) 50 clients {human(nbytes)}: {ratio:.3f}× > {target}×",
        )
        print(f"  b) {human(nbytes):>8}: GET {best['GET']:.0f} rps, NP.GET {best['NP.GET']:.0f} rps, {ratio:.3f}×",
              flush=True)
    b.call("DEL", "np:rb", "str:rb")
    return [t]
