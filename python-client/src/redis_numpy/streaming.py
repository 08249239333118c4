"""`set` and `get` that stream big arrays in chunks, `upload` and `view`: the
commands of `Numpy` that take more than one round trip (docs/big-arrays.md)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import redis

from . import chunked
from .commands import NEVER_DECODE, NP_GET, OVER_MAXBYTES, DtypeLike, IndexSpec, NumpyCommands
from .sharded import DEFAULT_CHUNK_BYTES as SHARD_CHUNK_BYTES
from .sharded import ShardedArray
from .view import ArrayView


class StreamingCommands(NumpyCommands):
    """Arrays bigger than `chunk_bytes` (64 MiB unless set on the instance) move
    in chunks of that size: `set` through a staging key published whole, `get`
    slice by slice into one preallocated array. Set `chunk_bytes = None` to send
    every array in one command. Streaming applies to synchronous clients and
    Cluster clients; pipelines and asyncio clients send one command."""

    chunk_bytes: Optional[int] = chunked.DEFAULT_CHUNK_BYTES
    # Seconds a staging key outlives its last chunk (an interrupted upload's leftovers).
    staging_ttl: int = chunked.DEFAULT_STAGING_TTL
    client: Any
    _queued: bool

    def _streams(self) -> bool:
        return (
            self.chunk_bytes is not None
            and not self._queued
            and isinstance(self.client, (redis.Redis, redis.cluster.RedisCluster))
        )

    def set(self, key: Any, arr: Any, *, progress: chunked.Progress = None, **options: Any) -> Any:
        """Store `arr` at `key` (NP.SET), replacing any array there. Returns True.

        Past `chunk_bytes` the array is uploaded in chunks; readers see the old
        value until the whole new one is in place. `progress`: a callable
        `(done_bytes, total_bytes)`, or True for a tqdm bar (if tqdm is installed).
        With SET's options (`ex`, `nx`, `get`, ... see `NumpyCommands.set`) the
        array goes in one command. Values `.npy` cannot hold raise TypeError
        before anything is sent."""
        if self._streams() and not any(options.values()):
            data = np.asanyarray(arr)
            assert self.chunk_bytes is not None
            if data.ndim and data.nbytes > self.chunk_bytes:
                return chunked.upload(
                    self, key, data, chunk_bytes=self.chunk_bytes, ttl=self.staging_ttl, progress=progress
                )
        return super().set(key, arr, **options)

    def get(
        self,
        key: Any,
        *,
        copy: bool = False,
        slice: IndexSpec = None,
        as_dtype: Optional[DtypeLike] = None,
        progress: chunked.Progress = None,
    ) -> Any:
        """The array at `key` (NP.GET), or None if the key does not exist.

        The array is a **read-only** zero-copy view of the reply: in-place changes
        raise NumPy's "assignment destination is read-only". `copy=True` returns a
        writable copy. `slice` reads `arr[slice]` on the server (a string like `"10:20, ::2"` or
        `np.s_[10:20, ::2]`); `as_dtype` casts on the server like `arr.astype(dtype)`.
        A whole array past `chunk_bytes` is read in chunks (then always writable);
        `progress` as for `set`."""
        if slice is None and as_dtype is None and self._streams():
            assert self.chunk_bytes is not None
            # One round trip for an array up to chunk_bytes; a bigger one is refused
            # before the server builds a reply, and read in chunks instead.
            try:
                return self.execute_command(
                    NP_GET, key, "MAXBYTES", self.chunk_bytes, np_copy=copy, **{NEVER_DECODE: []}
                )
            except redis.exceptions.ResponseError as err:
                if not str(err).startswith(OVER_MAXBYTES):
                    raise
            try:
                return chunked.download(self, key, chunk_bytes=self.chunk_bytes, progress=progress)
            except redis.exceptions.NoPermissionError:  # an ACL user allowed NP.GET alone
                pass
        return super().get(key, copy=copy, slice=slice, as_dtype=as_dtype)

    def upload(self, key: Any, shape: tuple[int, ...], dtype: Any, *, progress: chunked.Progress = None) -> chunked.Upload:
        """An array of `shape` and `dtype` written in pieces along axis 0 with
        `write(block)` and published whole by `commit()` (or a `with` block)."""
        return chunked.Upload(self, key, shape, dtype, ttl=self.staging_ttl, progress=progress)

    def view(self, key: Any) -> ArrayView:
        """The array at `key` as an `ArrayView`: read and written slice by slice, on the server."""
        return ArrayView(self, key, chunk_bytes=self.chunk_bytes or chunked.DEFAULT_CHUNK_BYTES)

    def sharded(self, name: str) -> ShardedArray:
        """The sharded array at `name` (a Redis Cluster array split over chunk keys)."""
        return ShardedArray(self, name)

    def create_sharded(
        self,
        name: str,
        data: Any = None,
        *,
        shape: Optional[tuple[int, ...]] = None,
        dtype: Any = None,
        chunk_bytes: int = SHARD_CHUNK_BYTES,
    ) -> ShardedArray:
        """Store `data` as a sharded array at `name` in chunks of about `chunk_bytes`
        spread over the cluster's shards, or a zero-filled one of `shape` and `dtype`
        to fill in pieces; see `ShardedArray`."""
        return ShardedArray.create(self, name, data, shape=shape, dtype=dtype, chunk_bytes=chunk_bytes)
