"""The bytes `np.save` writes, for the tests to send and compare against."""

import io

import numpy as np


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()
