"""Big `.npy` payloads on the wire without the client's extra copies
(docs/big-arrays.md): a chunk is sent as its header followed by the array's
own memory, and a chunk read back lands straight in the result array.

redis-py would build each outgoing payload as one `bytes` (a copy of the
chunk) and each reply as one `bytes` (copied again into the result); for a
multi-GiB array those copies cost as much as the network. Both helpers work
on a plain redis-py `Connection` with nothing buffered, and
say so (`usable`); anything else goes through redis-py as before.
"""

from __future__ import annotations

import socket
from typing import Any, Callable, Optional, TypeVar

import numpy as np
import redis

from . import npy

hiredis: Any
try:
    import hiredis
except ImportError:
    hiredis = None

_T = TypeVar("_T")


def usable(conn: Any) -> bool:
    """Whether `conn` is a connected socket connection (RESP2, or RESP3
    without client-side caching) whose parser holds no unread bytes, so the
    next bytes on the socket are the next command's reply."""
    if not isinstance(conn, redis.connection.AbstractConnection) or getattr(conn, "_sock", None) is None:
        return False
    parser = getattr(conn, "_parser", None)
    protocol = str(getattr(conn, "protocol", 2) or 2)
    # On RESP3 a push (client-side caching's invalidations) may come first.
    if protocol not in ("2", "3") or (protocol == "3" and getattr(parser, "invalidation_push_handler_func", None)):
        return False
    try:
        reader = getattr(parser, "_reader", None)
        if reader is not None:  # hiredis
            return not reader.has_data()
        buffer = getattr(parser, "_buffer", None)
        return buffer is not None and buffer.unread_bytes() == 0
    except Exception:
        return False


def connection(pool: Any) -> Any:
    """A connection from `pool` (redis-py 5 wants a command name, 8 none)."""
    try:
        return pool.get_connection()
    except TypeError:
        return pool.get_connection("NP.APPEND")


