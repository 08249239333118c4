"""NP.GET … AS dtype and NP.GET … VALUES against NumPy as the oracle."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import redis

from npy_bytes import npy


NUMERIC = ["?", "i1", "i2", ">i4", "i8", "u1", "u2", "u4", ">u8", "f2", "f4", ">f8", "c8", "c16"]
TARGETS = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128", ">i2", ">f4", "<c8"]


def source(code: str) -> np.ndarray:
    """Values where NumPy's casts are well defined (no float → int overflow or NaN)."""
    values = np.array([0, 1, -1, 2.75, -3.5, 100.25, 126.9, -128.0, 255.0, 1e4 + 0.5, 65504.0, 1 / 3])
    arr = values.astype(np.dtype(code).newbyteorder("=")) if np.dtype(code).kind not in "biu" else values.astype(np.int64).astype(code)
    return np.asfortranarray(arr.reshape(3, 4).astype(code))


@pytest.mark.parametrize("code", NUMERIC)
@pytest.mark.parametrize("target", TARGETS)
def test_as_matches_astype(r, code, target):
    src = source(code)
    r.execute_command("NP.SET", "a", npy(src))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ComplexWarning, overflow on casting
        expected = src.astype(target)
    assert r.execute_command("NP.GET", "a", "AS", target) == npy(expected)


FLOATS = ["f2", "f4", ">f4", "f8", ">f8", "c8", ">c16"]
INT_TARGETS = ["int8", "uint8", "int16", ">u2", "int32", "uint32", "int64", "uint64", ">u8"]


