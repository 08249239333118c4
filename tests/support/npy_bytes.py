"""The bytes `np.save` writes, for the tests to send and compare against."""

import io

import numpy as np
import numpy.typing


def npy(arr: np.typing.ArrayLike) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()