def _bulk(arg: Any) -> bytes:
    raw = arg if isinstance(arg, bytes) else str(arg).encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def command(*args: Any) -> bytes:
    """One RESP command of small arguments."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


_HIREDIS_PACKER = getattr(redis.connection, "HiredisRespSerializer", None)


def packed(conn: Any, *args: Any) -> Any:
    """`args` as `conn` would pack them, for `send_packed_command`. With
    redis-py's hiredis packer, hiredis packs them directly: redis-py's own
    wrapper copies the arguments twice to check each one's type, which for
    an NP.MGET of 256 keys costs as much as the packing (40 µs)."""
    packer = getattr(conn, "_command_packer", None)
    if _HIREDIS_PACKER is not None and isinstance(packer, _HIREDIS_PACKER) and isinstance(args[0], str):
        try:
            return [hiredis.pack_command((args[0].encode(), *args[1:]))]
        except TypeError:
            pass  # redis-py's packer turns it into its DataError
    return conn.pack_command(*args)


def npy_command(name: str, key: Any, block: np.ndarray[Any, Any], *extra: Any) -> list[Any]:
    """`name key <.npy of block> [extra ...]` as pieces for `send_packed_command`:
    the payload is the cached header and a view of `block`'s memory (C- or
    Fortran-contiguous, stored in that order as `np.save` would)."""
    fortran = block.flags.f_contiguous and not block.flags.c_contiguous
    header = npy._header(block.dtype, block.shape, fortran)
    data = (block.T if fortran else block).reshape(-1).view(np.uint8).data
    head = b"*%d\r\n" % (3 + len(extra)) + _bulk(name) + _bulk(key) + b"$%d\r\n" % (len(header) + data.nbytes) + header
    return [head, data, b"\r\n" + b"".join(_bulk(a) for a in extra)]


_FIRST_READ = 1 << 16


class Reader:
    """Reads replies from the socket into one buffer: `data[pos:end]` is
    received but not yet consumed. Lines and small pieces are taken from it;
    a bulk string's body can go straight into the caller's memory (`into`);
    a batch reader may parse the buffer in place (batch_reply.py), moving
    `pos` itself and calling `need`/`receive` for more. Bytes read past one
    reply stay for the next, so one reader serves a whole pipeline.

    `receive` and `need` never move received bytes (the buffer only grows),
    so positions in `data` stay valid across them; `line`, `exact` and `into`
    first move what is pending to the buffer's start when that frees half of
    it (at once when nothing is pending), so a long pipeline read piece by
    piece keeps a small buffer."""

    def __init__(self, conn: Any, buffer: Optional[bytearray] = None):
        self.sock = conn._sock
        self.data = buffer if buffer is not None else bytearray(_FIRST_READ)
        self.pos = 0
        self.end = 0

    @property
    def pending(self) -> int:
        """How many bytes were received and not consumed."""
        return self.end - self.pos

    def reserve(self, size: int) -> None:
        """Room for `data[:size]`."""
        if size > len(self.data):
            grown = bytearray(max(size, 2 * len(self.data)))
            grown[: self.end] = memoryview(self.data)[: self.end]
            self.data = grown

    def _rewind(self) -> None:
        if self.pos == self.end:
            self.pos = self.end = 0
        elif self.pos > len(self.data) // 2:
            pending = self.end - self.pos
            self.data[:pending] = self.data[self.pos : self.end]
            self.pos, self.end = 0, pending

    def receive(self) -> None:
        """One `recv_into` of whatever has arrived (at least one byte)."""
        self.reserve(self.end + 1)
        with memoryview(self.data) as view:
            n = self.sock.recv_into(view[self.end :])
        if n == 0:
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        self.end += n

    def need(self, end: int) -> None:
        """Receives until `data[:end]` is in; only for bytes the reply must
        still hold (waiting for more could hang)."""
        self.reserve(end)
        while self.end < end:
            self.receive()

    def line(self) -> bytes:
        """The next line, without its CRLF."""
        self._rewind()
        while True:
            found = self.data.find(b"\r\n", self.pos, self.end)
            if found >= 0:
                out = bytes(self.data[self.pos : found])
                self.pos = found + 2
                return out
            self.receive()

    def exact(self, n: int) -> bytes:
        """The next `n` bytes."""
        self._rewind()
        self.need(self.pos + n)
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def into(self, dest: memoryview) -> None:
        """Fills `dest` with the next `len(dest)` bytes: first what is pending,
        then straight from the socket."""
        self._rewind()
        take = min(self.pending, len(dest))
        with memoryview(self.data) as view:
            dest[:take] = view[self.pos : self.pos + take]
        self.pos += take
        done = take
        while done < len(dest):
            n = self.sock.recv_into(dest[done:])
            if n == 0:
                raise redis.exceptions.ConnectionError("Connection closed by server.")
            done += n


def read_npy_into(conn: Any, out: np.ndarray[Any, Any]) -> Optional[bool]:
    """Reads the reply to an `NP.GET` just sent on `conn` into `out` (a
    C-contiguous array). True when the reply was an array of exactly `out`'s
    dtype and shape, None for a null reply; an error reply raises
    `ResponseError`, a reply of another dtype or shape raises `ValueError`
    (the connection stays usable either way). On a broken connection or a
    timeout the connection is closed and the error raised."""
    keep = (redis.exceptions.ResponseError, ValueError)
    return guarded(conn, lambda: npy_reply_into(conn, Reader(conn), out), keep=keep)


def guarded(conn: Any, read: Callable[[], _T], keep: tuple[type[BaseException], ...] = ()) -> _T:
    """`read()`, with what a socket read raises turned into redis-py's errors;
    any exception but those in `keep` closes `conn` (its replies are out of
    step)."""
    try:
        return read()
    except keep:
        raise
    except socket.timeout:
        conn.disconnect()
        raise redis.exceptions.TimeoutError("Timeout reading from socket") from None
    except OSError as err:
        conn.disconnect()
        raise redis.exceptions.ConnectionError(f"Error while reading from socket: {err}") from err
    except BaseException:
        conn.disconnect()
        raise


def npy_reply_into(conn: Any, reader: Reader, out: np.ndarray[Any, Any]) -> Optional[bool]:
    """`read_npy_into` on a reader that may hold the start of later replies:
    several replies in a row (a pipeline, EXEC's array) share one reader."""
    first = reader.line()
    kind = first[:1]
    if kind == b"-":
        raise conn._parser.parse_error(first[1:].decode(errors="replace"))
    if kind == b"!":  # RESP3 blob error
        message = reader.exact(int(first[1:]) + 2)[:-2]
        raise conn._parser.parse_error(message.decode(errors="replace"))
    if kind == b"_":  # RESP3 null
        return None
    if kind != b"$":
        raise redis.exceptions.InvalidResponse(f"unexpected reply to NP.GET: {first[:40]!r}")
    size = int(first[1:])
    if size < 0:
        return None
    # The header: its length is in the first 10 (1.0) or 12 (2.0, 3.0) bytes.
    prefix = reader.exact(min(size, 12))
    if len(prefix) < 10 or prefix[:6] != npy.MAGIC_PREFIX:
        raise redis.exceptions.InvalidResponse("NP.GET replied with something other than .npy bytes")
    start = 10 if prefix[6] == 1 else 12
    header_len = int.from_bytes(prefix[8:start], "little")
    rest = reader.exact(start + header_len - len(prefix))
    head, (dtype, shape, order, _count, _offset) = npy._layout(prefix + rest)
    body = size - len(head)
    if dtype != out.dtype or shape != out.shape or (order == "F" and out.ndim > 1) or body != out.nbytes:
        reader.into(memoryview(bytearray(body + 2)))  # skip it: the connection stays in step
        raise ValueError(f"NP.GET replied with {dtype} {shape}, expected {out.dtype} {out.shape}")
    reader.into(out.reshape(-1).view(np.uint8).data)
    if reader.exact(2) != b"\r\n":
        raise redis.exceptions.InvalidResponse("NP.GET reply not terminated by CRLF")
    return True


def skip_reply(reader: Reader) -> None:
    """Reads past one reply of a simple type or a bulk string (NP.GET's kinds)."""
    first = reader.line()
    if first[:1] in (b"$", b"!") and int(first[1:]) >= 0:
        reader.into(memoryview(bytearray(int(first[1:]) + 2)))


def transaction(conn: Any, pieces: list[Any], replies: int) -> list[Any]:
    """Sends `pieces` (MULTI, commands, EXEC, already packed) on `conn` and
    reads its `replies` replies; returns EXEC's. An error in any of them
    raises, after all of them are read, so the connection stays in step."""
    conn.send_packed_command(pieces)
    results: list[Any] = []
    error: Optional[BaseException] = None
    for _ in range(replies):
        try:
            results.append(conn.read_response())
        except redis.exceptions.ResponseError as err:
            error = error or err
            results.append(err)
    if error is not None:
        raise error
    exec_reply = results[-1]
    for item in exec_reply:
        if isinstance(item, redis.exceptions.ResponseError):
            raise item
    return list(exec_reply)