def awkward_floats(code: str) -> np.ndarray:
    """Floats whose conversion to integers C leaves undefined: out of range, NaN, ±inf."""
    rng = np.random.default_rng(sum(map(ord, code)))
    special = [1e19, 2.0**63, 2.0**64 - 2048, 2.0**64, 1e20, -1e19, -(2.0**63), 9e15, -9e15, 4e9, -4e9, 2.0**32 + 5,
               1e5, -1e5, -1.0, 65504.0, 3e38, np.nan, np.inf, -np.inf]
    wide = np.concatenate([special, rng.uniform(-2e19, 2e19, 100), rng.uniform(-5e9, 5e9, 100),
                           rng.uniform(-7e4, 7e4, 100), rng.standard_normal(76) * 10.0 ** rng.integers(0, 25, 76)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = wide.astype(np.dtype(code))
        if arr.dtype.kind == "c":
            arr.imag = wide[::-1]  # an imaginary part that must be dropped
    return arr  # 396 elements: a multiple of 4, see below


@pytest.mark.parametrize("code", FLOATS)
@pytest.mark.parametrize("target", INT_TARGETS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_float_to_int_out_of_range_matches_numpy(r, code, target, order):
    src = awkward_floats(code)
    src = src.reshape(99, 4) if order == "C" else np.asfortranarray(src.reshape(4, 99))
    r.execute_command("NP.SET", "a", npy(src))
    # NumPy's float → uint32 loop is vectorised four elements at a time with a
    # scalar remainder that converts differently; with a multiple of 4 elements
    # every float32/float64 element takes the vectorised path, which the module
    # follows. Complex sources convert their real part: cast that, contiguous
    # (NumPy casts complex arrays in runs that end in the scalar loop).
    base = src.real.copy(order="K") if src.dtype.kind == "c" else src
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = base.astype(target, order="K")
    assert r.execute_command("NP.GET", "a", "AS", target) == npy(expected)


def test_float_to_uint64_is_exact_through_values(r):
    r.execute_command("NP.SET", "a", npy(np.array([1e19, 2.0**63, 2.0**64 - 2048], dtype=np.float64)))
    reply = r.execute_command("NP.GET", "a", "AS", "uint64", "VALUES")
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    assert [int(v) for v in dict(pairs)[b"values"]] == [10**19, 2**63, 2**64 - 2048]
    r.execute_command("NP.SET", "b", npy(np.array([9e15, np.nan], dtype=np.float32)))
    assert r.execute_command("NP.GET", "b", "AS", "int32") == npy(np.array([-(2**31)] * 2, dtype=np.int32))


def as_python(reply, dtype: np.dtype):
    if dtype.kind == "c":
        return [complex(float(re), float(im)) for re, im in reply]
    if dtype.kind == "f":
        return [float(v) for v in reply]
    if dtype.kind == "S":
        return list(reply)
    if dtype.kind == "U":
        return [v.decode() for v in reply]
    return [int(v) for v in reply]


@pytest.mark.parametrize("code", NUMERIC + ["S4", ">U3", "M8[s]", "m8[ms]"])
def test_values_are_row_major_and_exact(r, code):
    dt = np.dtype(code)
    if dt.kind == "S":
        src = np.array([[b"ab", b""], [b"xyz", b"q\x00r"]], dtype=dt)
    elif dt.kind == "U":
        src = np.array([["é", ""], ["λz", "abc"]], dtype=dt)
    elif dt.kind in "Mm":
        src = np.array([[0, 1], [-5, 2**40]]).astype(dt)
    else:
        src = source(code)[:2, :2]
    src = np.asfortranarray(src)
    r.execute_command("NP.SET", "a", npy(src))
    reply = r.execute_command("NP.GET", "a", "VALUES")
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    fields = {k.decode(): v for k, v in pairs}
    assert fields["dtype"].decode() == dt.name
    assert tuple(fields["shape"]) == src.shape
    flat = src.ravel(order="C")
    expected = flat.view(np.int64).tolist() if dt.kind in "Mm" else flat.tolist()
    assert as_python(fields["values"], dt) == expected


def test_values_over_resp3_use_native_types(redis_server):
    r3 = redis_server.client(protocol=3)
    r3.execute_command("NP.SET", "b", npy(np.array([True, False])))
    r3.execute_command("NP.SET", "f", npy(np.array([1.5, np.inf], dtype=np.float32)))
    r3.execute_command("NP.SET", "u", npy(np.array([2**64 - 1], dtype=np.uint64)))
    assert r3.execute_command("NP.GET", "b", "VALUES")[b"values"] == [True, False]
    assert r3.execute_command("NP.GET", "f", "VALUES")[b"values"] == [1.5, float("inf")]
    assert int(r3.execute_command("NP.GET", "u", "VALUES")[b"values"][0]) == 2**64 - 1


def test_as_and_values_combine(r):
    r.execute_command("NP.SET", "a", npy(np.array([1.7, -2.2])))
    reply = r.execute_command("NP.GET", "a", "VALUES", "AS", "int8")
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    assert dict(pairs)[b"values"] == [1, -2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["AS", "banana"], "unknown dtype"),
        (["AS", "<M8[s]"], "AS supports"),
        (["AS"], "wrong number of arguments"),
        (["SIDEWAYS"], "unknown NP.GET option 'SIDEWAYS'"),
        (["VALUES", "VALUES"], "VALUES given twice"),
    ],
)
def test_option_errors(r, args, message):
    r.execute_command("NP.SET", "a", npy(np.zeros(2)))
    with pytest.raises(redis.ResponseError, match=message):
        r.execute_command("NP.GET", "a", *args)


def test_unsupported_dtypes(r):
    r.execute_command("NP.SET", "s", npy(np.zeros(2, dtype=[("a", "<i4")])))
    with pytest.raises(redis.ResponseError, match="VALUES is not supported for dtype void32"):
        r.execute_command("NP.GET", "s", "VALUES")
    with pytest.raises(redis.ResponseError, match="AS is not supported"):
        r.execute_command("NP.GET", "s", "AS", "int8")
    r.execute_command("NP.SET", "big", npy(np.zeros(1_000_001, dtype=np.uint8)))
    with pytest.raises(redis.ResponseError, match="use SLICE"):
        r.execute_command("NP.GET", "big", "VALUES")
