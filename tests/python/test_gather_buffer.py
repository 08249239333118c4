"""The buffer where NP.GET gathers header and data for arrays stored without
their header (exact-size data, docs/design/layouts.md). Above 64 KiB it is
kept between reads, so reads back to back reuse pages already faulted in;
it is Redis's memory, counted in used_memory, released after it has been
idle, and not kept at all while used memory is half of maxmemory or more."""

from __future__ import annotations

import time

import numpy as np

from npy_bytes import npy
from redis_server import RedisServer

MiB = 1 << 20
RNG = np.random.default_rng(5)


def used(r) -> int:
    return r.info("memory")["used_memory"]


def fresh_connection(server, r):
    """A new connection: the old one's query buffer, which held the big
    NP.SET argument, is freed with it rather than later by Redis's cron."""
    r.close()
    r = server.client()
    r.ping()
    return r


def test_kept_after_a_big_read_counted_and_released_when_idle():
    exact = RNG.random(4 * MiB // 4, dtype=np.float32)  # 2^k bytes: stored without its header
    kept_header = RNG.random(4 * MiB // 4 + 1, dtype=np.float32)  # one element more: replied in place
    with RedisServer() as server:
        r = server.client()
        r.execute_command("NP.SET", "exact", npy(exact))
        r.execute_command("NP.SET", "kept", npy(kept_header))
        r = fresh_connection(server, r)
        before = used(r)
        assert r.execute_command("NP.GET", "kept") == npy(kept_header)
        assert used(r) < before + MiB, "an array with its header kept replies without a gather"
        for _ in range(3):
            assert r.execute_command("NP.GET", "exact") == npy(exact)
        held = used(r) - before
        # header + 2^k bytes: jemalloc's 1.25 x 2^k size class.
        assert exact.nbytes <= held < 1.25 * exact.nbytes + MiB, "the kept buffer counts in used_memory"
        # Small gathers in between reuse it and keep it byte-exact.
        small = RNG.random(1000, dtype=np.float32)
        r.execute_command("NP.SET", "small", npy(small))
        assert r.execute_command("NP.GET", "small") == npy(small)
        assert r.execute_command("NP.GET", "exact", "SLICE", "1:") == npy(exact[1:])
        assert r.execute_command("NP.GET", "exact") == npy(exact)
        # Idle for 1 s + 1 s per 64 MiB: released by the timer.
        deadline = time.monotonic() + 10
        while used(r) >= before + MiB:
            assert time.monotonic() < deadline, "the gather buffer was not released"
            time.sleep(0.2)
        assert r.execute_command("NP.GET", "exact") == npy(exact)


def test_not_kept_near_maxmemory():
    exact = RNG.random(8 * MiB // 4, dtype=np.float32)
    with RedisServer() as server:
        r = server.client()
        r.execute_command("NP.SET", "exact", npy(exact))
        r = fresh_connection(server, r)
        before = used(r)
        # Used memory is about 2/3 of maxmemory: above the keeping threshold of 1/2.
        r.config_set("maxmemory", str(before * 3 // 2))
        for _ in range(2):
            assert r.execute_command("NP.GET", "exact") == npy(exact)
        assert used(r) < before + MiB
        r.config_set("maxmemory", "0")
        assert r.execute_command("NP.GET", "exact") == npy(exact)
        assert used(r) >= before + exact.nbytes
