"""Index lists that repeat an index, as a hostile caller sends them: no
command builds a temporary past numpy.max-array-bytes or works once per
repeat. NP.UPDATE and NP.SETSLICE write each distinct element once (the last
repeat wins, as in NumPy); NP.REDUCE refuses a gather past the limit, as
NP.GET does. Results are compared with NumPy."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer

ROW_FLOATS = 131072  # a float32 row of 512 KiB


def peak_rss_kib(client: redis.Redis) -> int:
    pid = client.info("server")["process_id"]
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def command_usec(client: redis.Redis, command: str) -> int:
    return int(client.info("commandstats")[f"cmdstat_{command}"]["usec"])


@pytest.fixture
def fresh():
    """A server of its own, so that its peak memory is this test's."""
    with RedisServer() as server:
        client = server.client()
        yield client
        client.close()
        assert server.alive(), server.log_tail()


def test_reduce_refuses_a_gather_past_the_limit(fresh):
    arr = np.random.default_rng(0).random((4, ROW_FLOATS), dtype=np.float32)
    fresh.execute_command("NP.SET", "k", npy(arr))
    before = peak_rss_kib(fresh)
    spec = "[" + ",".join(["1"] * 400_000) + "]"  # 200 GB gathered; an 800 KB spec
    with pytest.raises(redis.ResponseError, match="exceeds numpy.max-array-bytes"):
        fresh.execute_command("NP.REDUCE", "k", "sum", "SLICE", spec)
    spec = "[" + ",".join(["1"] * 2_000) + "]"  # 1 GB gathered
    with pytest.raises(redis.ResponseError, match="exceeds numpy.max-array-bytes"):
        fresh.execute_command("NP.REDUCE", "k", "max", "AXIS", "0", "SLICE", spec)
    assert peak_rss_kib(fresh) - before < 64 * 1024, "nothing near the gather's size was allocated"
    # Under the limit the reduction is NumPy's.
    index = [1, 3, 1, 0]
    got = fresh.execute_command("NP.REDUCE", "k", "sum", "AXIS", "0", "SLICE", repr(index))
    assert got == npy(arr[index].sum(axis=0))
    assert fresh.execute_command("NP.GET", "k") == npy(arr)


def test_update_with_repeats_works_once_per_distinct_row(fresh):
    arr = np.random.default_rng(1).random((4, ROW_FLOATS), dtype=np.float32)
    fresh.execute_command("NP.SET", "k", npy(arr))
    before = peak_rss_kib(fresh)
    index = [1] * 2_000 + [2] * 2_000
    fresh.execute_command("NP.UPDATE", "k", "add", npy(np.float32(1.5)), "SLICE", repr(index))
    arr[index] += np.float32(1.5)  # NumPy adds once per distinct row
    assert fresh.execute_command("NP.GET", "k") == npy(arr)
    # Before, the 2 GB gather, its sum and its copy: gigabytes.
    assert peak_rss_kib(fresh) - before < 64 * 1024
    assert command_usec(fresh, "np.update") < 2_000_000


def test_setslice_with_repeats_writes_each_row_once(fresh):
    arr = np.zeros((4, ROW_FLOATS), np.float32)
    fresh.execute_command("NP.SET", "k", npy(arr))
    row = np.arange(ROW_FLOATS, dtype=np.float32)
    spec = "[" + ",".join(["2"] * 300_000) + "]"
    fresh.execute_command("NP.SETSLICE", "k", spec, npy(row))
    arr[2] = row
    assert fresh.execute_command("NP.GET", "k") == npy(arr)
    # One 512 KiB copy, not 300,000 of them (150 GB of memcpy: seconds).
    assert command_usec(fresh, "np.setslice") < 2_000_000


def numpy_update(arr: np.ndarray, index: tuple, op, value: np.ndarray) -> np.ndarray:
    out = arr.copy(order="K")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        view = out[index]
        out[index] = op(view, value, out=view, casting="same_kind")
    return out


def random_repeating_case(pyrng: random.Random, rng: np.random.Generator):
    shape = tuple(pyrng.randint(1, 5) for _ in range(pyrng.choice([1, 2, 3])))
    arr = rng.integers(-50, 50, shape).astype(pyrng.choice(["<i4", "<f8", ">f4", "<i2"]))
    if pyrng.random() < 0.4:
        arr = np.asfortranarray(arr)
    n = pyrng.randint(2, 7)
    parts: list[tuple[str, object]] = []
    listed = pyrng.sample(range(len(shape)), pyrng.choice([1, 1, 2]) if len(shape) > 1 else 1)
    for axis, length in enumerate(shape):
        if axis in listed:
            ix = [pyrng.randrange(-length, length) for _ in range(n)] if pyrng.random() < 0.9 else [0]
            parts.append((repr(ix), ix))
        elif pyrng.random() < 0.3:
            i = pyrng.randrange(length)
            parts.append((str(i), i))
        else:
            parts.append((":", slice(None)))
    index = tuple(p for _, p in parts)
    target = np.shape(arr[index])
    vshape = [1 if pyrng.random() < 0.3 else d for d in target[pyrng.randint(0, len(target)):]]
    if pyrng.random() < 0.1:
        vshape = [3] + vshape  # a misfit
    value = rng.integers(-9, 9, vshape).astype(pyrng.choice([arr.dtype, np.dtype("<f8"), np.dtype("<i8")]))
    return arr, ", ".join(t for t, _ in parts), index, value


def test_repeated_lists_match_numpy(r):
    """Every shape of repeat: one list, two lists broadcast together, lists
    apart or beside each other, values that do and do not carry the gathered
    axis, values that do not fit, and casts NumPy refuses."""
    rng, pyrng = np.random.default_rng(5), random.Random(5)
    done = refused = 0
    for _ in range(600):
        arr, spec, index, value = random_repeating_case(pyrng, rng)
        op = pyrng.choice([np.add, np.multiply, np.maximum])
        name = {np.add: "add", np.multiply: "mul", np.maximum: "max"}[op]
        r.execute_command("NP.SET", "a", npy(arr))
        try:
            want = numpy_update(arr, index, op, value)
        except (TypeError, ValueError, IndexError) as err:
            with pytest.raises(redis.ResponseError) as got:
                r.execute_command("NP.UPDATE", "a", name, npy(value), "SLICE", spec)
            assert str(got.value) == str(err), (arr.shape, spec, value.shape, value.dtype)
            assert r.execute_command("NP.GET", "a") == npy(arr)
            refused += 1
            continue
        r.execute_command("NP.UPDATE", "a", name, npy(value), "SLICE", spec)
        assert r.execute_command("NP.GET", "a") == npy(want), (arr.shape, arr.dtype, spec, value.shape)
        # Assignment: the last repeat's value wins.
        if value.dtype == arr.dtype:
            r.execute_command("NP.SET", "a", npy(arr))
            try:
                assigned = arr.copy(order="K")
                assigned[index] = value
            except ValueError as err:
                with pytest.raises(redis.ResponseError):
                    r.execute_command("NP.SETSLICE", "a", spec, npy(value))
                del err
            else:
                r.execute_command("NP.SETSLICE", "a", spec, npy(value))
                assert r.execute_command("NP.GET", "a") == npy(assigned), (arr.shape, spec, value.shape)
        done += 1
    assert done > 300 and refused > 20, (done, refused)
