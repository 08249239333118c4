"""NP.RESERVE: room for an array to grow to n entries, so that the appends up
to there copy only what they append. The value never changes: NumPy's
concatenate is the oracle for the appends that follow, the allocation is
watched through MEMORY USAGE, and every refusal leaves value and buffer as
they were."""

from __future__ import annotations


import numpy as np
import pytest
import redis

from keyspace_events import keyspace_events
from npy_bytes import npy
from redis_server import RedisServer
from replication import assert_replica_matches

DTYPES = ["<f4", ">i8", "u1", "<c16", "S5", [("a", "<i2"), ("b", ">f8")]]


def load(r, key):
    return np.load(__import__("io").BytesIO(r.execute_command("NP.GET", key)))


def memory(r, key):
    return r.memory_usage(key, samples=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fortran", [False, True])
def test_appends_into_reserved_room_match_concatenate_and_never_move(r, dtype, fortran):
    rng = np.random.default_rng(len(str(dtype)) + fortran)
    width = int(rng.integers(1, 40))

    def block(n):
        raw = rng.integers(0, 255, (n, width) if not fortran else (width, n), dtype=np.uint8)
        arr = np.frombuffer(np.resize(raw.reshape(-1), n * width * np.dtype(dtype).itemsize).tobytes(), dtype)
        arr = arr.reshape((n, width) if not fortran else (width, n))
        return np.asfortranarray(arr) if fortran else arr

    want = block(3)
    r.execute_command("NP.SET", "k", npy(want))
    total = 3 + 40 * 5
    assert r.execute_command("NP.RESERVE", "k", total) == b"OK"
    assert r.execute_command("NP.GET", "k") == npy(want), "the value does not change"
    reserved = memory(r, "k")
    assert reserved >= total * width * np.dtype(dtype).itemsize
    for _ in range(40):
        rows = block(5)
        # concatenate makes the result native-endian: cast back to the stored dtype.
        want = np.concatenate([want, rows], axis=1 if fortran else 0).astype(np.dtype(dtype))
        r.execute_command("NP.APPEND", "k", npy(rows))
        assert memory(r, "k") == reserved, "an append within the room moves nothing"
    assert r.execute_command("NP.GET", "k") == npy(want)
    # Past the room, appends grow the buffer as before.
    r.execute_command("NP.APPEND", "k", npy(block(5)))
    assert memory(r, "k") > reserved


def test_a_small_packed_array_moves_to_a_buffer_with_the_room(r):
    a = np.arange(3, dtype=np.float32)
    r.execute_command("NP.SET", "k", npy(a))
    small = memory(r, "k")
    r.execute_command("NP.RESERVE", "k", 100_000)
    assert memory(r, "k") >= 400_000 > small
    assert r.execute_command("NP.GET", "k") == npy(a)
    r.execute_command("NP.APPEND", "k", npy(np.ones(5, np.float32)))
    assert r.execute_command("NP.GET", "k") == npy(np.concatenate([a, np.ones(5, np.float32)]))


def test_less_room_than_there_is_changes_nothing(r):
    a = np.zeros((100, 10))
    r.execute_command("NP.SET", "k", npy(a))
    before = memory(r, "k")
    for n in (0, 5, 100):
        assert r.execute_command("NP.RESERVE", "k", n) == b"OK"
        assert memory(r, "k") == before
    assert r.execute_command("NP.GET", "k") == npy(a)


@pytest.mark.parametrize(
    "key, length, message",
    [
        ("nosuchkey", "10", "no such key"),
        ("text", "10", "WRONGTYPE"),
        ("zero_d", "10", "^cannot reserve room in a 0-d array: it has no growth axis$"),
        ("k", "-1", "the length must be >= 0"),
        ("k", "ten", "value is not an integer or out of range"),
        ("k", "1.5", "value is not an integer or out of range"),
        ("k", str(10**9), r"array data of 80000000000 bytes exceeds numpy.max-array-bytes \(536870912\)"),
        ("k", str(2**63 - 1), r"^array of shape \(9223372036854775807, 10\) is too big$"),
    ],
)
def test_refusals_change_nothing(r, key, length, message):
    a = np.arange(20.0).reshape(2, 10)
    r.execute_command("NP.SET", "k", npy(a))
    r.execute_command("NP.SET", "zero_d", npy(np.float64(2.5)))
    r.set("text", "x")
    before = {k: memory(r, k) for k in ("k", "zero_d", "text")}
    with pytest.raises(redis.ResponseError, match=message):
        r.execute_command("NP.RESERVE", key, length)
    assert {k: memory(r, k) for k in before} == before
    assert r.execute_command("NP.GET", "k") == npy(a)
    assert r.exists("nosuchkey") == 0


def test_wrong_arity(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("NP.RESERVE", "k")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("NP.RESERVE", "k", 1, 2)


def test_the_ttl_is_kept_and_no_event_fires(r):
    r.execute_command("NP.SET", "k", npy(np.zeros((4, 4))), "EX", 100)
    with keyspace_events(r, "__keyspace@0__:k") as received:
        r.execute_command("NP.RESERVE", "k", 1000)
        assert received(timeout=0.3) == []
    assert 0 < r.ttl("k") <= 100


def test_command_docs_describe_it(redis_server):
    import subprocess

    out = subprocess.run(["redis-cli", "-p", str(redis_server.port), "COMMAND", "DOCS", "NP.RESERVE"],
                         capture_output=True, text=True, check=True).stdout
    assert "Makes room for the array" in out and "length" in out


def test_reserve_and_appends_replicate_and_persist_byte_identically(tmp_path):
    rng = np.random.default_rng(9)
    with RedisServer(config={"appendonly": "yes", "aof-use-rdb-preamble": "no"}) as master, RedisServer() as replica:
        m, s = master.client(), replica.client()
        replica.replicate_from(master)
        want = rng.standard_normal((2, 16)).astype(np.float32)
        m.execute_command("NP.SET", "k", npy(want))
        m.execute_command("NP.RESERVE", "k", 500)
        for _ in range(100):
            rows = rng.standard_normal((3, 16)).astype(np.float32)
            want = np.concatenate([want, rows])
            m.execute_command("NP.APPEND", "k", npy(rows))
        assert_replica_matches(m, s, ["k"])
        digest = m.execute_command("DEBUG", "DIGEST-VALUE", "k")
        assert s.execute_command("NP.GET", "k") == npy(want)
        # The room is an allocation, not part of the value: the replica reserved it too.
        assert abs(s.memory_usage("k", samples=0) - m.memory_usage("k", samples=0)) < 4096
        m.execute_command("DEBUG", "LOADAOF")  # replays NP.SET, NP.RESERVE, NP.APPEND
        assert m.execute_command("DEBUG", "DIGEST-VALUE", "k") == digest
        m.execute_command("DEBUG", "RELOAD")
        assert m.execute_command("NP.GET", "k") == npy(want)
