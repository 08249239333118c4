"""g) NP.GET ... SLICE of one row costs the same on a 1 MiB and a 1 GiB matrix.
p) A contiguous slice (rows 70:100 of 100 camera frames, 27.6 MB) against
GETRANGE of the same bytes of a string, in server time and end to end."""

from __future__ import annotations

import io

import numpy as np
from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, stat, timer
from ..table import Table, verdict
from ..units import GB, MB, fmt_ratio, human, make_array


def run(b: Bench) -> list[Table]:
    return [one_row(b), contiguous(b)]


def one_row(b: Bench) -> Table:
    big = 256 * MB if b.quick else GB
    cols = 256  # float32 → 1 KiB rows
    t = Table(
        "g",
        f"g) Slice: NP.GET key SLICE <row> of one row, 1 MiB vs {human(big)} matrix",
        ["matrix", "shape", "µs / slice", "ratio", "target", "result"],
    )
    old_limit = b.r.config_get("numpy.max-array-bytes")["numpy.max-array-bytes"]
    b.call("CONFIG", "SET", "numpy.max-array-bytes", str(2 * big))
    try:
        small = make_array("float32", MB, b.rng, cols)
        b.call("NP.SET", "np:slice_small", npy(small))
        chunk = make_array("float32", min(big, 64 * MB), b.rng, cols)
        b.call("NP.SET", "np:slice_big", npy(chunk))
        for _ in range(big // chunk.nbytes - 1):
            b.call("NP.APPEND", "np:slice_big", npy(chunk))
        rows_small, rows_big = small.shape[0], big // (cols * 4)
        mid_s, mid_b = str(rows_small // 2), str(rows_big // 2)
        got = np.load(io.BytesIO(b.call("NP.GET", "np:slice_small", "SLICE", mid_s)))
        assert np.array_equal(got.reshape(-1), small[rows_small // 2]), "SLICE returned the wrong row"
        reps = 500 if b.quick else 2000
        ts, tb = pair_times(
            lambda: b.timed("NP.GET", "np:slice_small", "SLICE", mid_s),
            lambda: b.timed("NP.GET", "np:slice_big", "SLICE", mid_b),
            reps,
        )
        ratio = stat(tb) / stat(ts)
        ok = ratio <= targets.SLICE
        t.add("1 MiB", f"({rows_small}, {cols})", f"{stat(ts) * 1e6:.1f}", "1 (baseline)", "", "")
        t.add(
            human(big), f"({rows_big}, {cols})", f"{stat(tb) * 1e6:.1f}", fmt_ratio(ratio),
            f"≤ {targets.SLICE}×", verdict(ok),
            ok=ok,
            miss_label=f"g) slice big/small {ratio:.3f}× > {targets.SLICE}×",
        )
        t.notes.append(f"Median of {reps} interleaved calls; the row is the middle one.")
        print(f"  g) slice: {ratio:.3f}×", flush=True)
    finally:
        b.call("DEL", "np:slice_small", "np:slice_big")
        b.call("CONFIG", "SET", "numpy.max-array-bytes", old_limit)
    return t


def contiguous(b: Bench) -> Table:
    frames, first, last = 100, 70, 100
    matrix = b.rng.integers(0, 256, (frames, 480, 640, 3), dtype=np.uint8)
    frame_bytes = matrix[0].nbytes
    t = Table(
        "p",
        f"p) Contiguous slice: NP.GET SLICE {first}:{last} of a ({frames}, 480, 640, 3) uint8 array "
        f"({human((last - first) * frame_bytes)}) against GETRANGE of the same bytes",
        ["side", "NP.GET SLICE", "GETRANGE", "ratio", "target", "result"],
    )
    try:
        b.call("NP.SET", "np:run", npy(matrix))
        b.call("SET", "str:run", matrix.tobytes())
        spec = f"{first}:{last}"
        start, end = first * frame_bytes, last * frame_bytes - 1
        assert b.call("NP.GET", "np:run", "SLICE", spec) == npy(matrix[first:last]), "SLICE is not np.save(arr[spec])"
        reps = 10 if b.quick else 40
        b.call("CONFIG", "RESETSTAT")
        tn, tg = pair_times(
            lambda: b.timed("NP.GET", "np:run", "SLICE", spec),
            lambda: b.timed("GETRANGE", "str:run", start, end),
            reps,
        )
        stats = b.cmdstats()
        server_n, server_g = b.usec_per_call(stats, "NP.GET") or 0.0, b.usec_per_call(stats, "GETRANGE") or 0.0
        nbytes = (last - first) * frame_bytes
        for side, n, g in (
            ("server, µs per call", server_n, server_g),
            ("end to end, ms", stat(tn, nbytes) * 1e3, stat(tg, nbytes) * 1e3),
        ):
            ratio = n / g if g else float("inf")
            ok = ratio <= targets.SLICE_RUN
            t.add(side, f"{n:.1f}", f"{g:.1f}", fmt_ratio(ratio), f"≤ {targets.SLICE_RUN}×", verdict(ok),
                  ok=ok, miss_label=f"p) contiguous slice ({side}) {ratio:.3f}× > {targets.SLICE_RUN}×")
            print(f"  p) contiguous slice, {side}: {ratio:.3f}×", flush=True)
        t.facts["slice-run-server"] = fmt_ratio(server_n / server_g if server_g else None)
        t.notes.append(f"{reps} interleaved calls per side on the raw connection; server time is commandstats' mean, "
                       "end to end the best call.")
    finally:
        b.call("DEL", "np:run", "str:run")
    return t
