"""Arrays of any size, moved in bounded chunks (docs/big-arrays.md).

Upload: the first chunk is `NP.SET` on a *staging key* in the target's hash
slot, every further chunk is `NP.APPEND`ed to it, and a script renames the
finished array over the target. Readers of the target see the old array until
that rename and the whole new one after it. The staging key carries a TTL,
refreshed with every chunk, so an upload whose client dies leaves nothing
behind for longer than the TTL; an upload that fails is deleted at once.

Download: `NP.INFO`, then `NP.GET key SLICE a:b` along axis 0 into a
preallocated array. The key is WATCHed (on a cluster, on its node), so a
write that lands mid-download is noticed and the download starts again.

Either way the client holds at most one chunk of payload besides the array.
"""

from __future__ import annotations

import functools
import itertools
import math
import uuid
import warnings
from typing import Any, Callable, Literal, Optional, Union

import numpy as np
import redis
from redis.client import NEVER_DECODE
from redis.crc import key_slot

from . import piecewise, wire
from .commands import NP_APPEND, NP_GET, NP_INFO, NP_RESERVE, NP_SET, register_callbacks
from .libraries import base_error, error_class, errors, is_cluster, node_client
from .npy import check_dtype, encode
from .protocol import Arrays

# The payload of one chunk of a chunked transfer: `set`, `get` and `np.asarray(view)`
# of a bigger array move in chunks of this size (`Numpy.chunk_bytes` changes it).
TRANSFER_CHUNK_BYTES = 64 * 1024 * 1024
# Seconds an abandoned staging key lives after its last chunk arrived.
DEFAULT_STAGING_TTL = 120
STAGING_INFIX = b":np-staging:"
# How often a download restarts when the key keeps changing under it.
DOWNLOAD_ATTEMPTS = 3

# A callable `progress(done_bytes, total_bytes)`, True for a tqdm bar (when
# tqdm is installed), or None.
Progress = Union[None, bool, Callable[[int, int], Any]]

# RENAME the finished staging key over the target, atomically with the checks
# NP.SET would make (WRONGTYPE) and with dropping the staging TTL.
COMMIT_SCRIPT = """
local kind = redis.call('TYPE', KEYS[2])['ok']
if kind ~= 'none' and kind ~= 'numpy-arr' then
    redis.call('DEL', KEYS[1])
    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
if redis.call('EXISTS', KEYS[1]) == 0 then
    return redis.error_reply('ERR upload staging key expired before the upload finished')
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
return 1
"""


class UploadAborted(redis.exceptions.RedisError):
    """A chunked upload that could not finish; the target key was not changed
    and the staging key is gone."""


class ConcurrentWrite(redis.exceptions.RedisError):
    """The array changed under every attempt of a chunked download."""


class Changed(Exception):
    """A chunk that does not fit the array being read: it was replaced meanwhile."""


