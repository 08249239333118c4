"""Sharded arrays on a real 3-master Redis Cluster: chunks spread over the
shards, reads fetch only the chunks an index touches, NumPy is the oracle."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import redis

from npy_bytes import assert_same, npy
from chunking import staging_keys
from indexing import assert_indexes_like_numpy


@pytest.fixture
def arrays(cluster_arrays):
    """This module's tests run on the cluster."""
    return cluster_arrays


DATA = np.arange(100 * 6 * 2, dtype="<f8").reshape(100, 6, 2)


def test_chunks_spread_over_every_shard(arrays):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)  # 7 rows per chunk
    assert a.shape == DATA.shape and a.dtype == DATA.dtype and a.chunk_rows == 7
    assert a.ndim == 3 and a.size == DATA.size and len(a) == 100 and a.nbytes == DATA.nbytes
    keys = a._keys()
    assert len(keys) == 15
    assert len({arrays.client.get_node_from_key(k).port for k in keys}) == 3
    meta = {k.decode(): v.decode() for k, v in arrays.client.hgetall("emb").items()}
    assert meta["format"] == "redis-numpy-sharded/1" and meta["shape"] == "100,6,2" and meta["chunks"] == "15"
    assert_same(np.asarray(a), DATA)


def test_getitem_matches_numpy_on_random_basic_indexes(arrays):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)
    assert_indexes_like_numpy(a, DATA, seed=4, cases=300)


def test_a_slice_reads_only_the_chunks_it_touches(arrays, cluster):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=10 * 6 * 2 * 8)  # 10 rows per chunk
    for node in cluster.nodes:
        node.client().config_resetstat()
    assert_same(a[25:47], DATA[25:47])  # chunks 2, 3, 4
    calls = sum(
        node.client().info("commandstats").get("cmdstat_np.get", {}).get("calls", 0) for node in cluster.nodes
    )
    assert calls == 3


def test_create_in_pieces_and_write_slices(arrays):
    a = arrays.create_sharded("w", shape=(50, 3), dtype=np.int32, chunk_bytes=8 * 3 * 4)
    want = np.zeros((50, 3), np.int32)
    for start in range(0, 50, 9):
        block = np.arange(start * 3, min(start + 9, 50) * 3, dtype=np.int32).reshape(-1, 3)
        a[start : start + 9] = block
        want[start : start + 9] = block
    a[::-7, 1] = -1
    want[::-7, 1] = -1
    a[3] = 5
    want[3] = 5
    a[10:30:3] = [7, 8, 9]
    want[10:30:3] = [7, 8, 9]
    assert_same(np.asarray(a), want)
    assert_same(arrays.sharded("w")[:], want)


def test_array_larger_than_any_shards_maxmemory(arrays, cluster):
    data = np.random.default_rng(1).standard_normal((3 * 1024, 1024)).astype(np.float64)  # 24 MiB
    limit = 18 * 1024 * 1024  # each shard holds about a third of the 24 MiB
    base = [int(node.client().info("memory")["used_memory"]) for node in cluster.nodes]
    assert all(b < 4 * 1024 * 1024 for b in base), base
    for node in cluster.nodes:
        node.client().config_set("maxmemory", limit)
    try:
        # 100 chunks of 31 rows: 248 KiB + header fits jemalloc's 256 KiB class
        a = arrays.create_sharded("huge", data, chunk_bytes=31 * 8192)
        assert data.nbytes > limit
        used = [int(node.client().info("memory")["used_memory"]) for node in cluster.nodes]
        assert all(u < limit for u in used), used
        assert_same(np.asarray(a), data)
        assert_same(a[1000:1010, ::100], data[1000:1010, ::100])
    finally:
        for node in cluster.nodes:
            node.client().config_set("maxmemory", 0)


