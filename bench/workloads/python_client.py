"""h) The redis_numpy client end to end vs hand-rolled serialisation (set + get round trip)."""

from __future__ import annotations

import io
import pickle
import time
from typing import cast

import numpy as np
import redis_numpy
from npy_bytes import npy

from ..harness import Bench
from ..stats import pair_times, reps_for, stat, stat_name
from ..table import Table
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
    return [t]
