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
from redis_numpy import Numpy, NumpyError, SyncNumpy, NumpyPipeline, UploadAborted
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


# -- big arrays: valkey's synchronous clients chunk as redis-py's do -----------------

BIG = np.arange(64 * 1024, dtype=np.float64).reshape(1024, 64)  # 512 KiB: 8 chunks of 64 KiB


def chunked_arrays(client) -> SyncNumpy:
    arrays = Numpy(client)
    arrays.chunk_bytes = 64 * 1024
    return arrays


def test_sync_client_moves_big_arrays_in_chunks(redis_server, r):
    arrays = chunked_arrays(valkey.Valkey(port=redis_server.port))
    sent: list[int] = []
    assert arrays.set("big", BIG, progress=lambda done, total: sent.append(done)) is True
    assert len(sent) == 8 and sent[-1] == BIG.nbytes  # one call per chunk: staged, then renamed
    assert r.execute_command("NP.GET", "big") == npy(BIG)
    assert not r.keys("*np-staging*")
    read: list[int] = []
    got = arrays.get("big", progress=lambda done, total: read.append(done))
    assert npy(got) == npy(BIG) and got.flags.writeable and read[-1] == BIG.nbytes and len(read) == 8
    np.testing.assert_array_equal(np.asarray(arrays.view("big")), BIG)
    r.set("s", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):  # valkey's class, before anything is sent
        arrays.set("s", BIG)
    arrays.close()


def test_sync_upload_and_migrate_use_valkeys_exceptions(redis_server, r):
    arrays = chunked_arrays(valkey.Valkey(port=redis_server.port))
    r.set("s", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        arrays.upload("s", (4, 2), np.int32)
    # The package's own errors are valkey's too, and stay redis_numpy's.
    up = arrays.upload("s2", (10, 2), np.int32)
    up.write(np.zeros((4, 2), np.int32))
    with pytest.raises(valkey.exceptions.ValkeyError, match="incomplete: 4 of 10 rows") as caught:
        up.commit()
    assert isinstance(caught.value, UploadAborted) and type(caught.value).__name__ == "UploadAborted"
    r.set("saved", npy(np.arange(3)))
    report = arrays.migrate("saved")
    assert (report.converted, report.refused) == (1, 0)
    r.set("pickle", b"\x80\x04not npy")
    assert arrays.migrate("pickle").refused == 1
    arrays.close()


def test_cluster_client_moves_big_arrays_in_chunks(cluster):
    vc = valkey.cluster.ValkeyCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    arrays = chunked_arrays(vc)
    sent: list[int] = []
    assert arrays.set("big", BIG, progress=lambda done, total: sent.append(done)) is True
    assert len(sent) == 8
    read: list[int] = []
    got = arrays.get("big", progress=lambda done, total: read.append(done))
    assert npy(got) == npy(BIG) and len(read) == 8
    np.testing.assert_array_equal(arrays.get("big", slice="10:20"), BIG[10:20])
    assert arrays.append("big", BIG[:1]) == 1025
    for key in ("a{x}", "b{x}", "c"):
        arrays.set(key, BIG[:2])
    assert all(np.array_equal(a, BIG[:2]) for a in arrays.mget(["a{x}", "b{x}", "c"]))
    vc.close()
