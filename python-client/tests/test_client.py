"""The Python client against a real redis-server with the module: arrays in,
arrays out, for every dtype family, order and shape, with both reply modes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import redis

from redis_numpy import Numpy, NumpyError, decode, encode

from npy_bytes import npy


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype and got.shape == want.shape
    assert npy(got) == npy(want)  # same bytes, so NaN payloads and padding compare too


ARRAYS = {
    "bool": np.array([[True, False, True]]),
    "int8": np.arange(-5, 5, dtype=np.int8),
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "int32_be": np.arange(12, dtype=">i4").reshape(3, 4),
    "float16": np.linspace(-2, 2, 7, dtype=np.float16),
    "float32_nan": np.array([np.nan, -np.inf, 1.5, -0.0], dtype=np.float32),
    "float64_be": np.arange(6, dtype=">f8").reshape(2, 3),
    "longdouble": np.array([1.0, 1e300], dtype=np.longdouble),
    "complex64": np.array([1 + 2j, -3j], dtype=np.complex64),
    "complex128_be": np.array([1 - 1j], dtype=">c16"),
    "clongdouble": np.array([1 + 1j], dtype=np.clongdouble),
    "bytes": np.array([b"", b"abc", b"\x00\xff"], dtype="S4"),
    "unicode": np.array(["", "naïve", "日本語🙂"], dtype="U5"),
    "void": np.frombuffer(bytes(range(24)), dtype="V8"),
    "datetime": np.array(["2024-01-01T00:00:00.123", "NaT"], dtype="M8[ms]"),
    "timedelta_multiple": np.arange(4).astype("m8[25s]"),
    "structured": np.array([(1, (1.5, 2.5), b"ab")], dtype=[("id", "<u4"), ("pos", "<f4", (2,)), ("tag", "S2")]),
    "nested_be": np.ones(2, dtype=[("a", [("b", ">i8"), ("c", "<U2", (2,))]), ("d", "?")]),
    "0d": np.array(3.25),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "empty_3d": np.zeros((2, 0, 3), dtype=np.int16),
    "fortran": np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
    "9_dims": np.arange(2**9, dtype=np.uint8).reshape((2,) * 9),
}


@pytest.mark.parametrize("name", ARRAYS)
def test_round_trip_every_dtype_family(arrays, r, name):
    arr = ARRAYS[name]
    assert arrays.set("a", arr) is True
    assert r.execute_command("NP.GET", "a") == npy(arr), "the server holds exactly what np.save writes"
    assert_same(arrays.get("a"), arr)
    assert arrays.shape("a") == arr.shape
    assert arrays.dtype("a") == arr.dtype
    assert arrays.size("a") == arr.size


@pytest.mark.parametrize("name", ARRAYS)
def test_encode_is_np_save(name):
    arr = ARRAYS[name]
    assert encode(arr) == npy(arr)
    assert_same(decode(npy(arr)), arr)


def test_non_contiguous_arrays_are_sent_in_c_order(arrays):
    base = np.arange(60, dtype=np.int64).reshape(6, 10)
    for view in (base[::2, 1::3], base.T[::-1], np.asfortranarray(base)[:, ::2]):
        arrays.set("v", view)
        got = arrays.get("v")
        assert_same(got, np.load(io.BytesIO(npy(view))))
        np.testing.assert_array_equal(got, view)


def test_get_is_a_read_only_view_unless_copied(arrays):
    arrays.set("a", np.arange(4.0))
    view = arrays.get("a")
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0] = 1
    copy = arrays.get("a", copy=True)
    copy[0] = 42
    assert copy.flags.writeable and copy[0] == 42
    assert arrays.get("a")[0] == 0


def test_missing_keys(arrays):
    assert arrays.get("nope") is None
    assert arrays.shape("nope") is None
    assert arrays.dtype("nope") is None
    assert arrays.dtype_name("nope") is None
    assert arrays.size("nope") is None
    assert arrays.info("nope") is None
    assert arrays.values("nope") is None


def test_info_has_python_types(arrays):
    arr = np.asfortranarray(np.zeros((3, 4), dtype=">f4"))
    arrays.set("a", arr)
    info = arrays.info("a")
    assert info["dtype"] == np.dtype(">f4")
    assert info["descr"] == ">f4"
    assert info["shape"] == (3, 4) and info["ndim"] == 2 and info["size"] == 12
    assert info["itemsize"] == 4 and info["nbytes"] == 48
    assert info["fortran_order"] is True
    assert info["layout"] == "packed"
    assert info["memory"] >= 48
    assert arrays.dtype_name("a") == "float32"


def test_info_reports_the_layout_of_a_rolling_buffer(arrays):
    arrays.set("big", np.zeros((64, 1024), np.float32))
    assert arrays.info("big")["layout"] == "full"
    frames = [np.full((1, 2048), i, np.float32) for i in range(40)]
    layouts = []
    for i, frame in enumerate(frames):
        arrays.append("ring", frame, maxlen=8)
        layouts.append(arrays.info("ring")["layout"])
        np.testing.assert_array_equal(arrays.get("ring"), np.concatenate(frames[max(0, i - 7) : i + 1]))
    # A ring wraps over the frames MAXLEN dropped, and is one piece again
    # once the older segment is all dropped.
    assert "wrapped" in layouts and layouts[-1] in ("full", "wrapped")
    assert layouts.count("wrapped") < len(layouts)


def test_append_grows_axis_0(arrays):
    assert arrays.append("log", np.zeros((2, 3), np.float32)) == 2
    assert arrays.append("log", np.ones((1, 3), np.float32)) == 3
    np.testing.assert_array_equal(arrays.get("log"), np.r_[np.zeros((2, 3)), np.ones((1, 3))])
    with pytest.raises(NumpyError, match="cannot append"):
        arrays.append("log", np.ones((1, 4), np.float32))


def test_values_and_as_dtype(arrays):
    arrays.set("a", np.array([[1.5, -2.0], [3.25, 4.0]], dtype=np.float32))
    got = arrays.values("a")
    assert got == {"dtype": "float32", "shape": (2, 2), "values": [1.5, -2.0, 3.25, 4.0]}
    cast = arrays.get("a", as_dtype=np.int16)
    assert_same(cast, np.array([[1, -2], [3, 4]], dtype=np.int16))
    assert arrays.get("a", as_dtype=">f8").dtype == np.dtype(">f8")
    assert arrays.values("a", as_dtype="int64")["values"] == [1, -2, 3, 4]
    arrays.set("c", np.array([1 + 2j], np.complex64))
    assert arrays.values("c")["values"] == [1 + 2j]
    arrays.set("s", np.array(["ab", "ü"]))
    assert arrays.values("s")["values"] == ["ab", "ü"]
    arrays.set("b", np.array([True, False]))
    assert arrays.values("b")["values"] == [True, False]


def test_object_arrays_are_refused_before_sending(arrays, r):
    with pytest.raises(TypeError, match="object"):
        arrays.set("o", np.array([{}, None], dtype=object))
    with pytest.raises(TypeError, match="object"):
        arrays.set("o", np.zeros(2, dtype=[("a", "O")]))
    assert r.exists("o") == 0


def test_server_errors_are_numpy_errors(arrays, r):
    r.set("str", "x")
    with pytest.raises(NumpyError, match="WRONGTYPE"):
        arrays.get("str")
    with pytest.raises(NumpyError, match="WRONGTYPE"):
        arrays.set("str", np.zeros(2))
    assert r.get("str") == b"x"
    arrays.set("f", np.zeros(1))
    with pytest.raises(NumpyError, match="^AS supports bool, int8"):
        arrays.get("f", as_dtype="U3")
    with pytest.raises(NumpyError, match="^invalid .npy: bad magic"):
        arrays.execute_command("NP.SET", "f", b"not an array")
    assert arrays.size("f") == 1, "the previous value is kept"
    assert issubclass(NumpyError, redis.ResponseError)


def test_decode_responses_client_gets_arrays(redis_server, r_decoded):
    arrays = Numpy(r_decoded)
    arr = np.frombuffer(bytes(range(256)), dtype=np.uint8)  # not valid UTF-8
    arrays.set("a", arr)
    assert_same(arrays.get("a"), arr)
    assert arrays.info("a")["shape"] == (256,)
    arrays.set("u", np.array(["日本"]))
    assert arrays.values("u")["values"] == ["日本"]
    assert r_decoded.set("plain", "text") and r_decoded.get("plain") == "text", "other replies still decoded"


@pytest.mark.parametrize("protocol", [2, 3])
def test_both_protocols(redis_server, protocol):
    client = redis_server.client(protocol=protocol)
    arrays = Numpy(client)
    arr = np.array([[1 + 1j, 2]], dtype=np.complex128)
    arrays.set("p", arr)
    assert_same(arrays.get("p"), arr)
    assert arrays.info("p")["fortran_order"] is False
    assert arrays.values("p") == {"dtype": "complex128", "shape": (1, 2), "values": [1 + 1j, 2 + 0j]}
    client.close()


def test_big_array_round_trip(arrays):
    arr = np.random.default_rng(1).standard_normal((1 << 24) + 3).astype(np.float64)  # 128 MiB
    arrays.set("big", arr)
    got = arrays.get("big")
    assert got.nbytes > 100_000_000
    assert got.dtype == arr.dtype and np.array_equal(got, arr)
    assert arrays.info("big")["nbytes"] == arr.nbytes


def test_slices_and_partial_writes(arrays):
    arr = np.arange(60, dtype=np.int32).reshape(6, 10)
    arrays.set("m", arr)
    for index in (np.s_[2], np.s_[1:4, ::3], np.s_[..., -1], np.s_[::-2, None, 5], np.s_[3, 4]):
        assert_same(arrays.get("m", slice=index), np.asarray(arr[index]))
    assert_same(arrays.get("m", slice="1:3, 2"), arr[1:3, 2])
    assert arrays.values("m", slice=np.s_[0, :3])["values"] == [0, 1, 2]
    assert_same(arrays.get("m", slice=np.s_[0], as_dtype=np.float32), arr[0].astype(np.float32))
    assert arrays.setslice("m", np.s_[:, 0], np.int32(-1)) is True
    arrays.setslice("m", "5", np.arange(10, dtype=np.int32))
    arr[:, 0] = -1
    arr[5] = np.arange(10)
    assert_same(arrays.get("m"), arr)
    with pytest.raises(NumpyError, match="out of bounds"):
        arrays.get("m", slice=np.s_[6])
    with pytest.raises(NumpyError, match="dtype mismatch"):
        arrays.setslice("m", "0", np.zeros(10))
    with pytest.raises(TypeError, match="basic indexing"):
        arrays.get("m", slice=np.s_[1.5])


def test_integer_list_indexing_gathers_like_numpy(arrays):
    rng = np.random.default_rng(3)
    arr = rng.standard_normal((8, 5, 3)).astype(np.float32)
    arrays.set("g", arr)
    for index in (
        np.s_[[3, 1, 1, -1]],
        np.s_[[0, 7], 2:4],
        np.s_[:, [0, 4]],
        np.s_[1, :, [2, 0]],
        np.s_[np.array([5, 2])],
        np.s_[[]],
        np.s_[:, np.arange(5)[::-2], 1],
    ):
        assert_same(arrays.get("g", slice=index), np.asarray(arr[index]))
    assert arrays.values("g", slice=np.s_[[1, 0], 0, 0])["values"] == arr[[1, 0], 0, 0].tolist()
    arrays.setslice("g", np.s_[[1, 5]], np.zeros((5, 3), np.float32))
    arr[[1, 5]] = 0
    assert_same(arrays.get("g"), arr)
    with pytest.raises(NumpyError, match="out of bounds"):
        arrays.get("g", slice=np.s_[[0, 8]])
    with pytest.raises(TypeError, match="np.flatnonzero"):
        arrays.get("g", slice=np.s_[[True, False]])
    with pytest.raises(TypeError, match="flat list of integers"):
        arrays.get("g", slice=np.s_[[[1], [2]]])


def test_registered_callbacks_serve_raw_commands_too(redis_server):
    client = redis_server.client()
    arrays = Numpy(client)
    arrays.set("a", np.arange(3, dtype=np.int64))
    np.testing.assert_array_equal(client.execute_command("NP.GET", "a"), np.arange(3))
    assert client.execute_command("NP.GET", "a", "VALUES")["values"] == [0, 1, 2]
    assert client.execute_command("NP.INFO", "a")["shape"] == (3,)
    client.close()


def test_decode_of_mixed_batches_and_bad_payloads():
    """decode remembers the last header: arrays of other layouts, other buffer
    types and damaged payloads must still decode exactly or fail clearly."""
    rng = np.random.default_rng(7)
    batch = [
        rng.standard_normal(384).astype(np.float32),
        rng.standard_normal(384).astype(">f4"),  # same header length, other descr
        rng.standard_normal((2, 192)).astype(np.float32),
        np.asfortranarray(rng.standard_normal((3, 4))),
        np.zeros((0, 384), np.float32),
        rng.standard_normal(384).astype(np.float32),
    ]
    for _ in range(3):
        for arr in batch:
            payload = npy(arr)
            for buffer in (payload, bytearray(payload), memoryview(payload)):
                assert_same(decode(buffer, copy=True), arr)
    payload = npy(batch[0])
    decode(payload)
    with pytest.raises(ValueError, match="smaller than requested"):
        decode(payload[:-4])  # the same header, data cut short
    with pytest.raises(ValueError, match="bad magic"):
        decode(b"\x93NUMPX" + payload[6:])


def test_reshape_transpose_and_reduce_match_numpy(arrays):
    rng = np.random.default_rng(11)
    arr = rng.integers(-50, 50, size=(4, 6)).astype(np.int32)
    arrays.set("c", arr)
    assert arrays.reshape("c", (3, -1)) == (3, 8)
    assert_same(arrays.get("c"), arr.reshape(3, -1))
    assert arrays.reshape("c", 24) == (24,)
    assert arrays.reshape("c", [4, 6]) == (4, 6)
    assert arrays.transpose("c") == (6, 4)
    assert_same(arrays.get("c"), arr.T)
    arrays.transpose("c")
    with pytest.raises(NumpyError, match="cannot reshape array of size 24"):
        arrays.reshape("c", (5,))
    for op in ("sum", "prod", "mean", "min", "max", "argmax", "any", "count_nonzero"):
        want = getattr(np, op)(arr)
        got = arrays.reduce("c", op)
        assert isinstance(got, np.generic) and got == want, op  # a NumPy scalar, as np.<op> gives
        assert got.dtype == np.asarray(want).dtype, op
        assert_same(arrays.reduce("c", op, axis=1), np.asarray(getattr(np, op)(arr, axis=1)))
    assert_same(arrays.reduce("c", "sum", axis=0, slice=np.s_[[0, 2]]), arr[[0, 2]].sum(axis=0))
    assert_same(arrays.reduce("c", "mean", axis=-1, dtype=np.float32), arr.mean(axis=-1, dtype=np.float32))
    assert arrays.reduce("missing", "sum") is None
    pipe = arrays.pipeline()
    pipe.reduce("c", "max").transpose("c").transpose("c")
    assert pipe.execute() == [arr.max(), (6, 4), (4, 6)]


def test_reduce_takes_numpys_axis_tuple_and_ddof(arrays):
    rng = np.random.default_rng(13)
    arr = rng.standard_normal((3, 4, 5)).astype(np.float32)
    arr[0, 1, 2] = np.nan
    arrays.set("t", arr)
    assert_same(arrays.reduce("t", "std", axis=(1, 2)), np.std(arr, axis=(1, 2)))
    assert_same(arrays.reduce("t", "nanvar", axis=(0, -1), ddof=1), np.nanvar(arr, axis=(0, -1), ddof=1))
    got = arrays.reduce("t", "nansum", axis=(0, 1, 2))
    assert isinstance(got, np.generic) and got == np.nansum(arr, axis=(0, 1, 2))
    with pytest.raises(NumpyError, match="duplicate value in 'axis'"):
        arrays.reduce("t", "sum", axis=(1, -2))
    with pytest.raises(ValueError, match=r"axis=\(\)"):
        arrays.reduce("t", "sum", axis=())
    pipe = arrays.pipeline()
    pipe.reduce("t", "var", axis=(0, 2), ddof=2)
    assert_same(pipe.execute()[0], np.var(arr, axis=(0, 2), ddof=2))


def test_update_in_place_matches_numpy(arrays):
    rng = np.random.default_rng(12)
    arr = rng.standard_normal((5, 4)).astype(np.float32)
    arrays.set("u", arr)
    cases = [
        ("add", np.float32(1.5), None, lambda a, v: a.__iadd__(v)),
        ("mul", np.full(4, 2, np.float32), None, lambda a, v: a.__imul__(v)),
        ("sub", np.float32(0.25), np.s_[1:3], lambda a, v: a.__isub__(v)),
        ("max", np.float32(0.0), np.s_[[0, 4], ::2], lambda a, v: np.maximum(a, v, out=a)),
        ("div", np.float32(3), np.s_[:, 1], lambda a, v: a.__itruediv__(v)),
    ]
    for op, value, index, numpy_op in cases:
        assert arrays.update("u", op, value, slice=index) is True
        if index is None:
            numpy_op(arr, value)
        else:
            part = arr[index]
            numpy_op(part, value)
            arr[index] = part  # a gather is a copy in NumPy: write it back
        assert_same(arrays.get("u"), arr)
    arrays.set("counts", np.zeros(3, np.int64))
    pipe = arrays.pipeline(transaction=False)
    for i in range(4):
        pipe.update("counts", "add", np.int64(i), slice=np.s_[[i % 3]])
    assert pipe.execute() == [True] * 4
    assert arrays.get("counts").tolist() == [3, 1, 2]
    with pytest.raises(NumpyError, match="same_kind"):
        arrays.update("counts", "add", 0.5)
