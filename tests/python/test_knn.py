"""NP.KNN against a float64 NumPy oracle: the k rows nearest each query,
ties to the lower row, NaN distances last, on every stored dtype, both
memory orders, wrapped rolling buffers and row selections; and every error.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import redis

from npy_bytes import npy
from test_ring import layout, wrapped_buffer

DTYPES = ["<f4", "<f8", "<f2", "|i1", "|u1"]
METRICS = ["l2", "ip", "cosine"]


def load(b: bytes) -> np.ndarray:
    return np.load(io.BytesIO(b), allow_pickle=False)


def knn(r, key, query, k, *options):
    reply = r.execute_command("NP.KNN", key, npy(query), "K", k, *options)
    return load(reply[0]), load(reply[1])


def oracle(x: np.ndarray, queries: np.ndarray, k: int, metric: str, rows=None):
    """float64 distances, sorted by (NaN last, distance, row); the cosine
    formula is the server's: x·q / (sqrt(x·x) · sqrt(q·q))."""
    x = np.asarray(x, dtype=np.float64)
    rows = np.arange(len(x)) if rows is None else np.unique(np.asarray(rows))
    sub = x[rows]
    idx, dist = [], []
    for q in np.atleast_2d(np.asarray(queries, dtype=np.float64)):
        with np.errstate(all="ignore"):
            if metric == "l2":
                d = ((sub - q) ** 2).sum(axis=1)
                key = d
            elif metric == "ip":
                d = sub @ q
                key = -d
            else:
                d = (sub @ q) / (np.sqrt((sub * sub).sum(axis=1)) * np.sqrt(q @ q))
                key = -d
        order = np.lexsort((rows, key, np.isnan(key)))[:k]
        idx.append(rows[order])
        dist.append(d[order])
    return np.array(idx), np.array(dist)


def integer_data(rng, dtype: str, shape, span: int = 4) -> np.ndarray:
    low = 0 if dtype == "|u1" else -span
    return rng.integers(low, span + 1, shape).astype(dtype)


def check_exact(got, want, single: bool, float64: bool):
    (gi, gd), (wi, wd) = got, want
    if single:
        wi, wd = wi[0], wd[0]
    assert gi.dtype == np.int64 and gi.shape == wi.shape
    assert gd.dtype == (np.float64 if float64 else np.float32)
    np.testing.assert_array_equal(gi, wi)
    np.testing.assert_array_equal(gd, wd.astype(gd.dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fortran", [False, True])
def test_integer_valued_data_equals_the_oracle_exactly(r, dtype, fortran):
    # Small integers: every sum is exact, so rows and distances match
    # exactly, ties (there are many) going to the lower row.
    rng = np.random.default_rng(len(dtype) + fortran)
    x = integer_data(rng, dtype, (200, 37))
    r.execute_command("NP.SET", "m", npy(np.asfortranarray(x) if fortran else x))
    queries = integer_data(rng, dtype, (7, 37))
    for metric in METRICS:
        for k in [1, 5, 200]:
            got = knn(r, "m", queries, k, "METRIC", metric)
            check_exact(got, oracle(x, queries, k, metric), False, dtype == "<f8")
            got = knn(r, "m", queries[3], k, "METRIC", metric)
            check_exact(got, oracle(x, queries[3:4], k, metric), True, dtype == "<f8")


@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
@pytest.mark.parametrize("metric", METRICS)
def test_random_floats_are_within_rounding_of_the_oracle(r, dtype, metric):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 96)).astype(dtype)
    queries = rng.standard_normal((9, 96)).astype(dtype)
    r.execute_command("NP.SET", "m", npy(x))
    k = 10
    for q in [queries, queries[0]]:
        gi, gd = knn(r, "m", q, k, "METRIC", metric)
        wi, wd = oracle(x, q, k, metric)
        gi, gd = np.atleast_2d(gi), np.atleast_2d(gd)
        tol = 1e-12 if dtype == "<f8" else 2e-4
        np.testing.assert_allclose(gd, wd, rtol=tol, atol=tol)
        # Random distances are far apart: the same rows, in the same order.
        np.testing.assert_array_equal(gi, wi)


