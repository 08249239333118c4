"""j) A 1,000-row slice of an array sharded over a 3-master Redis Cluster (on
this machine) vs the same slice of the same array on one server."""

from __future__ import annotations

import time

import numpy as np
import redis_numpy
from redis_server import RedisClusterProcs

from .. import targets
from ..harness import Bench
from ..stats import pair_times, stat
from ..table import Table, verdict
from ..units import GB, MB, fmt_ratio, fmt_time, human

COLS = 1024  # float32: 4 KiB rows
SLICE_ROWS = 1000


def run(b: Bench) -> list[Table]:
    nbytes = 256 * MB if b.quick else 4 * GB
    rows = nbytes // (COLS * 4)
    shape = (rows, COLS)
    t = Table(
        "j",
        f"j) Sharded: a {SLICE_ROWS:,}-row slice of a {human(nbytes)} array over a 3-master cluster vs on one server",
        ["array", "µs / slice", "ratio", "target", "result"],
    )
    single = redis_numpy.Numpy(b.r)
    old_limit = b.r.config_get("numpy.max-array-bytes")["numpy.max-array-bytes"]
    b.call("CONFIG", "SET", "numpy.max-array-bytes", str(2 * nbytes))
    block = np.zeros((16 * MB // (COLS * 4), COLS), np.float32)
    try:
        with single.upload("np:sharded-baseline", shape, np.float32) as up:
            for start in range(0, rows, block.shape[0]):
                up.write(block[: min(block.shape[0], rows - start)])
        with RedisClusterProcs(3, module=b.server.module) as cluster:
            client = cluster.client()
            sharded = redis_numpy.Numpy(client).create_sharded("sharded", shape=shape, dtype=np.float32)
            starts = b.rng.integers(0, rows - SLICE_ROWS, 64)
            it = iter(np.resize(starts, 10_000))
            reps = 20 if b.quick else 50

            def one_node() -> float:
                s = int(next(it))
                t0 = time.perf_counter()
                single.get("np:sharded-baseline", slice=f"{s}:{s + SLICE_ROWS}")
                return time.perf_counter() - t0

            def over_cluster() -> float:
                s = int(next(it))
                t0 = time.perf_counter()
                sharded[s : s + SLICE_ROWS]
                return time.perf_counter() - t0

            s0 = int(starts[0])
            want = single.get("np:sharded-baseline", slice=f"{s0}:{s0 + SLICE_ROWS}")
            assert want is not None and np.array_equal(sharded[s0 : s0 + SLICE_ROWS], want)
            t_one, t_cluster = pair_times(one_node, over_cluster, reps)
            chunks = len(sharded._keys())
            client.close()
    finally:
        b.call("DEL", "np:sharded-baseline")
        b.call("CONFIG", "SET", "numpy.max-array-bytes", old_limit)
    ratio = stat(t_cluster) / stat(t_one)
    ok = ratio <= targets.SHARDED_SLICE
    t.add("one server", f"{stat(t_one) * 1e6:.0f}", "1 (baseline)", "", "")
    t.add(
        f"sharded, {chunks} chunks of {human(nbytes / chunks)}", f"{stat(t_cluster) * 1e6:.0f}", fmt_ratio(ratio),
        f"≤ {targets.SHARDED_SLICE}×", verdict(ok),
        ok=ok, miss_label=f"j) sharded slice {ratio:.3f}× > {targets.SHARDED_SLICE}×",
    )
    t.notes.append(
        f"{SLICE_ROWS:,} rows × {COLS} float32 ({human(SLICE_ROWS * COLS * 4)}) at random offsets; median of {reps} "
        f"interleaved reads each (a slice spans one or two chunks). The cluster's three servers run on this machine. "
        f"One-server time for reference: {fmt_time(stat(t_one))}."
    )
    t.facts["sharded-slice"] = fmt_ratio(ratio)
    print(f"  j) sharded slice: {ratio:.3f}×", flush=True)
    return [t]
