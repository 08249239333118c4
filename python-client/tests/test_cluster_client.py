"""The client on a real 3-master Redis Cluster: sync, asyncio and pipelines route by key."""

from __future__ import annotations

import asyncio

import numpy as np
import redis.asyncio

from redis_numpy import Numpy


ARRAYS = {f"emb:{i}": np.random.default_rng(i).standard_normal((4, 8)).astype(np.float32) for i in range(24)}


def test_sync_cluster_client_spreads_keys_over_shards(cluster):
    rc = cluster.client(decode_responses=True)
    arrays = Numpy(rc)
    for key, arr in ARRAYS.items():
        assert arrays.set(key, arr) is True
    assert len({rc.get_node_from_key(key).port for key in ARRAYS}) == 3
    for key, arr in ARRAYS.items():
        np.testing.assert_array_equal(arrays.get(key), arr)
        assert arrays.info(key)["shape"] == (4, 8)
    pipe = arrays.pipeline()
    for key in ARRAYS:
        pipe.get(key)
    for got, arr in zip(pipe.execute(), ARRAYS.values()):
        np.testing.assert_array_equal(got, arr)
    rc.close()


def test_async_cluster_client(cluster):
    async def main():
        rc = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
        arrays = Numpy(rc)
        for key, arr in ARRAYS.items():
            assert await arrays.set(key, arr * 2) is True
        for key, arr in ARRAYS.items():
            np.testing.assert_array_equal(await arrays.get(key), arr * 2)
        pipe = arrays.pipeline()
        for key in ARRAYS:
            pipe.shape(key)
        assert await pipe.execute() == [(4, 8)] * len(ARRAYS)
        await rc.aclose()

    asyncio.run(main())


def test_mget_mset_group_keys_by_slot_and_keep_the_callers_order(cluster, needs):
    needs("NP.MGET", "NP.MSET")
    rc = cluster.client()
    arrays = Numpy(rc)
    keys = list(ARRAYS)
    assert len({rc.keyslot(k) for k in keys}) > 3
    assert arrays.mset(ARRAYS) is True
    order = keys[::-1] + ["emb:missing"] + keys[:2]
    got = arrays.mget(order)
    for key, arr in zip(order, got):
        if key == "emb:missing":
            assert arr is None
        else:
            np.testing.assert_array_equal(arr, ARRAYS[key])
    same_slot = ["{tag}a", "{tag}b"]
    assert arrays.mset({k: np.arange(2) for k in same_slot}) is True
    assert [a.tolist() for a in arrays.mget(same_slot)] == [[0, 1], [0, 1]]
    rc.close()

    async def main():
        arc = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
        async_arrays = Numpy(arc)
        assert await async_arrays.mset({k: v + 1 for k, v in ARRAYS.items()}) is True
        for key, arr in zip(order, await async_arrays.mget(order)):
            assert arr is None if key == "emb:missing" else np.array_equal(arr, ARRAYS[key] + 1)
        await arc.aclose()

    asyncio.run(main())


def test_append_with_a_ttl_trim_and_reserve_route_by_key(cluster_arrays):
    rc = cluster_arrays.client
    for i in range(6):
        key = f"log:{i}"
        assert cluster_arrays.append(key, np.ones((2, 3)), ex=60, maxlen=3) == 2
        assert 58 <= rc.ttl(key) <= 60
        assert cluster_arrays.reserve(key, 10) is True
        assert cluster_arrays.trim(key, 1) == 1
    assert len({rc.get_node_from_key(f"log:{i}").port for i in range(6)}) > 1
