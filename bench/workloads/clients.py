"""b) 50 concurrent clients: NP.GET vs GET (redis-benchmark), and NP.SET vs
SET (bench/writers.py, as redis-benchmark cannot send a .npy), on the bench
server and on one with threaded I/O (`io-threads 2`, `io-threads-do-reads yes`)."""

from __future__ import annotations

import re
import subprocess

from npy_bytes import npy

from redis_server import RedisServer

from .. import targets, writers
from ..harness import Bench
from ..table import Table, verdict
from ..units import KB, MB, fmt_ratio, fmt_time, human, make_array


def run(b: Bench) -> list[Table]:
    t = Table(
        "b",
        "b) 50 clients: NP.GET vs GET (redis-benchmark -c 50), NP.SET vs SET (bench/writers.py, 50 connections)",
        ["command", "data", "server", "requests", "plain req/s", "NP req/s", "time ratio (plain rps / NP rps)",
         "server µs plain / NP", "target", "result"],
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
            "GET", human(nbytes), "default", n, f"{best['GET']:.0f}", f"{best['NP.GET']:.0f}", fmt_ratio(ratio), "—",
            f"≤ {target}×", verdict(ok),
            ok=ok,
            miss_label=f"b) 50 clients {human(nbytes)}: {ratio:.3f}× > {target}×",
        )
        print(f"  b) {human(nbytes):>8}: GET {best['GET']:.0f} rps, NP.GET {best['NP.GET']:.0f} rps, {ratio:.3f}×",
              flush=True)
    b.call("DEL", "np:rb", "str:rb")
    writes(b, t, rounds)
    return [t]


def writes(b: Bench, t: Table, rounds: int) -> None:
    """50 clients writing 64 KiB arrays: at 2^k bytes of data (copied by
    default, adopted with numpy.adopt-always) and 4 B past it (adopted)."""
    n = 15_000 if b.quick else 50_000
    t.notes.append(
        "NP.SET rows: 50 connections each send the same pre-packed command (one key) and wait for its reply, "
        f"{n} requests per run; `adopted` says whether the value keeps the argument (docs/design/layouts.md). "
        "The io-threads rows run on a second server started with `io-threads 2 io-threads-do-reads yes`."
    )
    threaded = RedisServer(module=b.server.module, config={"io-threads": "2", "io-threads-do-reads": "yes"})
    threaded.start()
    try:
        for label, port, admin in (("default", b.port, b.r), ("io-threads 2", threaded.port, threaded.client())):
            for nbytes, extra, always in ((64 * KB, 0, False), (64 * KB, 0, True), (64 * KB, 4, False)):
                admin.config_set("numpy.adopt-always", "yes" if always else "no")
                payload = npy(make_array("float32", nbytes + extra, b.rng))
                admin.execute_command("NP.SET", "np:wb", payload)
                info = admin.execute_command("NP.INFO", "np:wb")
                layout = (info if isinstance(info, dict) else dict(zip(info[::2], info[1::2])))[b"layout"].decode()
                best = {"SET": 0.0, "NP.SET": 0.0}
                usec = {"SET": float("inf"), "NP.SET": float("inf")}
                for _ in range(rounds):
                    for cmd, key in (("SET", "str:wb"), ("NP.SET", "np:wb")):
                        admin.config_resetstat()
                        best[cmd] = max(best[cmd], writers.requests_per_second(port, 50, n, cmd, key, payload))
                        per_call = admin.info("commandstats")[f"cmdstat_{cmd.lower()}"]["usec_per_call"]
                        usec[cmd] = min(usec[cmd], float(per_call))
                ratio = best["SET"] / best["NP.SET"]
                target = targets.getset(nbytes)
                ok = ratio <= target
                size = human(nbytes) + (f" + {extra} B" if extra else "")
                config = label + (", adopt-always" if always else "")
                t.add(
                    "SET", size, config, n, f"{best['SET']:.0f}", f"{best['NP.SET']:.0f} ({layout})", fmt_ratio(ratio),
                    f"{fmt_time(usec['SET'] / 1e6)} / {fmt_time(usec['NP.SET'] / 1e6)}", f"≤ {target}×", verdict(ok),
                    ok=ok,
                    miss_label=f"b) 50 clients writing {size} ({config}): {ratio:.3f}× > {target}×",
                )
                t.facts[f"writers-{label.replace(' ', '')}-{nbytes + extra}-{int(always)}"] = fmt_ratio(ratio)
                print(f"  b) write {size:>12} {config:>26}: SET {best['SET']:.0f} rps, "
                      f"NP.SET {best['NP.SET']:.0f} rps ({layout}), {ratio:.3f}×", flush=True)
            admin.config_set("numpy.adopt-always", "no")
            admin.delete("np:wb", "str:wb")
    finally:
        threaded.cleanup()
