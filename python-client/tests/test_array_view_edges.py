"""`ArrayView` at its edges, against a real server with NumPy as the oracle:
0-d arrays, the empty index, a key deleted under the view, and server
refusals that are not index errors."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from redis_numpy import NumpyError

from npy_bytes import npy


STORED = np.arange(30 * 7 * 2, dtype="<u2").reshape(30, 7, 2)


def test_a_zero_d_view_reads_like_numpy(arrays):
    scalar = np.array(-3.25, dtype=">f8")
    arrays.set("s", scalar)
    view = arrays.view("s")
    assert view.shape == () and view.ndim == 0 and view.size == 1 and view.nbytes == 8
    with pytest.raises(TypeError, match=r"^len\(\) of unsized object$"):
        len(view)
    with pytest.raises(TypeError) as numpy_err:
        len(scalar)
    assert "unsized object" in str(numpy_err.value)
    got = view[()]
    assert got == scalar[()] and type(got) is type(scalar[()])
    assert view[...].shape == scalar[...].shape == ()
    view[()] = 7
    assert arrays.get("s")[()] == 7.0


def test_the_empty_index_reads_the_whole_array(arrays):
    arrays.set("m", STORED)
    got = arrays.view("m")[()]
    want = STORED[()]
    assert got.dtype == want.dtype and npy(got) == npy(want)


def test_a_key_deleted_under_the_view_is_a_key_error(arrays, r):
    arrays.set("m", STORED)
    view = arrays.view("m")
    r.delete("m")
    with pytest.raises(KeyError, match="no array at key 'm'"):
        view[0]
    with pytest.raises(KeyError, match="no array at key 'm'"):
        np.asarray(view)
    with pytest.raises(KeyError, match="no array at key 'm'"):
        view.refresh()


def test_other_server_refusals_keep_their_error_class(arrays, r):
    arrays.set("m", STORED)
    view = arrays.view("m")
    with pytest.raises(ValueError):  # NumPy refuses the same assignment
        STORED.copy()[0:2] = np.ones((3, 7, 2), STORED.dtype)
    with pytest.raises(redis.ResponseError, match="broadcast") as caught:
        view[0:2] = np.ones((3, 7, 2))
    assert isinstance(caught.value, NumpyError) and not isinstance(caught.value, IndexError)
    assert npy(arrays.get("m")) == npy(STORED)  # nothing written
    r.set("m", "text")  # replaced by another type under the view
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        view[0]


LIST_INDEXES = [
    np.s_[[3, 17, 0, 17]],
    np.s_[[-1, 2], 1:5],
    np.s_[:, [0, 6]],
    np.s_[2:9:3, [5, 1], 1],
    np.s_[np.array([4, 29]), ..., 0],
]


@pytest.mark.parametrize("index", LIST_INDEXES, ids=str)
def test_a_view_takes_integer_lists_like_get(arrays, r, index):
    arrays.set("a", STORED)
    view = arrays.view("a")
    npy_got = npy(view[index])
    assert npy_got == npy(STORED[index]) == npy(arrays.get("a", slice=index))
    view[index] = 9
    want = STORED.copy()
    want[index] = 9
    assert r.execute_command("NP.GET", "a") == npy(want)
