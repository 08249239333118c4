"""o) A feature store: a random batch of 256 out of 100 000 float32[384]
vectors through the client's mget, against raw MGET of the vectors' bytes
and np.frombuffer of each."""

from __future__ import annotations

from typing import Any

import numpy as np
import redis
from npy_bytes import npy
from redis_numpy import Numpy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, timer
from ..table import Table, verdict
from ..units import fmt_ratio

DIM = 384
BATCH = 256


def run(b: Bench) -> list[Table]:
    keys = 20_000 if b.quick else 100_000
    t = Table(
        "o",
        f"o) Feature store: a random batch of {BATCH} out of {keys:,} float32[{DIM}] keys, client mget against "
        "raw MGET + np.frombuffer",
        ["side", "module", "raw MGET", "ratio", "target", "result"],
    )
    client = redis.Redis(port=b.port, protocol=2, socket_timeout=600)
    arrays = Numpy(redis.Redis(port=b.port, protocol=2, socket_timeout=600))
    vectors = b.rng.standard_normal((keys, DIM), dtype=np.float32)
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(keys):
            pipe.execute_command("NP.SET", f"v:{i}", npy(vectors[i]))
            pipe.set(f"r:{i}", vectors[i].tobytes())
            if i % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        batches = [b.rng.choice(keys, BATCH, replace=False) for _ in range(64)]
        np_keys = [[f"v:{i}" for i in batch] for batch in batches]
        raw_keys = [[f"r:{i}" for i in batch] for batch in batches]
        got = arrays.mget(np_keys[0])
        assert all(g is not None and np.array_equal(g, vectors[i]) for g, i in zip(got, batches[0])), "mget returned other vectors"
        at = iter(range(1 << 30))
        reps = 200 if b.quick else 1000

        def module() -> list[Any]:
            return arrays.mget(np_keys[next(at) % 64])

        def raw() -> list[np.ndarray]:
            values: list[bytes] = client.mget(raw_keys[next(at) % 64])  # type: ignore[assignment]
            return [np.frombuffer(v, np.float32) for v in values]

        b.call("CONFIG", "RESETSTAT")
        tm, tr = pair_times(timer(module), timer(raw), reps)
        stats = b.cmdstats()
        m, r = float(np.median(tm)), float(np.median(tr))
        ok = m / r <= targets.FEATURE_BATCH
        t.add("client, ms per batch", f"{m * 1e3:.3f}", f"{r * 1e3:.3f}", fmt_ratio(m / r),
              f"≤ {targets.FEATURE_BATCH}×", verdict(ok),
              ok=ok, miss_label=f"o) client mget {m / r:.3f}× > {targets.FEATURE_BATCH}×")
        server_m, server_r = b.usec_per_call(stats, "NP.MGET") or 0.0, b.usec_per_call(stats, "MGET") or 0.0
        t.add("server, µs per NP.MGET / MGET", f"{server_m:.1f}", f"{server_r:.1f}",
              fmt_ratio(server_m / server_r if server_r else None), "", "")
        t.facts["feature-client"] = fmt_ratio(m / r)
        t.facts["feature-server"] = fmt_ratio(server_m / server_r if server_r else None)
        t.notes.append(f"Median of {reps} interleaved batches per side, each a fresh random batch of keys.")
        print(f"  o) feature store: client {m / r:.3f}×, server {server_m:.1f} vs {server_r:.1f} µs", flush=True)
    finally:
        client.flushall()
        client.close()
        arrays.close()
    return [t]
