"""What a NumPy user expects of the client: Python scalars cast as `arr[i] = 0.0`
casts them, `info()["descr"]` as np.save's header holds it, appends that set a
TTL, NP.TRIM and NP.RESERVE, and argument errors that name `Numpy`."""

from __future__ import annotations

import asyncio
import datetime
import warnings

import numpy as np
import pytest
import redis.asyncio

from npy_bytes import npy
from redis_numpy import Numpy, NumpyError


@pytest.mark.parametrize(
    "dtype, index, value",
    [
        (np.float32, np.s_[1:], 0.0),
        (np.float32, np.s_[2], 1.1),  # rounds to float32 as NumPy does
        (np.int16, np.s_[::2], 7),
        (np.int64, np.s_[0], 2.9),  # truncated, as arr[0] = 2.9
        (np.uint8, np.s_[:3], [1, 2, 3]),
        (np.bool_, np.s_[1], 1),
        (np.complex64, np.s_[3], 2.5),
        ("<U3", np.s_[0], "hello"),  # cut to the stored length
        (">f8", np.s_[[0, 2]], (1.5, -2.5)),
    ],
)
def test_setslice_casts_python_values_as_numpy_assignment_does(arrays, r, dtype, index, value):
    stored = np.zeros(5, dtype=dtype)
    arrays.set("a", stored)
    want = stored.copy()
    want[index] = value
    assert arrays.setslice("a", index, value) is True
    assert r.execute_command("NP.GET", "a") == npy(want)


def test_setslice_refuses_what_numpy_refuses_and_other_dtypes_of_arrays(arrays, r):
    arrays.set("a", np.zeros(3, np.uint8))
    want = np.zeros(3, np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 1.24-1.26 wrap 300 with a warning
        try:
            want[0] = 300  # NumPy 2 raises OverflowError
        except OverflowError:
            with pytest.raises(OverflowError):
                arrays.setslice("a", 0, 300)
        else:
            arrays.setslice("a", 0, 300)
    assert r.execute_command("NP.GET", "a") == npy(want)
    with pytest.raises(NumpyError, match="dtype"):  # an array is not cast: the server says why
        arrays.setslice("a", 0, np.float64(1.0))
    assert r.execute_command("NP.GET", "a") == npy(want)


def test_asyncio_setslice_casts_python_values(redis_server, r):
    async def main():
        arrays = Numpy(redis.asyncio.Redis(port=redis_server.port))
        await arrays.set("a", np.zeros(4, np.float32))
        assert await arrays.setslice("a", np.s_[1:3], 0.5) is True
        await arrays.aclose()

    asyncio.run(main())
    assert r.execute_command("NP.GET", "a") == npy(np.array([0, 0.5, 0.5, 0], np.float32))


def test_info_descr_is_the_headers_value_not_its_text(arrays):
    arrays.set("a", np.zeros(2, "<f4"))
    assert arrays.info("a")["descr"] == "<f4" == np.lib.format.dtype_to_descr(np.dtype("<f4"))
    structured = np.zeros(2, [("x", "<i4"), ("y", ">f8", (2,))])
    arrays.set("s", structured)
    info = arrays.info("s")
    assert info["descr"] == np.lib.format.dtype_to_descr(structured.dtype)
    assert info["dtype"] == structured.dtype


def test_append_can_set_a_ttl_atomically(arrays, r):
    row = np.ones((1, 3), np.float32)
    assert arrays.append("log", row, ex=100) == 1
    assert 98 <= r.ttl("log") <= 100
    assert arrays.append("log", row) == 2
    assert 98 <= r.ttl("log") <= 100  # NP.APPEND keeps it
    assert arrays.append("log", row, px=datetime.timedelta(seconds=50), maxlen=2) == 2
    assert 48_000 <= r.pttl("log") <= 50_000
    at = int(datetime.datetime.now().timestamp()) + 300
    assert arrays.append("log", row, exat=at) == 3
    assert 298 <= r.ttl("log") <= 300
    with pytest.raises(redis.DataError, match="mutually exclusive"):
        arrays.append("log", row, ex=1, px=1)
    with pytest.raises(NumpyError, match=r"^cannot append: dtype '<i4' does not match the stored '<f4'"):
        arrays.append("log", np.ones((1, 3), np.int32), ex=5)
    assert 298 <= r.ttl("log") <= 300 and arrays.shape("log") == (3, 3)  # refused: nothing changed
    with arrays.pipeline() as pipe:
        pipe.append("log", row, ex=7).shape("log")
        assert pipe.execute() == [4, (4, 3)]
    assert r.ttl("log") == 7


def test_trim_and_reserve(arrays, r):
    arrays.set("log", np.arange(10.0).reshape(5, 2))
    assert arrays.reserve("log", 100) is True
    assert arrays.trim("log", 2) == 2
    assert r.execute_command("NP.GET", "log") == npy(np.arange(10.0).reshape(5, 2)[-2:])
    assert arrays.trim("nosuchkey", 3) == 0
    with pytest.raises(NumpyError, match="no such key"):
        arrays.reserve("nosuchkey", 3)


def test_argument_errors_name_the_class_users_call(arrays):
    with pytest.raises(TypeError, match=r"^Numpy\.set\(\) missing 1 required positional argument: 'arr'"):
        arrays.set("k")
    with pytest.raises(TypeError, match=r"^Numpy\.reshape\(\) missing"):
        arrays.reshape("k")
    with pytest.raises(TypeError, match=r"^Numpy\.append\(\) got an unexpected keyword argument 'ttl'"):
        arrays.append("k", np.ones(2), ttl=5)
