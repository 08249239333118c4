"""NP.SET over an existing array reuses its buffer when the sizes match; the
result must be indistinguishable from a fresh value (TTL, stats, memory)."""

from __future__ import annotations


import numpy as np

from npy_bytes import npy


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
