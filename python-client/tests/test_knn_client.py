"""`knn` on every face of the client (sync, pipeline, asyncio, cluster) and
`ShardedArray.knn`, against NumPy and against a single-node search."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis.asyncio

from redis_numpy import AsyncNumpy, Numpy


def oracle(x: np.ndarray, q: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    x64, q64 = x.astype(np.float64), np.atleast_2d(q).astype(np.float64)
    if metric == "l2":
        d = ((x64[:, None, :] - q64[None]) ** 2).sum(-1).T
        key = d
    else:
        d = q64 @ x64.T
        if metric == "cosine":
            d = d / (np.sqrt((x64 * x64).sum(1))[None] * np.sqrt((q64 * q64).sum(1))[:, None])
        key = -d
    rows = np.arange(len(x))
    order = np.array([np.lexsort((rows, kq))[:k] for kq in key])
    return order, np.take_along_axis(d, order, axis=1)


X = np.random.default_rng(1).integers(-4, 5, (300, 16)).astype(np.float32)
Q = np.random.default_rng(2).integers(-4, 5, (5, 16)).astype(np.float32)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_knn_matches_numpy(arrays, metric):
    arrays.set("x", X)
    indices, distances = arrays.knn("x", Q, k=7, metric=metric)
    want_i, want_d = oracle(X, Q, 7, metric)
    assert indices.dtype == np.int64 and distances.dtype == np.float32 and indices.shape == (5, 7)
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_array_equal(distances, want_d.astype(np.float32))
    one_i, one_d = arrays.knn("x", Q[2], k=3, metric=metric)
    assert one_i.shape == (3,)
    np.testing.assert_array_equal(one_i, want_i[2, :3])
    sel_i, _ = arrays.knn("x", Q[0], k=2, metric=metric, slice=[5, 9, 250, 9])
    assert set(sel_i) <= {5, 9, 250}
    rng_i, _ = arrays.knn("x", Q[0], k=3, metric=metric, slice=np.s_[-50:])
    assert (rng_i >= 250).all()
    assert arrays.knn("missing", Q[0]) is None


def test_knn_in_a_pipeline_and_its_errors(arrays):
    arrays.set("x", X)
    pipe = arrays.pipeline()
    pipe.knn("x", Q[0], k=2).knn("x", Q, k=1, metric="ip")
    (i1, d1), (i2, d2) = pipe.execute()
    assert i1.shape == (2,) and i2.shape == (5, 1)
    np.testing.assert_array_equal(i2[:, 0], oracle(X, Q, 1, "ip")[0][:, 0])
    with pytest.raises(redis.ResponseError, match="Cannot cast array data from dtype\\('float64'\\)"):
        arrays.knn("x", Q[0].astype(np.float64))
    with pytest.raises(redis.ResponseError, match="k must be between 1"):
        arrays.knn("x", Q[0], k=301)


def test_knn_on_asyncio(redis_server, r):
    client = redis.asyncio.Redis(port=redis_server.port)

    async def main():
        arrays = Numpy(client)
        assert type(arrays) is AsyncNumpy
        await arrays.set("x", X)
        indices, distances = await arrays.knn("x", Q, k=4, metric="cosine")
        np.testing.assert_array_equal(indices, oracle(X, Q, 4, "cosine")[0])
        async with arrays.pipeline() as pipe:
            pipe.knn("x", Q[1], k=2)
            [(i, _)] = await pipe.execute()
        assert i.tolist() == oracle(X, Q[1], 2, "l2")[0][0].tolist()
        await arrays.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_sharded_knn_equals_a_single_node_search(cluster_arrays, metric):
    arrays = cluster_arrays
    rng = np.random.default_rng(3)
    data = rng.standard_normal((500, 24)).astype(np.float32)
    data[411] = data[17]  # a tie across chunks: the lower row first
    data[123, 3] = np.nan  # NaN last
    queries = rng.standard_normal((4, 24)).astype(np.float32)
    queries[0] = data[17]
    a = arrays.create_sharded("emb", data, chunk_bytes=37 * 24 * 4)  # 37 rows per chunk
    arrays.set("whole", data)
    for k in [1, 10, 500]:
        got = a.knn(queries, k=k, metric=metric)
        want = arrays.knn("whole", queries, k=k, metric=metric)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    got = a.knn(queries[0], k=3, metric=metric, slice=slice(100, 450))
    want = arrays.knn("whole", queries[0], k=3, metric=metric, slice=np.s_[100:450])
    np.testing.assert_array_equal(got[0], want[0])
    assert got[0].shape == (3,)
    if metric != "ip":
        assert a.knn(queries[0], k=2, metric=metric)[0].tolist() == [17, 411]
    with pytest.raises(ValueError, match="k must be between 1"):
        a.knn(queries, k=501)


def test_sharded_hamming_equals_a_single_node_search(cluster_arrays):
    arrays = cluster_arrays
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    codes[250] = codes[9]  # a tie across chunks: the lower row first
    queries = rng.integers(0, 256, (3, 8), dtype=np.uint8)
    queries[0] = codes[9]
    a = arrays.create_sharded("codes", codes, chunk_bytes=41 * 8)
    arrays.set("whole", codes)
    got = a.knn(queries, k=10, metric="hamming")
    want = arrays.knn("whole", queries, k=10, metric="hamming")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert want[1].dtype == np.int64
    assert np.array_equal(want[1][:, 0], np.unpackbits(codes[want[0][:, 0]] ^ queries, axis=1).sum(1))
    assert a.knn(queries[0], k=2, metric="hamming")[0].tolist() == [9, 250]
