"""NP.GET … SLICE and NP.SETSLICE against NumPy as the oracle: for random shapes,
dtypes, orders and basic-indexing specs, the server's bytes equal np.save's."""

from __future__ import annotations

import random

import numpy as np
import pytest
import redis

from keyspace_events import keyspace_events
from npy_bytes import npy
from redis_server import RedisServer
from replication import assert_replica_matches


DTYPES = ["u1", "<i2", ">i4", "<f8", ">c8", "S3", "<U2", "M8[s]", [("a", "<i2"), ("b", "S1")], "?"]


def random_array(rng: random.Random) -> np.ndarray:
    ndim = rng.choice([0, 1, 1, 2, 2, 3, 4])
    shape = tuple(rng.choice([0, 1, 2, 3, 5]) if rng.random() < 0.15 else rng.randint(1, 6) for _ in range(ndim))
    dtype = np.dtype(rng.choice(DTYPES))
    raw = np.frombuffer(rng.randbytes(max(1, int(np.prod(shape))) * dtype.itemsize), dtype=np.uint8)
    arr = raw[: int(np.prod(shape)) * dtype.itemsize].view(dtype).reshape(shape)
    if dtype.kind == "b":
        arr = (arr.view(np.uint8) & 1).astype(bool)  # only 0 and 1 are valid bools
    return np.asfortranarray(arr) if rng.random() < 0.4 else arr


def random_index(rng: random.Random, ndim: int) -> tuple[str, tuple]:
    """A basic index as server text and as a Python index tuple."""
    count = rng.randint(0, ndim)
    parts: list[tuple[str, object]] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            value = rng.randint(-4, 4)
            parts.append((str(value), value))
        else:
            bounds = [rng.choice([None, rng.randint(-7, 7)]) for _ in range(2)]
            step = rng.choice([None, 1, 2, -1, -2, 3])
            text = ":".join("" if b is None else str(b) for b in bounds)
            if step is not None or rng.random() < 0.3:
                text += ":" + ("" if step is None else str(step))
            parts.append((text, slice(bounds[0], bounds[1], step)))
    if rng.random() < 0.3:
        parts.insert(rng.randint(0, len(parts)), ("...", Ellipsis))
    if rng.random() < 0.2:
        parts.insert(rng.randint(0, len(parts)), ("None", None))
    return ", ".join(t for t, _ in parts), tuple(p for _, p in parts)


def read_like_numpy(r, arr: np.ndarray, text: str, index: tuple) -> np.ndarray | None:
    """`NP.GET a SLICE text` of the stored `arr` is np.save's bytes of
    `arr[index]`, or is refused with the text of NumPy's IndexError. NumPy's
    result, or None where NumPy refused."""
    try:
        want = arr[index]
    except IndexError as err:
        with pytest.raises(redis.ResponseError) as got:
            r.execute_command("NP.GET", "a", "SLICE", text)
        assert str(got.value) == str(err), (arr.shape, text)
        return None
    got = r.execute_command("NP.GET", "a", "SLICE", text)
    assert got == npy(want), (arr.shape, arr.dtype, arr.flags.f_contiguous, text)
    return want


def test_slices_are_byte_equal_to_numpy(r):
    rng = random.Random(7)
    checked = errors = 0
    for case in range(600):
        arr = random_array(rng)
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(5):
            if read_like_numpy(r, arr, *random_index(rng, arr.ndim)) is None:
                errors += 1
            else:
                checked += 1
    assert checked > 2000 and errors > 50


def random_list(rng: random.Random, length: int) -> tuple[str, list[int]]:
    bound = rng.choice([2, 3, 7])  # sometimes out of bounds
    values = [rng.randint(-bound, bound) for _ in range(length)]
    sep = rng.choice([",", ", ", " , "])
    text = "[" + sep.join(map(str, values)) + ("," if values and rng.random() < 0.1 else "") + "]"
    return text, values


