"""NP.RESHAPE and NP.TRANSPOSE against NumPy as the oracle: after each, the
stored value is byte-for-byte np.save of arr.reshape(shape) / arr.T, and
errors carry NumPy's own text."""

from __future__ import annotations

import random

import numpy as np
import pytest
import redis

from npy_bytes import npy

DTYPES = ["u1", "<i2", ">i4", "<f2", "<f8", ">c8", "S3", "<U2", "M8[s]", [("a", "<i2"), ("b", "S1")], "?"]


def random_array(rng: random.Random) -> np.ndarray:
    ndim = rng.choice([0, 1, 2, 2, 3, 4])
    shape = tuple(rng.choice([0, 1, 2]) if rng.random() < 0.15 else rng.randint(1, 5) for _ in range(ndim))
    dtype = np.dtype(rng.choice(DTYPES))
    size = int(np.prod(shape))
    arr = np.frombuffer(rng.randbytes(size * dtype.itemsize), dtype=dtype).reshape(shape)
    if dtype.kind == "b":
        arr = (arr.view(np.uint8) & 1).astype(bool)
    return np.asfortranarray(arr) if rng.random() < 0.5 else arr


def random_shape(rng: random.Random, size: int) -> tuple[int, ...]:
    """Often a valid factorisation of size (with -1 now and then), sometimes not."""
    dims: list[int] = []
    rest = size
    for _ in range(rng.randint(0, 4)):
        divisors = [d for d in range(1, 7) if rest % d == 0] if rest else [0, 1, 2]
        d = rng.choice(divisors)
        dims.append(d)
        rest = rest // d if d else rest
    if rng.random() < 0.7:
        dims.append(rest)
    if dims and rng.random() < 0.4:
        dims[rng.randrange(len(dims))] = -1
    if rng.random() < 0.1:
        dims.append(rng.randint(-2, 3))
    if rng.random() < 0.3:
        dims.insert(rng.randint(0, len(dims)), 1)
    return tuple(dims)


def shape_text(rng: random.Random, shape: tuple[int, ...]) -> str:
    if rng.random() < 0.5:
        return repr(shape)
    return ",".join(str(d) for d in shape)


def test_reshape_and_transpose_equal_numpy(r):
    rng = random.Random(11)
    reshaped = errors = transposed = 0
    for _ in range(500):
        arr = random_array(rng)
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(4):
            if rng.random() < 0.3:
                arr = arr.T
                assert r.execute_command("NP.TRANSPOSE", "a") == list(arr.shape)
                transposed += 1
            else:
                shape = random_shape(rng, arr.size)
                try:
                    want = arr.reshape(shape)
                except ValueError as err:
                    with pytest.raises(redis.ResponseError) as got:
                        r.execute_command("NP.RESHAPE", "a", shape_text(rng, shape))
                    assert str(got.value) == str(err), (arr.shape, shape)
                    errors += 1
                    continue
                assert r.execute_command("NP.RESHAPE", "a", shape_text(rng, shape)) == list(want.shape)
                arr = want
                reshaped += 1
            assert r.execute_command("NP.GET", "a") == npy(arr), (arr.shape, arr.flags.f_contiguous)
    assert reshaped > 600 and errors > 100 and transposed > 300


def test_big_arrays_keep_their_bytes(r):
    arr = np.arange(1 << 22, dtype=np.float32)  # 16 MiB
    r.execute_command("NP.SET", "big", npy(arr))
    for shape in ["1024, -1", "(-1, 8, 8)", "4194304"]:
        assert r.execute_command("NP.RESHAPE", "big", shape) == list(arr.reshape(eval(shape)).shape)
    r.execute_command("NP.RESHAPE", "big", "2048, 2048")
    r.execute_command("NP.TRANSPOSE", "big")
    assert r.execute_command("NP.GET", "big") == npy(arr.reshape(2048, 2048).T)
    r.execute_command("NP.RESHAPE", "big", "-1")  # Fortran order: NumPy copies
    assert r.execute_command("NP.GET", "big") == npy(arr.reshape(2048, 2048).T.reshape(-1))


def test_refusals_leave_the_value(r):
    arr = np.arange(6.0).reshape(2, 3)
    r.execute_command("NP.SET", "a", npy(arr))
    for args, message in [
        (("NP.RESHAPE", "a", "4"), "cannot reshape array of size 6 into shape (4,)"),
        (("NP.RESHAPE", "a", "-1, -1"), "can only specify one unknown dimension"),
        (("NP.RESHAPE", "a", "2 3"), "invalid shape"),
        (("NP.RESHAPE", "a", "(2, 3"), "unbalanced parentheses"),
        (("NP.RESHAPE", "a", ",".join(["1"] * 65)), "maximum supported dimension"),
        (("NP.RESHAPE", "nokey", "6"), "no such key"),
        (("NP.TRANSPOSE", "nokey"), "no such key"),
        (("NP.RESHAPE", "a"), "wrong number of arguments"),
        (("NP.TRANSPOSE", "a", "b"), "wrong number of arguments"),
    ]:
        with pytest.raises(redis.ResponseError, match=message.replace("(", r"\(").replace(")", r"\)")):
            r.execute_command(*args)
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.RESHAPE", "s", "1")
    assert r.execute_command("NP.GET", "a") == npy(arr)
