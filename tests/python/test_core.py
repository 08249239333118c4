"""The module through plain redis-py and real NumPy: byte-exact round trips of
every dtype family, NumPy-exact metadata, errors and persistence."""

from __future__ import annotations

import ast
import io
import subprocess

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer, wait_aof_rewrite_done


def load(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False, max_header_size=1 << 20)


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    simple = [
        "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "g",
        "c8", "c16", "G", ">i2", ">i4", ">u8", ">f2", ">f4", ">f8", ">c8", ">c16",
    ]
    out = {}
    for code in simple:
        dt = np.dtype(code)
        raw = rng.integers(0, 256, size=(3, 5) + (dt.itemsize,), dtype=np.uint8).tobytes()
        arr = np.frombuffer(raw, dtype=dt).reshape(3, 5)
        if dt.kind == "b":
            arr = arr.astype(bool) | True
        out[f"{code}"] = arr
    for unit in ["", "[Y]", "[M]", "[W]", "[D]", "[h]", "[m]", "[s]", "[ms]", "[us]", "[ns]", "[ps]", "[fs]", "[as]", "[25s]", "[3M]"]:
        out[f"M8{unit}"] = np.arange(4).astype(f"M8{unit}") if unit else np.array(["NaT"] * 2, dtype="M8")
        out[f"m8{unit}"] = np.arange(-2, 2).astype(f"m8{unit}") if unit else np.array([], dtype="m8")
    out[">M8[ns]"] = np.arange(3).astype(">M8[ns]")
    out["S"] = np.array([b"a", b"hello", b"\x00\xff"], dtype="S5")
    out["S1_fortran"] = np.asfortranarray(np.full((2, 3), b"z", dtype="S1"))
    out["U"] = np.array(["", "naïve", "日本語", "🙂"], dtype="U4")
    out[">U"] = np.array(["be"], dtype=">U3")
    out["V"] = np.frombuffer(bytes(range(60)), dtype="V12")
    out["struct"] = np.zeros((2, 2), dtype=[("id", "<u4"), ("pos", "<f4", (3,)), ("tag", "S3")])
    out["struct_nested_be"] = np.ones(3, dtype=[("a", [("b", ">i8"), ("c", "<U2", (2, 2))]), ("d", "?")])
    out["struct_aligned"] = np.zeros(4, dtype=np.dtype([("a", "u1"), ("b", "<f8"), ("c", "u2")], align=True))
    out["struct_offsets"] = np.zeros(2, dtype={"names": ["y", "x"], "formats": ["<i2", "<i2"], "offsets": [0, 4], "itemsize": 8})
    # An unnamed entry that is not a plain void (or a subarray) is a field named '', not padding.
    out["struct_empty_name"] = np.zeros(2, dtype={"names": ["a", "", "b"], "formats": ["<i4"] * 3})
    out["struct_empty_name_record"] = np.zeros(2, dtype={"names": ["", "b"], "formats": [[("x", "u1")], "<i2"]})
    out["struct_titles"] = np.zeros(2, dtype=[(("Temperature in K", "temp"), "<f4"), ("ok", "?")])
    out["struct_unicode_names"] = np.zeros(2, dtype=[("ß", "<i2"), ("Ωmega", "<i2"), ("emoji🙂", "u1")])
    out["struct_weird_names"] = np.zeros(1, dtype=[("a'b", "u1"), ('c"d', "u1"), ("e\\f", "u1"), ("tab\there", "u1"), ("nl\nx", "u1"), ("bell\x07", "u1")])
    out["struct_500_long_fields"] = np.zeros(2, dtype=[(f"feature_with_quite_a_long_descriptive_name_{i:04d}", "<f4") for i in range(2000)])
    out["0d"] = np.array(7, dtype=np.int16)
    out["0d_struct"] = np.zeros((), dtype=[("a", "<i4")])
    out["empty"] = np.zeros((0,), dtype=np.float64)
    out["empty_3d"] = np.zeros((4, 0, 2), dtype=np.complex64)
    out["fortran"] = np.asfortranarray(rng.standard_normal((4, 3, 2)))
    out["fortran_0_dim_last"] = np.asfortranarray(np.zeros((3, 0)))
    out["noncontiguous"] = rng.standard_normal((6, 6))[::2, ::3]
    out["ndim_64"] = np.zeros((1,) * 63 + (2,), dtype=np.uint8)
    out["big_dim_digits"] = np.zeros((10**12, 0), dtype=np.uint8)
    return out


ARRAYS = _arrays()


