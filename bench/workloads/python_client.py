"""h) The redis_numpy client end to end vs hand-rolled serialisation (set + get
round trip); q) the client's get of small arrays vs GET + pickle.loads."""

from __future__ import annotations

import io
import pickle
import time
from typing import cast

import numpy as np
import redis_numpy
from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, reps_for, stat, stat_name
from ..table import Table, verdict
from ..units import KB, MB, fmt_range, fmt_ratio, fmt_time, human, make_array


def run(b: Bench) -> list[Table]:
    t = Table(
        "h",
        "h) Python end to end: redis_numpy client vs hand-rolled serialisation (set + get round trip)",
        ["data", "reps", "client", "raw SET/GET of .npy", "pickle + SET/GET", "np.save/np.load + SET/GET",
         "client / raw", "client / pickle", "client / np.save"],
    )
    t.notes.append(
        "Each time = one set + one get (client: `Numpy(r).set` / `.get`; raw: SET/GET of precomputed np.save "
        "bytes, no (de)serialisation; pickle protocol 5). Median or best of N as in a)."
    )
    r = b.r
    nc = redis_numpy.Numpy(r)
    sizes = [KB, 16 * KB, 256 * KB, 4 * MB, 16 * MB] if b.quick else [KB, 16 * KB, 256 * KB, 4 * MB, 64 * MB]
    vs_raw = []
    for nbytes in sizes:
        arr = make_array("float32", nbytes, b.rng)
        payload = npy(arr)
        reps = reps_for(nbytes, b.quick)
        nc.set("py:c", arr)
        back = nc.get("py:c")
        assert back is not None and back.dtype == arr.dtype and np.array_equal(back, arr), "client round trip differs"

        def client() -> float:
            t0 = time.perf_counter()
            nc.set("py:c", arr)
            nc.get("py:c")
            return time.perf_counter() - t0

        def raw() -> float:
            t0 = time.perf_counter()
            r.set("py:r", payload)
            r.get("py:r")
            return time.perf_counter() - t0

        def pkl() -> float:
            t0 = time.perf_counter()
            r.set("py:p", pickle.dumps(arr, protocol=5))
            pickle.loads(cast(bytes, r.get("py:p")))
            return time.perf_counter() - t0

        def npsave() -> float:
            t0 = time.perf_counter()
            buf = io.BytesIO()
            np.save(buf, arr)
            r.set("py:n", buf.getvalue())
            np.load(io.BytesIO(cast(bytes, r.get("py:n"))))
            return time.perf_counter() - t0

        tc, traw = pair_times(client, raw, reps)
        tp, tn = pair_times(pkl, npsave, reps)
        c, rw, p, n = (stat(x, nbytes) for x in (tc, traw, tp, tn))
        vs_raw.append(c / rw)
        t.add(
            human(nbytes), f"{reps} ({stat_name(reps, nbytes)})", fmt_time(c), fmt_time(rw), fmt_time(p),
            fmt_time(n), fmt_ratio(c / rw), fmt_ratio(c / p), fmt_ratio(c / n),
        )
        print(
            f"  h) {human(nbytes):>8}: client/raw {c / rw:.3f}×  client/pickle {c / p:.3f}×  client/np.save {c / n:.3f}×",
            flush=True,
        )
        r.delete("py:c", "py:r", "py:p", "py:n")
    t.facts["client-vs-raw"] = fmt_range(vs_raw)
    return [t, small_get(b)]


def small_get(b: Bench) -> Table:
    """The client's whole-array get of 1–16 KiB against GET + pickle.loads, the
    usual way a small array is read from a string key."""
    t = Table(
        "q",
        "q) Python client get of small arrays vs GET + pickle.loads",
        ["data", "reps", "client get", "GET + pickle.loads", "ratio", "server NP.GET / GET (µs per call)",
         "target", "result"],
    )
    t.notes.append(
        "`Numpy(r).get(key)` (NP.GET ... MAXBYTES, a read-only view of the reply) against "
        "`pickle.loads(r.get(key))` of the same float32 array pickled with protocol 5, interleaved; medians. "
        "Server: INFO commandstats over the same calls."
    )
    r = b.r
    nc = redis_numpy.Numpy(r)
    reps = 1000 if b.quick else 4000
    ratios = []
    for nbytes in (KB, 4 * KB, 16 * KB):
        arr = make_array("float32", nbytes, b.rng)
        nc.set("py:g", arr)
        r.set("py:gp", pickle.dumps(arr, protocol=5))
        back = nc.get("py:g")
        assert back is not None and np.array_equal(back, arr), "client get differs"

        def client() -> float:
            t0 = time.perf_counter()
            nc.get("py:g")
            return time.perf_counter() - t0

        def pkl() -> float:
            t0 = time.perf_counter()
            pickle.loads(cast(bytes, r.get("py:gp")))
            return time.perf_counter() - t0

        b.call("CONFIG", "RESETSTAT")
        tc, tp = pair_times(client, pkl, reps)
        stats = b.cmdstats()
        c, p = stat(tc, nbytes), stat(tp, nbytes)
        ratio = c / p
        ratios.append(ratio)
        ok = ratio <= targets.CLIENT_SMALL_GET
        server = f"{b.usec_per_call(stats, 'NP.GET') or 0:.2f} / {b.usec_per_call(stats, 'GET') or 0:.2f}"
        t.add(human(nbytes), f"{reps} ({stat_name(reps, nbytes)})", fmt_time(c), fmt_time(p), fmt_ratio(ratio),
              server, f"≤ {targets.CLIENT_SMALL_GET}×", verdict(ok), ok=ok,
              miss_label=f"q) client get {human(nbytes)}: {ratio:.3f}× GET + pickle.loads > {targets.CLIENT_SMALL_GET}×")
        print(f"  q) {human(nbytes):>8}: client get / (GET + pickle.loads) {ratio:.3f}×", flush=True)
        r.delete("py:g", "py:gp")
    t.facts["client-small-get"] = fmt_range(ratios)
    return t