def random_gather(rng: random.Random, ndim: int) -> tuple[str, tuple]:
    """A basic index with one (sometimes two) integer lists in it."""
    text, index = random_index(rng, max(ndim - 1, 0))
    parts = list(zip(text.split(", "), index)) if index else []
    length = rng.choice([0, 1, 1, 2, 3, 4, 6])
    for _ in range(2 if rng.random() < 0.15 else 1):
        lt, lv = random_list(rng, length if rng.random() < 0.9 else rng.choice([1, 2, 5]))
        parts.insert(rng.randint(0, len(parts)), (lt, lv))
    return ", ".join(t for t, _ in parts), tuple(p for _, p in parts)


def test_gathers_are_byte_equal_to_numpy(r):
    rng = random.Random(12)
    checked = errors = 0
    layouts = set()
    for case in range(1000):
        arr = np.asarray(random_array(rng))  # a 0-d bool comes back as a NumPy scalar
        r.execute_command("NP.SET", "a", npy(arr))
        for _ in range(5):
            want = read_like_numpy(r, arr, *random_gather(rng, arr.ndim))
            if want is None:
                errors += 1
                continue
            layouts.add((want.flags.c_contiguous, want.flags.f_contiguous))
            checked += 1
    assert checked > 1800 and errors > 500
    assert {(True, False), (False, True)} <= layouts, "results saved in both orders"


def test_gather_assignment_matches_numpy(r):
    rng = random.Random(13)
    checked = refused = 0
    for case in range(800):
        arr = random_array(rng)
        if arr.ndim == 0:
            continue
        r.execute_command("NP.SET", "a", npy(arr))
        text, index = random_gather(rng, arr.ndim)
        try:
            target = arr[index]
        except IndexError:
            continue
        value = random_value(rng, arr.dtype, target.shape, misfit=True)
        if assign_like_numpy(r, arr, text, index, value):
            checked += 1
        else:
            refused += 1
    assert checked > 250 and refused > 10


@pytest.mark.parametrize(
    "spec, index",
    [
        ("[3, 17, 99]", ([3, 17, 99],)), ("[3, 17], 2:5", ([3, 17], slice(2, 5))), (":, [0, 5]", (slice(None), [0, 5])),
        ("[-1, 0, -1, 0]", ([-1, 0, -1, 0],)), ("[]", ([],)), ("[ ], 1", ([], 1)), ("7, [1, 1]", (7, [1, 1])),
        ("[5,]", ([5],)), ("..., [2]", (Ellipsis, [2])), ("None, [2], None", (None, [2], None)),
    ],
)
def test_gather_syntax(r, spec, index):
    arr = np.arange(100 * 6, dtype=np.int32).reshape(100, 6)
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.GET", "a", "SLICE", spec) == npy(arr[index])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("[1.5]", "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean arrays are valid indices"),
        ("[1, 2.0]", "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean arrays are valid indices"),
        ("[True, False, True]", "boolean index lists are not supported: give the positions as integers"),
        ("[[0, 1], [2, 3]]", "nested index lists are not supported: give one list of integers, e.g. [0, 2]"),
        ("[0, 9]", "index 9 is out of bounds for axis 0 with size 8"),
        (":, [-7]", "index -7 is out of bounds for axis 1 with size 6"),
        ("[0, 1], [0, 1, 2]", "shape mismatch: indexing arrays could not be broadcast together with shapes (2,) (3,) "),
        ("[0, 1", "unbalanced '['"),
        ("[0,,1]", "empty index in a list"),
        ("[a]", "is not an integer"),
    ],
)
def test_bad_index_lists_change_nothing(r, spec, message):
    arr = np.arange(48.0).reshape(8, 6)
    r.execute_command("NP.SET", "a", npy(arr))
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.GET", "a", "SLICE", spec)
    assert message in str(err.value)
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.SETSLICE", "a", spec, npy(np.float64(1)))
    assert message in str(err.value)
    assert r.execute_command("NP.GET", "a") == npy(arr)


