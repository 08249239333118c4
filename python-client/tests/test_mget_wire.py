"""mget reading NP.MGET's reply from the socket (batch_reply.py) against a real
server, with hiredis and with redis-py's own parser; NumPy is the oracle
(np.load of the raw reply's bytes, np.save bytes of the result)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_numpy import Numpy, batch_reply, wire


@pytest.fixture(params=["hiredis", "python"])
def wire_arrays(request, redis_server, r, monkeypatch):
    """A Numpy on RESP2 with the given reply parser, and how many replies
    batch_reply read (a list, appended to per call)."""
    from redis._parsers import _HiredisParser, _RESP2Parser

    if request.param == "hiredis":
        pytest.importorskip("hiredis")
    parser_class = _HiredisParser if request.param == "hiredis" else _RESP2Parser
    if request.param == "python":  # as without hiredis installed
        monkeypatch.setattr(batch_reply, "hiredis", None)
    pool = redis.ConnectionPool(port=redis_server.port, protocol=2, parser_class=parser_class)
    read = batch_reply.read_mget
    used: list[int] = []

    def counted(*args, **kwargs):
        used.append(1)
        return read(*args, **kwargs)

    monkeypatch.setattr(batch_reply, "read_mget", counted)
    yield Numpy(redis.Redis(connection_pool=pool)), used, parser_class
    pool.disconnect()


def oracle(r: redis.Redis, keys: list[str]) -> list:
    """np.load of each element of the raw NP.MGET reply (None stays None)."""
    return [None if b is None else np.load(io.BytesIO(b)) for b in r.execute_command("NP.MGET", *keys)]


def check(arrays, r, keys: list[str]) -> list:
    want = oracle(r, keys)
    got = arrays.mget(keys)
    copies = arrays.mget(keys, copy=True)
    assert len(got) == len(copies) == len(keys)
    for g, c, w in zip(got, copies, want):
        if w is None:
            assert g is None and c is None
            continue
        assert type(g) is np.ndarray and npy(g) == npy(w)
        assert npy(c) == npy(w) and c.flags.writeable
        assert g.size == 0 or not g.flags.writeable
        assert g.flags.aligned
    return got


def random_batch(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    dtypes = [np.float32, np.int8, np.complex128, np.dtype(">u2"), np.dtype("U3"), np.dtype([("a", "<i4"), ("b", "S2")])]
    out = []
    for i in range(n):
        dtype = np.dtype(dtypes[int(rng.integers(len(dtypes)))])
        shape = tuple(int(d) for d in rng.integers(0, 5, size=int(rng.integers(0, 4))))
        arr = np.zeros(shape, dtype) if dtype.names else rng.integers(0, 100, size=shape).astype(dtype)
        out.append(np.asfortranarray(arr) if i % 4 == 1 else arr)
    return out


def test_mixed_batches_with_missing_and_other_types(wire_arrays, r):
    arrays, used, _ = wire_arrays
    rng = np.random.default_rng(7)
    stored = random_batch(rng, 60)
    for i, arr in enumerate(stored):
        arrays.set(f"m{i}", arr)
    r.set("text", b"\x93NUMPY not an array")
    r.rpush("list", b"x")
    names = [f"m{i}" for i in range(60)] + ["missing", "text", "list"]
    for _ in range(20):
        keys = [names[int(i)] for i in rng.integers(0, len(names), size=int(rng.integers(1, 40)))]
        check(arrays, r, keys)
    assert len(used) == 40


@pytest.mark.parametrize("where", [None, 0, 5, -1])
@pytest.mark.parametrize("odd", ["missing", "text", "other-dtype", "other-shape", "other-length"])
def test_batches_of_one_shape_with_one_odd_element(wire_arrays, r, where, odd):
    """A feature store's batch, whole or with one element that breaks the
    pattern at its start, middle or end (the reply then ends before a batch
    of one shape would: the read must not wait for it)."""
    arrays, used, _ = wire_arrays
    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((40, 384), dtype=np.float32)
    for i, v in enumerate(vectors):
        arrays.set(f"v{i}", v)
    r.set("text", b"x" * 1000)
    arrays.set("other-dtype", vectors[0].view(np.int32))
    arrays.set("other-shape", vectors[0].reshape(2, 192))
    arrays.set("other-length", vectors[0][:100])
    keys = [f"v{int(i)}" for i in rng.permutation(40)]
    if where is not None:
        keys[where] = odd
    got = check(arrays, r, keys)
    if where is None:
        assert len({g.base is not None and id(g.base) for g in got}) == 1, "one buffer for the batch"
    assert len(used) == 2


def test_batches_of_one_shape_with_missing_keys_anywhere(wire_arrays, r):
    """Missing keys (nil) alone, in runs, first and last, in a batch of one
    shape: the arrays share one buffer wherever the nils are."""
    arrays, used, _ = wire_arrays
    rng = np.random.default_rng(10)
    vectors = rng.standard_normal((30, 64), dtype=np.float32)
    for i, v in enumerate(vectors):
        arrays.set(f"v{i}", v)
    for trial in range(40):
        keys = [f"v{int(i)}" if rng.random() > 0.3 else "missing" for i in rng.integers(0, 30, size=int(rng.integers(1, 50)))]
        if trial % 4 == 0:
            keys[-1] = "missing"
        if trial % 3 == 0:
            keys[: trial % 5] = ["missing"] * (trial % 5)  # a run of missing keys first, or all
        got = check(arrays, r, keys)
        present = [g for g in got if g is not None]
        if present:
            assert len({id(g.base) for g in present}) == 1, "one buffer for the batch"
    assert check(arrays, r, ["missing"] * 3) == [None] * 3
    assert len(used) == 82


@pytest.mark.parametrize("shape, dtype", [((300_000,), np.float64), ((700, 500), ">i4"), ((3,), "M8[s]"), ((2, 2), "c16")])
def test_big_and_odd_elements(wire_arrays, r, shape, dtype):
    """Elements bigger than one socket read, 2-d, byte-swapped, datetime."""
    arrays, used, _ = wire_arrays
    rng = np.random.default_rng(9)
    size = int(np.prod(shape))
    batch = [rng.integers(0, 1 << 30, size=size).astype(dtype).reshape(shape) for _ in range(4)]
    for i, arr in enumerate(batch):
        arrays.set(f"b{i}", arr)
    check(arrays, r, ["b0", "b1", "b2", "b3"])
    check(arrays, r, ["b0", "missing", "b3"])
    arrays.set("small", np.arange(3))
    check(arrays, r, ["b0", "small", "b1"])
    check(arrays, r, ["small", "b0", "b1"])
    assert len(used) == 8


def test_errors_raise_and_leave_the_connection_usable(wire_arrays, r, redis_server):
    arrays, used, parser_class = wire_arrays
    arrays.set("a", np.arange(4.0))
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        arrays.mget([])
    assert [g.tolist() for g in arrays.mget(["a", "a"])] == [[0, 1, 2, 3]] * 2
    r.acl_setuser("reader", enabled=True, passwords=["+pw"], keys=["allowed:*"], commands=["+@all"])
    try:
        limited = redis.Redis(
            connection_pool=redis.ConnectionPool(
                port=redis_server.port, username="reader", password="pw", parser_class=parser_class
            )
        )
        user = Numpy(limited)
        user.set("allowed:x", np.arange(3))
        conn = wire.connection(limited.connection_pool)
        limited.connection_pool.release(conn)
        with pytest.raises(redis.exceptions.NoPermissionError):
            user.mget(["allowed:x", "a"])
        assert conn._sock is not None, "the connection stays open"
        assert user.mget(["allowed:x"])[0].tolist() == [0, 1, 2]
        assert wire.connection(limited.connection_pool) is conn, "and in the pool"
        limited.close()
    finally:
        r.acl_deluser("reader")
    assert used


def test_resp3_and_pipelines_keep_redis_pys_reading(redis_server, r, monkeypatch):
    used: list[int] = []
    read = batch_reply.read_mget
    monkeypatch.setattr(batch_reply, "read_mget", lambda *a, **k: used.append(1) or read(*a, **k))
    arrays = Numpy(redis.Redis(port=redis_server.port, protocol=3))
    arrays.set("a", np.arange(3.0))
    assert [None if g is None else g.tolist() for g in arrays.mget(["a", "b", "a"])] == [[0, 1, 2], None, [0, 1, 2]]
    pipe = arrays.pipeline()
    pipe.mget(["a"])
    assert pipe.execute()[0][0].tolist() == [0, 1, 2]
    assert used == []
    arrays.close()


def test_keys_of_every_kind_are_sent_as_redis_py_sends_them(wire_arrays, r):
    """The command goes out packed by hiredis directly where redis-py would
    use hiredis: the same bytes as redis-py's packer, for keys of every type
    it takes, and the same refusal for one it does not."""
    arrays, used, _ = wire_arrays
    keys = ["plain", b"bytes", "ключ", 7, 2.5]
    stored = {}
    for i, key in enumerate(keys):
        stored[i] = np.arange(i + 1, dtype=np.int16)
        arrays.set(key, stored[i])
    got = arrays.mget(keys)
    assert [g.tolist() for g in got] == [stored[i].tolist() for i in range(len(keys))]
    conn = wire.connection(arrays.client.connection_pool)
    try:
        assert b"".join(wire.packed(conn, "NP.MGET", *keys)) == b"".join(conn.pack_command("NP.MGET", *keys))
        with pytest.raises(redis.exceptions.DataError):
            wire.packed(conn, "NP.MGET", "a", object())
    finally:
        arrays.client.connection_pool.release(conn)
    with pytest.raises(redis.exceptions.DataError):
        arrays.mget(["a", None])
    assert arrays.mget(["plain"])[0].tolist() == [0]
    assert used


def test_a_big_first_array_does_not_size_the_buffer_for_the_batch(wire_arrays, r):
    """A batch that starts with a big array and goes on with small ones of
    other shapes is read into a buffer the size of the reply, not of as
    many big arrays as keys (which would not even be kept for the next one)."""
    arrays, used, _ = wire_arrays
    rng = np.random.default_rng(11)
    big = rng.standard_normal(1 << 17)  # 1 MiB
    small = [rng.integers(0, 9, size=i % 7 + 1, dtype=np.int8) for i in range(299)]
    arrays.set("big", big)
    for i, arr in enumerate(small):
        arrays.set(f"s{i}", arr)
    check(arrays, r, ["big"] + [f"s{i}" for i in range(299)])
    conn = wire.connection(arrays.client.connection_pool)
    try:
        kept = getattr(conn, batch_reply._BUFFER_ATTR, None)
        assert kept is not None and len(kept) <= batch_reply._KEPT_BUFFER
    finally:
        arrays.client.connection_pool.release(conn)
    assert len(used) == 2
