"""NP.KNN on a small real data set: scikit-learn's handwritten digits
(1,797 images of 8 × 8 pixels valued 0..16, shipped inside its wheel), the
last 100 images searched for among the first 1,697. Recall 1.0 against
faiss's exact search (IndexFlatL2, IndexFlatIP on normalised rows for
cosine) and the rows of the float64 NumPy oracle, for every stored dtype
the pixels fit, and for standardised (non-integer) float features.
"""

from __future__ import annotations

import numpy as np
import pytest

from npy_bytes import npy
from test_knn import knn, oracle

faiss = pytest.importorskip("faiss")
datasets = pytest.importorskip("sklearn.datasets")

K = 10
HELD_OUT = 100


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    pixels = datasets.load_digits().data
    assert pixels.shape == (1797, 64) and pixels.min() == 0 and pixels.max() == 16
    return pixels


def exact_distances(x: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Every row's float64 distance to every query, (Q, N)."""
    x, queries = x.astype(np.float64), queries.astype(np.float64)
    if metric == "l2":
        return (x * x).sum(1)[None] - 2 * queries @ x.T + (queries * queries).sum(1)[:, None]
    dots = queries @ x.T
    if metric == "ip":
        return dots
    return dots / (np.linalg.norm(x, axis=1)[None] * np.linalg.norm(queries, axis=1)[:, None])


def faiss_search(x: np.ndarray, queries: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    x, queries = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(queries, np.float32)
    if metric == "cosine":
        x, queries = x.copy(), queries.copy()
        faiss.normalize_L2(x)
        faiss.normalize_L2(queries)
    index = faiss.IndexFlatL2(x.shape[1]) if metric == "l2" else faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    distances, rows = index.search(queries, K)
    return rows, distances


def recall(found: np.ndarray, exact: np.ndarray, metric: str) -> float:
    """The share of the rows found that are among the K nearest, a row tied
    (within float32 rounding) with the K-th nearest counting as one of them."""
    key = exact if metric == "l2" else -exact
    kth = np.sort(key, axis=1)[:, K - 1 : K]
    slack = 1e-5 * np.maximum(1.0, np.abs(kth))
    return float((np.take_along_axis(key, found, axis=1) <= kth + slack).mean())


CASES = [
    ("<f4", "pixels"),
    ("<f8", "pixels"),
    ("|i1", "pixels"),
    ("|u1", "pixels"),
    ("<f4", "standardised"),
    ("<f8", "standardised"),
]


@pytest.mark.parametrize("dtype,features", CASES)
@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_recall_is_one_against_faiss_and_numpy(r, digits, dtype, features, metric):
    data = digits
    if features == "standardised":
        spread = data.std(axis=0)
        data = (data - data.mean(axis=0)) / np.where(spread > 0, spread, 1)
    data = data.astype(dtype)
    x, queries = data[:-HELD_OUT], data[-HELD_OUT:]
    r.execute_command("NP.SET", "digits", npy(x))

    rows, distances = knn(r, "digits", queries, K, "METRIC", metric)
    assert rows.shape == distances.shape == (HELD_OUT, K)
    exact = exact_distances(x, queries, metric)
    want_rows, want_distances = oracle(x, queries, K, metric)
    faiss_rows, faiss_distances = faiss_search(x, queries, metric)

    assert recall(rows, exact, metric) == 1.0
    assert recall(faiss_rows, exact, metric) == 1.0  # the anchor is exact too
    # Same distances as faiss's, query by query (faiss sums in float32).
    np.testing.assert_allclose(distances, faiss_distances, rtol=1e-5, atol=1e-3)
    # The oracle's distances; on the integer pixels (exact sums in every
    # dtype) its rows too, ties going to the lower row.
    np.testing.assert_allclose(distances, want_distances, rtol=1e-6 if dtype == "<f8" else 1e-5, atol=1e-9)
    if features == "pixels":
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_array_equal(distances, want_distances.astype(distances.dtype))

    # One query at a time gives the batch's rows.
    for c in [0, HELD_OUT - 1]:
        single_rows, single_distances = knn(r, "digits", queries[c], K, "METRIC", metric)
        np.testing.assert_array_equal(single_rows, rows[c])
        np.testing.assert_array_equal(single_distances, distances[c])