def test_row_gather_of_a_big_array(r):
    arr = np.arange(4 << 20, dtype=np.float32).reshape(-1, 1024)  # 16 MiB, 4096 rows
    r.execute_command("NP.SET", "big", npy(arr))
    rows = np.random.default_rng(5).integers(-4096, 4096, 5000)  # repeats, negatives; a ~30 kB spec
    spec = "[" + ", ".join(map(str, rows)) + "]"
    assert r.execute_command("NP.GET", "big", "SLICE", spec) == npy(arr[rows])
    cols = rows[:7] % 1024
    columns = "[" + ", ".join(map(str, cols)) + "]"
    assert r.execute_command("NP.GET", "big", "SLICE", f"::-1, {columns}") == npy(arr[::-1, cols])


def test_a_gather_is_bounded_like_a_stored_array(r):
    r.execute_command("NP.SET", "a", npy(np.zeros((4, 1024), dtype=np.float64)))  # 8 KiB rows
    limit = r.config_get("numpy.max-array-bytes")["numpy.max-array-bytes"]
    try:
        r.config_set("numpy.max-array-bytes", 64 * 1024)
        with pytest.raises(redis.ResponseError, match=r"array data of 73728 bytes exceeds numpy.max-array-bytes \(65536\)"):
            r.execute_command("NP.GET", "a", "SLICE", "[" + "0, " * 9 + "]")
        assert r.execute_command("NP.GET", "a", "SLICE", "[" + "0, " * 8 + "]") == npy(np.zeros((8, 1024)))
    finally:
        r.config_set("numpy.max-array-bytes", limit)


@pytest.mark.parametrize(
    "spec, index",
    [
        ("", ()), ("()", ()), ("5,", (5,)), ("  1 : 3 ", (slice(1, 3),)), ("::-1", (slice(None, None, -1),)),
        ("..., 0", (Ellipsis, 0)), (":, 3", (slice(None), 3)), ("::2, -1", (slice(None, None, 2), -1)),
        ("None, 1:", (None, slice(1, None))), ("-100:100", (slice(-100, 100),)),
    ],
)
def test_spec_syntax(r, spec, index):
    arr = np.arange(48, dtype=np.int32).reshape(8, 6)
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.GET", "a", "SLICE", spec) == npy(arr[index])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1, 2, 3", "too many indices for array: array is 2-dimensional, but 3 were indexed"),
        ("9", "index 9 is out of bounds for axis 0 with size 8"),
        (":, -7", "index -7 is out of bounds for axis 1 with size 6"),
        ("::0", "slice step cannot be zero"),
        ("..., ...", "an index can only have a single ellipsis ('...')"),
        ("1:2:3:4", "has more than two ':'"),
        ("a", "is not an integer"),
        ("1,,2", "empty index"),
        ("99999999999999999999", "does not fit in 64 bits"),
    ],
)
def test_bad_specs(r, spec, message):
    r.execute_command("NP.SET", "a", npy(np.zeros((8, 6))))
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.GET", "a", "SLICE", spec)
    assert message in str(err.value)
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.SETSLICE", "a", spec, npy(np.zeros(())))
    assert message in str(err.value)


def test_slice_then_cast_and_values(r):
    arr = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.GET", "a", "SLICE", "1", "AS", "int32") == npy(arr[1].astype(np.int32))
    assert r.execute_command("NP.GET", "a", "AS", "int32", "SLICE", ":, 0") == npy(arr[:, 0].astype(np.int32))
    assert r.execute_command("NP.GET", "a", "SLICE", "2, 1:3", "VALUES") == {b"dtype": b"float64", b"shape": [2], b"values": [2.25, 2.5]}
    with pytest.raises(redis.ResponseError, match="SLICE given twice"):
        r.execute_command("NP.GET", "a", "SLICE", "1", "SLICE", "2")
    assert r.execute_command("NP.GET", "missing", "SLICE", "1") is None


def test_setslice_matches_numpy_assignment(r):
    rng = random.Random(11)
    checked = 0
    for case in range(400):
        arr = random_array(rng)
        if arr.ndim == 0:
            continue
        r.execute_command("NP.SET", "a", npy(arr))
        text, index = random_index(rng, arr.ndim)
        try:
            target = arr[index]
        except IndexError:
            continue
        value = random_value(rng, arr.dtype, target.shape)
        assert assign_like_numpy(r, arr, text, index, value), (arr.shape, text, value.shape)
        checked += 1
    assert checked > 200


