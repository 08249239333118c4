"""NP.UPDATE against NumPy as the oracle: after `arr[spec] op= value` on the
server, the stored bytes equal np.save of the array NumPy's in-place ufunc
leaves (np.add(arr[spec], value, out=arr[spec]) for basic slices,
arr[spec] += value for integer lists), for random dtypes (bool, ints,
float16/32/64, complex, timedelta, both byte orders), orders, slices and
broadcast shapes; refusals carry NumPy's text and leave the array as it was;
replicas end byte-identical."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer
from replication import assert_replica_matches

DTYPES = ["?", "i1", "<i2", ">i4", "<i8", "u1", "<u2", "<u4", "<u8", "<f2", "<f4", ">f8", "<f8", "<c8", ">c16"]
UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "min": np.minimum,
          "max": np.maximum, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


def random_values(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    if dtype.kind == "b":
        values = rng.integers(0, 2, size).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size, dtype=dtype.newbyteorder("="), endpoint=True)
    else:
        values = rng.standard_normal(size) * rng.choice([1.0, 100.0])
        if dtype.kind == "c":
            values = values + 1j * rng.standard_normal(size)
        if rng.random() < 0.1 and size:
            values[rng.integers(0, size)] = np.nan
    return values.astype(dtype).reshape(shape)


def random_case(rng: np.random.Generator, pyrng: random.Random):
    ndim = pyrng.choice([0, 1, 2, 2, 3])
    shape = tuple(pyrng.randint(1, 5) for _ in range(ndim))
    arr = random_values(rng, np.dtype(pyrng.choice(DTYPES)), shape)
    if pyrng.random() < 0.4:
        arr = np.asfortranarray(arr)
    parts: list[tuple[str, object]] = []
    for axis in range(pyrng.randint(0, ndim)):
        r = pyrng.random()
        if r < 0.2:
            i = pyrng.randrange(shape[axis])
            parts.append((str(i), i))
        elif r < 0.3 and axis == 0:
            ix = [pyrng.randrange(shape[axis]) for _ in range(pyrng.randint(1, 3))]
            parts.append((repr(ix), ix))
        else:
            start, step = pyrng.choice([None, 1]), pyrng.choice([None, 2, -1])
            text = ("" if start is None else str(start)) + "::" + ("" if step is None else str(step))
            parts.append((text, slice(start, None, step)))
    spec = ", ".join(t for t, _ in parts)
    index = tuple(p for _, p in parts)
    target_shape = np.shape(arr[index])
    # Broadcastable value shapes: the target's trailing dims, some set to 1; now and then a misfit.
    vshape = list(target_shape[pyrng.randint(0, len(target_shape)):]) if target_shape else []
    vshape = [1 if pyrng.random() < 0.3 else d for d in vshape]
    if pyrng.random() < 0.05:
        vshape = vshape + [7]
    vdtype = np.dtype(pyrng.choice(DTYPES)) if pyrng.random() < 0.5 else arr.dtype
    value = random_values(rng, vdtype, tuple(vshape))
    if value.ndim > 1 and pyrng.random() < 0.3:
        value = np.asfortranarray(value)
    return arr, spec, index, value


def numpy_update(arr: np.ndarray, index: tuple, op: str, value: np.ndarray) -> np.ndarray:
    out = arr.copy(order="K")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if any(isinstance(i, list) for i in index):
            view = out[index]
            out[index] = UFUNCS[op](view, value, out=view, casting="same_kind")
        else:
            target = out[index]
            if np.ndim(target) == 0 and not isinstance(target, np.ndarray):
                target = out[index + (Ellipsis,)]
            UFUNCS[op](target, value, out=target, casting="same_kind")
    return out


def test_updates_match_numpy(r):
    rng, pyrng = np.random.default_rng(3), random.Random(3)
    done = refused = close = 0
    for _ in range(1500):
        arr, spec, index, value = random_case(rng, pyrng)
        op = pyrng.choice(list(UFUNCS))
        r.execute_command("NP.SET", "a", npy(arr))
        args = ["NP.UPDATE", "a", op, npy(value)] + (["SLICE", spec] if spec else [])
        try:
            want = numpy_update(arr, index, op, value)
        except (TypeError, ValueError) as err:
            with pytest.raises(redis.ResponseError) as got:
                r.execute_command(*args)
            assert str(got.value) == str(err), (arr.dtype, value.dtype, op, arr.shape, spec, value.shape)
            assert r.execute_command("NP.GET", "a") == npy(arr), "refusals leave the array"
            refused += 1
            continue
        assert r.execute_command(*args) == b"OK"
        got = r.execute_command("NP.GET", "a")
        if got != npy(want):
            # Complex products and quotients may round an ulp apart (fused multiply-adds).
            assert want.dtype.kind == "c" and op in ("mul", "div"), (arr.dtype, value.dtype, op, spec)
            stored = np.load(__import__("io").BytesIO(got))
            np.testing.assert_array_max_ulp(stored.real, want.real, maxulp=2)
            np.testing.assert_array_max_ulp(stored.imag, want.imag, maxulp=2)
            close += 1
            continue
        done += 1
    print(done, refused, close)
    assert done > 700 and refused > 200 and close < done / 20


def test_timedeltas_and_datetimes(r):
    arr = np.array(["2020-01-01", "NaT", "2021-06-01"], "M8[s]")
    r.execute_command("NP.SET", "t", npy(arr))
    step = np.array([3600, 1, -5], "m8[s]")
    r.execute_command("NP.UPDATE", "t", "add", "SLICE", ":", npy(step))  # the payload last, as redis-cli -x sends it
    assert r.execute_command("NP.GET", "t") == npy(arr + step)
    d = np.array([5, -7, 0], ">m8[ms]")
    r.execute_command("NP.SET", "d", npy(d))
    r.execute_command("NP.UPDATE", "d", "max", npy(np.array(1, ">m8[ms]")))
    np.maximum(d, np.array(1, ">m8[ms]"), out=d)
    assert r.execute_command("NP.GET", "d") == npy(d)
    with pytest.raises(redis.ResponseError, match="in the array's unit"):
        r.execute_command("NP.UPDATE", "t", "add", npy(np.array(1, "m8[ms]")))


def test_fast_path_and_errors(r):
    arr = np.arange(1 << 20, dtype=np.float32)
    r.execute_command("NP.SET", "big", npy(arr))
    r.execute_command("NP.UPDATE", "big", "add", npy(np.float32(0.5)))
    r.execute_command("NP.UPDATE", "big", "mul", npy(arr))
    assert r.execute_command("NP.GET", "big") == npy((arr + np.float32(0.5)) * arr)
    for args, message in [
        (("NP.UPDATE", "big", "pow", npy(arr)), "unknown operation"),
        (("NP.UPDATE", "big", "add", b"junk"), "invalid .npy"),
        (("NP.UPDATE", "big", "add", npy(np.float32(1)), "SLICES", "1"), "unknown NP.UPDATE option 'SLICES'"),
        (("NP.UPDATE", "big", "add", npy(np.float32(1)), "SLICE"), "wrong number of arguments"),
        (("NP.UPDATE", "big", "add", "SLICE", "1", "x"), "invalid .npy"),
        (("NP.UPDATE", "big", "add", npy(np.float32(1)), "SLICE", "2000000"), "out of bounds"),
        (("NP.UPDATE", "nokey", "add", npy(np.float32(1))), "no such key"),
        (("NP.UPDATE", "big", "and", npy(np.float32(1))), "ufunc 'bitwise_and' not supported"),
    ]:
        with pytest.raises(redis.ResponseError, match=message):
            r.execute_command(*args)
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.UPDATE", "s", "add", npy(np.float32(1)))


def test_many_writers_and_replicas_agree():
    with RedisServer() as master, RedisServer() as replica:
        m, s = master.client(), replica.client()
        replica.replicate_from(master)
        hist = np.zeros(16, dtype=">i8")
        m.execute_command("NP.SET", "h", npy(hist))
        rng = np.random.default_rng(0)
        pipe = m.pipeline(transaction=False)
        for _ in range(300):
            bins = rng.integers(0, 16, 3).tolist()
            pipe.execute_command("NP.UPDATE", "h", "add", npy(np.int64(1)), "SLICE", repr(bins))
            hist[bins] += 1
        f = np.asfortranarray(rng.standard_normal((5, 7)).astype(np.float32))
        pipe.execute_command("NP.SET", "f", npy(f))
        pipe.execute_command("NP.UPDATE", "f", "mul", npy(np.float64(1.1)), "SLICE", "::2, 1:")
        pipe.execute_command("NP.UPDATE", "f", "max", npy(np.zeros(7, np.float16)))
        pipe.execute_command("NP.UPDATE", "f", "div", npy(np.float32(3)))
        pipe.execute()
        np.multiply(f[::2, 1:], np.float64(1.1), out=f[::2, 1:], casting="same_kind")
        np.maximum(f, np.zeros(7, np.float16), out=f)
        f /= np.float32(3)
        assert_replica_matches(m, s, ["h", "f"])
        assert m.execute_command("NP.GET", "h") == npy(hist)
        assert m.execute_command("NP.GET", "f") == npy(f)


def test_complex_division_by_signed_zeros(r):
    """NumPy divides by fabs of a zero divisor's real part: `(1+1j) / -0.0` is inf+infj."""
    zeros = [0.0, -0.0]
    divisors = [complex(a, b) for a in zeros for b in zeros] + [-0.0, 0.0]
    for dtype in ("<c8", "<c16", ">c16"):
        arr = np.array([1 + 1j, -1 + 2j, 3 - 0j, -0.0 - 2j, 0j], dtype)
        for divisor in divisors:
            for value in (np.array(divisor, dtype), np.array(np.real(divisor), "<f8")):
                r.execute_command("NP.SET", "c", npy(arr))
                r.execute_command("NP.UPDATE", "c", "div", npy(value))
                with np.errstate(all="ignore"):
                    want = arr.copy()
                    np.true_divide(want, value, out=want, casting="same_kind")
                assert r.execute_command("NP.GET", "c") == npy(want), (dtype, divisor, value.dtype)
