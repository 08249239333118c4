"""The adopted layout (docs/design/layouts.md): an NP.SET of a .npy of
32 KiB or more whose header is the one np.save writes keeps the argument
Redis read as the value, without copying it. Every transition into and out
of it is compared with NumPy, and with DEBUG DIGEST-VALUE on a replica (the
argument is also what Redis propagates: writing to it in place would change
what the replica and the AOF receive)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from npy_bytes import npy
from redis_server import RedisServer, wait_aof_rewrite_done, wait_for
from replication import Pair, assert_replica_matches, wait_applied

RNG = np.random.default_rng(26)

CASES = {
    "f4_64k": RNG.random(1 << 14, dtype=np.float32),
    "f8_2d": RNG.random((300, 41)),
    "fortran_i2_be": np.asfortranarray(RNG.integers(-999, 999, (90, 300)).astype(">i2")),
    "c16": (RNG.random(3000) + 1j * RNG.random(3000)).astype(np.complex128),
    "bytes": np.array([b"abcdefgh"] * 6000),
    "record": np.zeros(3000, dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
}


@pytest.fixture
def ra(r):
    """`r` with `numpy.adopt-always yes`: every case adopts, 2^k sizes too."""
    r.config_set("numpy.adopt-always", "yes")
    yield r
    r.config_set("numpy.adopt-always", "no")


def adopt_always(*clients):
    for c in clients:
        c.config_set("numpy.adopt-always", "yes")


def info(r, key):
    reply = r.execute_command("NP.INFO", key)
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))


def layout(r, key) -> bytes:
    return info(r, key)[b"layout"]


def put(r, key, arr):
    assert r.execute_command("NP.SET", key, npy(arr)) == b"OK"


def test_a_large_canonical_payload_is_adopted_and_reads_back_byte_exact(ra):
    r = ra
    for key, arr in CASES.items():
        put(r, key, arr)
        assert layout(r, key) == b"adopted", key
        assert r.execute_command("NP.GET", key) == npy(arr), key
        assert info(r, key)[b"nbytes"] == arr.nbytes
    # Small payloads and non-canonical headers are copied as before.
    put(r, "small", CASES["f4_64k"][:100])
    assert layout(r, "small") != b"adopted"
    just_under = np.zeros((32 * 1024 - 128) // 4 - 1, np.float32)
    put(r, "under", just_under)
    assert layout(r, "under") != b"adopted"
    arr = CASES["f4_64k"]
    header = npy(arr)[: len(npy(arr)) - arr.nbytes]
    odd = header.replace(b"'descr': '<f4'", b"'descr':'<f4' ")  # same length, not np.save's
    assert len(odd) == len(header) and odd != header
    assert r.execute_command("NP.SET", "odd", odd + arr.tobytes()) == b"OK"
    assert layout(r, "odd") == b"full"
    assert r.execute_command("NP.GET", "odd") == npy(arr)


def test_reads_of_an_adopted_value(ra):
    r = ra
    arr = CASES["f8_2d"]
    put(r, "a", arr)
    for spec in ("5:17", "::7", "3", "-1, ::2", "[4, 1, 4]", "10:20, 5:9"):
        got = r.execute_command("NP.GET", "a", "SLICE", spec)
        expected = eval(f"arr[{spec}]")  # noqa: S307 - test-only NumPy oracle
        assert got == npy(np.ascontiguousarray(expected)), spec
    assert r.execute_command("NP.SHAPE", "a") == [300, 41]
    assert layout(r, "a") in (b"adopted", b"full")


def test_typed_reads_move_the_value_once_and_agree_with_numpy(ra):
    r = ra
    arr = CASES["f8_2d"]
    put(r, "a", arr)
    got = r.execute_command("NP.REDUCE", "a", "sum", "AXIS", "0")
    assert got == npy(arr.sum(axis=0))
    assert layout(r, "a") == b"full", "moved to an aligned buffer of its own"
    ptr_usage = r.memory_usage("a", samples=0)
    assert r.execute_command("NP.REDUCE", "a", "max") == npy(np.array(arr.max()))
    assert r.memory_usage("a", samples=0) == ptr_usage
    assert r.execute_command("NP.GET", "a") == npy(arr)
    # AS and VALUES on a fresh adopted value.
    put(r, "b", CASES["fortran_i2_be"])
    assert r.execute_command("NP.GET", "b", "AS", "float32") == npy(CASES["fortran_i2_be"].astype(np.float32))
    put(r, "c", CASES["f4_64k"])
    reply = r.execute_command("NP.GET", "c", "SLICE", "0:5", "VALUES")
    values = reply[b"values"] if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))[b"values"]
    assert [float(v) for v in values] == pytest.approx(CASES["f4_64k"][:5].tolist())


def test_every_change_copies_to_an_owned_buffer_and_matches_numpy(ra):
    r = ra
    arr = CASES["f4_64k"].copy()
    # NP.SETSLICE
    put(r, "s", arr)
    r.execute_command("NP.SETSLICE", "s", "100:200", npy(np.float32(-5)))
    expected = arr.copy()
    expected[100:200] = -5
    assert r.execute_command("NP.GET", "s") == npy(expected)
    assert layout(r, "s") == b"full"
    # NP.UPDATE
    put(r, "u", arr)
    r.execute_command("NP.UPDATE", "u", "add", npy(np.float32(1.5)))
    assert r.execute_command("NP.GET", "u") == npy(arr + np.float32(1.5))
    # NP.APPEND grows into an owned buffer
    put(r, "p", arr)
    more = RNG.random(5000, dtype=np.float32)
    assert r.execute_command("NP.APPEND", "p", npy(more)) == arr.size + more.size
    assert r.execute_command("NP.GET", "p") == npy(np.concatenate([arr, more]))
    assert layout(r, "p") == b"full"
    # NP.APPEND with MAXLEN, NP.TRIM
    put(r, "t", arr)
    r.execute_command("NP.TRIM", "t", "1000")
    assert r.execute_command("NP.GET", "t") == npy(arr[-1000:])
    # NP.RESHAPE / NP.TRANSPOSE
    put(r, "r", arr)
    assert r.execute_command("NP.RESHAPE", "r", "(128, 128)") == [128, 128]
    assert r.execute_command("NP.GET", "r") == npy(arr.reshape(128, 128))
    r.execute_command("NP.TRANSPOSE", "r")
    assert r.execute_command("NP.GET", "r") == npy(arr.reshape(128, 128).T)
    # NP.RESERVE
    put(r, "v", arr)
    r.execute_command("NP.RESERVE", "v", str(arr.size * 2))
    r.execute_command("NP.APPEND", "v", npy(arr[:10]))
    assert r.execute_command("NP.GET", "v") == npy(np.concatenate([arr, arr[:10]]))
    # Overwrites: adopted over adopted, over full, and small over adopted.
    for i in range(5):
        new = RNG.random(1 << 14, dtype=np.float32)
        put(r, "o", new)
        assert layout(r, "o") == b"adopted"
        assert r.execute_command("NP.GET", "o") == npy(new)
    put(r, "o", arr[:10])
    assert r.execute_command("NP.GET", "o") == npy(arr[:10])
    # NP.SET ... GET replies the old value and adopts the new one.
    put(r, "g", arr)
    assert r.execute_command("NP.SET", "g", npy(arr * 2), "GET") == npy(arr)
    assert r.execute_command("NP.GET", "g") == npy(arr * 2)
    assert layout(r, "g") == b"adopted"


def test_reload_dump_restore_and_copy(ra):
    r = ra
    for key, arr in CASES.items():
        put(r, key, arr)
    digests = {key: r.execute_command("DEBUG", "DIGEST-VALUE", key) for key in CASES}
    for key, arr in CASES.items():
        payload = r.dump(key)
        r.restore(f"{key}:restored", 0, payload)
        assert r.execute_command("NP.GET", f"{key}:restored") == npy(arr)
        assert r.copy(key, f"{key}:copy")
        assert r.execute_command("NP.GET", f"{key}:copy") == npy(arr)
        assert r.execute_command("DEBUG", "DIGEST-VALUE", f"{key}:copy") == digests[key]
    # The copy is independent of the adopted original.
    r.execute_command("NP.SETSLICE", "f4_64k:copy", "0", npy(np.float32(-1)))
    assert r.execute_command("NP.GET", "f4_64k") == npy(CASES["f4_64k"])
    r.execute_command("DEBUG", "RELOAD")
    for key, arr in CASES.items():
        assert r.execute_command("NP.GET", key) == npy(arr)
        assert r.execute_command("DEBUG", "DIGEST-VALUE", key) == digests[key]


def test_memory_usage_counts_the_held_string(ra):
    r = ra
    arr = np.zeros(1 << 18, np.float32)  # 1 MiB of data
    put(r, "a", arr)
    assert layout(r, "a") == b"adopted"
    usage = r.memory_usage("a", samples=0)
    r.set("s", npy(arr))
    string = r.memory_usage("s", samples=0)
    assert arr.nbytes < usage <= string + 512, (usage, string)
    assert info(r, "a")[b"memory"] == usage - (usage - info(r, "a")[b"memory"])


def test_freeing_returns_the_memory_on_every_path(ra):
    r = ra
    big = np.zeros(1 << 20, np.float32)  # 4 MiB each
    payload = npy(big)

    def used():
        return r.info("memory")["used_memory"]

    base = used()
    for how in ("DEL", "UNLINK", "OVERWRITE", "FLUSHALL ASYNC", "FLUSHALL SYNC", "EXPIRE"):
        for i in range(8):
            assert r.execute_command("NP.SET", f"k{i}", payload) == b"OK"
        assert layout(r, "k0") == b"adopted"
        assert used() > base + 8 * big.nbytes
        if how in ("DEL", "UNLINK"):
            r.execute_command(how, *[f"k{i}" for i in range(8)])
        elif how == "OVERWRITE":
            for i in range(8):
                put(r, f"k{i}", np.zeros(4, np.float32))
            r.execute_command("DEL", *[f"k{i}" for i in range(8)])
        elif how == "EXPIRE":
            for i in range(8):
                r.pexpire(f"k{i}", 1)
            time.sleep(0.05)
            for i in range(8):
                assert r.exists(f"k{i}") == 0
        else:
            r.execute_command(*how.split())
        wait_for(lambda: used() < base + big.nbytes, 10, f"{how} did not free the held strings")


def test_transactions_and_scripts_adopt_their_arguments(ra):
    r = ra
    arr = CASES["f8_2d"]
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("NP.SET", "m", npy(arr))
    pipe.execute_command("NP.GET", "m")
    assert pipe.execute()[1] == npy(arr)
    assert r.execute_command("NP.GET", "m") == npy(arr)
    script = "redis.call('NP.SET', KEYS[1], ARGV[1]); return redis.call('NP.GET', KEYS[1])"
    assert r.eval(script, 1, "l", npy(arr)) == npy(arr)
    assert r.execute_command("NP.GET", "l") == npy(arr)


def test_aof_rewrite_without_preamble_replays_adopted_values():
    with RedisServer({"appendonly": "yes", "aof-use-rdb-preamble": "no"}) as server:
        r = server.client()
        adopt_always(r)
        for key, arr in CASES.items():
            put(r, key, arr)
        r.execute_command("NP.SETSLICE", "f8_2d", "0", npy(np.float64(7)))
        expected = CASES["f8_2d"].copy()
        expected[0] = 7
        r.bgrewriteaof()
        wait_aof_rewrite_done(r)
        put(r, "after", CASES["c16"])  # through the AOF command stream
        pipe = r.pipeline(transaction=True)  # appended to the AOF after EXEC
        pipe.execute_command("NP.SET", "multi", npy(CASES["c16"]))
        pipe.execute_command("NP.SETSLICE", "multi", "7", npy(np.complex128(5j)))
        pipe.execute_command("NP.UPDATE", "multi", "add", npy(np.complex128(1)))
        pipe.execute()
        changed = CASES["c16"].copy()
        changed[7] = 5j
        changed += 1
        server.restart()
        r = server.client()
        for key, arr in CASES.items():
            assert r.execute_command("NP.GET", key) == npy(expected if key == "f8_2d" else arr), key
        assert r.execute_command("NP.GET", "after") == npy(CASES["c16"])
        assert r.execute_command("NP.GET", "multi") == npy(changed)


def test_replica_receives_exactly_what_the_master_holds():
    pair = Pair()
    try:
        m = pair.m
        adopt_always(m, pair.s)
        for key, arr in CASES.items():
            put(m, key, arr)
        # Changes right after the adopting write: in-place writes to the
        # argument would reach the replica as a different NP.SET.
        arr = CASES["f4_64k"]
        for i in range(20):
            put(m, "hot", arr)
            m.execute_command("NP.SETSLICE", "hot", f"{i}:{i + 100}", npy(np.float32(i)))
            m.execute_command("NP.UPDATE", "hot", "mul", npy(np.float32(2)))
            put(m, f"set{i}", arr * i)
        # In a transaction or a script the NP.SET's arguments are propagated
        # only after the later commands ran: a change written into the held
        # argument would reach the replica inside that NP.SET.
        pipe = m.pipeline(transaction=True)
        pipe.execute_command("NP.SET", "multi", npy(arr))
        pipe.execute_command("NP.SETSLICE", "multi", "0:10", npy(np.float32(-1)))
        pipe.execute_command("NP.UPDATE", "multi", "add", npy(np.float32(1)))
        pipe.execute_command("NP.RESHAPE", "multi", "(64, 256)")
        pipe.execute()
        script = (
            "redis.call('NP.SET', KEYS[1], ARGV[1]);"
            "redis.call('NP.SETSLICE', KEYS[1], '5', ARGV[2]);"
            "return redis.call('NP.APPEND', KEYS[1], ARGV[2])"
        )
        m.eval(script, 1, "lua", npy(arr), npy(np.float32(9)))
        expected = arr.copy()
        expected[:10] = -1
        assert m.execute_command("NP.GET", "multi") == npy((expected + np.float32(1)).reshape(64, 256))
        put(m, "app", arr)
        m.execute_command("NP.APPEND", "app", npy(arr[:1000]))
        put(m, "resh", arr)
        m.execute_command("NP.RESHAPE", "resh", "(256, 64)")
        m.execute_command("NP.SET", "ttl", npy(arr), "PX", "100000")
        assert_replica_matches(m, pair.s, [*CASES, "hot", "multi", "lua", "app", "resh", "ttl", *(f"set{i}" for i in range(20))])
        pair.assert_in_sync()
        assert layout(pair.s, "f4_64k") == b"adopted", "the replica adopts the arguments it is sent too"
        # A replica synced afterwards gets the adopted values through the RDB transfer.
        with RedisServer() as late:
            s2 = late.client()
            adopt_always(s2)
            late.replicate_from(pair.master)
            assert m.wait(2, 10000) == 2
            wait_applied(m, s2)
            for key in [*CASES, "hot"]:
                assert s2.execute_command("NP.GET", key) == m.execute_command("NP.GET", key), key
                assert s2.execute_command("DEBUG", "DIGEST-VALUE", key) == m.execute_command(
                    "DEBUG", "DIGEST-VALUE", key
                ), key
    finally:
        pair.cleanup()


def test_by_default_a_copy_is_kept_where_it_takes_a_smaller_block(r):
    """At 2^k bytes of data the full layout keeps the data alone in a block of
    its exact size; the argument's block is 1.25× that (jemalloc), so by
    default the copy is kept there, and the argument everywhere else."""
    for log2 in (15, 16, 20, 22):
        power = np.zeros((1 << log2) // 4, np.float32)
        put(r, "p", power)
        assert layout(r, "p") == b"full", log2
        assert r.memory_usage("p", samples=0) <= 1.01 * power.nbytes + 256
        other = np.zeros(((1 << log2) + (1 << log2) // 8) // 4, np.float32)
        put(r, "o", other)
        assert layout(r, "o") == b"adopted", log2
        copied = r.memory_usage("o", samples=0)
        r.config_set("numpy.adopt-always", "yes")
        try:
            put(r, "p", power)
            assert layout(r, "p") == b"adopted"
        finally:
            r.config_set("numpy.adopt-always", "no")
        r.set("s", npy(other))
        assert copied <= r.memory_usage("s", samples=0) + 256


def test_mset_adopts_each_large_argument(ra):
    r = ra
    a, b = CASES["f4_64k"], CASES["f8_2d"]
    small = np.arange(5, dtype=np.int16)
    assert r.execute_command("NP.MSET", "x", npy(a), "y", npy(small), "z", npy(b), "x", npy(b)) == b"OK"
    assert r.execute_command("NP.MGET", "x", "y", "z") == [npy(b), npy(small), npy(b)]
    assert [layout(r, k) for k in ("x", "y", "z")] == [b"adopted", b"packed", b"adopted"]
    r.execute_command("NP.SETSLICE", "x", "0", npy(np.float64(3)))
    expected = b.copy()
    expected[0] = 3
    assert r.execute_command("NP.MGET", "x", "z") == [npy(expected), npy(b)]


def test_restore_copy_mset_and_reload_keep_master_and_replica_identical():
    """The transitions the replica test above leaves out, each compared with
    NumPy on the master and with DEBUG DIGEST-VALUE on the replica: RESTORE
    and COPY of an adopted value (propagated as such, so the replica copies
    its own adopted value), NP.MSET, NP.TRIM, NP.TRANSPOSE, NP.RESERVE, the
    typed read that moves a value, and DEBUG RELOAD on either side."""
    pair = Pair()
    try:
        m, s = pair.m, pair.s
        adopt_always(m, s)
        for key, arr in CASES.items():
            put(m, key, arr)
        expected = dict(CASES)
        for key in CASES:
            m.restore(f"{key}:restored", 0, m.dump(key))
            assert m.copy(key, f"{key}:copy")
            expected[f"{key}:restored"] = expected[f"{key}:copy"] = CASES[key]
        arr = CASES["f4_64k"]
        assert m.execute_command("NP.MSET", "ms1", npy(arr), "ms2", npy(CASES["c16"])) == b"OK"
        expected["ms1"], expected["ms2"] = arr, CASES["c16"]
        put(m, "trim", arr)
        assert m.execute_command("NP.TRIM", "trim", "999") == 999
        expected["trim"] = arr[-999:]
        put(m, "tr", CASES["f8_2d"])
        m.execute_command("NP.TRANSPOSE", "tr")
        expected["tr"] = CASES["f8_2d"].T
        put(m, "res", arr)
        m.execute_command("NP.RESERVE", "res", str(2 * arr.size))
        expected["res"] = arr
        put(m, "red", CASES["f8_2d"])
        assert m.execute_command("NP.REDUCE", "red", "sum", "AXIS", "1") == npy(CASES["f8_2d"].sum(axis=1))
        expected["red"] = CASES["f8_2d"]
        assert layout(m, "f4_64k:copy") == b"full", "a copy owns its buffer"
        wait_applied(m, s)
        assert layout(s, "f4_64k") == b"adopted"
        for key, value in expected.items():
            assert m.execute_command("NP.GET", key) == npy(value), key
        assert_replica_matches(m, s, expected)
        pair.assert_in_sync()
        for who in (m, s):
            who.execute_command("DEBUG", "RELOAD")
        assert_replica_matches(m, s, expected)
        for key, value in expected.items():
            assert s.execute_command("NP.GET", key) == npy(value), key
    finally:
        pair.cleanup()
