"""Rolling buffers: NP.APPEND ... MAXLEN n and NP.TRIM against NumPy. After
each call the stored array must equal np.concatenate(...)[-n:] along the
growth axis, byte for byte as np.save writes it."""

from __future__ import annotations


import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer
from replication import assert_replica_matches


def tail(a: np.ndarray, n: int, fortran: bool) -> np.ndarray:
    """The last n entries along the growth axis, laid out as the store keeps them."""
    if fortran:
        return np.asfortranarray(a[..., max(a.shape[-1] - n, 0) :])
    return np.ascontiguousarray(a[max(len(a) - n, 0) :])


@pytest.mark.parametrize("dtype", ["<f4", ">i8", "u1", "S3", [("a", "<i2"), ("b", ">f8", (2,))]])
@pytest.mark.parametrize("row_shape", [(3,), (40, 17)])
def test_random_appends_with_maxlen_match_concatenate(r, dtype, row_shape):
    rng = np.random.default_rng(len(row_shape) * 100 + len(str(dtype)))
    dt = np.dtype(dtype)
    expected = np.empty((0, *row_shape), dtype=dt)
    for step in range(150):
        n = int(rng.integers(0, 6))
        part = np.frombuffer(rng.bytes(n * dt.itemsize * int(np.prod(row_shape))), dtype=dt).reshape(n, *row_shape)
        args = ["NP.APPEND", "buf", npy(part)]
        maxlen = None
        if rng.random() < 0.8:
            maxlen = int(rng.integers(0, 40))
            args += ["MAXLEN", maxlen]
        length = r.execute_command(*args)
        expected = np.concatenate([expected, part]).astype(dt)  # concatenate makes big-endian native
        if maxlen is not None:
            expected = expected[len(expected) - min(maxlen, len(expected)) :]
        assert length == len(expected)
        if step % 7 == 0 or step > 140:
            assert r.execute_command("NP.GET", "buf") == npy(expected), step
    assert r.execute_command("NP.GET", "buf") == npy(expected)


def test_fortran_buffers_roll_along_their_last_axis(r):
    rng = np.random.default_rng(2)
    expected = np.asfortranarray(rng.standard_normal((3, 4, 2)))
    r.execute_command("NP.SET", "f", npy(expected))
    for _ in range(60):
        part = np.asfortranarray(rng.standard_normal((3, 4, int(rng.integers(2, 5)))))
        maxlen = int(rng.integers(1, 12))
        length = r.execute_command("NP.APPEND", "f", npy(part), "maxlen", maxlen)
        expected = tail(np.concatenate([expected, part], axis=2), maxlen, True)
        assert length == expected.shape[-1]
        assert r.execute_command("NP.GET", "f") == npy(expected)


@pytest.mark.parametrize("dtype", ["<M8[s]", "<f4", "S3"])
@pytest.mark.parametrize("rows", [3, 2000])
def test_a_fortran_matrix_trimmed_to_one_column_is_saved_as_numpy_saves_it(r, dtype, rows):
    # (rows, 1) is C-contiguous too, so np.save writes fortran_order False for it.
    a = np.asfortranarray(np.arange(rows * 4).reshape(rows, 4).astype(dtype))
    r.execute_command("NP.SET", "f", npy(a))
    assert r.execute_command("NP.TRIM", "f", 1) == 1
    assert r.execute_command("NP.GET", "f") == npy(a[:, -1:])
    r.execute_command("NP.SET", "g", npy(a))
    assert r.execute_command("NP.APPEND", "g", npy(np.asfortranarray(a[:, :2])), "MAXLEN", 1) == 1
    assert r.execute_command("NP.GET", "g") == npy(a[:, 1:2])
    assert r.restore("h", 0, r.dump("g")) and r.execute_command("NP.GET", "h") == npy(a[:, 1:2])


@pytest.mark.parametrize("maxlen", [0, 1, 2])
def test_a_fortran_buffer_trimmed_to_one_column_still_grows_its_columns(r, maxlen):
    # (3, 1) and (3, 0) are C- and Fortran-ordered at once: the next column
    # (a Fortran payload, or a 1-d column that fits only along the last axis)
    # is appended along the last axis, as np.concatenate(..., axis=-1) does.
    rng = np.random.default_rng(maxlen)
    expected = np.asfortranarray(rng.standard_normal((3, 4)))
    r.execute_command("NP.SET", "f", npy(expected))
    for step in range(40):
        if rng.random() < 0.5:
            column = rng.standard_normal(3)
            part, grown = column, column[:, None]
        else:
            part = grown = np.asfortranarray(rng.standard_normal((3, int(rng.integers(2, 4)))))
        length = r.execute_command("NP.APPEND", "f", npy(part), "MAXLEN", maxlen)
        expected = tail(np.concatenate([expected, grown], axis=-1), maxlen, True)
        assert length == expected.shape[-1], step
        assert r.execute_command("NP.GET", "f") == npy(expected), step


