"""NP.KNN METRIC hamming: uint8 rows of np.packbits bits and bool rows,
against NumPy's count of differing bits (`np.unpackbits(X ^ q, axis=1).sum(1)`)
and faiss's IndexBinaryFlat; distances are int64, ties go to the lower row."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from npy_bytes import npy
from test_knn import fields, knn


def oracle(x: np.ndarray, queries: np.ndarray, k: int, rows=None):
    rows = np.arange(len(x)) if rows is None else np.unique(np.asarray(rows))
    idx, dist = [], []
    for q in np.atleast_2d(queries):
        if x.dtype == np.bool_:
            d = (x[rows] != q).sum(axis=1)
        else:
            d = np.unpackbits(x[rows] ^ q, axis=1).sum(axis=1)
        order = np.lexsort((rows, d))[:k]
        idx.append(rows[order])
        dist.append(d[order])
    return np.array(idx), np.array(dist)


@pytest.mark.parametrize("fortran", [False, True])
def test_packed_bits_equal_numpy(r, fortran):
    rng = np.random.default_rng(3)
    bits = rng.random((500, 100)) < 0.5
    x = np.packbits(bits, axis=1)  # (500, 13): a partial last byte too
    x[40] = x[7]  # a tie: the lower row first
    r.execute_command("NP.SET", "codes", npy(np.asfortranarray(x) if fortran else x))
    queries = np.packbits(rng.random((6, 100)) < 0.5, axis=1)
    queries[2] = x[7]
    for k in [1, 10, 500]:
        gi, gd = knn(r, "codes", queries, k, "METRIC", "hamming")
        wi, wd = oracle(x, queries, k)
        assert gi.dtype == np.int64 and gd.dtype == np.int64 and gd.shape == (6, k)
        np.testing.assert_array_equal(gi, wi)
        np.testing.assert_array_equal(gd, wd)
        si, sd = knn(r, "codes", queries[2], k, "METRIC", "HAMMING")
        np.testing.assert_array_equal(si, wi[2])
        np.testing.assert_array_equal(sd, wd[2])
    assert list(knn(r, "codes", queries[2], 2, "METRIC", "hamming")[0]) == [7, 40]


def test_slice_and_values(r):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    q = rng.integers(0, 256, 8, dtype=np.uint8)
    r.execute_command("NP.SET", "codes", npy(x))
    gi, gd = knn(r, "codes", q, 5, "METRIC", "hamming", "SLICE", "100:200")
    wi, wd = oracle(x, q, 5, rows=np.arange(100, 200))
    np.testing.assert_array_equal(gi, wi[0])
    np.testing.assert_array_equal(gd, wd[0])
    _, distances = map(fields, r.execute_command("NP.KNN", "codes", npy(q), "K", 3, "METRIC", "hamming", "VALUES"))
    assert distances["dtype"] == b"int64" and distances["values"] == list(oracle(x, q, 3)[1][0])


def test_bool_rows_count_differing_elements(r):
    rng = np.random.default_rng(5)
    x = rng.random((200, 33)) < 0.3
    queries = rng.random((4, 33)) < 0.3
    r.execute_command("NP.SET", "flags", npy(x))
    gi, gd = knn(r, "flags", queries, 7, "METRIC", "hamming")
    wi, wd = oracle(x, queries, 7)
    np.testing.assert_array_equal(gi, wi)
    np.testing.assert_array_equal(gd, wd)
    # A bool query for uint8 rows casts safely (0/1 bytes).
    r.execute_command("NP.SET", "codes", npy(x.astype(np.uint8)))
    np.testing.assert_array_equal(knn(r, "codes", queries, 7, "METRIC", "hamming")[1], wd)


def test_same_distances_as_faiss_binary_index(r):
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (1000, 32), dtype=np.uint8)  # 256-bit codes
    queries = rng.integers(0, 256, (8, 32), dtype=np.uint8)
    r.execute_command("NP.SET", "codes", npy(x))
    index = faiss.IndexBinaryFlat(256)
    index.add(x)
    want_d, _ = index.search(queries, 10)
    _, gd = knn(r, "codes", queries, 10, "METRIC", "hamming")
    np.testing.assert_array_equal(gd, want_d)


def test_errors(r):
    r.execute_command("NP.SET", "f", npy(np.zeros((3, 4), np.float32)))
    with pytest.raises(redis.ResponseError, match=r"METRIC hamming compares uint8 rows .* not dtype\('float32'\)"):
        knn(r, "f", np.zeros(4, np.float32), 1, "METRIC", "hamming")
    r.execute_command("NP.SET", "b", npy(np.zeros((3, 4), bool)))
    with pytest.raises(redis.ResponseError, match=r"not dtype\('bool'\)"):
        knn(r, "b", np.zeros(4, bool), 1, "METRIC", "l2")
    with pytest.raises(redis.ResponseError, match="Cannot cast array data from dtype\\('uint8'\\) to dtype\\('bool'\\)"):
        knn(r, "b", np.zeros(4, np.uint8), 1, "METRIC", "hamming")
    with pytest.raises(redis.ResponseError, match=r"use l2, ip, cosine or hamming"):
        knn(r, "b", np.zeros(4, bool), 1, "METRIC", "jaccard")
