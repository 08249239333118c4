"""Chunked upload and download for asyncio clients (redis-py's and valkey's,
a server or a cluster): the protocol of chunked.py, awaited.

Upload: `NP.SET` of the first chunk on a staging key, `NP.APPEND` of the
others (each with the staging TTL, in one MULTI on the key's node),
`NP.RESERVE` after the first, then the script that renames the finished array
over the target. Each chunk is written from the array's own memory: the
client holds the array and what the event loop's transport copies of the
chunk in flight (the part the socket did not take at once). Download:
`NP.INFO`, then `NP.GET key SLICE a:b` chunks into one preallocated array,
with the key WATCHed (on a cluster, on the node serving it), in pieces of
about 1 MiB: the client holds the result and one piece's reply.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from .chunked import (
    COMMIT_SCRIPT,
    DEFAULT_STAGING_TTL,
    DOWNLOAD_ATTEMPTS,
    MIN_PROTO_MAX_BULK_LEN,
    RDB_OVERHEAD,
    TRANSFER_CHUNK_BYTES,
    Changed,
    ClusterMoveWarning,
    ConcurrentWrite,
    Progress,
    Staging,
    UploadAborted,
    growth_order,
    move_warning,
    plan_blocks,
    proto_max_bulk_len,
    reporter,
    reserve_refused,
    rows_per_chunk,
)
from .commands import NEVER_DECODE, NP_APPEND, NP_GET, NP_INFO, NP_RESERVE, NP_SET, OVER_MAXBYTES, register_callbacks
from . import piecewise, wire
from .libraries import base_error, error_class, is_cluster, library
from .npy import encode
from .protocol import Arrays


class AsyncUpload(Staging):
    """`Upload` for an asyncio client: `await write(block)`, `await commit()`,
    `await abort()`, or `async with arrays.upload(...) as up:`."""

    def __init__(
        self,
        arrays: Arrays,
        key: Any,
        shape: tuple[int, ...],
        dtype: Any,
        *,
        ttl: int = DEFAULT_STAGING_TTL,
        progress: Progress = None,
        order: str = "C",
    ):
        super().__init__(key, shape, dtype, ttl=ttl, order=order)
        self.arrays = arrays
        self.client = arrays.client
        self._errors = library(self.client).exceptions
        self._progress = progress
        self._checked = False

    async def _check_target(self) -> None:
        """Before the first chunk: refuse a target that is not an array (the
        commit checks again), warn about an array too big to move on a
        cluster, then draw the progress bar."""
        kind = await self.client.type(self.key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind not in ("none", "numpy-arr"):
            self._done = True
            raise self._errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
        if is_cluster(self.client) and self.nbytes + RDB_OVERHEAD > MIN_PROTO_MAX_BULK_LEN:
            await self._warn_if_too_big_to_move()
        self._checked = True
        self._start_progress(self._progress)

    async def _warn_if_too_big_to_move(self) -> None:
        limits = []
        for node in self.client.get_primaries():
            try:
                limits.append(proto_max_bulk_len(await node.execute_command("CONFIG", "GET", "proto-max-bulk-len")))
            except base_error(self.client):
                limits.append(proto_max_bulk_len(None))
        message = move_warning(self.key, self.nbytes, min(limits, default=proto_max_bulk_len(None)))
        if message is not None:
            warnings.warn(message, ClusterMoveWarning, stacklevel=5)

    async def write(self, block: Any) -> None:
        """Stage the next entries (see `Upload.write`)."""
        data = self._block(block)
        if not self._checked:
            await self._check_target()
        if data is None:
            return
        first, n = self.rows == 0, data.shape[self.axis]
        try:
            reply = await self._stage(NP_SET if first else NP_APPEND, data)
            if first and self.length > n:
                await self._reserve()
        except base_error(self.client) as err:
            await self._discard()
            raise error_class(self.client, UploadAborted)(
                f"upload of {self.key!r} aborted after {self.rows} {self.unit}: {err}"
            ) from err
        failure = self._check_reply(first, n, reply)
        if failure is not None:
            await self._discard()
            raise error_class(self.client, UploadAborted)(failure)
        self.rows += n
        self._advance(data.nbytes)

    async def _stage(self, command: str, block: np.ndarray) -> Any:
        """One chunk with the staging TTL, in one MULTI on the staging key's
        node. Sent from the array's own memory where the connection allows
        it (the transport then copies at most what the socket did not take at
        once), else through the client's pipeline with the chunk's `.npy` bytes."""
        pieces = [wire.command("MULTI"), *wire.npy_command(command, self.staging, block)]
        pieces[-1] += wire.command("EXPIRE", self.staging, self.ttl) + wire.command("EXEC")
        sent = await _send_transaction(self.client, self.staging, pieces, 4, self._errors)
        if sent is not None:
            return sent[0]
        payload = encode(block)
        pipe = self.client.pipeline() if is_cluster(self.client) else self.client.pipeline(transaction=True)
        pipe.execute_command(command, self.staging, payload)
        pipe.expire(self.staging, self.ttl)
        del payload  # the pipeline holds it until sent
        replies = await pipe.execute()
        return replies[0]

    async def _reserve(self) -> None:
        try:
            await self.client.execute_command(NP_RESERVE, self.staging, self.length)
        except self._errors.ResponseError as err:
            if not reserve_refused(err):
                raise

    async def commit(self) -> None:
        """Publish the staged array at the key, replacing its value and any TTL."""
        if self._done:
            raise ValueError("this upload is already committed or aborted")
        failure = self._incomplete()
        if failure is not None:
            await self.abort()
            raise error_class(self.client, UploadAborted)(failure)
        if self.length == 0:  # nothing was sent: stage the empty array now
            await self.write(np.empty(self.shape, self.dtype, order=self.order))
        try:
            await self.client.eval(COMMIT_SCRIPT, 2, self.staging, self.key)
        except self._errors.ResponseError as err:
            await self._discard()
            if str(err).startswith("WRONGTYPE"):
                raise
            raise error_class(self.client, UploadAborted)(
                f"upload of {self.key!r} aborted: {err}; the old value is untouched"
            ) from err
        self._done = True
        self._close_progress()

    async def abort(self) -> None:
        """Drop what was staged; the key keeps its old value."""
        if not self._done:
            await self._discard()

    async def _discard(self) -> None:
        self._done = True
        self._close_progress()
        await self.client.delete(self.staging)

    async def __aenter__(self) -> "AsyncUpload":
        return self

    async def __aexit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            await self.commit()
        else:
            await self.abort()


async def _send_transaction(client: Any, key: Any, pieces: list[Any], replies: int, errors: Any) -> Optional[list[Any]]:
    """Sends `pieces` (MULTI, commands, EXEC, packed) on a connection of the
    node serving `key`, each piece written as it is (no joined copy), and
    returns EXEC's reply; None when the client's connections do not allow
    it. An error reply raises once every reply is read."""
    if is_cluster(client):
        node = client.get_node_from_key(key)
        conn = node.acquire_connection()

        async def release() -> None:
            give_back = getattr(node, "release", None)  # redis-py 6+; before it, and valkey: the free list
            if give_back is not None:
                give_back(conn)
            else:
                node._free.append(conn)

    else:
        pool = client.connection_pool
        try:
            conn = await pool.get_connection()
        except TypeError:  # redis-py 5 wants a command name
            conn = await pool.get_connection("NP.APPEND")

        async def release() -> None:
            await pool.release(conn)

    try:
        if not conn.is_connected:
            await conn.connect()
        writer = getattr(conn, "_writer", None)
        if writer is None or not hasattr(writer, "write"):
            return None
        try:
            for piece in pieces:
                writer.write(piece)
            await writer.drain()
            results: list[Any] = []
            error: Optional[BaseException] = None
            for _ in range(replies):
                try:
                    results.append(await conn.read_response())
                except errors.ResponseError as err:
                    error = error or err
                    results.append(err)
        except BaseException:
            await conn.disconnect()  # its replies are out of step
            raise
        if error is not None:
            raise error
        for item in results[-1]:
            if isinstance(item, Exception):
                raise item
        return list(results[-1])
    finally:
        await release()


async def upload(
    arrays: Arrays,
    key: Any,
    arr: np.ndarray,
    *,
    chunk_bytes: int = TRANSFER_CHUNK_BYTES,
    ttl: int = DEFAULT_STAGING_TTL,
    progress: Progress = None,
) -> bool:
    """`chunked.upload` on an asyncio client."""
    order = growth_order(arr)
    up = AsyncUpload(arrays, key, arr.shape, arr.dtype, ttl=ttl, progress=progress, order=order)
    async with up:
        for part in plan_blocks(arr.shape, arr.dtype.itemsize, chunk_bytes, order):
            await up.write(arr[..., part] if order == "F" else arr[part])
    return True


async def get(
    arrays: Arrays, key: Any, *, copy: bool, chunk_bytes: int, progress: Progress
) -> Optional[np.ndarray]:
    """A whole array: one `NP.GET ... MAXBYTES chunk_bytes`, and when the
    server refuses it as bigger, a chunked download."""
    errors = library(arrays.client).exceptions
    try:
        got: Optional[np.ndarray] = await arrays.execute_command(
            NP_GET, key, "MAXBYTES", chunk_bytes, np_copy=copy, **{NEVER_DECODE: []}
        )
        return got
    except errors.ResponseError as err:
        if not str(err).startswith(OVER_MAXBYTES):
            raise
    try:
        return await download(arrays, key, chunk_bytes=chunk_bytes, progress=progress)
    except errors.NoPermissionError:  # an ACL user allowed NP.GET alone
        whole: Optional[np.ndarray] = await arrays.execute_command(NP_GET, key, np_copy=copy, **{NEVER_DECODE: []})
        return whole


async def download(
    arrays: Arrays, key: Any, *, chunk_bytes: int = TRANSFER_CHUNK_BYTES, progress: Progress = None
) -> Optional[np.ndarray]:
    """`chunked.download` on an asyncio client: the array at `key` read in
    chunks into one new (writable) array, or None if the key does not exist."""
    client = arrays.client
    errors, aio = library(client).exceptions, library(client).asyncio
    if is_cluster(client):
        for _ in range(DOWNLOAD_ATTEMPTS):
            # A client of its own on the key's node, which can WATCH (a cluster
            # pipeline cannot); NP.* callbacks registered on it alone.
            node = client.get_node_from_key(key)
            pool = aio.ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
            on_node = register_callbacks(aio.Redis(connection_pool=pool))
            try:
                return await _download_watched(on_node, key, chunk_bytes, progress)
            except (errors.MovedError, errors.AskError):
                await client.nodes_manager.initialize()  # the slot moved mid-read: find its new node
            finally:
                await on_node.aclose()
                await pool.disconnect()  # the client does not own a pool it was given
        raise error_class(client, ConcurrentWrite)(
            f"{key!r} moved to another node during each of {DOWNLOAD_ATTEMPTS} chunked reads"
        )
    return await _download_watched(client, key, chunk_bytes, progress)


async def _download_watched(client: Any, key: Any, chunk_bytes: int, progress: Progress) -> Optional[np.ndarray]:
    """`download` on one server's client (NP.* callbacks registered), the key WATCHed."""
    errors = library(client).exceptions
    async with client.pipeline(transaction=True) as pipe:
        for _ in range(DOWNLOAD_ATTEMPTS):
            await pipe.watch(key)  # from here on the pipeline runs commands at once, on one connection
            info = await pipe.execute_command(NP_INFO, key)
            if info is None:
                await pipe.reset()
                return None
            try:
                out = await _read_chunks(pipe, key, info, chunk_bytes, progress)
            except Changed:
                await pipe.unwatch()
                continue
            pipe.multi()
            pipe.ping()
            try:
                await pipe.execute()
            except errors.WatchError:
                continue
            return out
    raise error_class(client, ConcurrentWrite)(f"{key!r} changed during each of {DOWNLOAD_ATTEMPTS} chunked reads")