def random_value(rng: random.Random, dtype: np.dtype, target: tuple, misfit: bool = False) -> np.ndarray:
    """A value to assign to a target of shape `target`: that shape or a
    broadcastable one (trailing dims, length-1 dims); with `misfit`, one time
    in ten every dim one longer, which most likely does not broadcast."""
    shape = list(target)
    if shape and rng.random() < 0.4:
        shape = shape[rng.randint(0, len(shape)) :]
    shape = [1 if rng.random() < 0.2 else d for d in shape]
    if misfit and rng.random() < 0.1:
        shape = [d + 1 for d in shape]
    return random_array_like(rng, dtype, tuple(shape))


def assign_like_numpy(r, arr: np.ndarray, text: str, index: tuple, value: np.ndarray) -> bool:
    """`NP.SETSLICE a text value` on the stored `arr` leaves what NumPy's
    `arr[index] = value` gives, or is refused with the text of NumPy's
    ValueError and leaves `arr`. True where NumPy assigned."""
    want = arr.copy(order="K")
    try:
        want[index] = value
    except ValueError as err:
        with pytest.raises(redis.ResponseError) as got:
            r.execute_command("NP.SETSLICE", "a", text, npy(value))
        assert str(got.value) == str(err), (arr.shape, text, value.shape)
        assert r.execute_command("NP.GET", "a") == npy(arr)
        return False
    assert r.execute_command("NP.SETSLICE", "a", text, npy(value)) == b"OK"
    assert r.execute_command("NP.GET", "a") == npy(want), (arr.shape, text, value.shape)
    return True


def random_array_like(rng: random.Random, dtype: np.dtype, shape: tuple) -> np.ndarray:
    size = int(np.prod(shape))
    raw = np.frombuffer(rng.randbytes(max(1, size) * dtype.itemsize), dtype=np.uint8)
    arr = raw[: size * dtype.itemsize].view(dtype).reshape(shape)
    return (arr.view(np.uint8) & 1).astype(bool) if dtype.kind == "b" else arr


@pytest.mark.parametrize("code", ["?", "i1", "<u8", "<f2", ">f8", "<c16", "<g", "S3", ">U2", "V4", "M8[s]", "m8[D]",
                                  [("x", "<i4"), ("y", "S2")]])
@pytest.mark.parametrize("shape", [(1,), (1, 1), (0,), (2,), (2, 2)])
def test_setslice_of_an_array_into_one_element(r, code, shape):
    """`arr[1, -1] = value` with a value of one or more dimensions: NumPy does
    not broadcast into a single element but converts the value as an object."""
    rng = random.Random(repr((code, shape)))
    dtype = np.dtype(code)
    arr = random_array_like(rng, dtype, (3, 2))
    value = np.asfortranarray(random_array_like(rng, dtype, shape))
    r.execute_command("NP.SET", "a", npy(arr))
    want = arr.copy()
    try:
        want[1, -1] = value
    except (ValueError, TypeError) as err:
        with pytest.raises(redis.ResponseError) as got:
            r.execute_command("NP.SETSLICE", "a", "1, -1", npy(value))
        assert str(got.value) == str(err)
    else:
        assert r.execute_command("NP.SETSLICE", "a", "1, -1", npy(value)) == b"OK"
    assert r.execute_command("NP.GET", "a") == npy(want)


def test_setslice_of_a_one_element_array_into_one_element(r):
    arr = np.arange(5, dtype=np.int64)
    r.execute_command("NP.SET", "a", npy(arr))
    with pytest.raises(redis.ResponseError, match=r"^setting an array element with a sequence\.$"):
        r.execute_command("NP.SETSLICE", "a", "2", npy(np.array([5])))
    r.execute_command("NP.SET", "z", npy(np.array(1.5)))
    with pytest.raises(redis.ResponseError, match="setting an array element with a sequence"):
        r.execute_command("NP.SETSLICE", "z", "()", npy(np.array([5.0])))
    assert r.execute_command("NP.GET", "a") == npy(arr)
    r.execute_command("NP.SETSLICE", "a", "2, ...", npy(np.array([5])))  # a 0-d view broadcasts
    arr[2, ...] = np.array([5])
    assert r.execute_command("NP.GET", "a") == npy(arr)


