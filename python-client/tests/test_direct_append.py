"""`append` of 64 KiB or more, sent from the array's own memory
(wire.npy_command), on a real server: the stored array equals NumPy's
concatenation (then the last `maxlen` entries) byte for byte, for C-ordered,
non-contiguous and Fortran-ordered blocks, and errors are NP.* errors."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from redis_numpy import NumpyError, wire
from redis_numpy.streaming import DIRECT_APPEND_BYTES
from redis_numpy.wire import npy_command

from npy_bytes import npy


@pytest.mark.parametrize("dtype", ["<f4", ">i8", "u1", [("a", "<i2"), ("b", ">f8", (2,))]])
def test_big_appends_with_maxlen_match_concatenate(arrays, r, monkeypatch, dtype):
    sent = []
    monkeypatch.setattr(wire, "npy_command", lambda *a: sent.append(a[2].nbytes) or npy_command(*a))
    rng = np.random.default_rng(7)
    dt = np.dtype(dtype)
    row = (128, 512)  # 64 KiB of uint8
    expected = np.empty((0, *row), dt)
    for step in range(25):
        n = int(rng.integers(1, 5))
        block = np.frombuffer(rng.bytes(n * dt.itemsize * 128 * 512), dt).reshape(n, *row)
        if step % 3 == 1:
            block = np.concatenate([block, block], axis=2).astype(dt)[:, :, ::2]  # not contiguous
        maxlen = int(rng.integers(3, 12)) if step % 4 else None
        length = arrays.append("buf", block, maxlen=maxlen)
        expected = np.concatenate([expected, block]).astype(dt)  # concatenate makes big-endian native
        if maxlen is not None:
            expected = expected[-maxlen:]
        assert length == len(expected)
        assert r.execute_command("NP.GET", "buf") == npy(np.ascontiguousarray(expected))
    assert len(sent) == 25 and min(sent) >= DIRECT_APPEND_BYTES  # every block went from its own memory


def test_fortran_blocks_and_errors(arrays, r):
    base = np.asfortranarray(np.arange(200 * 100, dtype=np.float64).reshape(200, 100))
    arrays.set("f", base)
    block = np.asfortranarray(np.ones((200, 60)))  # 96 KB, grows the last axis
    assert arrays.append("f", block) == 160
    assert r.execute_command("NP.GET", "f") == npy(np.asfortranarray(np.concatenate([base, block], axis=1)))
    arrays.set("i", np.zeros((3, 100, 100), np.int32))
    with pytest.raises(NumpyError):
        arrays.append("i", np.zeros((2, 100, 100), np.float64))  # another dtype
    with pytest.raises(NumpyError, match="must be >= 0"):
        arrays.append("i", np.zeros((2, 100, 100), np.int32), maxlen=-1)
    assert r.execute_command("NP.GET", "i") == npy(np.zeros((3, 100, 100), np.int32))  # unchanged
    r.set("s", b"x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.append("s", np.zeros((2, 100, 100), np.int32))
    with pytest.raises(TypeError):
        arrays.append("i", np.array([object()] * 20000))  # refused before anything is sent