def test_replacing_switches_generation_and_drops_old_chunks(arrays):
    old = arrays.create_sharded("emb", DATA, chunk_bytes=20 * 6 * 2 * 8)
    old_keys = old._keys()
    reader = arrays.sharded("emb")
    new = arrays.create_sharded("emb", DATA[:30] * 2, chunk_bytes=20 * 6 * 2 * 8)
    assert_same(np.asarray(new), DATA[:30] * 2)
    assert not any(arrays.client.exists(k) for k in old_keys)
    with pytest.raises(KeyError, match="refresh"):
        reader[0]
    assert_same(reader.refresh()[:], DATA[:30] * 2)
    new.delete()
    assert arrays.client.exists("emb") == 0 and not any(arrays.client.exists(k) for k in new._keys())


def test_bad_metadata_and_bad_indexes(arrays):
    with pytest.raises(KeyError, match="no sharded array at key 'nothing'"):
        arrays.sharded("nothing")
    arrays.client.set("text", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.sharded("text")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.create_sharded("text", DATA)
    arrays.client.hset("other", "field", "1")
    with pytest.raises(ValueError, match="not a sharded array's metadata"):
        arrays.sharded("other")
    with pytest.raises(ValueError, match="hash tag"):
        arrays.create_sharded("{t}emb", DATA)
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)
    with pytest.raises(IndexError, match="index 100 is out of bounds for axis 0 with size 100"):
        a[100]
    with pytest.raises(IndexError, match="out of bounds"):
        a[5, 6]


def test_resharding_keeps_it_readable(arrays, cluster):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=5 * 6 * 2 * 8)
    source, target = cluster.nodes[0], cluster.nodes[1]
    ids = [n.client().execute_command("CLUSTER", "MYID") for n in (source, target)]
    ids = [i.decode() if isinstance(i, bytes) else i for i in ids]
    moved_chunks = [k for k in a._keys() if arrays.client.get_node_from_key(k).port == source.port]
    assert moved_chunks
    subprocess.run(
        ["redis-cli", "--cluster", "reshard", f"127.0.0.1:{source.port}", "--cluster-from", ids[0],
         "--cluster-to", ids[1], "--cluster-slots", "16384", "--cluster-yes"],
        check=True, capture_output=True, timeout=300,
    )
    assert source.client().dbsize() == 0
    assert_same(np.asarray(a), DATA)
    assert_same(a[3:97:4, 2], DATA[3:97:4, 2])


def test_chunked_set_get_and_view_on_a_cluster(arrays):
    arrays.chunk_bytes = 4096
    data = np.arange(30_000, dtype=np.int32).reshape(1000, 30)
    for key in ("plain", "{tag}.x"):
        assert arrays.set(key, data) is True
        assert_same(arrays.get(key), data)
        assert_same(arrays.view(key)[10:20, ::3], data[10:20, ::3])
    assert staging_keys(arrays.client) == []


def test_dask_computes_on_a_sharded_array(arrays):
    da = pytest.importorskip("dask.array")
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)
    lazy = da.from_array(a, chunks=(a.chunk_rows, 6, 2))
    assert_same(lazy.compute(), DATA)
    np.testing.assert_allclose(lazy.mean(axis=0).compute(), DATA.mean(axis=0))


SHARDED_LISTS = [
    np.s_[[3, 99, 0, 7, 7, 50, -1]],
    np.s_[[13, 2], 1:5, 0],
    np.s_[[]],
    np.s_[np.array([8, 9, 10]), ...],
    np.s_[5:40:3, [5, 1]],
    np.s_[::-9, [0, 2], 1],
    np.s_[42, :, [1, 0]],
]


@pytest.mark.parametrize("index", SHARDED_LISTS, ids=str)
def test_integer_lists_read_and_write_like_numpy(arrays, index):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)
    assert_same(a[index], DATA[index])
    want = DATA.copy()
    want[index] = -5
    a[index] = -5
    assert_same(np.asarray(a), want)


def test_index_lists_a_sharded_array_cannot_split_are_refused(arrays):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)
    with pytest.raises(IndexError, match="index 100 is out of bounds for axis 0 with size 100"):
        a[[1, 100]]
    with pytest.raises(TypeError, match="no second list"):
        a[[1, 2], [0, 1]]
    with pytest.raises(TypeError, match="next to each other"):
        a[:, [0, 1], None]
    with pytest.raises(TypeError, match="boolean masks"):
        a[np.ones(100, bool)]


