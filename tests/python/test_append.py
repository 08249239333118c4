"""NP.APPEND against NumPy: the stored array must equal np.concatenate along
the growth axis, byte for byte as np.save writes it."""

from __future__ import annotations


import numpy as np
import pytest
import redis

from npy_bytes import npy


@pytest.mark.parametrize("dtype", ["<f4", ">i8", "u1", "S3", "M8[ms]", [("a", "<i2"), ("b", ">f8", (2,))]])
def test_appends_rows_like_concatenate(r, dtype):
    rng = np.random.default_rng(5)
    parts = [np.frombuffer(rng.bytes(n * 3 * np.dtype(dtype).itemsize), dtype=dtype).reshape(n, 3) for n in (2, 0, 5, 1)]
    for i, part in enumerate(parts):
        length = r.execute_command("NP.APPEND", "log", npy(part))
        assert length == sum(len(p) for p in parts[: i + 1])
    row = parts[0][0]
    assert r.execute_command("NP.APPEND", "log", npy(row)) == 9, "a single row without axis 0"
    # concatenate converts to native byte order; the store keeps the given one.
    expected = np.concatenate(parts + [row[None]]).astype(parts[0].dtype)
    assert r.execute_command("NP.GET", "log") == npy(expected)


def test_fortran_arrays_grow_their_last_axis(r):
    a = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))
    b = np.asfortranarray(np.arange(6, 10, dtype=np.float64).reshape(2, 2))
    r.execute_command("NP.SET", "f", npy(a))
    assert r.execute_command("NP.APPEND", "f", npy(b)) == 5
    assert r.execute_command("NP.GET", "f") == npy(np.asfortranarray(np.concatenate([a, b], axis=1)))

    # A chunk with no element is C-contiguous too, so np.save flags it C-ordered;
    # it fits a Fortran array as it does np.concatenate.
    c = np.asfortranarray(np.arange(12.0).reshape(2, 2, 3))
    r.execute_command("NP.SET", "f3", npy(c))
    assert r.execute_command("NP.APPEND", "f3", npy(np.asfortranarray(c[..., :0]))) == 3
    assert r.execute_command("NP.APPEND", "f3", npy(np.asfortranarray(c[..., :1]))) == 4
    assert r.execute_command("NP.GET", "f3") == npy(np.asfortranarray(np.concatenate([c, c[..., :1]], axis=2)))


def test_many_single_row_appends(r):
    rows = np.random.default_rng(1).standard_normal((3000, 8)).astype(np.float32)
    # Start from an empty (0, 8) matrix; a first bare row would make a 1-D array.
    r.execute_command("NP.SET", "emb", npy(np.empty((0, 8), dtype=np.float32)))
    pipe = r.pipeline(transaction=False)
    for row in rows:
        pipe.execute_command("NP.APPEND", "emb", npy(row))
    assert pipe.execute()[-1] == 3000
    assert r.execute_command("NP.GET", "emb") == npy(rows)
    assert r.memory_usage("emb") < 2 * rows.nbytes + 1024, "slack is bounded"


@pytest.mark.parametrize(
    "payload, message",
    [
        (np.zeros((1, 3), dtype="<f8"), "dtype '<f8' does not match the stored '<f4'"),
        (np.zeros((1, 4), dtype="<f4"), "shape (1, 4) does not fit (2, 3) along axis 0"),
        (np.asfortranarray(np.zeros((2, 3), dtype="<f4")), "the payload is in Fortran order but the stored array is in C order"),
    ],
)
def test_mismatches_are_refused_and_nothing_changes(r, payload, message):
    base = np.ones((2, 3), dtype="<f4")
    r.execute_command("NP.SET", "a", npy(base))
    with pytest.raises(redis.ResponseError, match="cannot append: " + message.replace("(", r"\(").replace(")", r"\)")):
        r.execute_command("NP.APPEND", "a", npy(payload))
    assert r.execute_command("NP.GET", "a") == npy(base)


def test_zero_d_and_wrong_types(r):
    r.execute_command("NP.SET", "s", npy(np.array(1.0)))
    with pytest.raises(redis.ResponseError, match="0-d"):
        r.execute_command("NP.APPEND", "s", npy(np.array(2.0)))
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.APPEND", "str", npy(np.zeros(1)))
    with pytest.raises(redis.ResponseError, match="invalid .npy"):
        r.execute_command("NP.APPEND", "new", b"junk")
    assert not r.exists("new")
