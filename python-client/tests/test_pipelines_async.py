"""Pipelines (plain and MULTI/EXEC) and the asyncio clients (redis-py's and valkey's)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis.asyncio

from npy_bytes import npy
from redis_numpy import AsyncNumpy, Numpy, NumpyError


@pytest.fixture(params=[False, True], ids=["bytes", "decode_responses"])
def arrays(request, redis_server, r):
    arrays = Numpy(redis_server.client(decode_responses=request.param))
    yield arrays
    arrays.close()


@pytest.mark.parametrize("transaction", [True, False])
def test_pipeline_queues_and_converts(arrays, transaction):
    a = np.arange(6, dtype=np.uint8).reshape(2, 3) + 200  # bytes that are not UTF-8
    with arrays.pipeline(transaction=transaction) as pipe:
        pipe.set("a", a).shape("a").get("a").info("a")
        pipe.incr("counter")  # plain redis-py commands share the pipeline
        pipe.append("a", a[:1])
        pipe.get("a", copy=True)
        assert len(pipe) == 7
        ok, shape, got, info, counter, rows, grown = pipe.execute()
    assert ok is True and shape == (2, 3) and counter == 1 and rows == 3
    np.testing.assert_array_equal(got, a)
    assert info["dtype"] == np.uint8
    np.testing.assert_array_equal(grown, np.r_[a, a[:1]])
    assert grown.flags.writeable


def test_pipeline_errors_are_numpy_errors(arrays):
    pipe = arrays.pipeline(transaction=False)
    pipe.set("ok", np.zeros(1))
    pipe.execute_command("NP.SET", "bad", b"junk")
    with pytest.raises(NumpyError, match="invalid .npy"):
        pipe.execute()
    pipe = arrays.pipeline(transaction=False)
    pipe.set("ok", np.zeros(1)).execute_command("NP.SET", "bad", b"junk")
    ok, err = pipe.execute(raise_on_error=False)
    assert ok is True and isinstance(err, Exception) and "invalid .npy" in str(err)
    assert arrays.exists("bad") == 0


def test_watch_sees_np_set_as_a_modification(arrays, redis_server):
    other = Numpy(redis_server.client())
    arrays.set("w", np.zeros(2))
    pipe = arrays.pipeline()
    pipe.watch("w")
    other.set("w", np.ones(2))
    pipe.multi()
    pipe.set("w", np.full(2, 7.0))
    with pytest.raises(redis.WatchError):
        pipe.execute()
    np.testing.assert_array_equal(arrays.get("w"), np.ones(2))


def async_client(library: str, port: int, decode_responses: bool):
    """An asyncio client of redis-py, or of valkey (its fork; the test extra installs it)."""
    if library == "valkey":
        valkey_asyncio = pytest.importorskip("valkey.asyncio", reason="the valkey client is installed by the test extra")
        return valkey_asyncio.Valkey(port=port, decode_responses=decode_responses)
    return redis.asyncio.Redis(port=port, decode_responses=decode_responses)


@pytest.mark.parametrize("decode_responses", [False, True])
@pytest.mark.parametrize("library", ["redis", "valkey"])
def test_asyncio_client(redis_server, r, library, decode_responses):
    client = async_client(library, redis_server.port, decode_responses)

    async def main():
        arrays = Numpy(client)
        assert type(arrays) is AsyncNumpy
        arr = np.asfortranarray(np.arange(24, dtype=">f4").reshape(2, 3, 4))
        assert await arrays.set("x", arr) is True
        got = await arrays.get("x")
        assert npy(got) == npy(arr)  # dtype, shape, Fortran order and bytes
        assert await arrays.shape("x") == (2, 3, 4)
        assert (await arrays.info("x"))["fortran_order"] is True
        with pytest.raises(NumpyError, match="WRONGTYPE"):
            await client.set("s", "v")
            await arrays.get("s")
        for transaction in (True, False):
            async with arrays.pipeline(transaction=transaction) as pipe:
                pipe.set("y", arr[0]).get("y").size("y")
                ok, row, size = await pipe.execute()
            assert ok is True and size == 12 and np.array_equal(row, arr[0])
        await arrays.aclose()

    asyncio.run(main())
