"""mget / mset, set's SET options and append's MAXLEN, against a real server;
NumPy is the oracle (np.save bytes, array_equal, concatenation)."""

from __future__ import annotations

import asyncio
import datetime
import time

import numpy as np
import pytest
import redis.asyncio
from redis.exceptions import DataError

from npy_bytes import assert_same, npy
from redis_numpy import Numpy


def random_arrays(seed: int, count: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    dtypes = [np.float32, np.int16, ">f8", np.uint8, np.complex64, "U3", "M8[s]"]
    out = {}
    for i in range(count):
        shape = tuple(int(d) for d in rng.integers(0, 5, size=rng.integers(0, 4)))
        arr = rng.integers(0, 100, size=shape).astype(dtypes[i % len(dtypes)])
        out[f"fs:{i}"] = np.asfortranarray(arr) if i % 5 == 0 else arr
    return out


def assert_same(got, want) -> None:
    assert type(got) is np.ndarray and npy(got) == npy(want)


def test_mget_returns_arrays_in_order_and_none_for_missing(arrays, r, needs):
    needs("NP.MGET")
    stored = random_arrays(1, 40)
    for key, arr in stored.items():
        arrays.set(key, arr)
    keys = list(stored)[::-1] + ["fs:missing"] + list(stored)[:3]
    got = arrays.mget(keys)
    assert len(got) == len(keys)
    for key, arr in zip(keys, got):
        if key == "fs:missing":
            assert arr is None
        else:
            assert_same(arr, stored[key])
            assert arr.size == 0 or not arr.flags.writeable  # a view of the reply
    assert all(a.flags.writeable for a in arrays.mget(keys[:5], copy=True))
    assert r.execute_command("NP.MGET", "fs:0", "fs:1") == [npy(stored["fs:0"]), npy(stored["fs:1"])]


def test_mset_stores_every_array(arrays, r, needs):
    needs("NP.MSET")
    stored = random_arrays(2, 30)
    assert arrays.mset(stored) is True
    for key, arr in stored.items():
        assert r.execute_command("NP.GET", key) == npy(arr)


def test_mget_mset_in_pipelines_asyncio_and_decoded_clients(redis_server, r, needs):
    needs("NP.MGET", "NP.MSET")
    stored = random_arrays(3, 8)
    decoded = Numpy(redis_server.client(decode_responses=True))
    for transaction in (True, False):
        pipe = decoded.pipeline(transaction=transaction)
        pipe.mset(stored).mget(list(stored))
        ok, got = pipe.execute()
        assert ok is True
        for arr, want in zip(got, stored.values()):
            assert_same(arr, want)
    assert_same(decoded.mget(["fs:1"])[0], stored["fs:1"])
    decoded.close()

    async def main() -> None:
        async_arrays = Numpy(redis.asyncio.Redis(port=redis_server.port))
        assert await async_arrays.mset({"fs:a": np.arange(3)}) is True
        got = await async_arrays.mget(["fs:a", "fs:none"])
        assert_same(got[0], np.arange(3)) and got[1] is None
        await async_arrays.aclose()

    asyncio.run(main())


def test_set_nx_xx(arrays, needs):
    needs("NP.SET options")
    assert arrays.set("c", np.zeros(2), xx=True) is None, "XX on a missing key"
    assert arrays.get("c") is None
    assert arrays.set("c", np.zeros(2), nx=True) is True
    assert arrays.set("c", np.ones(2), nx=True) is None, "NX on an existing key"
    assert_same(arrays.get("c"), np.zeros(2))
    assert arrays.set("c", np.ones(2), xx=True) is True
    assert_same(arrays.get("c"), np.ones(2))


def test_set_expiry_options(arrays, r, needs):
    needs("NP.SET options")
    arrays.set("t", np.zeros(1), ex=100)
    assert 98 <= r.ttl("t") <= 100
    arrays.set("t", np.zeros(1), px=datetime.timedelta(seconds=50))
    assert 48_000 <= r.pttl("t") <= 50_000
    arrays.set("t", np.zeros(1), ex=datetime.timedelta(minutes=2))
    assert 118 <= r.ttl("t") <= 120
    arrays.set("t", np.zeros(1), keepttl=True)
    assert 118 <= r.ttl("t") <= 120, "KEEPTTL keeps it"
    arrays.set("t", np.zeros(1))
    assert r.ttl("t") == -1, "without options the TTL is cleared, as SET does"
    now = int(time.time())
    arrays.set("t", np.zeros(1), exat=now + 300)
    assert r.expiretime("t") == now + 300
    arrays.set("t", np.zeros(1), pxat=datetime.datetime.fromtimestamp(now + 400))
    assert r.pexpiretime("t") == (now + 400) * 1000


def test_set_get_returns_the_old_array(arrays, redis_server, needs):
    needs("NP.SET GET")
    assert arrays.set("g", np.arange(3), get=True) is None
    old = arrays.set("g", np.arange(4.0), get=True)
    assert_same(old, np.arange(3))
    assert_same(arrays.get("g"), np.arange(4.0))
    decoded = Numpy(redis_server.client(decode_responses=True))
    old = decoded.set("g", np.frombuffer(b"\xff\xfe", np.uint8), get=True)
    assert_same(old, np.arange(4.0))
    assert_same(decoded.set("g", np.zeros(1), get=True), np.frombuffer(b"\xff\xfe", np.uint8))
    decoded.close()


def test_set_option_conflicts_are_refused_before_sending(arrays, r):
    for options in ({"nx": True, "xx": True}, {"ex": 1, "px": 1}, {"ex": 1, "keepttl": True}, {"exat": 1, "pxat": 1}):
        with pytest.raises(DataError, match="mutually exclusive"):
            arrays.set("x", np.zeros(1), **options)
    with pytest.raises(DataError, match="int or a datetime.timedelta"):
        arrays.set("x", np.zeros(1), ex=1.5)
    assert r.exists("x") == 0


def test_append_maxlen_is_a_rolling_buffer(arrays, needs):
    needs("NP.APPEND MAXLEN")
    rng = np.random.default_rng(4)
    want = np.zeros((0, 3, 2), np.uint8)
    for step in range(30):
        frames = rng.integers(0, 255, size=(int(rng.integers(1, 4)), 3, 2), dtype=np.uint8)
        length = arrays.append("frames", frames, maxlen=10)
        want = np.concatenate([want, frames])[-10:]
        assert length == len(want)
        assert_same(arrays.get("frames"), want)
    assert_same(arrays.get("frames", slice=np.s_[-3:]), want[-3:])


@pytest.mark.parametrize(
    "batch",
    [
        [np.arange(384, dtype=np.float32) + i for i in range(5)],
        [np.arange(12, dtype=">i8").reshape(3, 4) * i for i in range(4)],
        [np.asfortranarray(np.arange(12.0).reshape(3, 4)) + i for i in range(3)],
        [np.arange(6.0) + i for i in range(3)] + [None],
        [np.arange(6.0), np.arange(6, dtype=np.int64)],  # same length, another header
        [np.float64(1.5), np.float64(2.5)],  # 0-d
        [np.zeros((0, 3)), np.zeros((0, 3))],
        [np.arange(4.0), np.arange(5.0)],
    ],
    ids=["vectors", "matrices", "fortran", "missing", "other-dtype", "0-d", "empty", "other-length"],
)
def test_mget_batches_decode_like_get(arrays, r, batch):
    keys = [f"k{i}" for i in range(len(batch))]
    for key, arr in zip(keys, batch):
        if arr is not None:
            arrays.set(key, arr)
    got = arrays.mget(keys)
    for g, want in zip(got, batch):
        if want is None:
            assert g is None
            continue
        assert_same(g, np.asarray(want))
        assert not g.flags.writeable or g.size == 0  # empty arrays share no reply
    for g, c in zip(got, arrays.mget(keys, copy=True)):
        assert (g is None and c is None) or (c.flags.writeable and np.array_equal(g, c))