def test_setslice_errors_keep_the_value(r):
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)
    r.execute_command("NP.SET", "a", npy(arr))
    cases = [
        ("0", npy(np.zeros(4, np.int32)), "dtype mismatch: the array is int16 ('<i2'), the value is int32 ('<i4')"),
        ("0", npy(np.zeros(3, np.int16)), "could not broadcast input array from shape (3,) into shape (4,)"),
        (":", npy(np.zeros((2, 3, 4), np.int16)), "could not broadcast input array from shape (2, 3, 4) into shape (3, 4)"),
        ("5", npy(np.zeros(4, np.int16)), "index 5 is out of bounds for axis 0 with size 3"),
        ("0", b"junk", "invalid .npy"),
    ]
    for spec, payload, message in cases:
        with pytest.raises(redis.ResponseError) as err:
            r.execute_command("NP.SETSLICE", "a", spec, payload)
        assert message in str(err.value)
    assert r.execute_command("NP.GET", "a") == npy(arr)
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.execute_command("NP.SETSLICE", "missing", "0", npy(np.zeros(4, np.int16)))
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("NP.SETSLICE", "s", "0", npy(np.zeros(4, np.int16)))


def test_setslice_broadcasts_scalars_and_leading_ones(r):
    arr = np.zeros((4, 5), dtype=np.float32, order="F")
    r.execute_command("NP.SET", "a", npy(arr))
    r.execute_command("NP.SETSLICE", "a", "1:3", npy(np.float32(7)))
    r.execute_command("NP.SETSLICE", "a", ":, ::2", npy(np.arange(3, dtype=np.float32).reshape(1, 1, 3)))
    arr[1:3] = 7
    arr[:, ::2] = np.arange(3, dtype=np.float32).reshape(1, 1, 3)
    assert r.execute_command("NP.GET", "a") == npy(arr)


def test_partial_writes_replicate_byte_identically():
    with RedisServer() as master, RedisServer() as replica:
        m, s = master.client(), replica.client()
        replica.replicate_from(master)
        arr = np.asfortranarray(np.arange(120, dtype=">f8").reshape(4, 5, 6))
        m.execute_command("NP.SET", "a", npy(arr))
        m.execute_command("NP.SETSLICE", "a", "::2, 1:4", npy(np.full(6, -1.0, ">f8")))
        m.execute_command("NP.SETSLICE", "a", "..., -1", npy(np.array(9.0, dtype=">f8")))
        arr = np.asfortranarray((arr * 2).astype(">f8"))
        m.execute_command("NP.SET", "a", npy(arr))  # same size: rewritten in place
        m.execute_command("NP.SETSLICE", "a", "3", npy(np.zeros((5, 6), ">f8")))
        arr[3] = 0
        assert_replica_matches(m, s, ["a"])
        assert m.execute_command("NP.GET", "a") == npy(arr)


def test_setslice_fires_its_event(r):
    with keyspace_events(r, "__keyevent@*__:np.setslice") as received:
        r.execute_command("NP.SET", "a", npy(np.zeros(3)))
        r.execute_command("NP.SETSLICE", "a", "1", npy(np.float64(2)))
        assert received() == [(b"__keyevent@0__:np.setslice", b"a")]


def test_one_row_of_a_big_array(r):
    arr = np.arange(4 << 20, dtype=np.float32).reshape(-1, 1024)  # 16 MiB
    r.execute_command("NP.SET", "big", npy(arr))
    assert r.execute_command("NP.GET", "big", "SLICE", "-1") == npy(arr[-1])
    assert r.execute_command("NP.GET", "big", "SLICE", "::1000, 5") == npy(arr[::1000, 5])