def _key_bytes(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


def staging_key(key: Any) -> bytes:
    """A fresh staging key in `key`'s hash slot, so RENAME works on Cluster."""
    raw = _key_bytes(key)
    start = raw.find(b"{")
    has_tag = start >= 0 and raw.find(b"}", start + 1) > start + 1
    base = raw if has_tag else b"{" + raw + b"}"
    staged = base + STAGING_INFIX + uuid.uuid4().hex.encode()
    if key_slot(staged) != key_slot(raw):
        # A key hashed whole that holds a "}" (e.g. "{}x}") cannot be wrapped in
        # a tag of its own: use another tag of the same slot.
        staged = b"{" + _tag_of_slot(key_slot(raw)) + b"}" + STAGING_INFIX + uuid.uuid4().hex.encode()
    return staged


@functools.lru_cache(maxsize=64)
def _tag_of_slot(slot: int) -> bytes:
    """A short hash tag whose keys land in `slot`: a hex number, at most 5 digits
    for every slot (a search of 30 ms on average, 0.6 s at worst, once per slot)."""
    return next(tag for tag in (b"%x" % i for i in itertools.count()) if key_slot(tag) == slot)


def reporter(progress: Progress, total: int, what: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """(advance by n bytes, close) for the caller's progress choice."""
    if progress is True:
        try:
            from tqdm.auto import tqdm  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError:
            warnings.warn(
                "progress=True draws a bar with tqdm, which is not installed: "
                "pip install 'redis-numpy[progress]' (or tqdm), or pass a callable",
                stacklevel=4,
            )
            return (lambda n: None), (lambda: None)
        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=what)
        return bar.update, bar.close
    if callable(progress):
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress(done[0], total)

        return advance, (lambda: None)
    return (lambda n: None), (lambda: None)


def rows_per_chunk(shape: tuple[int, ...], itemsize: int, chunk_bytes: int, axis: int = 0) -> int:
    """Entries of `axis` per chunk: at least one, so a chunk can exceed
    `chunk_bytes` only when a single entry does."""
    axis %= len(shape)
    entry_bytes = math.prod(d for i, d in enumerate(shape) if i != axis) * itemsize
    return max(1, chunk_bytes // max(entry_bytes, 1))


def growth_order(arr: np.ndarray) -> Literal["C", "F"]:
    """The order `arr` is stored in (as `np.save` writes it), which fixes the
    axis a staged upload grows along: the first in C order, the last in Fortran."""
    return "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"


def plan_blocks(shape: tuple[int, ...], itemsize: int, chunk_bytes: int, order: str) -> list[slice]:
    """The growth-axis ranges of an upload's chunks. A Fortran upload's first
    chunk has at least two entries: one column alone is also C-contiguous, and
    the server would store it, and grow it, in C order."""
    axis = -1 if order == "F" else 0
    length = shape[axis]
    step = rows_per_chunk(shape, itemsize, chunk_bytes, axis)
    first = min(length, max(step, 2) if order == "F" else step)
    return [slice(0, first)] + [slice(a, min(a + step, length)) for a in range(first, length, step)]


class Staging:
    """What the synchronous and the asyncio upload share: the target's shape,
    the growth axis (axis 0 in C order, the last axis in Fortran order), the
    checks each block passes before anything is sent, and progress."""

    def __init__(
        self,
        key: Any,
        shape: tuple[int, ...],
        dtype: Any,
        *,
        ttl: int,
        order: str,
    ):
        self.key = key
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        check_dtype(self.dtype)
        if not self.shape:
            raise ValueError("a 0-d array has no axis to upload in pieces; use set()")
        if order not in ("C", "F"):
            raise ValueError(f"order must be 'C' or 'F', got {order!r}")
        self.order: Literal["C", "F"] = "F" if order == "F" else "C"
        self.axis = len(self.shape) - 1 if order == "F" else 0
        self.ttl = ttl
        self.staging = staging_key(key)
        self.rows = 0  # entries of the growth axis staged so far
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize
        self._advance: Callable[[int], None] = lambda n: None
        self._close_progress: Callable[[], None] = lambda: None
        self._done = False

    @property
    def unit(self) -> str:
        """What one step of the growth axis is called in messages."""
        return "rows" if self.order == "C" else "entries along the last axis"

    @property
    def length(self) -> int:
        """The target's length along the growth axis."""
        return self.shape[self.axis]

    def _start_progress(self, progress: Progress) -> None:
        self._advance, self._close_progress = reporter(progress, self.nbytes, f"set {self.key!r}")

    def _block(self, block: Any) -> Optional[np.ndarray]:
        """`block` as it is sent (contiguous in the upload's order), or None
        when there is nothing to send; raises before anything is sent."""
        if self._done:
            raise ValueError("this upload is already committed or aborted")
        block = np.asarray(block)
        if block.dtype != self.dtype:
            raise TypeError(f"chunk dtype {block.dtype} does not match the upload's dtype {self.dtype}")
        others = self.shape[:-1] if self.order == "F" else self.shape[1:]
        if block.ndim != len(self.shape) or (block.shape[:-1] if self.order == "F" else block.shape[1:]) != others:
            want = f"{others} + (n,)" if self.order == "F" else f"(n,) + {others}"
            raise ValueError(
                f"chunk of shape {block.shape} does not fit the staged shape {self.shape} "
                f"(every chunk must have shape {want})"
            )
        n = block.shape[self.axis]
        if self.rows + n > self.length:
            raise ValueError(
                f"chunk of {n} {self.unit} does not fit: {self.rows} of {self.length} {self.unit} are already staged"
            )
        if self.rows == 0 and self.order == "F" and self.length >= 2 and n < 2:
            raise ValueError("the first chunk of a Fortran-order upload needs at least 2 entries along the last axis")
        if n == 0 and self.rows > 0:
            return None
        return np.asfortranarray(block) if self.order == "F" else np.ascontiguousarray(block)

    def _check_reply(self, first: bool, n: int, reply: Any) -> Optional[str]:
        """Why the upload must stop after a chunk's reply, or None."""
        # NP.APPEND creates a missing key: a length short of what was staged means
        # the staging key expired and this chunk started a new, partial array.
        if not first and reply != self.rows + n:
            return (
                f"upload of {self.key!r} aborted: its staging key expired (TTL {self.ttl} s) "
                f"after {self.rows} of {self.length} {self.unit}; the old value is untouched"
            )
        return None

    def _incomplete(self) -> Optional[str]:
        if self.rows != self.length:
            return f"upload of {self.key!r} incomplete: {self.rows} of {self.length} {self.unit} staged"
        return None


def reserve_refused(err: Exception) -> bool:
    """Whether NP.RESERVE's error means the server (or the ACL user) has no
    NP.RESERVE, or the room would take the server past maxmemory: the upload
    then goes on with a growing buffer, which takes memory only as chunks arrive."""
    return type(err).__name__ in ("NoPermissionError", "OutOfMemoryError") or "unknown command" in str(err)


class Upload(Staging):
    """An array written in pieces along its growth axis, published whole or not at all.

    >>> with arrays.upload("weights", (1_000_000, 768), np.float32) as up:
    ...     for block in blocks:            # any number of rows each
    ...         up.write(block)
    # "weights" now holds all rows; until here readers saw the old value

    Leaving the `with` block by an exception (or calling `abort()`) deletes the
    staging key; `commit()` (done by the `with` block) refuses an incomplete array.
    The array is stored in C order and written in rows (blocks along axis 0),
    or with `order="F"` in Fortran order, written in blocks along the last axis.
    """

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
        self._check_target_type()
        warn_if_too_big_to_move(arrays.client, key, self.nbytes)
        self._start_progress(progress)  # after the checks: a refused upload draws no bar

    def _check_target_type(self) -> None:
        """Fail before sending gigabytes when the target is not an array (the commit checks again)."""
        kind = self.arrays.client.type(self.key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind not in ("none", "numpy-arr"):
            wrongtype = errors(self.arrays.client).ResponseError
            raise wrongtype("WRONGTYPE Operation against a key holding the wrong kind of value")

    def write(self, block: Any) -> None:
        """Stage the next entries. `block` has the upload's dtype and its shape
        except along the growth axis; it must not run past the target's length."""
        data = self._block(block)
        if data is None:
            return
        first, n = self.rows == 0, data.shape[self.axis]
        try:
            reply = self._stage(NP_SET if first else NP_APPEND, data)
            if first and self.length > n:
                self._reserve()
        except base_error(self.arrays.client) as err:
            self._discard()
            raise error_class(self.arrays.client, UploadAborted)(
                f"upload of {self.key!r} aborted after {self.rows} {self.unit}: {err}"
            ) from err
        failure = self._check_reply(first, n, reply)
        if failure is not None:
            self._discard()
            raise error_class(self.arrays.client, UploadAborted)(failure)
        self.rows += n
        self._advance(data.nbytes)

    def _stage(self, command: str, block: np.ndarray) -> Any:
        """Sends one chunk with the staging TTL in one MULTI; returns the
        command's reply. On a plain connection the chunk goes out from the
        array's own memory (wire.npy_command), else through redis-py."""
        client = self.arrays.client
        if not self._cluster():
            pool = client.connection_pool
            conn = wire.connection(pool)
            try:
                if wire.usable(conn):
                    pieces = [wire.command("MULTI"), *wire.npy_command(command, self.staging, block)]
                    pieces[-1] += wire.command("EXPIRE", self.staging, self.ttl) + wire.command("EXEC")
                    return wire.transaction(conn, pieces, 4)[0]
            finally:
                pool.release(conn)
        pipe = client.pipeline(transaction=not self._cluster())
        pipe.execute_command(command, self.staging, encode(block))
        pipe.expire(self.staging, self.ttl)
        return pipe.execute()[0]

    def _reserve(self) -> None:
        """Has the server make room for the whole array once (NP.RESERVE), so
        that every later chunk is one copy into place. A server or ACL user
        without NP.RESERVE still gets the upload, with a growing buffer."""
        try:
            self.arrays.client.execute_command(NP_RESERVE, self.staging, self.length)
        except errors(self.arrays.client).ResponseError as err:
            if not reserve_refused(err):
                raise

    def commit(self) -> None:
        """Publish the staged array at the key, replacing its value and any TTL."""
        if self._done:
            raise ValueError("this upload is already committed or aborted")
        failure = self._incomplete()
        if failure is not None:
            self.abort()
            raise error_class(self.arrays.client, UploadAborted)(failure)
        if self.length == 0:  # nothing was sent: stage the empty array now
            self.write(np.empty(self.shape, self.dtype, order=self.order))
        try:
            self.arrays.client.eval(COMMIT_SCRIPT, 2, self.staging, self.key)
        except errors(self.arrays.client).ResponseError as err:
            self._discard()
            if str(err).startswith("WRONGTYPE"):
                raise
            raise error_class(self.arrays.client, UploadAborted)(
                f"upload of {self.key!r} aborted: {err}; the old value is untouched"
            ) from err
        self._done = True
        self._close_progress()

    def abort(self) -> None:
        """Drop what was staged; the key keeps its old value."""
        if not self._done:
            self._discard()

    def _discard(self) -> None:
        self._done = True
        self._close_progress()
        self.arrays.client.delete(self.staging)

    def _cluster(self) -> bool:
        return is_cluster(self.arrays.client)

    def __enter__(self) -> "Upload":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def upload(
    arrays: Arrays,
    key: Any,
    arr: np.ndarray,
    *,
    chunk_bytes: int = TRANSFER_CHUNK_BYTES,
    ttl: int = DEFAULT_STAGING_TTL,
    progress: Progress = None,
) -> bool:
    """Store `arr` at `key` in chunks of about `chunk_bytes`, in the order
    `np.save` would store it; True, like `set`."""
    if arr.ndim == 0:
        raise ValueError("a 0-d array has no axis to upload in pieces; use set()")
    order = growth_order(arr)
    index: list[Any] = [Ellipsis if order == "F" else slice(None)]
    with Upload(arrays, key, arr.shape, arr.dtype, ttl=ttl, progress=progress, order=order) as up:
        for part in plan_blocks(arr.shape, arr.dtype.itemsize, chunk_bytes, order):
            up.write(arr[tuple(index + [part])] if order == "F" else arr[part])
    return True


# -- arrays one key cannot move across a cluster ------------------------------------

# Redis's default proto-max-bulk-len, for a node that does not say its own.
DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
# RDB payload bytes beyond the data (metadata, the DUMP trailer): generous.
RDB_OVERHEAD = 4096
# Redis refuses a proto-max-bulk-len below 1 MiB: smaller arrays always move.
MIN_PROTO_MAX_BULK_LEN = 1024 * 1024


class ClusterMoveWarning(UserWarning):
    """An array stored at one key of a Redis Cluster that resharding cannot move
    with the nodes' present `proto-max-bulk-len` (see docs/operations.md)."""


def move_warning(key: Any, nbytes: int, limit: int) -> Optional[str]:
    """The warning for an array of `nbytes` at `key` when its RDB payload
    would not fit `limit` (the smallest proto-max-bulk-len of the cluster's
    primaries), else None."""
    if nbytes + RDB_OVERHEAD <= limit:
        return None
    return (
        f"{key!r} holds {nbytes} bytes at one cluster key: resharding moves a key with MIGRATE, whose "
        f"RESTORE payload (the data plus a few hundred bytes) must fit proto-max-bulk-len on every node "
        f"({limit} on the smallest), so this key cannot move between nodes. Raise proto-max-bulk-len (and "
        f"client-query-buffer-limit) on every node above the array's size, or store it as a sharded "
        f"array (arrays.create_sharded)"
    )


def proto_max_bulk_len(reply: Any) -> int:
    """proto-max-bulk-len from a CONFIG GET reply (a dict or a flat list), the
    default when the node does not say (a renamed or refused CONFIG)."""
    if isinstance(reply, dict) and reply:
        value = next(iter(reply.values()))
    elif isinstance(reply, (list, tuple)) and len(reply) >= 2:
        value = reply[1]
    else:
        return DEFAULT_PROTO_MAX_BULK_LEN
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_PROTO_MAX_BULK_LEN


def warn_if_too_big_to_move(client: Any, key: Any, nbytes: int) -> None:
    """On a cluster client, warn when an array of `nbytes` at `key` could not be
    moved between nodes (the limit asked of every primary)."""
    if not is_cluster(client) or nbytes + RDB_OVERHEAD <= MIN_PROTO_MAX_BULK_LEN:
        return
    limits = []
    for node in client.get_primaries():  # type: ignore[no-untyped-call, unused-ignore]
        try:
            limits.append(proto_max_bulk_len(node_client(node).config_get("proto-max-bulk-len")))
        except base_error(client):
            limits.append(DEFAULT_PROTO_MAX_BULK_LEN)
    message = move_warning(key, nbytes, min(limits, default=DEFAULT_PROTO_MAX_BULK_LEN))
    if message is not None:
        warnings.warn(message, ClusterMoveWarning, stacklevel=4)


def download(
    arrays: Arrays,
    key: Any,
    *,
    chunk_bytes: int = TRANSFER_CHUNK_BYTES,
    progress: Progress = None,
) -> Optional[np.ndarray]:
    """The array at `key` read in chunks of about `chunk_bytes` into one new
    (writable) array, or None if the key does not exist."""
    client = arrays.client
    if is_cluster(client):
        # A cluster pipeline cannot WATCH, but the node serving the key can (and
        # comparing NP.INFO before and after would miss a same-shape overwrite).
        for _ in range(DOWNLOAD_ATTEMPTS):
            # A client of its own on the node's pool: registering the NP.* callbacks
            # on the node's client would convert the cluster client's replies twice.
            node = client.get_node_from_key(key)  # type: ignore[no-untyped-call, unused-ignore]
            pool = node_client(node).connection_pool
            on_node = register_callbacks(type(node_client(node))(connection_pool=pool))
            try:
                return _download_watched(on_node, key, chunk_bytes, progress)
            except (errors(client).MovedError, errors(client).AskError):
                client.nodes_manager.initialize()  # the slot moved mid-read: find its new node
        raise error_class(client, ConcurrentWrite)(
            f"{key!r} moved to another node during each of {DOWNLOAD_ATTEMPTS} chunked reads"
        )
    return _download_watched(client, key, chunk_bytes, progress)


def _download_watched(client: Any, key: Any, chunk_bytes: int, progress: Progress) -> Optional[np.ndarray]:
    """`download` on one server's client (NP.* callbacks registered), the key WATCHed."""
    refused = errors(client)
    with client.pipeline(transaction=True) as pipe:
        for _ in range(DOWNLOAD_ATTEMPTS):
            pipe.watch(key)  # from here on the pipeline runs commands at once, on one connection
            meta = pipe.execute_command(NP_INFO, key)
            if meta is None:
                pipe.reset()
                return None
            try:
                out = _read_chunks(
                    pipe.execute_command, key, meta, chunk_bytes, progress, refused.ResponseError, pipe.connection
                )
            except Changed:
                pipe.unwatch()
                continue
            pipe.multi()
            pipe.ping()
            try:
                pipe.execute()
            except refused.WatchError:
                continue
            return out
    raise error_class(client, ConcurrentWrite)(f"{key!r} changed during each of {DOWNLOAD_ATTEMPTS} chunked reads")


def _read_chunks(
    execute: Callable[..., Any],
    key: Any,
    info: dict[str, Any],
    chunk_bytes: int,
    progress: Progress,
    response_error: type[Exception],
    conn: Any = None,
) -> np.ndarray:
    """The chunks of `key` in one new array. Given the (standalone) connection
    the commands run on, a C-order array's chunks are read from the socket
    straight into the result (wire.read_npy_into): no reply object, no copy.
    `response_error`: the client library's ResponseError."""
    shape, dtype = info["shape"], info["dtype"]
    out = np.empty(shape, dtype, order="F" if info["fortran_order"] else "C")
    if not shape or info["nbytes"] == 0:
        whole = execute(NP_GET, key, **{NEVER_DECODE: []})
        if whole is None or whole.shape != tuple(shape) or whole.dtype != dtype:
            raise Changed
        out[...] = whole
        return out
    step = rows_per_chunk(shape, dtype.itemsize, chunk_bytes)
    advance, close = reporter(progress, info["nbytes"], f"get {key!r}")
    try:
        for start in range(0, shape[0], step):
            stop = min(start + step, shape[0])
            if conn is not None and not info["fortran_order"] and wire.usable(conn):
                try:
                    read = functools.partial(_read_pieces, conn, key, out, start, stop)
                    wire.guarded(conn, read, keep=(Changed, redis.exceptions.ResponseError))
                except redis.exceptions.ResponseError as err:
                    if execute(NP_INFO, key) != info:
                        raise Changed from err
                    raise
                advance((stop - start) * out[:1].nbytes)
                continue
            try:
                chunk = execute(NP_GET, key, "SLICE", f"{start}:{stop}", **{NEVER_DECODE: []})
            except response_error as err:
                # e.g. "too many indices" from an array now 0-d: an error only
                # if the array is still the one being read.
                if execute(NP_INFO, key) != info:
                    raise Changed from err
                raise
            # Deleted or replaced by an array of another shape or dtype: start again.
            if chunk is None or chunk.shape != (stop - start,) + tuple(shape[1:]) or chunk.dtype != dtype:
                raise Changed
            out[start:stop] = chunk
            advance(chunk.nbytes)
    finally:
        close()
    return out


def _read_pieces(conn: Any, key: Any, out: np.ndarray, start: int, stop: int) -> None:
    """Rows `start:stop` of `key` into `out`, sent as pipelined `SLICE` pieces of
    about `piecewise.PIECE_BYTES` (warm reply blocks, see piecewise.py) and read
    straight into place. Raises `Changed` for a piece that is missing or of
    another shape or dtype, the first error reply for an error; every reply is
    read either way, so the connection stays in step."""
    per = max(1, piecewise.PIECE_BYTES // max(out[:1].nbytes, 1))
    bounds = [(a, min(a + per, stop)) for a in range(start, stop, per)]
    conn.send_packed_command([b"".join(wire.command(NP_GET, key, "SLICE", f"{a}:{b}") for a, b in bounds)])
    reader = wire.Reader(conn)
    failure: Optional[Exception] = None
    for a, b in bounds:
        if failure is not None:
            wire.skip_reply(reader)
            continue
        try:
            if wire.npy_reply_into(conn, reader, out[a:b]) is None:
                failure = Changed()  # deleted
        except ValueError as err:  # replaced by an array of another shape or dtype
            failure = Changed(str(err))
        except redis.exceptions.ResponseError as err:
            failure = err
    if failure is not None:
        raise failure