def test_append_grows_a_sharded_table(arrays):
    a = arrays.create_sharded("table", DATA[:10], chunk_bytes=7 * 6 * 2 * 8)  # 7 rows per chunk
    reader = arrays.sharded("table")
    assert a.append(DATA[10]) == 11  # one row
    assert a.append(DATA[11:40]) == 40  # fills chunk 1, then 4 new chunks
    assert a.shape == (40, 6, 2) and a._meta["chunks"] == 6
    assert_same(np.asarray(a), DATA[:40])
    assert_same(np.asarray(reader), DATA[:10])  # a reader keeps the length it read
    assert_same(reader.refresh()[[39, 0]], DATA[[39, 0]])
    with pytest.raises(TypeError, match="cannot append: dtype '<f4' does not match the stored '<f8'"):
        a.append(DATA[:2].astype(np.float32))
    with pytest.raises(ValueError, match=r"cannot append: shape \(2, 5, 2\) does not fit"):
        a.append(DATA[:2, :5])
    # an append that grew the last chunk but failed before its metadata: the next one repairs it
    arrays.execute_command("NP.APPEND", a._keys()[-1], npy(DATA[40:41]))
    assert a.append(DATA[60:62]) == 42
    assert_same(np.asarray(a), np.concatenate([DATA[:40], DATA[60:62]]))


REDUCE_DATA = {
    "float64": np.random.default_rng(7).standard_normal((100, 6)),
    "int16": np.random.default_rng(8).integers(-30000, 30000, (100, 6)).astype(np.int16),
    "nan": np.where(np.arange(600).reshape(100, 6) % 97 == 13, np.nan, np.arange(600.0).reshape(100, 6) % 11),
    "bool": np.random.default_rng(9).random((100, 6)) < 0.2,
}


@pytest.mark.parametrize("data_name", REDUCE_DATA)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_reduce_matches_numpy_exactly(arrays, data_name, axis):
    data = REDUCE_DATA[data_name]
    a = arrays.create_sharded("t", data, chunk_bytes=7 * 6 * data.dtype.itemsize)
    ops = ["min", "max", "argmin", "argmax", "count_nonzero", "any", "all"]
    if data.dtype.kind in "iub":
        ops += ["sum", "prod"]
    if axis not in (None, 0):
        ops += ["sum", "prod", "mean", "var", "std"]
    for op in dict.fromkeys(ops):
        if data.dtype.kind == "b" and op in ("mean", "var", "std", "min", "max", "prod"):
            continue
        want = getattr(np, op)(data, axis=axis)
        got = a.reduce(op, axis=axis)
        assert np.asarray(got).dtype == np.asarray(want).dtype, op
        assert npy(np.asarray(got)) == npy(np.asarray(want)), (op, got, want)


def test_reduce_with_a_dtype_wraps_as_numpy_does(arrays):
    data = REDUCE_DATA["int16"]
    a = arrays.create_sharded("t", data, chunk_bytes=7 * 6 * 2)
    for axis in (None, 0, 1):
        want = np.sum(data, axis=axis, dtype=np.int8)
        assert npy(np.asarray(a.reduce("sum", axis=axis, dtype=np.int8))) == npy(np.asarray(want))


def test_reduce_refuses_what_it_cannot_merge_exactly(arrays):
    a = arrays.create_sharded("t", DATA, chunk_bytes=7 * 6 * 2 * 8)
    for op in ("mean", "var", "std"):
        with pytest.raises(ValueError, match="not offered"):
            a.reduce(op)
        with pytest.raises(ValueError, match="not offered"):
            a.reduce(op, axis=0)
    np.testing.assert_allclose(a.reduce("sum", axis=0), DATA.sum(axis=0))  # floats: the merge's order
    with pytest.raises(np.exceptions.AxisError):
        a.reduce("sum", axis=3)