def test_trim_keeps_the_last_entries(r):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5000, 16)).astype(np.float32)
    r.execute_command("NP.SET", "t", npy(a))
    for keep in [6000, 4000, 3999, 1000, 999, 10, 0]:
        assert r.execute_command("NP.TRIM", "t", keep) == min(keep, len(a))
        a = a[len(a) - min(keep, len(a)) :]
        assert r.execute_command("NP.GET", "t") == npy(a)
        assert r.execute_command("NP.SHAPE", "t") == list(a.shape)
    assert r.execute_command("NP.APPEND", "t", npy(np.ones((2, 16), np.float32))) == 2
    assert r.execute_command("NP.TRIM", "missing", 5) == 0
    assert not r.exists("missing")


def test_a_steady_rolling_buffer_stays_bounded(r):
    frame = np.zeros((1, 64, 64, 3), np.uint8)
    frames = []
    for i in range(400):
        frame = np.full_like(frame, i % 251)
        frames.append(frame)
        r.execute_command("NP.APPEND", "cam", npy(frame), "MAXLEN", 100)
    live = np.concatenate(frames[-100:])
    assert r.execute_command("NP.GET", "cam") == npy(live)
    usage = r.memory_usage("cam")
    assert live.nbytes < usage < 3 * live.nbytes + 4096, "slack, dead prefix included, is bounded and counted"


def test_maxlen_zero_leaves_an_empty_axis(r):
    assert r.execute_command("NP.APPEND", "z", npy(np.ones((3, 2), np.int16)), "MAXLEN", 0) == 0
    assert r.execute_command("NP.GET", "z") == npy(np.ones((0, 2), np.int16))
    assert r.execute_command("NP.APPEND", "z", npy(np.ones((3, 2), np.int16)), "MAXLEN", 2) == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        (["MAXLEN", -1], "the length must be >= 0"),
        (["MAXLEN", "1.5"], "value is not an integer or out of range"),
        (["MAXLEN", "x"], "value is not an integer or out of range"),
        (["MAXLEN"], "syntax error"),
        (["MAXLEN", 3, "MAXLEN", 3], "syntax error"),
        (["LIMIT", 3], "syntax error"),
    ],
)
def test_bad_maxlen_is_refused_and_nothing_changes(r, extra, message):
    base = np.arange(6, dtype="<f4").reshape(2, 3)
    r.execute_command("NP.SET", "a", npy(base))
    with pytest.raises(redis.ResponseError, match=message):
        r.execute_command("NP.APPEND", "a", npy(np.ones((1, 3), "<f4")), *extra)
    assert r.execute_command("NP.GET", "a") == npy(base)
    with pytest.raises(redis.ResponseError, match=message):
        r.execute_command("NP.APPEND", "new", npy(np.ones((1, 3), "<f4")), *extra)
    assert not r.exists("new")


def test_trim_errors_change_nothing(r):
    base = np.arange(6, dtype="<f4").reshape(2, 3)
    r.execute_command("NP.SET", "a", npy(base))
    for n, message in [(-1, "the length must be >= 0"), ("two", "value is not an integer or out of range")]:
        with pytest.raises(redis.ResponseError, match=message):
            r.execute_command("NP.TRIM", "a", n)
    assert r.execute_command("NP.GET", "a") == npy(base)
    r.execute_command("NP.SET", "s", npy(np.float64(2.5)))
    zero_d = "^cannot trim a 0-d array: it has no growth axis$"
    with pytest.raises(redis.ResponseError, match=zero_d):
        r.execute_command("NP.TRIM", "s", 1)
    with pytest.raises(redis.ResponseError, match=zero_d):
        r.execute_command("NP.APPEND", "s0", npy(np.float64(2.5)), "MAXLEN", 1)
    assert not r.exists("s0")
    assert r.execute_command("NP.GET", "s") == npy(np.float64(2.5))
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.TRIM", "str", 1)


def test_rolling_buffers_replicate_byte_identically():
    rng = np.random.default_rng(4)
    with RedisServer() as master, RedisServer() as replica:
        m, s = master.client(), replica.client()
        replica.replicate_from(master)
        for i in range(200):
            rows = rng.integers(0, 255, (int(rng.integers(1, 4)), 48, 64), dtype=np.uint8)
            m.execute_command("NP.APPEND", "cam", npy(rows), "MAXLEN", 25)
            m.execute_command("NP.APPEND", "small", npy(rows[:, 0, :4]), "MAXLEN", 7)
            if i % 50 == 49:
                m.execute_command("NP.TRIM", "cam", 10)
        assert_replica_matches(m, s, ["cam", "small"])
        # And through a reload of the master's RDB.
        before = m.execute_command("NP.GET", "cam")
        m.execute_command("DEBUG", "RELOAD")
        assert m.execute_command("NP.GET", "cam") == before
