"""NP.GET … SLICE of one run of the stored bytes (rows a:b, the last frames of
a rolling buffer, columns of a Fortran array) is replied from the stored
buffer, its header written for a moment over the bytes in front of the run
and then put back. On every layout, and on rolling buffers with a dead
prefix, each reply must be np.save(arr[spec]) and the stored value must be
byte-for-byte unchanged afterwards (NP.GET, DEBUG DIGEST-VALUE, a replica)."""

from __future__ import annotations

import numpy as np
import pytest

from npy_bytes import npy

RNG = np.random.default_rng(12)

ARRAYS = {
    "packed_1d": RNG.random(16, dtype=np.float32),
    "packed_2d": RNG.integers(-9, 9, (6, 7)).astype(">i2"),
    "packed_fortran": np.asfortranarray(RNG.integers(0, 9, (5, 6)).astype(np.int32)),
    "header_kept": RNG.integers(0, 255, (100, 60), dtype=np.uint8),
    "header_kept_strings": np.array([b"ab", b"cde"] * 50).reshape(20, 5),
    "exact_2k_rows": RNG.random((256, 1024), dtype=np.float32),  # 2^20 bytes: no header stored
    "fortran_big": np.asfortranarray(RNG.random((40, 300))),
    "record": np.zeros((30, 4), dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
    "3d": RNG.integers(0, 1000, (12, 5, 70), dtype=np.int64),
}

SPECS = ["", ":", "...", "0", "1", "-1", "0:1", "1:", ":3", "2:5", "-3:", "None, 2:4", "1:4, ...",
         "3:3", "::2", ":, 1", "1, 2", ":, 1:3", "::-1", "[1, 2]", "5:", "-2:, ..."]


def index_of(spec: str):
    return eval(f"np.s_[{spec}]") if spec else ()


def digest(r, key):
    return r.execute_command("DEBUG", "DIGEST-VALUE", key)


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_runs_are_byte_exact_and_leave_the_value_unchanged(r, name):
    arr = ARRAYS[name]
    r.execute_command("NP.SET", "a", npy(arr))
    before = digest(r, "a")
    for spec in SPECS:
        try:
            expected = npy(arr[index_of(spec)])
        except IndexError:
            with pytest.raises(Exception):
                r.execute_command("NP.GET", "a", "SLICE", spec)
            continue
        assert r.execute_command("NP.GET", "a", "SLICE", spec) == expected, (name, spec)
        assert digest(r, "a") == before, (name, spec)
    assert r.execute_command("NP.GET", "a") == npy(arr)


@pytest.mark.parametrize("frame_shape", [(3,), (4, 5), (32, 1024)], ids=["packed", "header_kept", "exact"])
def test_rolling_buffers_with_a_dead_prefix(r, frame_shape):
    frames = RNG.integers(0, 255, (60,) + frame_shape, dtype=np.uint8)
    for i, frame in enumerate(frames):
        r.execute_command("NP.APPEND", "roll", npy(frame[None]), "MAXLEN", 10)
        kept = frames[max(0, i - 9): i + 1]
        before = digest(r, "roll")
        for spec in ["-3:", "0:1", "", "-1", "2:7", "::3"]:
            assert r.execute_command("NP.GET", "roll", "SLICE", spec) == npy(kept[index_of(spec)]), (i, spec)
        assert digest(r, "roll") == before
        assert r.execute_command("NP.GET", "roll") == npy(kept)


def test_a_run_read_keeps_casts_values_and_maxbytes(r):
    arr = RNG.random((50, 8))
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.GET", "a", "SLICE", "10:20", "AS", "float32") == npy(arr[10:20].astype(np.float32))
    got = r.execute_command("NP.GET", "a", "SLICE", "3", "VALUES")
    assert got[b"values"] if isinstance(got, dict) else got
    with pytest.raises(Exception, match="over MAXBYTES 100"):
        r.execute_command("NP.GET", "a", "SLICE", "10:20", "MAXBYTES", 100)
    assert r.execute_command("NP.GET", "a", "SLICE", "10:20", "MAXBYTES", 640) == npy(arr[10:20])


def test_reads_inside_multi_and_lua_see_exact_bytes(r):
    arr = RNG.integers(0, 255, (100, 60), dtype=np.uint8)
    r.execute_command("NP.SET", "a", npy(arr))
    pipe = r.pipeline(transaction=True)
    for spec in ["10:20", "50:", "10:20"]:
        pipe.execute_command("NP.GET", "a", "SLICE", spec)
    assert pipe.execute() == [npy(arr[10:20]), npy(arr[50:]), npy(arr[10:20])]
    script = "return {redis.call('NP.GET', KEYS[1], 'SLICE', '5:9'), redis.call('NP.GET', KEYS[1])}"
    assert r.eval(script, 1, "a") == [npy(arr[5:9]), npy(arr)]
