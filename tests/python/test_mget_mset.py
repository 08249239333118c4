"""NP.MGET and NP.MSET against a real server: byte-equal to np.save, nil for
missing keys and other types, atomic validation, replication, events and
Redis Cluster's slot rules."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis

from keyspace_events import keyspace_events
from npy_bytes import npy
from replication import Pair


def random_arrays(rng, n):
    dtypes = [np.float32, np.int8, np.complex128, np.dtype(">u2"), np.dtype("U3"), np.dtype([("a", "<i4"), ("b", "S2")])]
    out = {}
    for i in range(n):
        dtype = np.dtype(dtypes[i % len(dtypes)])
        shape = tuple(int(d) for d in rng.integers(0, 4, size=i % 3))
        if dtype.names:
            arr = np.zeros(shape, dtype)
        else:
            arr = rng.integers(0, 100, size=shape).astype(dtype)
        out[f"k{i}"] = np.asfortranarray(arr) if i % 4 == 1 else arr
    return out


def test_mget_replies_np_save_bytes_in_key_order(r):
    rng = np.random.default_rng(1)
    arrays = random_arrays(rng, 40)
    assert r.execute_command("NP.MSET", *[x for k, a in arrays.items() for x in (k, npy(a))]) == b"OK"
    keys = list(arrays)
    order = [keys[i] for i in rng.permutation(len(keys))] + ["missing", keys[0], keys[0]]
    replies = r.execute_command("NP.MGET", *order)
    assert len(replies) == len(order)
    for key, reply in zip(order, replies):
        if key == "missing":
            assert reply is None
        else:
            assert reply == npy(arrays[key]), key
            assert r.execute_command("NP.GET", key) == reply


def test_mget_gives_nil_for_other_types_like_mget(r):
    r.execute_command("NP.SET", "a", npy(np.arange(3)))
    r.set("s", b"text")
    r.rpush("l", b"x")
    assert r.mget("a", "s", "l", "none") == [None, b"text", None, None]
    assert r.execute_command("NP.MGET", "a", "s", "l", "none") == [npy(np.arange(3)), None, None, None]


def test_mget_of_many_keys_of_every_kind(r):
    """Batches longer than the server's group of keys opened at once, mixing
    every layout (small packed arrays with and without their header kept,
    full-layout arrays of many MiB, an appended one with slack, a rolling
    buffer that wrapped around), other
    types, missing, expired and repeated keys, in random orders."""
    rng = np.random.default_rng(7)
    arrays = {
        "huge": rng.standard_normal((1 << 18, 3)),
        "big": rng.integers(0, 255, size=(300, 301), dtype=np.uint8),
        "fortran": np.asfortranarray(rng.standard_normal((70, 90))),
        "empty": np.zeros((0, 4), np.int16),
        "scalar": np.array(2.5),
    }
    for i in range(150):
        arrays[f"v{i}"] = rng.standard_normal(384 if i % 3 else 16).astype(np.float32)
    for key, arr in arrays.items():
        r.execute_command("NP.SET", key, npy(arr))
    grown = rng.standard_normal((5, 8)).astype(np.float32)
    r.execute_command("NP.SET", "grown", npy(grown[:2]))
    r.execute_command("NP.APPEND", "grown", npy(grown[2:]))
    arrays["grown"] = grown
    frames = rng.integers(0, 255, size=(40, 6, 7), dtype=np.uint8)
    for frame in frames:
        r.execute_command("NP.APPEND", "rolling", npy(frame[None]), "MAXLEN", 9)
    arrays["rolling"] = frames[-9:]  # its buffer wrapped around: two segments
    r.set("string", b"x" * 2000)
    r.rpush("list", b"x")
    r.execute_command("NP.SET", "expired", npy(np.arange(4)))
    r.pexpire("expired", 1)
    time.sleep(0.01)  # expired, whether a lookup or the expiry cycle removes it
    others = ["string", "list", "missing", "expired"]
    names = list(arrays) + others
    for size in (1, 63, 64, 65, 129, 400):
        order = [names[int(i)] for i in rng.integers(0, len(names), size=size)]
        if size > 1:
            order[0] = "missing"  # a batch may start with anything
        replies = r.execute_command("NP.MGET", *order)
        assert len(replies) == len(order)
        for key, reply in zip(order, replies):
            assert reply == (npy(arrays[key]) if key in arrays else None), key
    assert r.exists("string", "list") == 2


def test_mget_on_resp3(redis_server):
    r3 = redis.Redis(host="127.0.0.1", port=redis_server.port, protocol=3)
    r3.flushall()
    r3.execute_command("NP.SET", "a", npy(np.eye(2)))
    assert r3.execute_command("NP.MGET", "a", "b") == [npy(np.eye(2)), None]
    r3.close()


def test_mset_last_value_wins_and_clears_ttls(r):
    a, b, c = np.arange(4), np.ones((2, 2)), np.zeros(3, np.int8)
    r.execute_command("NP.SET", "x", npy(c), "EX", "100")
    assert r.execute_command("NP.MSET", "x", npy(a), "y", npy(b), "x", npy(c)) == b"OK"
    assert r.execute_command("NP.MGET", "x", "y") == [npy(c), npy(b)]
    assert r.ttl("x") == -1


def test_mset_writes_nothing_when_any_payload_or_key_is_bad(r):
    r.execute_command("NP.SET", "x", npy(np.arange(4)))
    r.set("s", b"text")
    good = npy(np.ones(5))
    bad_cases = [
        (("x", good, "y", b"not npy"), "invalid .npy"),
        (("x", good, "y", npy(np.ones(5))[:-1]), "invalid .npy"),
        (("x", good, "s", good), "WRONGTYPE"),
        (("s", good, "x", good), "WRONGTYPE"),
    ]
    for args, error in bad_cases:
        with pytest.raises(redis.ResponseError, match=error):
            r.execute_command("NP.MSET", *args)
        assert r.execute_command("NP.GET", "x") == npy(np.arange(4))
        assert r.exists("y") == 0
        assert r.get("s") == b"text"


def test_mset_size_limit_refuses_the_whole_command(r):
    r.config_set("numpy.max-array-bytes", "1000")
    try:
        with pytest.raises(redis.ResponseError, match="exceeds numpy.max-array-bytes"):
            r.execute_command("NP.MSET", "a", npy(np.ones(10)), "b", npy(np.ones(1000)))
        assert r.exists("a", "b") == 0
    finally:
        r.config_set("numpy.max-array-bytes", str(512 * 1024 * 1024))


@pytest.mark.parametrize("command,args", [
    ("NP.MGET", []),
    ("NP.MSET", []),
    ("NP.MSET", ["k"]),
    ("NP.MSET", ["k", npy(np.ones(1)), "j"]),
])
def test_wrong_arity(r, command, args):
    with pytest.raises(redis.ResponseError, match=f"wrong number of arguments for '{command.lower()}' command"):
        r.execute_command(command, *args)
    assert r.dbsize() == 0


def test_mset_fires_one_event_per_key(r):
    with keyspace_events(r, "__keyspace@0__:*") as received:
        r.execute_command("NP.MSET", "a", npy(np.ones(2)), "b", npy(np.ones(2)))
        assert received() == [(b"__keyspace@0__:a", b"np.set"), (b"__keyspace@0__:b", b"np.set")]


def test_key_specs_cover_every_key(r):
    raw = redis.Redis(connection_pool=r.connection_pool)
    raw.response_callbacks.clear()
    assert raw.execute_command("COMMAND", "GETKEYS", "NP.MGET", "a", "b", "c") == [b"a", b"b", b"c"]
    assert raw.execute_command("COMMAND", "GETKEYS", "NP.MSET", "a", "1", "b", "2") == [b"a", b"b"]


def test_mset_replicates_atomically():
    pair = Pair()
    try:
        rng = np.random.default_rng(3)
        arrays = random_arrays(rng, 20)
        pair.m.execute_command("NP.MSET", *[x for k, a in arrays.items() for x in (k, npy(a))])
        pair.assert_in_sync()
        assert pair.s.execute_command("NP.MGET", *arrays) == [npy(a) for a in arrays.values()]
    finally:
        pair.cleanup()


def test_cluster_slot_rules_like_mget(cluster):
    rc = cluster.client()
    node = rc.get_node_from_key("{user1}:a")
    direct = redis.Redis(host="127.0.0.1", port=node.port)
    a, b = npy(np.arange(3)), npy(np.ones(2))
    # Keys sharing a hash tag: one slot, one command.
    assert direct.execute_command("NP.MSET", "{user1}:a", a, "{user1}:b", b) == b"OK"
    assert direct.execute_command("NP.MGET", "{user1}:a", "{user1}:b", "{user1}:c") == [a, b, None]
    # Keys in different slots: refused before anything is written, like MGET/MSET.
    for command, args in [("MGET", ["{user1}:a", "{user2}:a"]), ("NP.MGET", ["{user1}:a", "{user2}:a"]),
                          ("MSET", ["{user1}:x", "1", "{user2}:x", "2"]), ("NP.MSET", ["{user1}:x", a, "{user2}:x", b])]:
        with pytest.raises(redis.ResponseError, match="hash to the same slot"):  # CROSSSLOT
            direct.execute_command(command, *args)
    assert direct.exists("{user1}:x") == 0
    direct.close()
