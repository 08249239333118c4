"""NP.MGET's reply read from the socket into one buffer, without a `bytes`
object per array.

Through redis-py a batch of 256 vectors is received, copied into the
parser's buffer, copied into 256 `bytes` objects, then joined into one
buffer for the arrays (npy.decode_batch): three copies and 256 objects
before the first array. Here the reply is received into one buffer; when
its elements are all bulk strings of one length and `.npy` header (a
feature store's vectors), or nils before or between them (missing keys),
which NumPy checks across the whole buffer at once, the arrays' data is
copied once from it into one aligned array and each array is a row of
that. Any other reply is parsed by hiredis (element by element in Python
without it) and decoded as redis-py's reply would be.

Used on a plain RESP2 connection with nothing buffered (wire.usable); the
whole reply is always read, so the connection stays in step. The socket is
read through `wire.Reader`, whose buffer the uniform case parses in place.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import redis

from . import npy, wire
from .commands import decode_mget

hiredis: Any
try:
    import hiredis
except ImportError:  # redis-py's own parser is in Python too
    hiredis = None

# A connection keeps its receive buffer up to this size for its next batch:
# no array is a view of it, and a fresh one costs its page faults every time.
_KEPT_BUFFER = 8 << 20
_BUFFER_ATTR = "_redis_numpy_mget_buffer"
_CRLF = np.frombuffer(b"\r\n", np.uint8)
_NIL = b"$-1\r\n"


def read_mget(conn: Any, count: int, copy: bool = False) -> list[Optional[np.ndarray[Any, Any]]]:
    """The arrays of the reply to an `NP.MGET` of `count` keys just sent on
    `conn` (a RESP2 connection with nothing buffered): None for a missing key.
    An error reply raises redis-py's exception for it, after the whole reply is
    read. A malformed reply raises `InvalidResponse` (the caller closes the
    connection)."""
    buf = wire.Reader(conn, getattr(conn, _BUFFER_ATTR, None))
    setattr(conn, _BUFFER_ATTR, None)  # taken: kept again only after a whole reply
    result = _read(conn, buf, count, copy)
    if len(buf.data) <= _KEPT_BUFFER:
        setattr(conn, _BUFFER_ATTR, buf.data)
    return result


def _read(conn: Any, buf: wire.Reader, count: int, copy: bool) -> list[Optional[np.ndarray[Any, Any]]]:
    first = buf.line()
    if first[:1] == b"-":
        _check_done(buf)
        raise conn._parser.parse_error(first[1:].decode(errors="replace"))
    if first != b"*%d" % count:
        raise redis.exceptions.InvalidResponse(f"unexpected reply to NP.MGET: {first[:40]!r}")
    # Missing keys before the first array (a nil is all of its line).
    lead = 0
    while lead < count:
        head = buf.line()
        if head != b"$-1":
            buf.pos -= len(head) + 2  # the line is still in the buffer, just before `pos`
            break
        lead += 1
    if lead == count:
        _check_done(buf)
        return [None] * count
    rows = _uniform(buf, count - lead, copy)
    if rows is not None:
        return [None] * lead + rows
    payloads, error = _elements(buf, count - lead)
    _check_done(buf)
    if error is not None:
        raise conn._parser.parse_error(error)
    result: list[Optional[np.ndarray[Any, Any]]] = decode_mget([None] * lead + payloads, copy=copy)
    return result


def _elements(buf: wire.Reader, count: int) -> tuple[list[Any], Optional[str]]:
    """The `count` elements from `buf.pos` on: `bytes` or None, and the first
    error element's text. hiredis parses them when it is installed (a Python
    loop costs about 1.5 µs an element more); else they are parsed here."""
    if hiredis is not None:
        reader = hiredis.Reader()
        reader.feed(b"*%d\r\n" % count)
        reader.feed(buf.data, buf.pos, buf.end - buf.pos)
        buf.pos = buf.end = 0  # what was received is hiredis's now
        reply = reader.gets()
        while reply is False:
            buf.receive()
            reader.feed(buf.data, 0, buf.end)
            buf.end = 0
            reply = reader.gets()
        if reader.has_data():
            raise redis.exceptions.InvalidResponse("bytes after the end of NP.MGET's reply")
        return reply, next((str(e) for e in reply if isinstance(e, hiredis.ReplyError)), None)
    payloads: list[Any] = []
    error: Optional[str] = None
    for _ in range(count):
        head = buf.line()
        kind = head[:1]
        if kind == b"$":
            size = int(head[1:])
            if size < 0:
                payloads.append(None)
                continue
            payloads.append(buf.exact(size))
            if buf.exact(2) != b"\r\n":
                raise redis.exceptions.InvalidResponse("NP.MGET element not terminated by CRLF")
        elif kind == b"-":
            error = error or head[1:].decode(errors="replace")
            payloads.append(None)
        else:
            raise redis.exceptions.InvalidResponse(f"unexpected element in NP.MGET's reply: {head[:40]!r}")
    return payloads, error


def _check_done(buf: wire.Reader) -> None:
    if buf.pos != buf.end:
        raise redis.exceptions.InvalidResponse("bytes after the end of NP.MGET's reply")


def _uniform(buf: wire.Reader, count: int, copy: bool) -> Optional[list[Optional[np.ndarray[Any, Any]]]]:
    """The arrays, when every element is a nil or repeats the first one's
    bulk length and `.npy` header, and that header holds a C-order (or 1-d)
    array with data; else None with `buf.pos` still at the first element
    (whatever part of the reply was received stays in `buf`)."""
    head = buf.line()
    start = buf.pos = buf.pos - len(head) - 2  # still in the buffer, just before `pos`
    if head[:1] != b"$" or int(head[1:]) <= 0:
        return None
    size = int(head[1:])
    frame = len(head) + 2  # "$<size>\r\n"
    stride = frame + size + 2
    buf.need(start + stride)  # the first element is in the reply whatever follows
    payload = memoryview(buf.data)[start + frame : start + frame + size]
    try:
        try:
            npy_head, layout = npy._layout(payload)
        except ValueError:
            return None  # decoding element by element raises it
    finally:
        payload.release()
    dtype, shape, order, items, offset = layout
    if not shape or not items or not dtype.itemsize or (order == "F" and len(shape) > 1):
        return None
    # Room for all (a missing key's nil takes less), unless the first array
    # is big: a batch of other shapes may follow, and receiving grows the buffer.
    buf.reserve(min(start + count * stride, max(start + stride, _KEPT_BUFFER)))
    data = buf.data
    prefix = bytes(data[start : start + frame + offset])  # "$<size>\r\n" and the .npy header
    # A batch of mixed shapes usually shows at its second element: leave
    # before comparing the whole buffer.
    second = bytes(data[start + stride : min(buf.end, start + stride + len(prefix))])
    if not (prefix.startswith(second) or second.startswith(_NIL) or _NIL.startswith(second)):
        return None
    want = np.frombuffer(prefix, np.uint8)
    segments: list[tuple[int, int]] = []  # (where, how many) of runs of elements like the first
    nils: list[int] = []  # the missing keys' positions
    at, index, checked = start, 0, 0  # the run being read: where, its first element, elements known alike
    while True:
        done = min((buf.end - at) // stride, count - index)
        if done > checked:
            block = np.frombuffer(data, np.uint8, (done - checked) * stride, at + checked * stride)
            block = block.reshape(done - checked, stride)
            # All alike is one comparison of bytes (a third of comparing
            # arrays); where a row differs, NumPy finds the first one.
            n = done - checked
            if block[:, : len(prefix)].tobytes() == prefix * n and block[:, -2:].tobytes() == b"\r\n" * n:
                checked = done
            else:
                alike = (block[:, : len(prefix)] == want).all(axis=1) & (block[:, -2:] == _CRLF).all(axis=1)
                checked += int(np.argmin(alike))
                if data[at + checked * stride : at + checked * stride + 5] != _NIL:
                    return None
        if index + checked == count:
            segments.append((at, checked))
            at += checked * stride
            break
        # The next element must start like the first or be a nil, or the
        # reply may end before the bytes awaited: waiting for them could hang.
        element = at + checked * stride
        part = bytes(data[element : min(buf.end, element + len(prefix))])
        if len(part) >= 5 and part[:5] == _NIL:
            segments.append((at, checked))
            nils.append(index + checked)
            at, index, checked = element + 5, index + checked + 1, 0
            if index == count:
                break
            continue
        if not (prefix.startswith(part) or _NIL.startswith(part)):
            return None
        buf.receive()
        data = buf.data  # the same buffer unless the reply is longer than announced
    buf.pos = at
    _check_done(buf)
    npy._last = (npy_head, layout)
    out = np.empty((count - len(nils),) + shape, dtype)
    flat = out.reshape(len(out), -1).view(np.uint8)
    filled = 0
    for where, n in segments:
        if n:
            rows = np.frombuffer(data, np.uint8, n * stride, where).reshape(n, stride)
            flat[filled : filled + n] = rows[:, frame + offset : frame + size]
            filled += n
    if copy:
        arrays = [arr.copy() for arr in out]
    else:
        out.flags.writeable = False
        arrays = list(out)
    result: list[Optional[np.ndarray[Any, Any]]] = list(arrays)
    for i in nils:
        result.insert(i, None)
    return result
