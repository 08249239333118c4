"""NP.REDUCE against NumPy as the oracle: random arrays of every dtype NumPy
reduces (bool, ints, float16/32/64, complex, datetime/timedelta, both byte
orders, C and Fortran order), random axes and slices. Integer, bool, index and
datetime results are byte-for-byte np.save of NumPy's result; float results
have NumPy's dtype, shape and order and are equal or within one ulp."""

from __future__ import annotations

import io
import os
import random
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer

DTYPES = ["?", "i1", "<i2", ">i4", "<i8", "u1", "<u2", "<u4", "<u8", "<f2", "<f4", ">f8", "<f8", "<c8", ">c16",
          "<M8[s]", "<m8[ms]"]
OPS = ["sum", "prod", "mean", "min", "max", "argmin", "argmax", "std", "var", "count_nonzero", "any", "all"]
AS_TARGETS = ["bool", "int8", "int32", "uint16", "int64", "float16", "float32", "float64", "complex64", "complex128"]


def random_values(rng: np.random.Generator, dtype: np.dtype, size: int) -> np.ndarray:
    kind = dtype.kind
    if kind == "b":
        return rng.integers(0, 2, size).astype(bool)
    if kind in "iu":
        info = np.iinfo(dtype)
        if rng.random() < 0.5:
            return rng.integers(0, 4, size).astype(dtype)  # products stay small, ties are common
        return rng.integers(info.min, info.max, size, dtype=dtype.newbyteorder("="), endpoint=True).astype(dtype)
    if kind in "fc":
        scale = rng.choice([1.0, 1e3, 1e-3])
        values = rng.standard_normal(size) * scale
        if kind == "c":
            values = values + 1j * rng.standard_normal(size) * scale
        if rng.random() < 0.1 and size:
            values[rng.integers(0, size, 2)] = np.nan
        if rng.random() < 0.2:
            values = np.round(values)  # exact sums and ties
        return values.astype(dtype)
    values = rng.integers(-(10 ** 9), 10 ** 9, size)
    out = values.astype(dtype)
    if rng.random() < 0.1 and size:
        out[rng.integers(0, size)] = np.array("NaT", dtype)
    return out


def random_array(rng: np.random.Generator, pyrng: random.Random) -> np.ndarray:
    dtype = np.dtype(pyrng.choice(DTYPES))
    if pyrng.random() < 0.1:
        shape: tuple[int, ...] = (pyrng.randint(100, 20000),)  # long lanes: pairwise summation
    else:
        ndim = pyrng.choice([0, 1, 2, 2, 3, 4])
        shape = tuple(pyrng.choice([0, 1]) if pyrng.random() < 0.1 else pyrng.randint(1, 7) for _ in range(ndim))
        if ndim == 2 and pyrng.random() < 0.3:
            shape = (pyrng.randint(1, 4), pyrng.randint(100, 600))
    arr = random_values(rng, dtype, int(np.prod(shape))).reshape(shape)
    return np.asfortranarray(arr) if pyrng.random() < 0.4 else arr


def random_slice(pyrng: random.Random, ndim: int) -> tuple[str, tuple]:
    parts: list[tuple[str, object]] = []
    for _ in range(pyrng.randint(0, ndim)):
        if pyrng.random() < 0.2:
            parts.append(("0", 0))
        else:
            start, step = pyrng.choice([None, 1, -3]), pyrng.choice([None, 2, -1])
            text = ("" if start is None else str(start)) + "::" + ("" if step is None else str(step))
            parts.append((text, slice(start, None, step)))
    return ", ".join(t for t, _ in parts), tuple(p for _, p in parts)


def numpy_reduce(arr: np.ndarray, op: str, axis: int | tuple[int, ...] | None, dtype: str | None,
                 ddof: int | None = None):
    kwargs: dict = {} if dtype is None else {"dtype": dtype}
    if ddof is not None:
        kwargs["ddof"] = ddof
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = getattr(np, op)(arr, axis=axis, **kwargs)
    return np.asarray(result) if np.ndim(result) == 0 else result