def test_a_batch_reports_what_its_queries_report_one_at_a_time(r):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1000, 50)).astype("<f4")
    x[500] = x[20] + 1e-3  # a near neighbour of a query below
    r.execute_command("NP.SET", "m", npy(x))
    queries = rng.standard_normal((6, 50)).astype("<f4")
    queries[2] = x[20]
    for metric in METRICS:
        bi, bd = knn(r, "m", queries, 7, "METRIC", metric)
        for c, q in enumerate(queries):
            si, sd = knn(r, "m", q, 7, "METRIC", metric)
            np.testing.assert_array_equal(bi[c], si)
            np.testing.assert_array_equal(bd[c], sd)
    gi, gd = knn(r, "m", queries, 2)
    assert list(gi[2]) == [20, 500] and gd[2][0] == 0.0


def test_a_wrapped_rolling_buffer(r):
    model, _ = wrapped_buffer(r, "cam", dtype="<f4", entry=(64,), seed=3)
    assert model.shape == (30, 64)
    assert layout(r, "cam") == "wrapped"
    q = model[7] + np.float32(0.25)
    for metric in METRICS:
        gi, gd = knn(r, "cam", q, 5, "METRIC", metric)
        wi, wd = oracle(model, q, 5, metric)
        np.testing.assert_array_equal(gi, wi[0])
        np.testing.assert_allclose(gd, wd[0], rtol=1e-5)
    gi, _ = knn(r, "cam", q, 3, "SLICE", "-10:")
    np.testing.assert_array_equal(gi, oracle(model, q, 3, "l2", rows=np.arange(20, 30))[0][0])
    assert r.execute_command("NP.GET", "cam") == npy(model)


@pytest.mark.parametrize("spec,rows", [
    ("-30:", np.arange(70, 100)),
    ("10:60:7", np.arange(10, 60, 7)),
    ("::-3", np.arange(99, -1, -3)),
    ("[5, 99, 5, 17, -1, 17, 0]", [5, 99, 17, 0]),
    ("42", [42]),
    ("...", np.arange(100)),
])
def test_slice_selects_the_rows_searched(r, spec, rows):
    rng = np.random.default_rng(2)
    x = integer_data(rng, "<f4", (100, 12))
    r.execute_command("NP.SET", "m", npy(x))
    r.execute_command("NP.SET", "f", npy(np.asfortranarray(x)))
    queries = integer_data(rng, "<f4", (3, 12))
    n = len(np.unique(rows))
    for key in ["m", "f"]:
        for metric in METRICS:
            for k in sorted({1, n}):
                got = knn(r, key, queries, k, "METRIC", metric, "SLICE", spec)
                check_exact(got, oracle(x, queries, k, metric, rows=rows), False, False)


def test_a_long_index_list_with_repeats_costs_its_distinct_rows(r):
    x = np.arange(40, dtype="<f4").reshape(20, 2)
    r.execute_command("NP.SET", "m", npy(x))
    spec = "[" + ", ".join(["3", "7"] * 100_000) + "]"
    assert len(spec) < 1 << 20
    gi, gd = knn(r, "m", np.array([14.0, 15.0], "<f4"), 2, "SLICE", spec)
    assert list(gi) == [7, 3] and list(gd) == [0.0, 128.0]
    with pytest.raises(redis.ResponseError, match="between 1 and the number of rows searched \\(2\\), got 3"):
        knn(r, "m", np.array([0, 0], "<f4"), 3, "SLICE", spec)
    with pytest.raises(redis.ResponseError, match="longer than"):
        knn(r, "m", np.array([0, 0], "<f4"), 1, "SLICE", "[" + "1," * (1 << 19) + "1]")