async def _read_chunks(pipe: Any, key: Any, info: dict[str, Any], chunk_bytes: int, progress: Progress) -> np.ndarray:
    """The rows of `key` in one new array, read as `SLICE` pieces along axis 0;
    each piece's reply is copied into place and dropped before the next is
    asked for."""
    shape, dtype = info["shape"], info["dtype"]
    out = np.empty(shape, dtype, order="F" if info["fortran_order"] else "C")
    errors = library(pipe).exceptions
    if not shape or info["nbytes"] == 0:
        whole = await pipe.execute_command(NP_GET, key, **{NEVER_DECODE: []})
        if whole is None or whole.shape != tuple(shape) or whole.dtype != dtype:
            raise Changed
        out[...] = whole
        return out
    # Pieces of about 1 MiB, not whole chunks: the server serves small replies
    # from warm memory (piecewise.py), so a 600 MiB array reads ~3x faster so
    # than as 64 MiB replies, and the client holds one small reply at a time.
    step = rows_per_chunk(shape, dtype.itemsize, min(chunk_bytes, piecewise.PIECE_BYTES))
    advance, close = reporter(progress, info["nbytes"], f"get {key!r}")
    try:
        for start in range(0, shape[0], step):
            stop = min(start + step, shape[0])
            try:
                chunk = await pipe.execute_command(NP_GET, key, "SLICE", f"{start}:{stop}", **{NEVER_DECODE: []})
            except errors.ResponseError as err:
                if await pipe.execute_command(NP_INFO, key) != info:
                    raise Changed from err
                raise
            if chunk is None or chunk.shape != (stop - start,) + tuple(shape[1:]) or chunk.dtype != dtype:
                raise Changed
            out[start:stop] = chunk
            del chunk
            advance(out[start:stop].nbytes)
    finally:
        close()
    return out
