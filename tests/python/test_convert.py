"""NP.CONVERT: a string holding np.save's bytes becomes an array in place,
keeping its TTL; anything that is not valid `.npy` (np.savez archives,
pickles, object arrays, plain text) is refused with the string untouched."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import wait_aof_rewrite_done
from replication import Pair

CASES = [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
    np.array(3.5),
    np.zeros((0, 5), dtype=np.uint8),
    np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", ">f8")]),
    np.arange(4, dtype=">u8"),
    np.array(["ab", "c"]),
    np.random.default_rng(1).standard_normal((50, 7)),
]


def savez(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def save_object_array() -> bytes:
    out = io.BytesIO()
    np.save(out, np.array([1, "x"], dtype=object), allow_pickle=True)
    return out.getvalue()


@pytest.mark.parametrize("arr", CASES, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_a_string_of_np_save_bytes_becomes_the_same_array(r, arr):
    r.set("k", npy(arr))
    assert r.execute_command("NP.CONVERT", "k") == 1
    assert r.type("k") == b"numpy-arr"
    assert r.execute_command("NP.GET", "k") == npy(arr)  # byte-identical to np.save


def test_ttl_is_kept_to_the_millisecond(r):
    arr = np.arange(10.0)
    r.set("k", npy(arr), px=500_000)
    at = r.pexpiretime("k")
    assert r.execute_command("NP.CONVERT", "k") == 1
    assert r.pexpiretime("k") == at
    r.set("persistent", npy(arr))
    assert r.execute_command("NP.CONVERT", "persistent") == 1
    assert r.ttl("persistent") == -1


@pytest.mark.parametrize(
    "payload, message",
    [
        (savez(x=np.arange(3)), "this is an np.savez archive"),
        (pickle.dumps(np.arange(3)), "looks like a pickle, which is never unpickled"),
        (save_object_array(), "object arrays are not supported"),
        (b"hello world", "bad magic"),
        (b"12345", "bad magic"),
        (npy(np.arange(4.0))[:-1], "invalid .npy"),
        (b"", "empty payload"),
    ],
    ids=["npz", "pickle", "object", "text", "int-encoded", "truncated", "empty"],
)
def test_anything_but_npy_is_refused_and_left_as_it_was(r, payload, message):
    r.set("k", payload, ex=1000)
    at = r.pexpiretime("k")
    with pytest.raises(redis.ResponseError, match=message):
        r.execute_command("NP.CONVERT", "k")
    assert r.type("k") == b"string"
    assert r.get("k") == payload
    assert r.pexpiretime("k") == at


def test_npset_gives_the_npz_hint_too(r):
    with pytest.raises(redis.ResponseError, match="this is an np.savez archive"):
        r.execute_command("NP.SET", "k", savez(a=np.arange(2)))


def test_other_types_are_wrongtype_and_a_missing_key_is_zero(r):
    r.rpush("list", "x")
    r.execute_command("NP.SET", "array", npy(np.arange(3)))
    for key in ("list", "array"):
        with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
            r.execute_command("NP.CONVERT", key)
    assert r.execute_command("NP.GET", "array") == npy(np.arange(3))
    assert r.execute_command("NP.CONVERT", "missing") == 0
    assert r.exists("missing") == 0
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("NP.CONVERT", "a", "b")


def test_the_size_limit_of_npset_applies(r):
    r.set("big", npy(np.zeros(1000)))
    old = r.config_get("numpy.max-array-bytes")["numpy.max-array-bytes"]
    r.config_set("numpy.max-array-bytes", 100)
    try:
        with pytest.raises(redis.ResponseError, match="max-array-bytes"):
            r.execute_command("NP.CONVERT", "big")
    finally:
        r.config_set("numpy.max-array-bytes", old)
    assert r.type("big") == b"string"


def test_replica_and_aof_end_with_the_same_arrays_and_ttls():
    pair = Pair()
    try:
        m = pair.m
        m.config_set("appendonly", "yes")
        wait_aof_rewrite_done(m)  # the conversions below then replay from the AOF's command log
        for i, arr in enumerate(CASES):
            m.set(f"k{i}", npy(arr), ex=1000 + i if i % 2 else None)
            assert m.execute_command("NP.CONVERT", f"k{i}") == 1
        m.set("bad", b"PK\x03\x04zip", ex=50)
        with pytest.raises(redis.ResponseError):
            m.execute_command("NP.CONVERT", "bad")
        pair.assert_in_sync()
        for i in range(len(CASES)):
            assert pair.s.type(f"k{i}") == b"numpy-arr"
        assert pair.s.get("bad") == b"PK\x03\x04zip"
        digest = m.execute_command("DEBUG", "DIGEST")
        expire_times = {k: m.pexpiretime(k) for k in m.keys()}
        m.execute_command("DEBUG", "LOADAOF")
        assert m.execute_command("DEBUG", "DIGEST") == digest
        assert {k: m.pexpiretime(k) for k in m.keys()} == expire_times
    finally:
        pair.cleanup()


def test_keyspace_event(r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        pubsub = r.pubsub()
        pubsub.psubscribe("__keyspace@0__:k")
        pubsub.get_message(timeout=1)
        r.set("k", npy(np.arange(3)))
        r.execute_command("NP.CONVERT", "k")
        events = []
        while (message := pubsub.get_message(timeout=1)) is not None:
            if message["type"] == "pmessage":
                events.append(message["data"])
        assert events[-1] == b"np.convert", events
        pubsub.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_cluster_converts_on_the_key_owner(cluster):
    rc = cluster.client()
    try:
        for i in range(20):
            rc.set(f"k{i}", npy(np.arange(i, dtype=np.int32)), ex=500)
        for i in range(20):
            assert rc.execute_command("NP.CONVERT", f"k{i}") == 1
            assert rc.execute_command("NP.GET", f"k{i}") == npy(np.arange(i, dtype=np.int32))
            assert 0 < rc.ttl(f"k{i}") <= 500
    finally:
        rc.flushall()
        rc.close()


def test_command_docs_and_key_spec(r):
    raw = redis.Redis(connection_pool=r.connection_pool)
    raw.response_callbacks.clear()
    docs = str(raw.execute_command("COMMAND", "DOCS", "np.convert"))
    assert "summary" in docs and "0.1.0" in docs and "keeping its TTL" in docs
    info = raw.execute_command("COMMAND", "INFO", "np.convert")[0]
    assert info[1] == 2 and set(info[2]) >= {b"write", b"denyoom"}
    assert "[b'RW', b'update']" in str(info[8])