def test_ties_go_to_the_lower_row_and_nan_rows_come_last(r):
    x = np.array([[1, 0], [np.nan, 0], [1, 0], [0, 0], [1, 0], [0, np.nan]], "<f4")
    r.execute_command("NP.SET", "m", npy(x))
    gi, gd = knn(r, "m", np.array([1, 0], "<f4"), 6)
    assert list(gi[:4]) == [0, 2, 4, 3] and list(gd[:4]) == [0, 0, 0, 1]
    assert set(gi[4:]) == {1, 5} and np.isnan(gd[4:]).all()
    assert list(gi[4:]) == [1, 5]
    gi, gd = knn(r, "m", np.array([1, 0], "<f4"), 3, "METRIC", "ip")
    assert list(gi) == [0, 2, 4] and list(gd) == [1, 1, 1]
    # A zero row has no direction: its cosine similarity is NaN.
    gi, gd = knn(r, "m", np.array([1, 0], "<f4"), 6, "METRIC", "cosine")
    assert list(gi[:3]) == [0, 2, 4] and np.isnan(gd[3:]).all()


def test_query_dtypes_cast_safely_or_are_refused(r):
    x = np.arange(12, dtype="<f2").reshape(4, 3)
    r.execute_command("NP.SET", "m", npy(x))
    for dtype in ["<f2", "|i1", "|u1", "|b1"]:
        gi, gd = knn(r, "m", np.array([3, 4, 5]).astype(dtype), 1)
        assert gi.tolist() == ([0] if dtype == "|b1" else [1]) and gd.dtype == np.float32
    for dtype in ["<f4", "<i2", ">f8", "<c8"]:
        want = f"Cannot cast array data from {np.dtype(dtype)!r} to dtype('float16') according to the rule 'safe'"
        with pytest.raises(redis.ResponseError, match=want.replace("(", "\\(").replace(")", "\\)")):
            knn(r, "m", np.array([3, 4, 5]).astype(dtype), 1)
    # A Fortran-ordered batch of queries is read as NumPy reads it.
    r.execute_command("NP.SET", "g", npy(np.arange(12.0).reshape(4, 3)))
    queries = np.asfortranarray(np.array([[9.0, 10, 11], [0, 1, 2]]))
    gi, _ = knn(r, "g", queries, 1)
    assert gi.tolist() == [[3], [0]]


def fields(reply) -> dict:
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    return {k.decode(): v for k, v in pairs}


def test_values_replies_numbers(r, redis_server):
    x = np.array([[0, 0], [3, 4], [1, 1]], "<f8")
    r.execute_command("NP.SET", "m", npy(x))
    indices, distances = map(fields, r.execute_command("NP.KNN", "m", npy(np.array([3.0, 4.0])), "K", "2", "VALUES"))
    assert indices == {"dtype": b"int64", "shape": [2], "values": [1, 2]}
    assert distances["dtype"] == b"float64" and distances["shape"] == [2]
    assert [float(v) for v in distances["values"]] == [0.0, 13.0]
    r3 = redis_server.client(protocol=3)
    indices, distances = r3.execute_command("NP.KNN", "m", npy(np.array([[3.0, 4.0]])), "K", "2", "VALUES")
    assert indices[b"shape"] == [1, 2] and distances[b"values"] == [0.0, 13.0]
    r3.close()


def test_missing_key_is_nil_and_wrong_type_is_refused(r):
    assert r.execute_command("NP.KNN", "nothing", npy(np.zeros(2)), "K", 1) is None
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.KNN", "s", npy(np.zeros(2)), "K", 1)


