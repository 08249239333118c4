"""NP.GET … MAXBYTES n: the reply is refused when the array it carries would
hold more than n bytes of data; NumPy's nbytes of arr[spec].astype(dtype) is
the oracle for the bound."""

from __future__ import annotations

import io
import random
import warnings

import numpy as np
import pytest
import redis

from npy_bytes import npy


def refusal(nbytes: int, limit: int) -> str:
    return f"reply array would be {nbytes} bytes, over MAXBYTES {limit}"


def test_whole_array_up_to_the_limit_is_returned_past_it_refused(r):
    arr = np.arange(1024, dtype=np.float32)  # 4096 bytes of data
    r.execute_command("NP.SET", "a", npy(arr))
    assert r.execute_command("NP.GET", "a", "MAXBYTES", 4096) == npy(arr)
    assert r.execute_command("NP.GET", "a", "maxbytes", 1 << 62) == npy(arr)
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.GET", "a", "MAXBYTES", 4095)
    assert str(err.value) == refusal(4096, 4095)
    with pytest.raises(redis.ResponseError, match=refusal(4096, 0)):
        r.execute_command("NP.GET", "a", "MAXBYTES", 0)
    # the value is untouched
    assert r.execute_command("NP.GET", "a") == npy(arr)


def test_empty_and_zero_d_arrays(r):
    r.execute_command("NP.SET", "e", npy(np.zeros((0, 5), np.float64)))
    assert r.execute_command("NP.GET", "e", "MAXBYTES", 0) == npy(np.zeros((0, 5), np.float64))
    r.execute_command("NP.SET", "s", npy(np.array(2.5)))
    assert r.execute_command("NP.GET", "s", "MAXBYTES", 8) == npy(np.array(2.5))
    with pytest.raises(redis.ResponseError, match=refusal(8, 7)):
        r.execute_command("NP.GET", "s", "MAXBYTES", 7)


def random_spec(rng: random.Random, shape: tuple[int, ...]) -> tuple[str, tuple[object, ...]]:
    """A basic-indexing or index-list spec as text and as a NumPy index."""
    text, index = [], []
    for n in shape[: rng.randint(0, len(shape))]:
        kind = rng.random()
        if kind < 0.2 and n:
            i = rng.randrange(-n, n)
            text.append(str(i))
            index.append(i)
        elif kind < 0.4 and n:
            items = [rng.randrange(-n, n) for _ in range(rng.randint(0, 4))]
            text.append("[" + ", ".join(map(str, items)) + "]")
            index.append(items)
            break  # one list per spec keeps NumPy's result shape rules simple
        else:
            start, stop = rng.randint(-n - 1, n + 1), rng.randint(-n - 1, n + 1)
            step = rng.choice([1, 2, 3, -1, -2])
            text.append(f"{start}:{stop}:{step}")
            index.append(slice(start, stop, step))
    return ", ".join(text), tuple(index)


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_is_numpys_nbytes_of_the_selection_after_the_cast(r, seed):
    rng = random.Random(seed)
    casts = [None, "int8", "float64", "complex128", "uint16"]
    for case in range(40):
        shape = tuple(rng.randint(0, 6) for _ in range(rng.randint(1, 3)))
        dtype = rng.choice(["<f4", ">i2", "<u8", "<c8"])
        arr = np.arange(int(np.prod(shape)), dtype=np.int64).astype(dtype).reshape(shape)
        if rng.random() < 0.3:
            arr = np.asfortranarray(arr)
        r.execute_command("NP.SET", "a", npy(arr))
        spec, index = random_spec(rng, shape)
        cast = rng.choice(casts)
        want = np.asarray(arr[index])
        options: list[object] = ["SLICE", spec]
        if cast is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ComplexWarning
                want = want.astype(cast)
            options += ["AS", cast]
        ctx = f"case {case}: {arr.dtype}{shape}[{spec}] as {cast}"
        # the reply's layout and bytes are NP.GET's own (tested elsewhere); MAXBYTES adds nothing to them
        unbounded = r.execute_command("NP.GET", "a", *options)
        assert np.load(io.BytesIO(unbounded)).nbytes == want.nbytes, ctx
        assert r.execute_command("NP.GET", "a", *options, "MAXBYTES", want.nbytes) == unbounded, ctx
        if want.nbytes:
            with pytest.raises(redis.ResponseError) as err:
                r.execute_command("NP.GET", "a", *options, "MAXBYTES", want.nbytes - 1)
            assert str(err.value) == refusal(want.nbytes, want.nbytes - 1), ctx


def test_values_is_bounded_by_the_arrays_nbytes(r):
    arr = np.arange(6, dtype=np.int16)
    r.execute_command("NP.SET", "a", npy(arr))
    reply = r.execute_command("NP.GET", "a", "VALUES", "MAXBYTES", 12)
    values = reply[b"values"] if isinstance(reply, dict) else reply[5]
    assert values == list(range(6))
    with pytest.raises(redis.ResponseError, match=refusal(48, 12)):
        r.execute_command("NP.GET", "a", "AS", "float64", "VALUES", "MAXBYTES", 12)


def test_missing_key_is_nil(r):
    assert r.execute_command("NP.GET", "nosuchkey", "MAXBYTES", 0) is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["MAXBYTES", -1], "MAXBYTES must be a non-negative integer"),
        (["MAXBYTES", "ten"], "MAXBYTES must be a non-negative integer"),
        (["MAXBYTES", "1.5"], "MAXBYTES must be a non-negative integer"),
        (["MAXBYTES", 1, "MAXBYTES", 2], "MAXBYTES given twice"),
        (["maxbytes", 1, "MaxBytes", 2], "MAXBYTES given twice"),
        (["MAXBYTES", 1, "maxbytez", 2], "unknown NP.GET option 'MAXBYTEZ'"),
    ],
)
def test_bad_maxbytes_is_refused_even_for_a_missing_key(r, args, message):
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("NP.GET", "nosuchkey", *args)
    assert str(err.value) == message


def test_maxbytes_without_a_value_is_an_arity_error(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'np.get' command"):
        r.execute_command("NP.GET", "a", "MAXBYTES")


def test_command_docs_lists_maxbytes(redis_server):
    client = redis_server.client(single_connection_client=True)
    try:
        client.connection.send_command("COMMAND", "DOCS", "np.get")  # redis-py's parser of it fails on modules
        docs = repr(client.connection.read_response())
    finally:
        client.close()
    assert "'MAXBYTES'" in docs or "b'MAXBYTES'" in docs
