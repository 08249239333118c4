"""`set` and `get` that stream big arrays in chunks, `upload` and `view`: the
commands of `Numpy` that take more than one round trip (docs/big-arrays.md)."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Optional

import numpy as np
import redis

from . import batch_reply, chunked, chunked_async, piecewise, wire
from .migrate import MigrationReport, migrate
from .chunked import Progress
from .commands import (
    NEVER_DECODE, NP_APPEND, NP_GET, NP_MGET, OVER_MAXBYTES, DtypeLike, IndexSpec, KeyT, NumpyCommands, get_args,
)  # fmt: skip
from .libraries import errors, is_cluster
from .npy import as_storable_array
from .reply_types import returns
from .sharded import SHARD_CHUNK_BYTES, ShardedArray
from .view import ArrayView

# Appends of at least this many bytes go out from the array's own memory.
DIRECT_APPEND_BYTES = 64 * 1024


_MAXBYTES = b"MAXBYTES"
# redis-py's option for replies read as bytes even on a decode_responses client.
_BINARY: dict[str, Any] = {NEVER_DECODE: []}


class StreamingCommands(NumpyCommands):
    """Arrays bigger than `chunk_bytes` (64 MiB unless set on the instance) move
    in chunks of that size: `set` through a staging key published whole, `get`
    slice by slice into one preallocated array. Set `chunk_bytes = None` to send
    every array in one command. Streaming applies to synchronous and asyncio
    clients, on a server or a cluster; pipelines send one command."""

    chunk_bytes: Optional[int] = chunked.TRANSFER_CHUNK_BYTES
    # Seconds a staging key outlives its last chunk (an interrupted upload's leftovers).
    staging_ttl: int = chunked.DEFAULT_STAGING_TTL
    client: Any
    _queued: bool
    _response_error: type[Exception]

    @functools.cached_property
    def _sync_client(self) -> bool:
        """A synchronous client (redis-py's or valkey's), not a pipeline: a command's reply is its value."""
        return not self._queued and not inspect.iscoroutinefunction(getattr(self.client, "execute_command", None))

    @functools.cached_property
    def _async_client(self) -> bool:
        """An asyncio client (redis-py's or valkey's), not a pipeline."""
        return not self._queued and inspect.iscoroutinefunction(getattr(self.client, "execute_command", None))

    def _streams(self) -> bool:
        return self.chunk_bytes is not None and self._sync_client

    def set(self, key: Any, arr: Any, *, progress: Progress = None, **options: Any) -> Any:
        """Store `arr` at `key` (NP.SET), replacing any array there. Returns True.

        Past `chunk_bytes` the array is uploaded in chunks; readers see the old
        value until the whole new one is in place. `progress`: a callable
        `(done_bytes, total_bytes)`, or True for a tqdm bar (if tqdm is installed).
        With SET's options (`ex`, `nx`, `get`, ... see `NumpyCommands.set`) the
        array goes in one command. Values `.npy` cannot hold raise TypeError
        before anything is sent."""
        chunk_bytes = self.chunk_bytes
        if chunk_bytes is not None and (self._sync_client or self._async_client) and not any(options.values()):
            data = as_storable_array(arr)
            if data.ndim and data.nbytes > chunk_bytes:
                stream = chunked_async.upload if self._async_client else chunked.upload
                return stream(self, key, data, chunk_bytes=chunk_bytes, ttl=self.staging_ttl, progress=progress)
            arr = data
        return super().set(key, arr, **options)

    def get(
        self,
        key: Any,
        *,
        copy: bool = False,
        slice: IndexSpec = None,
        as_dtype: Optional[DtypeLike] = None,
        progress: Progress = None,
    ) -> Any:
        """The array at `key` (NP.GET), or None if the key does not exist.

        The array is a **read-only** zero-copy view of the reply: in-place changes
        raise NumPy's "assignment destination is read-only". `copy=True` returns a
        writable copy. `slice` reads `arr[slice]` on the server (a string like `"10:20, ::2"` or
        `np.s_[10:20, ::2]`); `as_dtype` casts on the server like `arr.astype(dtype)`.
        A read of more than a few MiB (up to `chunk_bytes`) goes as pieces of a
        few MiB in one transaction, and a whole array past `chunk_bytes` in
        chunks; either way the array is then writable. `progress` as for `set`."""
        chunk_bytes = self.chunk_bytes
        if self._async_client and chunk_bytes is not None and slice is None and as_dtype is None:
            return chunked_async.get(self, key, copy=copy, chunk_bytes=chunk_bytes, progress=progress)
        if (
            as_dtype is None
            and chunk_bytes is not None
            and self._sync_client
            and (slice is None or piecewise.splittable(slice) is not None)
        ):
            # One round trip for a reply up to PIECEWISE_FROM; a bigger one is
            # refused before the server builds a reply, then read in pieces (up
            # to chunk_bytes) or chunks (a whole array past chunk_bytes). The
            # client is called directly: on a synchronous client `execute_command`
            # adds nothing to NP.GET but time, which a small array's read notices.
            limit = min(piecewise.PIECEWISE_FROM, chunk_bytes)
            args = (NP_GET, key) if slice is None else get_args(key, slice, None)
            try:
                return self.client.execute_command(*args, _MAXBYTES, limit, np_copy=copy, **_BINARY)
            except self._response_error as err:
                if not str(err).startswith(OVER_MAXBYTES):
                    raise self._mark((NP_GET,), err) from err
                size = int(str(err)[len(OVER_MAXBYTES) :].split()[0])
            if size <= chunk_bytes:
                got = piecewise.read(self.client, key, slice)
                if got is not piecewise.NOT_DONE:
                    return got
            elif slice is None:
                try:
                    return chunked.download(self, key, chunk_bytes=chunk_bytes, progress=progress)
                except errors(self.client).NoPermissionError:  # an ACL user allowed NP.GET alone
                    pass
        return super().get(key, copy=copy, slice=slice, as_dtype=as_dtype)

    def mget(self, keys: Any, *, copy: bool = False) -> Any:
        """The arrays at `keys` (NP.MGET), in order, None for a missing key.

        Read-only views like `get`'s (a batch of one dtype and shape shares one
        buffer, which each array keeps alive); `copy=True` for writable copies
        of their own. On Redis Cluster the keys are grouped by hash slot (one
        NP.MGET per slot) and the arrays come back in the caller's order. On a
        plain RESP2 connection the reply is read from the socket into one buffer
        (batch_reply.py)."""
        if self._sync_client and not is_cluster(self.client):
            keys = list(keys)
            pool = self.client.connection_pool
            conn = wire.connection(pool)
            try:
                if wire.usable(conn) and str(getattr(conn, "protocol", 2) or 2) == "2":
                    keep = (redis.exceptions.ResponseError, ValueError)
                    try:
                        conn.send_packed_command(wire.packed(conn, NP_MGET, *keys))
                        return wire.guarded(conn, lambda: batch_reply.read_mget(conn, len(keys), copy), keep=keep)
                    except redis.exceptions.ResponseError as err:
                        raise self._mark((NP_MGET,), err) from err
                    except redis.exceptions.ConnectionError:
                        conn.disconnect()  # a stale connection: the client's own path retries as it does
            finally:
                pool.release(conn)
        return super().mget(keys, copy=copy)

    def append(
        self,
        key: Any,
        arr: Any,
        *,
        maxlen: Optional[int] = None,
        ex: Any = None,
        px: Any = None,
        exat: Any = None,
        pxat: Any = None,
    ) -> Any:
        """Concatenate `arr` to the array at `key` along its growth axis (NP.APPEND),
        creating the key if absent. Returns the new length of that axis.

        `maxlen=n` then keeps only the last `n` entries along that axis: a rolling buffer.
        NP.APPEND keeps the key's TTL; `ex`, `px`, `exat` or `pxat` (as for `set`)
        set one in the same atomic step.
        On a plain connection to one server, a C-ordered block of 64 KiB or more is
        sent from its own memory (its `.npy` header, then the array's bytes): no copy
        of it is built."""
        if any(v is not None for v in (ex, px, exat, pxat)):
            return super().append(key, arr, maxlen=maxlen, ex=ex, px=px, exat=exat, pxat=pxat)
        if self._streams() and not is_cluster(self.client):
            data = as_storable_array(arr)
            if data.nbytes >= DIRECT_APPEND_BYTES and (data.flags.c_contiguous or not data.flags.f_contiguous):
                extra = () if maxlen is None else ("MAXLEN", int(maxlen))
                pool = self.client.connection_pool
                conn = wire.connection(pool)
                try:
                    if wire.usable(conn):
                        conn.send_packed_command(wire.npy_command(NP_APPEND, key, np.ascontiguousarray(data), *extra))
                        try:
                            return conn.read_response()
                        except redis.exceptions.ResponseError as err:
                            raise self._mark((NP_APPEND,), err) from err
                finally:
                    pool.release(conn)
        return super().append(key, arr, maxlen=maxlen)

    def setslice(self, key: Any, slice: IndexSpec, arr: Any) -> Any:
        """`arr_at_key[slice] = arr` on the server (NP.SETSLICE); returns True.

        A Python scalar, list or tuple is cast to the stored dtype first, as
        NumPy's `arr[i] = 0.0` casts it (one NP.INFO before; in a pipeline it is
        sent as `np.asarray` makes it). Arrays and NumPy scalars must have the
        stored dtype: the server does not cast."""
        python_value = isinstance(arr, (bool, int, float, complex, str, bytes, list, tuple))
        if python_value and not isinstance(arr, np.generic) and not self._queued:
            if self._async_client:
                return self._setslice_cast(key, slice, arr)
            dtype = self.dtype(key)
            if dtype is not None:
                arr = np.asarray(arr, dtype=dtype)
        return super().setslice(key, slice, arr)

    async def _setslice_cast(self, key: Any, slice: IndexSpec, value: Any) -> Any:
        dtype = await self.dtype(key)
        return await super().setslice(key, slice, value if dtype is None else np.asarray(value, dtype=dtype))

    def _mark(self, args: tuple[Any, ...], err: Exception) -> Exception:
        """The error as `Numpy` raises it for `args`' command (see client.py)."""
        return err

    @returns("Upload", on_async="AsyncUpload", queued=False)
    def upload(
        self, key: KeyT, shape: tuple[int, ...], dtype: DtypeLike, *, progress: Progress = None, order: str = "C"
    ) -> Any:
        """An array of `shape` and `dtype` written in pieces along axis 0 (along
        the last axis with `order="F"`, stored in Fortran order) with
        `write(block)` and published whole by `commit()` (or a `with` block).
        On an asyncio client an `AsyncUpload`: `async with`, `await up.write(block)`."""
        if self._async_client:
            return chunked_async.AsyncUpload(
                self, key, shape, dtype, ttl=self.staging_ttl, progress=progress, order=order
            )
        return chunked.Upload(self, key, shape, dtype, ttl=self.staging_ttl, progress=progress, order=order)

    def migrate(self, pattern: str = "*", *, count: int = 1000) -> MigrationReport:
        """Convert every string key matching `pattern` (SCAN MATCH, on every primary of
        a Cluster) that holds `np.save` bytes into an array in place, keeping TTLs
        (NP.CONVERT, atomic per key). Strings that are not `.npy` are left as they
        were and counted in the report's `refused`. Synchronous clients only."""
        if not self._sync_client:
            raise TypeError("migrate() needs a synchronous client (redis-py's or valkey's), not a pipeline or asyncio")
        return migrate(self.client, pattern, count)

    def view(self, key: Any) -> ArrayView:
        """The array at `key` as an `ArrayView`: read and written slice by slice, on the server."""
        return ArrayView(self, key, chunk_bytes=self.chunk_bytes or chunked.TRANSFER_CHUNK_BYTES)

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