def load(reply: bytes) -> np.ndarray:
    return np.load(io.BytesIO(reply), allow_pickle=False)


def header(npy_bytes: bytes) -> bytes:
    return npy_bytes[: len(npy_bytes) - len(load(npy_bytes).tobytes(order="A"))]


def ulps_apart(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal, or within one ulp, or both NaN, part by part."""
    if got.dtype.kind == "c":
        return ulps_apart(got.real, want.real) and ulps_apart(got.imag, want.imag)
    got, want = got.astype(want.dtype.newbyteorder("=")), want.astype(want.dtype.newbyteorder("="))
    both_nan = np.isnan(got) & np.isnan(want)
    close = np.abs(got.astype(np.float64) - want.astype(np.float64)) <= np.spacing(np.abs(want)).astype(np.float64)
    return bool(np.all(both_nan | (got == want) | close))


STRICT = True  # a development run sets this False to list every mismatch
MISMATCHES: list[tuple] = []


def check(r, arr: np.ndarray, op: str, axis: int | tuple[int, ...] | None, spec: str | None, index: tuple,
          dtype: str | None, counts: dict[str, int], ddof: int | None = None) -> None:
    args = ["NP.REDUCE", "a", op]
    if isinstance(axis, tuple):
        args += ["AXIS", *map(str, axis)]
    elif axis is not None:
        args += ["AXIS", str(axis)]
    if ddof is not None:
        args += ["DDOF", str(ddof)]
    if spec is not None:
        args += ["SLICE", spec]
    if dtype is not None:
        args += ["AS", dtype]
    try:
        source = arr[index] if spec is not None else arr
        want = numpy_reduce(source, op, axis, dtype, ddof)
    except (ValueError, TypeError, IndexError) as err:
        with pytest.raises(redis.ResponseError) as got_err:
            r.execute_command(*args)
        if not STRICT and str(got_err.value) != str(err):
            MISMATCHES.append(((arr.dtype, arr.shape, op, axis), str(got_err.value), str(err)))
        assert STRICT is False or str(got_err.value) == str(err), (arr.dtype, arr.shape, op, axis)
        counts["errors"] += 1
        return
    got = r.execute_command(*args)
    expected = npy(want)
    if got == expected:
        counts["exact"] += 1
        return
    context = (arr.dtype, arr.shape, arr.flags.f_contiguous, op, axis, spec, dtype, ddof)
    if not STRICT:
        ok = header(got) == header(expected) and want.dtype.kind in "fc" and ulps_apart(load(got), want)
        if not ok:
            MISMATCHES.append((context, load(got), want))
        return
    assert header(got) == header(expected), context
    assert want.dtype.kind in "fc", context  # integers, bools, indices and times are exact
    assert ulps_apart(load(got), want), (context, load(got), want)
    counts["within_ulp"] += 1


def test_reductions_match_numpy(r):
    rng, pyrng = np.random.default_rng(5), random.Random(5)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    for _ in range(400):
        arr = random_array(rng, pyrng)
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(6):
            op = pyrng.choice(OPS)
            axis = None if pyrng.random() < 0.3 or arr.ndim == 0 else pyrng.randint(-arr.ndim, arr.ndim - 1)
            if pyrng.random() < 0.03:
                axis = arr.ndim  # out of bounds
            spec, index = (None, ()) if pyrng.random() < 0.7 else random_slice(pyrng, arr.ndim)
            if spec is not None and axis is not None:
                try:
                    axis = axis if axis < np.ndim(arr[index]) else None
                except IndexError:
                    pass  # the server must give NumPy's IndexError

            check(r, arr, op, axis, spec, index, None, counts)
    print(counts)
    assert counts["exact"] > 1500 and counts["errors"] > 50
    assert counts["within_ulp"] < counts["exact"] / 10


def test_as_dtype_is_numpys_dtype_argument(r):
    rng, pyrng = np.random.default_rng(6), random.Random(6)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    for _ in range(150):
        arr = random_array(rng, pyrng)
        if arr.dtype.kind in "mMc":
            continue  # NumPy warns or refuses; covered below
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(3):
            op = pyrng.choice(["sum", "prod", "mean"])
            axis = None if arr.ndim == 0 or pyrng.random() < 0.5 else pyrng.randrange(arr.ndim)
            target = pyrng.choice(AS_TARGETS)
            if op == "mean" and arr.size == 0 and np.dtype(target).kind in "biu":
                continue  # NaN cast to an integer: C leaves it undefined
            check(r, arr, op, axis, None, (), target, counts)
    assert counts["exact"] > 200


NAN_OPS = ["nansum", "nanprod", "nanmean", "nanmin", "nanmax", "nanargmin", "nanargmax", "nanstd", "nanvar"]


def random_axes(pyrng: random.Random, ndim: int) -> tuple[int, ...]:
    """Two or more distinct axes, some negative; now and then a repeat or one out of bounds."""
    chosen = pyrng.sample(range(ndim), pyrng.randint(2, ndim))
    axes = [a - ndim if pyrng.random() < 0.3 else a for a in chosen]
    if pyrng.random() < 0.05:
        axes.append(axes[0] - ndim if axes[0] >= 0 else axes[0] + ndim)  # the same axis again
    if pyrng.random() < 0.05:
        axes.insert(pyrng.randrange(len(axes) + 1), pyrng.choice([ndim, -ndim - 1]))
    return tuple(axes)


def test_several_axes_match_numpy(r):
    """axis=(a, b, …): NumPy's iterator order decides float sums, so float32
    arrays of shapes where the reduced axes are not neighbours in memory are
    the cases that show it."""
    rng, pyrng = np.random.default_rng(7), random.Random(7)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    for _ in range(300):
        arr = random_array(rng, pyrng)
        if arr.ndim < 2:
            shape = tuple(pyrng.randint(1, 40) for _ in range(pyrng.choice([2, 3, 4])))
            arr = random_values(rng, np.dtype(pyrng.choice(["<f4", "<f2", "<f8", "<i4", "<c8"])), int(np.prod(shape)))
            arr = arr.reshape(shape) if pyrng.random() < 0.6 else np.asfortranarray(arr.reshape(shape))
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(5):
            op = pyrng.choice(OPS + NAN_OPS)
            spec, index = (None, ()) if pyrng.random() < 0.8 else random_slice(pyrng, arr.ndim)
            try:
                ndim = np.ndim(arr[index])
            except IndexError:
                ndim = arr.ndim
            axis = random_axes(pyrng, ndim) if ndim >= 2 else None
            check(r, arr, op, axis, spec, index, None, counts)
    print(counts)
    assert counts["exact"] > 1000 and counts["errors"] > 100
    assert counts["within_ulp"] < counts["exact"] / 20


def test_float32_sums_over_several_axes_are_bit_exact(r):
    """Reduced axes apart in memory (kept, reduced, kept, reduced and the
    like), long enough for pairwise blocks: the sums are NumPy's bit for bit."""
    rng = np.random.default_rng(8)
    for shape, axes in [((3, 300, 5, 200), (1, 3)), ((300, 4, 200), (0, 2)), ((5, 130, 3, 7), (0, 2)),
                        ((2, 3, 257, 4), (-1, 0, 2)), ((6, 5, 4, 3), (0, 1, 3)), ((2, 2, 2, 2, 2), (0, 2, 4))]:
        for fortran in [False, True]:
            arr = (rng.standard_normal(shape) * rng.choice([1.0, 1e4], shape)).astype(np.float32)
            arr = np.asfortranarray(arr) if fortran else arr
            r.execute_command("NP.SET", "a", npy(arr))
            args = ["AXIS", *map(str, axes)]
            for op in ["sum", "nansum", "prod", "min", "max"]:
                want = numpy_reduce(arr, op, axes, None)
                assert r.execute_command("NP.REDUCE", "a", op, *args) == npy(want), (shape, axes, fortran, op)
            for op in ["mean", "var", "std", "nanmean", "nanvar"]:
                got, want = load(r.execute_command("NP.REDUCE", "a", op, *args)), numpy_reduce(arr, op, axes, None)
                assert header(npy(got)) == header(npy(want)) and ulps_apart(got, want), (shape, axes, fortran, op)


def test_ddof_matches_numpy(r):
    rng, pyrng = np.random.default_rng(9), random.Random(9)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    for _ in range(120):
        arr = random_array(rng, pyrng)
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(4):
            op = pyrng.choice(["var", "std", "nanvar", "nanstd"])
            if arr.ndim == 0 or pyrng.random() < 0.3:
                axis: int | tuple[int, ...] | None = None
            elif arr.ndim >= 2 and pyrng.random() < 0.3:
                axis = random_axes(pyrng, arr.ndim)
            else:
                axis = pyrng.randrange(arr.ndim)
            n = arr.size if axis is None else int(np.prod([arr.shape[a] for a in np.atleast_1d(axis)
                                                           if -arr.ndim <= a < arr.ndim]))
            ddof = pyrng.choice([-1, 0, 1, 2, n - 1, n, n + 3])
            check(r, arr, op, axis, None, (), None, counts, ddof=ddof)
    print(counts)
    assert counts["exact"] > 200


def test_nan_reductions_match_numpy(r):
    """Many NaNs, whole slices of them, and dtypes without NaN (where the nan
    ops are the plain ones, except that nanmin and nanmax skip NaT)."""
    rng, pyrng = np.random.default_rng(10), random.Random(10)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    for _ in range(300):
        arr = random_array(rng, pyrng)
        if arr.dtype.kind in "fc" and arr.size and pyrng.random() < 0.7:
            arr = arr.copy()
            flat = arr.reshape(-1, order="A")
            flat[rng.random(arr.size) < pyrng.choice([0.1, 0.5, 0.9])] = np.nan
            if arr.ndim >= 2 and pyrng.random() < 0.5:
                arr[pyrng.randrange(arr.shape[0])] = np.nan  # an all-NaN slice
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(5):
            op = pyrng.choice(NAN_OPS)
            axis = None if arr.ndim == 0 or pyrng.random() < 0.3 else pyrng.randint(-arr.ndim, arr.ndim - 1)
            check(r, arr, op, axis, None, (), None, counts)
    print(counts)
    assert counts["exact"] > 1000 and counts["errors"] > 20
    assert counts["within_ulp"] < counts["exact"] / 20


def test_nan_reductions_with_as(r):
    rng, pyrng = np.random.default_rng(12), random.Random(12)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    for _ in range(80):
        arr = random_array(rng, pyrng)
        if arr.dtype.kind in "mMc":
            continue
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(3):
            op = pyrng.choice(["nansum", "nanprod", "nanmean", "nanvar"])
            target = pyrng.choice(AS_TARGETS + [arr.dtype.newbyteorder("=").name])
            if op == "nanmean" and arr.size == 0 and np.dtype(target).kind in "biu":
                continue  # NaN cast to an integer: C leaves it undefined
            if op == "nanvar" and arr.dtype.kind == "f" and np.dtype(target).kind in "fc" and \
                    np.dtype(target).itemsize > arr.dtype.itemsize:
                continue  # the deviations are rounded to the input's dtype in NumPy: see the docs
            if op == "nanvar" and np.dtype(target).kind == "c" and arr.dtype.kind != "c":
                continue  # refused: test_refusals_speak_numpy
            if op == "nanvar" and np.dtype(target).kind in "biu" and (arr.dtype.kind != "f" or target == "bool"):
                continue  # refused: see the docs
            axis = None if arr.ndim == 0 or pyrng.random() < 0.5 else pyrng.randrange(arr.ndim)
            check(r, arr, op, axis, None, (), target, counts)
    assert counts["exact"] > 80


def test_var_and_std_with_as_match_numpy(r):
    """np.var(a, dtype=...) and np.std: an integer dtype on integer and bool
    data computes in that dtype (wrapping, truncating), a float dtype casts
    first, a complex dtype gives a complex result."""
    rng, pyrng = np.random.default_rng(14), random.Random(14)
    counts = {"exact": 0, "within_ulp": 0, "errors": 0}
    targets = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
               "float64", "complex64", "complex128"]
    for _ in range(150):
        arr = random_array(rng, pyrng)
        if arr.dtype.kind in "mM" or arr.size == 0:
            continue  # NaN or infinity cast to an integer: C leaves it undefined
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(4):
            op, target = pyrng.choice(["var", "std"]), pyrng.choice(targets)
            if np.dtype(target).kind in "iu" and arr.dtype.kind in "fc" or \
                    arr.dtype.kind == "c" and np.dtype(target).kind != "c":
                continue  # refused: see the docs
            if np.dtype(target).kind == "c" and np.result_type(arr.dtype, target) != np.dtype(target):
                continue  # NumPy's deviations are in the wider dtype; the module casts first: see the docs
            if arr.ndim == 0 or pyrng.random() < 0.4:
                axis: int | tuple[int, ...] | None = None
            elif arr.ndim >= 2 and pyrng.random() < 0.4:
                axis = tuple(pyrng.sample(range(arr.ndim), 2))
            else:
                axis = pyrng.randrange(arr.ndim)
            n = arr.size if axis is None else int(np.prod([arr.shape[a] for a in np.atleast_1d(axis)]))
            ddof = pyrng.choice([None, 0, 1, -2]) if n > 2 else None
            check(r, arr, op, axis, None, (), target, counts, ddof=ddof)
    print(counts)
    assert counts["exact"] > 250 and counts["errors"] > 10


