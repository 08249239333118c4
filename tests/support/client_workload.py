"""The Python client's whole API, run as one user against keys under a
prefix: the reads, and the writes. For ACL recipes (tests/python/test_acl.py),
which run it as a read-only user (reads pass, writes get NOPERM) and as a
read-write user (everything passes), and to learn which Redis commands the
client sends (MONITOR)."""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np
import redis

from redis_numpy import Numpy

# Past this many bytes the client moves an array in chunks: small here, so that
# staged uploads, chunked and piecewise reads run on small arrays.
CHUNK_BYTES = 4096
BIG = np.arange(4000, dtype=np.float64).reshape(1000, 4)  # 32000 bytes: 8 chunks


def np_save(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, arr)
    return out.getvalue()


def prepare(admin: redis.Redis, prefix: str) -> None:
    """The keys the reads need, written by an unrestricted client."""
    arrays = Numpy(admin)
    arrays.set(f"{prefix}a", np.arange(12, dtype=np.float32).reshape(3, 4))
    arrays.set(f"{prefix}b", np.arange(5, dtype=np.int64))
    arrays.set(f"{prefix}w", np.zeros((4, 3)))  # so that a refused view write reaches the server
    arrays.set(f"{prefix}big", BIG)
    arrays.create_sharded(f"{prefix}sh", BIG, chunk_bytes=CHUNK_BYTES)
    admin.set(f"{prefix}old", np_save(np.ones(3)))


def _user_arrays(client: redis.Redis) -> Any:
    arrays = Numpy(client)
    arrays.chunk_bytes = CHUNK_BYTES
    return arrays


def reads(client: redis.Redis, prefix: str) -> dict[str, Callable[[], Any]]:
    """Each read of the API, by name."""
    a = _user_arrays(client)
    p = prefix

    def transaction() -> Any:
        with a.pipeline() as pipe:
            return pipe.get(f"{p}a").shape(f"{p}b").execute()

    def plain_pipeline() -> Any:
        with a.pipeline(transaction=False) as pipe:
            return pipe.get(f"{p}a").info(f"{p}b").execute()

    return {
        "get": lambda: a.get(f"{p}a"),
        "get slice": lambda: a.get(f"{p}a", slice=np.s_[1:, ::2]),
        "get rows": lambda: a.get(f"{p}a", slice=[0, 2]),
        "get as": lambda: a.get(f"{p}a", as_dtype=np.float16),
        "get chunked": lambda: np.testing.assert_array_equal(a.get(f"{p}big"), BIG),
        "get piecewise": lambda: np.testing.assert_array_equal(a.get(f"{p}big", slice=np.s_[::3]), BIG[::3]),
        "mget": lambda: a.mget([f"{p}a", f"{p}b"]),
        "values": lambda: a.values(f"{p}b"),
        "reduce": lambda: a.reduce(f"{p}a", "sum", axis=0),
        "shape": lambda: a.shape(f"{p}a"),
        "dtype": lambda: a.dtype(f"{p}a"),
        "dtype_name": lambda: a.dtype_name(f"{p}a"),
        "size": lambda: a.size(f"{p}a"),
        "info": lambda: a.info(f"{p}a"),
        "view read": lambda: np.asarray(a.view(f"{p}big"))[10],
        "sharded read": lambda: np.testing.assert_array_equal(a.sharded(f"{p}sh")[5:900], BIG[5:900]),
        "transaction": transaction,
        "pipeline": plain_pipeline,
    }


def writes(client: redis.Redis, prefix: str) -> dict[str, Callable[[], Any]]:
    """Each write of the API, by name (after `prepare`, in this order)."""
    a = _user_arrays(client)
    p = prefix

    def upload() -> None:
        with a.upload(f"{p}up", (10, 4), np.float32) as up:
            up.write(np.zeros((6, 4), np.float32))
            up.write(np.ones((4, 4), np.float32))

    def view_write() -> None:
        a.view(f"{p}w")[0] = 7.0

    def sharded_write() -> None:
        sh = a.create_sharded(f"{p}sh2", BIG, chunk_bytes=CHUNK_BYTES)
        sh[3:500] = 1.0
        sh.delete()

    def transaction() -> Any:
        with a.pipeline() as pipe:
            return pipe.set(f"{p}t", np.zeros(2)).append(f"{p}t", np.ones(2)).execute()

    return {
        "set": lambda: a.set(f"{p}w", np.zeros((4, 3))),
        "set ex nx": lambda: a.set(f"{p}x", np.zeros(3), ex=100, nx=True),
        "set get": lambda: a.set(f"{p}x", np.ones(3), get=True),
        "set chunked": lambda: a.set(f"{p}w2", BIG),
        "upload": upload,
        "mset": lambda: a.mset({f"{p}m1": np.zeros(2), f"{p}m2": np.ones(2)}),
        "append": lambda: a.append(f"{p}log", np.zeros((2, 3))),
        "append maxlen": lambda: a.append(f"{p}log", np.ones((2, 3)), maxlen=3),
        "trim": lambda: a.execute_command("NP.TRIM", f"{p}log", 1),
        "reserve": lambda: a.execute_command("NP.RESERVE", f"{p}log", 100),
        "setslice": lambda: a.setslice(f"{p}w", np.s_[0], np.ones(3)),
        "view write": view_write,
        "update": lambda: a.update(f"{p}w", "add", np.float64(1)),
        "reshape": lambda: a.reshape(f"{p}w", (3, 4)),
        "transpose": lambda: a.transpose(f"{p}w"),
        "convert": lambda: a.convert(f"{p}old"),
        "migrate": lambda: a.migrate(f"{p}*"),
        "sharded write": sharded_write,
        "transaction": transaction,
    }
