"""Active defragmentation moves arrays (the value and its data buffer, an
adopted value's held string) without changing a byte. Needs a redis-server
whose jemalloc supports defrag: Debian's refuses `activedefrag yes`, so there
the tests are skipped; `make test-python-redis8` runs them, and so does
`REDIS_SERVER=/path/to/source-built/redis-server make test-python` (Redis
7.0 built from its source tarball with `make MALLOC=jemalloc`)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer


def require_defrag(r: redis.Redis) -> None:
    try:
        r.config_set("activedefrag", "no")
        r.config_set("activedefrag", "yes")
    except redis.ResponseError as err:
        pytest.skip(f"this redis-server cannot defragment: {err}")
    r.config_set("activedefrag", "no")


def defragment(r: redis.Redis) -> None:
    """Runs active defrag eagerly until it stops finding work."""
    for name, value in [("active-defrag-ignore-bytes", "1mb"), ("active-defrag-threshold-lower", "1"),
                        ("active-defrag-cycle-min", "50"), ("active-defrag-cycle-max", "90")]:
        r.config_set(name, value)
    r.config_set("activedefrag", "yes")
    # Defrag runs until the fragmentation left is below 1 %, which other
    # allocations may never allow: wait until it stops finding work.
    deadline = time.monotonic() + 60
    hits = -1
    while hits != r.info("stats")["active_defrag_hits"]:
        assert time.monotonic() < deadline, r.info("stats")
        hits = r.info("stats")["active_defrag_hits"]
        time.sleep(2)
    r.config_set("activedefrag", "no")


def test_active_defrag_keeps_every_array_intact():
    with RedisServer() as server:
        r = server.client()
        require_defrag(r)
        rng = np.random.default_rng(3)
        # Many small arrays in the same jemalloc size classes, then free most of
        # them at random: the survivors sit in sparse slabs that defrag compacts.
        pipe = r.pipeline(transaction=False)
        arrays = {}
        for i in range(60_000):
            arr = rng.integers(0, 1 << 30, size=int(rng.integers(8, 48)), dtype=np.int32)
            arrays[f"a:{i}"] = arr
            pipe.execute_command("NP.SET", f"a:{i}", npy(arr))
            if len(pipe) == 1000:
                pipe.execute()
        pipe.execute()
        # Every layout (docs/design/layouts.md) must survive a move: besides the
        # packed int32 vectors, arrays with the header kept, with data at its
        # exact size (2^k bytes), and of a non-numeric dtype.
        for i in range(2_000):
            arr = [rng.integers(0, 255, 6000, dtype=np.uint8), rng.random(1024, dtype=np.float32),
                   np.array([b"ab", b"c"] * 20)][i % 3]
            arrays[f"full:{i}"] = arr
            pipe.execute_command("NP.SET", f"full:{i}", npy(arr))
        pipe.execute()
        for i in range(60_000):
            if i % 10:
                del arrays[f"a:{i}"]
                pipe.unlink(f"a:{i}")
            if len(pipe) == 1000:
                pipe.execute()
        pipe.execute()
        defragment(r)
        ratio = r.info("memory")["allocator_frag_ratio"]
        # Measured: 1.4 with the defrag callback, 6.3 without it (Redis moves its
        # own objects, but the arrays' memory stays in sparse slabs).
        assert ratio < 2.5, ratio
        assert r.info("stats")["active_defrag_key_hits"] > sum(k.startswith("a:") for k in arrays)
        for key, arr in arrays.items():
            assert r.execute_command("NP.GET", key) == npy(arr), key
        assert server.alive()


def test_active_defrag_moves_adopted_values_and_keeps_their_bytes():
    """An adopted value (docs/design/layouts.md) keeps a Redis string: defrag
    may move the string object, its buffer, and the module's small blocks
    around it. Small allocations of every kind are interleaved with the
    adopted writes and most are freed, so the survivors (the adopted values'
    own small blocks among them) sit in sparse slabs that defrag compacts."""
    with RedisServer() as server:
        r = server.client()
        require_defrag(r)
        rng = np.random.default_rng(26)
        pipe = r.pipeline(transaction=False)
        arrays: dict[str, np.ndarray] = {}
        for i in range(1_200):
            # 32 KiB and up, not 2^k bytes of data: adopted by default.
            arr = [rng.random(8_300, dtype=np.float32), rng.integers(0, 99, (70, 130)).astype(">i8"),
                   np.array([b"abcdefg"] * 5_000)][i % 3]
            arrays[f"big:{i}"] = arr
            pipe.execute_command("NP.SET", f"big:{i}", npy(arr))
            for j in range(40):
                pipe.execute_command("NP.SET", f"s:{i}:{j}", npy(np.arange(j % 9, dtype=np.int16)))
                pipe.set(f"str:{i}:{j}", b"x" * (j % 30))
            pipe.execute()
        assert all(layout(r, key) == b"adopted" for key in arrays)
        digests = {key: r.execute_command("DEBUG", "DIGEST-VALUE", key) for key in arrays}
        for i in range(1_200):
            pipe.delete(*[f"s:{i}:{j}" for j in range(40) if j % 10], *[f"str:{i}:{j}" for j in range(40) if j % 10])
            if i % 100 == 99:
                pipe.execute()
        pipe.execute()
        hits = r.info("stats")["active_defrag_hits"]
        defragment(r)
        assert r.info("stats")["active_defrag_hits"] > hits + len(arrays)
        for key, arr in arrays.items():
            assert r.execute_command("NP.GET", key) == npy(arr), key
            assert r.execute_command("DEBUG", "DIGEST-VALUE", key) == digests[key], key
            assert layout(r, key) == b"adopted", key
        # Every path that reads the held string after it moved.
        key, arr = "big:4", arrays["big:4"]
        assert r.execute_command("NP.GET", key, "SLICE", "7:9, ::5") == npy(np.ascontiguousarray(arr[7:9, ::5]))
        assert r.execute_command("NP.REDUCE", key, "sum") == npy(np.array(arr.sum()))
        r.restore("restored", 0, r.dump("big:0"))
        assert r.copy("big:1", "copied")
        assert r.execute_command("NP.MGET", "restored", "copied") == [npy(arrays["big:0"]), npy(arrays["big:1"])]
        r.execute_command("DEBUG", "RELOAD")
        for key, arr in arrays.items():
            assert r.execute_command("DEBUG", "DIGEST-VALUE", key) == digests[key], key
        r.flushall()
        assert server.alive()


def layout(r: redis.Redis, key: str) -> bytes:
    reply = r.execute_command("NP.INFO", key)
    info = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))
    return info[b"layout"]