def test_refusals_speak_numpy(r):
    r.execute_command("NP.SET", "a", npy(np.arange(24.0).reshape(2, 3, 4)))
    for args, want in [
        (("AXIS", "1", "1"), "duplicate value in 'axis'"),
        (("AXIS", "1", "-2"), "duplicate value in 'axis'"),
        (("AXIS", "0", "3"), "axis 3 is out of bounds for array of dimension 3"),
        (("AXIS", "-4", "0"), "axis -4 is out of bounds for array of dimension 3"),
        (("AS", ">i4"), "The `dtype` and `signature` arguments to ufuncs only select the general DType and not "
                        "details such as the byte order or time unit. You can avoid this error by using the scalar "
                        "types `np.float64` or the dtype string notation."),
    ]:
        with pytest.raises(redis.ResponseError) as err:
            r.execute_command("NP.REDUCE", "a", "sum", *args)
        assert str(err.value) == want
    for op, args, want in [
        ("argmax", ("AXIS", "0", "1"), "'tuple' object cannot be interpreted as an integer"),
        ("nanargmin", ("AXIS", "0", "1"), "'tuple' object cannot be interpreted as an integer"),
        ("mean", ("AXIS", "1", "1", "5"), "axis 5 is out of bounds for array of dimension 3"),
        ("sum", ("AXIS", "1", "1", "5"), "axis 5 is out of bounds for array of dimension 3"),
        ("sum", ("DDOF", "1"), "DDOF applies to var, std, nanvar and nanstd (NumPy's ddof= argument)"),
        ("var", ("DDOF", "x"), "DDOF must be an integer, got \"x\""),
        ("nanvar", ("AS", "int64"), "If a is inexact, then dtype must be inexact"),
        ("std", ("AS", "bool"), "var and std AS an integer dtype apply to integer and bool arrays; AS bool to sum, "
                                "prod and mean"),
        ("nanvar", ("AS", "complex64"), "AS a complex dtype applies to nanvar and nanstd of complex arrays only"),
    ]:
        with pytest.raises(redis.ResponseError) as err:
            r.execute_command("NP.REDUCE", "a", op, *args)
        assert str(err.value) == want, op
    r.execute_command("NP.SET", "n", npy(np.array([[np.nan, 1.0], [np.nan, np.nan]])))
    with pytest.raises(redis.ResponseError, match="^All-NaN slice encountered$"):
        r.execute_command("NP.REDUCE", "n", "nanargmax", "AXIS", "1")
    r.execute_command("NP.SET", "n", npy(np.array([[np.nan, 1.0], [2.0, np.nan]])))
    assert r.execute_command("NP.REDUCE", "n", "nanargmax", "AXIS", "0") == npy(np.array([1, 0]))
    r.execute_command("NP.SET", "c", npy(np.array([1 + 2j, 3 - 1j])))
    with pytest.raises(redis.ResponseError, match="^var and std of complex arrays AS a real dtype are not implemented"):
        r.execute_command("NP.REDUCE", "c", "var", "AS", "float64")
    r.execute_command("NP.SET", "ld", npy(np.zeros(3, np.longdouble)))
    with pytest.raises(redis.ResponseError, match="does not compute in float128"):
        r.execute_command("NP.REDUCE", "ld", "sum")


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<f2", "<c8"])
def test_long_float_sums_are_pairwise_like_numpy(r, dtype):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal(1_000_003) * rng.choice([1.0, 1e4, 1e-4], 1_000_003)).astype(dtype)
    if arr.dtype.kind == "c":
        arr = arr + 1j * arr[::-1]
    r.execute_command("NP.SET", "a", npy(arr))
    for op in ["sum", "mean", "var", "std"]:
        got, want = load(r.execute_command("NP.REDUCE", "a", op)), numpy_reduce(arr, op, None, None)
        assert ulps_apart(got, want), (op, got, want)
    assert r.execute_command("NP.REDUCE", "a", "sum") == npy(np.sum(arr)), "pairwise sums are bit-exact"


