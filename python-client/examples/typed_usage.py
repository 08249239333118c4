"""The client as a type checker sees it: `mypy --strict` checks this file (`make lint`),
and every `assert_type` below states what a command returns for each kind of client.

    python python-client/examples/typed_usage.py [--port 6379]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
import redis
import redis.asyncio

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

from redis_numpy import (
    ArrayInfo, ArrayValues, AsyncNumpy, AsyncUpload, Numpy, NumpyError, NumpyPipeline, SyncNumpy, Upload,
)

Array = npt.NDArray[Any]


def sync_example(port: int) -> None:
    arrays = Numpy(redis.Redis(port=port))
    assert_type(arrays, SyncNumpy)
    ok = arrays.set("typed:a", np.arange(6.0).reshape(2, 3), ex=60)
    assert_type(ok, Optional[bool])
    old = arrays.set("typed:a", np.zeros(3), get=True)
    assert_type(old, Optional[Array])
    a = arrays.get("typed:a", copy=True)
    assert_type(a, Optional[Array])
    if a is not None:
        a += 1  # writable: copy=True
    assert_type(arrays.mget(["typed:a", "typed:missing"]), list[Optional[Array]])
    assert_type(arrays.mset({"typed:b": np.ones(2), "typed:c": np.zeros(2)}), bool)
    assert_type(arrays.append("typed:log", np.ones((1, 4), np.float32), maxlen=100), int)
    assert_type(arrays.shape("typed:a"), Optional[tuple[int, ...]])
    assert_type(arrays.dtype("typed:a"), Optional[np.dtype[Any]])
    assert_type(arrays.size("typed:a"), Optional[int])
    info = arrays.info("typed:a")
    assert_type(info, Optional[ArrayInfo])
    if info is not None:
        assert_type(info["shape"], tuple[int, ...])
        assert_type(info["fortran_order"], bool)
    values = arrays.values("typed:a")
    assert_type(values, Optional[ArrayValues])
    assert_type(arrays.append("typed:log", np.ones((1, 4), np.float32), ex=60), int)
    assert_type(arrays.trim("typed:log", 10), int)
    assert_type(arrays.reserve("typed:log", 1000), bool)
    with arrays.upload("typed:up", (2, 3), np.float32) as up:
        assert_type(up, Upload)
        up.write(np.zeros((2, 3), np.float32))
    store_rows(arrays)

    with arrays.pipeline() as pipe:
        assert_type(pipe, NumpyPipeline)
        chained = pipe.set("typed:p", np.arange(3)).get("typed:p").info("typed:p")
        assert_type(chained, NumpyPipeline)
        replies = pipe.execute()
        assert_type(replies, list[Any])
    try:
        arrays.get("typed:a", slice="5")
    except NumpyError as err:  # also the client's own class (redis.ResponseError here)
        assert isinstance(err, redis.ResponseError)
    arrays.close()


def store_rows(arrays: SyncNumpy) -> int:
    """Annotate with SyncNumpy / AsyncNumpy: `Numpy` stands for every kind of
    client, so its commands return Any."""
    rows = arrays.append("typed:rows", np.zeros((1, 4)))
    assert_type(rows, int)
    return rows


async def async_example(port: int) -> None:
    arrays = Numpy(redis.asyncio.Redis(port=port))
    assert_type(arrays, AsyncNumpy)
    assert_type(await arrays.set("typed:x", np.arange(4)), Optional[bool])
    assert_type(await arrays.get("typed:x"), Optional[Array])
    assert_type(await arrays.mget(["typed:x"]), list[Optional[Array]])
    assert_type(await arrays.info("typed:x"), Optional[ArrayInfo])
    async with arrays.upload("typed:up", (2,), np.int64) as up:
        assert_type(up, AsyncUpload)
        await up.write(np.arange(2))
    async with arrays.pipeline() as pipe:
        pipe.set("typed:y", np.arange(2)).shape("typed:y")
        assert_type(await pipe.execute(), list[Any])
    await arrays.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=6379)
    port: int = parser.parse_args().port
    sync_example(port)
    asyncio.run(async_example(port))
    print("typed example ran")


if __name__ == "__main__":
    main()
