"""The `Numpy` wrapper's own behaviour on real servers: pipelines that are
empty or reset, closing asyncio clients, and reply shapes of
the NP.* commands the methods do not send (VALUES of bytes, NP.REDUCE VALUES),
with NumPy as the oracle."""

from __future__ import annotations

import asyncio
import datetime

import numpy as np
import pytest
import redis
import redis.asyncio

from redis_numpy import Numpy, NumpyError


def test_an_empty_pipeline_is_true(arrays):
    pipe = arrays.pipeline()
    assert len(pipe) == 0
    assert pipe  # like redis-py's Pipeline: `if pipe:` must not depend on what is queued
    assert pipe.execute() == []


@pytest.mark.parametrize("transaction", [True, False])
def test_reset_drops_the_queued_commands_and_their_marks(arrays, r, transaction):
    r.set("text", "x")
    pipe = arrays.pipeline(transaction=transaction)
    pipe.get("text")  # NP.GET on a string: a WRONGTYPE marked as a NumpyError
    assert len(pipe) == 1
    pipe.reset()
    assert len(pipe) == 0
    pipe.lpush("text", "y")  # a plain command in the same position: its error stays plain
    (err,) = pipe.execute(raise_on_error=False)
    assert isinstance(err, redis.ResponseError) and str(err).startswith("WRONGTYPE")
    assert not isinstance(err, NumpyError)


def test_close_of_an_asyncio_client_closes_both_pools(redis_server, r):
    before = len(r.client_list())

    async def main() -> None:
        arrays = Numpy(redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True))
        await arrays.set("a", np.arange(3))
        async with arrays.pipeline() as pipe:  # a transaction on a decoding client: a second pool
            pipe.get("a").shape("a")
            got, shape = await pipe.execute()
        assert got.tolist() == [0, 1, 2] and shape == (3,)
        assert len(r.client_list()) == before + 2
        await arrays.close()  # returns the awaitable of aclose()

    asyncio.run(main())
    assert len(r.client_list()) == before


def test_values_of_bytes_and_str_arrays(arrays):
    raw = np.array([b"ab", b"\xff\x00", b""], dtype="S2")
    arrays.set("s", raw)
    got = arrays.values("s")
    assert got == {"dtype": raw.dtype.name, "shape": (3,), "values": raw.tolist()}
    assert all(type(v) is bytes for v in got["values"])
    text = np.array([["é", "xyz"]], dtype="U3")
    arrays.set("u", text)
    assert arrays.values("u") == {"dtype": text.dtype.name, "shape": (1, 2), "values": text.ravel().tolist()}


def test_reduce_values_through_the_registered_callback(arrays):
    m = np.arange(12, dtype=np.int32).reshape(3, 4)
    arrays.set("m", m)
    got = arrays.client.execute_command("NP.REDUCE", "m", "sum", "AXIS", "0", "VALUES")
    want = np.sum(m, axis=0)
    assert got == {"dtype": want.dtype.name, "shape": want.shape, "values": want.tolist()}
    got = arrays.client.execute_command("NP.REDUCE", "m", "mean", "VALUES")
    assert got == {"dtype": "float64", "shape": (), "values": [np.mean(m).item()]}
    assert arrays.client.execute_command("NP.REDUCE", "absent", "sum", "VALUES") is None


@pytest.mark.parametrize("option", ["exat", "pxat"])
def test_an_expiry_time_of_the_wrong_type_is_refused_before_sending(arrays, r, option):
    r.config_resetstat()
    with pytest.raises(redis.DataError, match="an expiry time must be an int or a datetime.datetime"):
        arrays.set("a", np.zeros(2), **{option: datetime.timedelta(seconds=5)})
    with pytest.raises(redis.DataError, match="an expiry time must be an int or a datetime.datetime"):
        arrays.set("a", np.zeros(2), **{option: True})
    assert "cmdstat_np.set" not in r.info("commandstats") and r.exists("a") == 0
    when = datetime.datetime.now() + datetime.timedelta(seconds=100)
    assert arrays.set("a", np.zeros(2), **{option: when}) is True
    assert 90 <= r.ttl("a") <= 100