def test_slices_bound_the_work(r):
    arr = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.REDUCE", "a", "sum", "SLICE", "1, :, ::2", "AXIS", "-1") == npy(arr[1, :, ::2].sum(-1))
    reply = r.execute_command("NP.REDUCE", "a", "max", "AXIS", "0", "VALUES")
    if isinstance(reply, list):  # RESP2: a flat field/value array
        reply = dict(zip(reply[::2], reply[1::2]))
    assert reply == {b"dtype": b"int16", b"shape": [3, 4], b"values": list(range(12, 24))}
    assert r.execute_command("NP.REDUCE", "nokey", "sum") is None


def test_option_errors(r):
    r.execute_command("NP.SET", "a", npy(np.arange(6.0)))
    for args, message in [
        (("NP.REDUCE", "a", "median"), "unknown reduction"),
        (("NP.REDUCE", "a", "sum", "AXIS", "x"), "AXIS must be an integer"),
        (("NP.REDUCE", "a", "sum", "AXIS", "0", "AXIS", "0"), "AXIS given twice"),
        (("NP.REDUCE", "a", "sum", "FOO"), "unknown NP.REDUCE option 'FOO'"),
        (("NP.REDUCE", "a", "sum", "AXIS"), "wrong number of arguments"),
        (("NP.REDUCE", "a", "max", "AS", "int8"), "AS applies to sum, prod, mean, var and std"),
        (("NP.REDUCE", "a", "sum", "AS", "banana"), "unknown dtype"),
        (("NP.REDUCE", "a", "sum", "SLICE", "9"), "index 9 is out of bounds for axis 0 with size 6"),
        (("NP.REDUCE", "a"), "wrong number of arguments"),
    ]:
        with pytest.raises(redis.ResponseError, match=message):
            r.execute_command(*args)
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.REDUCE", "s", "sum")
    s = np.array([b"ab"])
    r.execute_command("NP.SET", "b", npy(s))
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.REDUCE", "b", "max")
    assert str(err.value) == "ufunc 'maximum' did not contain a loop with signature matching types (dtype('S2'), dtype('S2')) -> None"


