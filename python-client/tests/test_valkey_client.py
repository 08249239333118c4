"""Valkey's Python client (`valkey`, a redis-py fork) works exactly like redis-py:
sync, pipelines, transactions and cluster, with valkey's own exception classes
(its asyncio client is tested beside redis-py's in test_pipelines_async.py)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

valkey = pytest.importorskip("valkey", reason="the valkey client is installed by the test extra")
import valkey.asyncio  # noqa: E402
import valkey.cluster  # noqa: E402
from valkey.exceptions import ReadOnlyError, ResponseError  # noqa: E402

from npy_bytes import npy
from redis_numpy import Numpy, NumpyError, SyncNumpy, NumpyPipeline
from redis_server import RedisServer

ARR = np.asfortranarray(np.arange(24, dtype=">f4").reshape(2, 3, 4))


@pytest.mark.parametrize("decode_responses", [False, True])
def test_sync_client(redis_server, r, decode_responses):
    arrays = Numpy(valkey.Valkey(port=redis_server.port, decode_responses=decode_responses))
    assert type(arrays) is SyncNumpy
    assert arrays.set("v", ARR) is True
    assert r.execute_command("NP.GET", "v") == npy(ARR)
    got = arrays.get("v")
    assert npy(got) == npy(ARR) and not got.flags.writeable
    assert arrays.info("v")["shape"] == (2, 3, 4) and arrays.dtype("v") == np.dtype(">f4")
    assert arrays.values("v", slice="0, 0")["values"] == [0.0, 1.0, 2.0, 3.0]
    r.set("s", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE") as caught:
        arrays.get("s")
    assert isinstance(caught.value, NumpyError) and type(caught.value.__cause__) is ResponseError
    for transaction in (True, False):
        with arrays.pipeline(transaction=transaction) as pipe:
            assert type(pipe) is NumpyPipeline
            pipe.set("p", ARR[0]).get("p").incr("n").shape("s")
            ok, row, n, err = pipe.execute(raise_on_error=False)
        assert ok is True and np.array_equal(row, ARR[0]) and n >= 1
        assert isinstance(err, ResponseError) and isinstance(err, NumpyError)
    arrays.close()


def test_read_only_replica_raises_valkeys_class(redis_server):
    with RedisServer(config={"replicaof": f"127.0.0.1 {redis_server.port}"}) as replica:
        arrays = Numpy(valkey.Valkey(port=replica.port))
        with pytest.raises(ReadOnlyError) as caught:
            arrays.set("a", np.zeros(2))
        assert isinstance(caught.value, NumpyError) and type(caught.value.__cause__) is ReadOnlyError
        arrays.close()


ARRAYS = {f"vk:{i}": np.full((2, 2), i, dtype=np.int32) for i in range(12)}


def test_cluster_clients(cluster, needs):
    vc = valkey.cluster.ValkeyCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    arrays = Numpy(vc)
    for key, arr in ARRAYS.items():
        assert arrays.set(key, arr) is True
    assert len({vc.get_node_from_key(k).port for k in ARRAYS}) == 3
    for key, arr in ARRAYS.items():
        np.testing.assert_array_equal(arrays.get(key), arr)
    pipe = arrays.pipeline()
    for key in ARRAYS:
        pipe.shape(key)
    assert pipe.execute() == [(2, 2)] * len(ARRAYS)
    vc.close()

    async def main() -> None:
        avc = valkey.asyncio.ValkeyCluster(host="127.0.0.1", port=cluster.nodes[0].port)
        async_arrays = Numpy(avc)
        for key, arr in ARRAYS.items():
            np.testing.assert_array_equal(await async_arrays.get(key), arr)
        await avc.aclose()

    asyncio.run(main())

    needs("NP.MGET", "NP.MSET")
    vc = valkey.cluster.ValkeyCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    arrays = Numpy(vc)
    assert arrays.mset({k: v * 2 for k, v in ARRAYS.items()}) is True
    for got, want in zip(arrays.mget(list(ARRAYS)[::-1]), list(ARRAYS.values())[::-1]):
        np.testing.assert_array_equal(got, want * 2)
    vc.close()