@pytest.mark.parametrize("name", list(ARRAYS))
def test_roundtrip_is_byte_exact(r, name):
    arr = ARRAYS[name]
    payload = npy(arr)
    assert r.execute_command("NP.SET", "a", payload) == b"OK"
    got = r.execute_command("NP.GET", "a")
    assert got == payload
    back, expected = load(got), load(payload)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    # Values, not arr.tobytes(): padding bytes of aligned structs are uninitialized.
    np.testing.assert_array_equal(back, expected)


@pytest.mark.parametrize("name", list(ARRAYS))
def test_metadata_matches_numpy(r, name):
    arr = ARRAYS[name]
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.DTYPE", "a").decode() == arr.dtype.name
    assert tuple(r.execute_command("NP.SHAPE", "a")) == arr.shape
    assert r.execute_command("NP.SIZE", "a") == arr.size
    reply = r.execute_command("NP.INFO", "a")
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    info = {k.decode(): v for k, v in pairs}
    assert info["dtype"].decode() == arr.dtype.name
    descr = np.lib.format.descr_to_dtype(ast.literal_eval(info["descr"].decode()))
    assert descr == arr.dtype
    assert tuple(info["shape"]) == arr.shape
    assert (info["ndim"], info["size"], info["itemsize"], info["nbytes"]) == (
        arr.ndim, arr.size, arr.dtype.itemsize, arr.nbytes)
    fortran = arr.flags.f_contiguous and not arr.flags.c_contiguous
    assert bool(info["fortran_order"]) is fortran
    assert info["memory"] >= arr.nbytes


def test_resp3_info_is_a_map_with_a_boolean(redis_server):
    r3 = redis_server.client(protocol=3)
    r3.execute_command("NP.SET", "f", npy(np.asfortranarray(np.zeros((2, 2)))))
    info = r3.execute_command("NP.INFO", "f")
    assert isinstance(info, dict)
    assert info[b"fortran_order"] is True
    assert info[b"shape"] == [2, 2]


def test_resp2_info_is_a_flat_array(redis_server):
    r2 = redis_server.client(protocol=2)
    r2.execute_command("NP.SET", "f", npy(np.zeros(3)))
    info = r2.execute_command("NP.INFO", "f")
    assert isinstance(info, list) and len(info) == 20
    assert info[0::2] == sorted(info[0::2]), "fields come in a stable, sorted order"
    assert dict(zip(info[0::2], info[1::2]))[b"dtype"] == b"float64"


def test_redis_cli_pipes_npy_files(redis_server, tmp_path):
    arr = np.arange(6.0).reshape(2, 3)
    path = tmp_path / "a.npy"
    np.save(path, arr)
    cli = ["redis-cli", "-p", str(redis_server.port)]
    with open(path, "rb") as f:
        assert subprocess.run(cli + ["-x", "NP.SET", "k"], stdin=f, capture_output=True).stdout == b"OK\n"
    out = subprocess.run(cli + ["--no-raw", "NP.SHAPE", "k"], capture_output=True, text=True).stdout
    assert out.split() == ["1)", "(integer)", "2", "2)", "(integer)", "3"]
    assert redis_server.client().execute_command("NP.GET", "k") == path.read_bytes()


def test_object_arrays_are_refused_without_unpickling(r):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(redis.ResponseError, match="object arrays are not supported"):
        r.execute_command("NP.SET", "o", buf.getvalue())
    assert r.exists("o") == 0


def test_decode_responses_clients_get_metadata_as_text(r_decoded):
    r_decoded.execute_command("NP.SET", "a", npy(np.zeros(3, dtype="U2")))
    assert r_decoded.execute_command("NP.DTYPE", "a") == "str64"


def test_persistence_across_restart_and_aof(tmp_path):
    config = {"save": "3600 1", "appendonly": "yes", "aof-use-rdb-preamble": "no"}
    with RedisServer(config=config) as server:
        r = server.client()
        for name, arr in ARRAYS.items():
            r.execute_command("NP.SET", name, npy(arr))
        r.execute_command("DEBUG", "RELOAD")
        wait_aof_rewrite_done(r)  # Redis 7 rewrites once at startup with appendonly yes
        r.bgrewriteaof()
        wait_aof_rewrite_done(r)
        server.restart()
        r = server.client()
        for name, arr in ARRAYS.items():
            assert r.execute_command("NP.GET", name) == npy(arr), name


def test_big_array_roundtrip(r):
    arr = np.random.default_rng(1).standard_normal((4096, 4096)).astype(np.float32)  # 64 MiB
    payload = npy(arr)
    r.execute_command("NP.SET", "big", payload)
    assert r.execute_command("NP.GET", "big") == payload
    # The allocator's block, like a string holding the same bytes (jemalloc size classes).
    r.set("big_string", payload)
    assert arr.nbytes < r.memory_usage("big") <= r.memory_usage("big_string") + 512
