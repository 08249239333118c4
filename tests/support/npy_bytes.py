"""The bytes `np.save` writes, for the tests to send and compare against,
and arrays compared by them."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing


def npy(arr: np.typing.ArrayLike) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def assert_same(got: np.ndarray | np.generic, want: np.ndarray | np.generic) -> None:
    """`got` has `want`'s dtype, shape and bytes (NaN payloads and padding
    compare too), whatever the memory order of either."""
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    assert npy(np.ascontiguousarray(got)) == npy(np.ascontiguousarray(want))