@pytest.fixture(scope="module", params=["dispatched", "avx2", "baseline"])
def r_isa(request) -> Iterator[redis.Redis]:
    """A server whose kernels use the best instruction set of this CPU (AVX-512
    where it has it), one held to AVX2 at most and one held to the baseline
    kernels (REDIS_NUMPY_DISABLE_CPU_FEATURES)."""
    saved = os.environ.pop("REDIS_NUMPY_DISABLE_CPU_FEATURES", None)
    disabled = {"dispatched": None, "avx2": "AVX512", "baseline": "AVX2"}[request.param]
    if disabled is not None:
        os.environ["REDIS_NUMPY_DISABLE_CPU_FEATURES"] = disabled
    try:
        server = RedisServer().start()
    finally:
        os.environ.pop("REDIS_NUMPY_DISABLE_CPU_FEATURES", None)
        if saved is not None:
            os.environ["REDIS_NUMPY_DISABLE_CPU_FEATURES"] = saved
    try:
        client = server.client()
        assert client.info("numpy")["numpy_simd_bits"] == expected_simd_bits(request.param)
        yield client
    finally:
        server.stop()


def expected_simd_bits(held_to: str) -> int:
    """The vector width a server should report in INFO numpy: that of the best
    instruction set of this CPU's (from /proc/cpuinfo's flags) that `held_to` leaves."""
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    has_avx2 = {"avx2", "fma"} <= set(flags)
    has_avx512 = has_avx2 and {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= set(flags)
    if has_avx512 and held_to == "dispatched":
        return 512
    if has_avx2 and held_to != "baseline":
        return 256
    return 128


def edge_cases(rng: np.random.Generator, n: int) -> Iterator[np.ndarray]:
    """Arrays of length n with the values the vectorised kernels must get right."""
    base = rng.standard_normal(n)
    yield base
    for at in sorted({0, 1, 7, 8, 16, n // 2, 2047, 2048, n - 1}):
        if at < n:
            x = base.copy()
            x[at] = np.nan
            yield x
    yield rng.choice([0.0, -0.0], n)
    yield rng.choice([0.0, -0.0, -1.0, -2.5], n)
    x = base.copy()
    x[n // 3], x[-1] = np.inf, -np.inf
    yield x
    yield rng.integers(0, 3, n).astype(np.float64)  # ties of the best value far apart
    yield np.full(n, 5.0)


EDGE_LENGTHS = [1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 2047, 2048, 2049, 4097, 100_003]
EDGE_OPS = ["sum", "mean", "min", "max", "argmin", "argmax", "any", "all", "count_nonzero", "var"]


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<i4", "u1", "?"])
def test_kernel_edges_match_numpy_on_every_instruction_set(r_isa, dtype):
    """Lengths around the kernels' block boundaries; NaN at various places,
    signed zeros, infinities and ties, on the dispatched and baseline kernels."""
    rng = np.random.default_rng(11)
    for n in EDGE_LENGTHS:
        for values in edge_cases(rng, n):
            if np.dtype(dtype).kind != "f":
                values = np.nan_to_num(values, posinf=100, neginf=-100)
            arr = values.astype(dtype)
            r_isa.execute_command("NP.SET", "a", npy(arr))
            for op in EDGE_OPS:
                got = r_isa.execute_command("NP.REDUCE", "a", op)
                want = numpy_reduce(arr, op, None, None)
                context = (dtype, n, op, arr[:12])
                if op in ("min", "max") and want == 0 and np.signbit(arr[arr == 0]).std() > 0:
                    # Both zeros present: which one is returned is documented as either.
                    assert load(got) == want, context
                elif op in ("mean", "var") or (op == "sum" and np.isnan(want)):
                    assert header(got) == header(npy(want)) and ulps_apart(load(got), want), context
                else:
                    assert got == npy(want), context