def test_errors(r):
    r.execute_command("NP.SET", "m", npy(np.zeros((5, 3), "<f4")))
    q = npy(np.zeros(3, "<f4"))

    def err(*args, key="m", query=q):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("NP.KNN", key, query, *args)
        return str(e.value)

    assert err("K", 6) == "k must be between 1 and the number of rows searched (5), got 6"
    assert err("K", 0) == "k must be between 1 and the number of rows searched (5), got 0"
    assert err("K", -1) == "k must be between 1 and the number of rows searched (5), got -1"
    assert err("K", "x") == "value is not an integer or out of range"
    assert err("METRIC", "l2") == "NP.KNN needs K k (how many rows to return)"
    assert err("K", 1, "METRIC", "jaccard") == "unknown METRIC 'jaccard' (use l2, ip, cosine or hamming)"
    assert err("K", 1, "K", 2) == "K given twice"
    assert err("K", 1, "LIMIT", 2) == "unknown NP.KNN option 'LIMIT'"
    assert "wrong number of arguments" in err("K")
    assert "wrong number of arguments" in err()
    assert err("K", 1, query=npy(np.zeros(4, "<f4"))) == (
        "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
        "(n?,k),(k,m?)->(n?,m?) (size 4 is different from 3)")
    assert err("K", 1, query=npy(np.zeros((1, 1, 3), "<f4"))) == (
        "the query must have shape (d,) or (Q, d), got shape (1, 1, 3)")
    assert err("K", 1, query=npy(np.zeros(3, "<U2"))) == (
        "Cannot cast array data from dtype('<U2') to dtype('float32') according to the rule 'safe'")
    assert err("K", 1, query=b"not npy").startswith("invalid .npy")
    assert err("K", 1, "SLICE", "1:2, 0").startswith("NP.KNN's SLICE selects rows")
    assert err("K", 1, "SLICE", "[9]") == "index 9 is out of bounds for axis 0 with size 5"
    assert err("K", 1, "SLICE", "4:1").startswith("no rows to search")
    r.execute_command("NP.SET", "empty", npy(np.zeros((0, 3), "<f4")))
    assert err("K", 1, key="empty").startswith("no rows to search")
    r.execute_command("NP.SET", "v", npy(np.zeros(3, "<f4")))
    assert err("K", 1, key="v") == "NP.KNN searches the rows of a 2-D array, the array has shape (3,)"
    for dtype in ["<i4", "|b1", "<c8", ">f4", "|S3"]:
        r.execute_command("NP.SET", "t", npy(np.zeros((2, 3), dtype)))
        text = err("K", 1, key="t")
        assert text.startswith("NP.KNN searches float32, float64, float16, int8 and uint8 arrays"), text
    # Q·k is bounded: the reply of a search is at most 2^20 results.
    r.execute_command("NP.SET", "tall", npy(np.zeros((4096, 1), "<f4")))
    big = npy(np.zeros((257, 1), "<f4"))
    assert err("K", 4096, key="tall", query=big) == (
        "257 queries of k=4096 would return more than 1048576 results: split the batch")
    assert r.execute_command("NP.GET", "m") == npy(np.zeros((5, 3), "<f4"))


def test_the_query_may_come_last_as_redis_cli_x_sends_it(r):
    r.execute_command("NP.SET", "m", npy(np.array([[3.0], [1.0], [2.0]])))
    first = r.execute_command("NP.KNN", "m", npy(np.array([2.9])), "K", 2, "METRIC", "l2")
    last = r.execute_command("NP.KNN", "m", "k", 2, "METRIC", "l2", npy(np.array([2.9])))
    assert first == last and load(first[0]).tolist() == [0, 2]


def test_empty_batch_and_single_column(r):
    r.execute_command("NP.SET", "m", npy(np.array([[3.0], [1.0], [2.0]])))
    gi, gd = knn(r, "m", np.zeros((0, 1)), 2)
    assert gi.shape == (0, 2) and gd.shape == (0, 2)
    gi, gd = knn(r, "m", np.array([0.0]), 3)
    assert gi.tolist() == [1, 2, 0] and gd.tolist() == [1.0, 4.0, 9.0]
