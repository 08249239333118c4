"""NP.SET over an existing array reuses its buffer when the sizes match; the
result must be indistinguishable from a fresh value (TTL, stats, memory)."""

from __future__ import annotations


import numpy as np
import pytest

from npy_bytes import npy
from redis_server import wait_for


def numpy_stats(r) -> dict:
    return r.info("numpy")


def test_same_size_overwrite_is_a_fresh_value(r):
    before = numpy_stats(r)
    r.execute_command("NP.SET", "a", npy(np.zeros((64, 64), np.float32)))
    r.expire("a", 100)
    replacement = np.asfortranarray(np.arange(4096, dtype=">i4").reshape(64, 64))  # same nbytes, other kind
    r.execute_command("NP.SET", "a", npy(replacement))
    assert r.ttl("a") == -1, "NP.SET drops the TTL, like SET"
    assert r.execute_command("NP.GET", "a") == npy(replacement)
    after = numpy_stats(r)
    assert after["numpy_arrays"] == before["numpy_arrays"] + 1
    assert after["numpy_data_bytes"] == before["numpy_data_bytes"] + replacement.nbytes
    assert after["numpy_arrays_int"] == before["numpy_arrays_int"] + 1
    assert after["numpy_arrays_float"] == before["numpy_arrays_float"]


@pytest.mark.parametrize(
    "old, new",
    [
        (np.zeros(16, np.float32), np.arange(24, dtype=np.int64)),  # small to small, another block size
        (np.zeros(16, np.float32), np.zeros(1 << 16, np.float64)),  # small to full
        (np.zeros(1 << 16, np.float64), np.ones((2, 3), np.int8)),  # full to small
        (np.zeros(1 << 23, np.uint8), np.ones(4, np.float32)),  # 8 MiB: still freed at once by Redis
        (np.zeros(65 << 20, np.uint8), np.ones(4, np.float32)),  # past the lazy-free threshold
    ],
    ids=["small-small", "small-full", "full-small", "8MiB-small", "65MiB-small"],
)
def test_overwrite_that_replaces_the_value_is_a_fresh_value(r, old, new):
    r.execute_command("NP.SET", "a", npy(old))
    before = numpy_stats(r)
    r.expire("a", 100)
    assert r.execute_command("NP.SET", "a", npy(new)) == b"OK"
    assert r.ttl("a") == -1, "NP.SET drops the TTL, like SET"
    assert r.execute_command("NP.GET", "a") == npy(new)
    # A value past the lazy-free threshold may be freed in the background
    # (Valkey 8 frees deleted values lazily by default): its counts go then.
    wait_for(lambda: r.info("memory")["lazyfree_pending_objects"] == 0, what="the old value was not freed")
    after = numpy_stats(r)
    assert after["numpy_arrays"] == before["numpy_arrays"]
    assert after["numpy_data_bytes"] == before["numpy_data_bytes"] - old.nbytes + new.nbytes
    r.expire("a", 100)
    assert r.execute_command("NP.SET", "a", npy(old), "KEEPTTL", "GET") == npy(new)
    assert 0 < r.ttl("a") <= 100
    assert r.execute_command("NP.GET", "a") == npy(old)
    assert numpy_stats(r)["numpy_data_bytes"] == before["numpy_data_bytes"]
    r.delete("a")
    assert numpy_stats(r)["numpy_arrays"] == before["numpy_arrays"] - 1


def test_memory_usage_is_the_allocation(r):
    # 1 MiB of data: header + data would take jemalloc's 1.25 MiB class, so the
    # data sits in a block of its own, at its exact size; a string of the
    # .npy bytes takes the 1.25 MiB class.
    arr = np.zeros(1 << 18, np.float32)
    r.execute_command("NP.SET", "a", npy(arr))
    r.set("s", npy(arr))
    array_usage = r.memory_usage("a")
    assert arr.nbytes <= array_usage <= 1.10 * arr.nbytes + 64
    # One element more: the data alone needs the next size class, like the string.
    longer = np.zeros((1 << 18) + 1, np.float32)
    r.execute_command("NP.SET", "b", npy(longer))
    r.set("t", npy(longer))
    if r.info("memory")["mem_allocator"].startswith("jemalloc"):  # libc malloc has other size classes
        assert r.memory_usage("s") >= 1.25 * arr.nbytes
        assert r.memory_usage("b") >= 1.25 * arr.nbytes, "MEMORY USAGE counts the allocator's block"
    assert abs(r.memory_usage("b") - r.memory_usage("t")) < 512
    info = r.execute_command("NP.INFO", "a")
    fields = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2]))
    assert fields[b"memory"] <= array_usage
