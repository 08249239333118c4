"""Reads of a few MiB up to `chunk_bytes` sent as pieces (docs/big-arrays.md).

Redis builds each reply in blocks of its own size, and jemalloc serves
blocks of 8 MiB or more from its oversize arena, which hands the pages back
to the kernel when the block is freed: a read of 8 MiB or more faults its
whole reply buffer in afresh on every call, which costs several times the copy
itself (on some VMs 6x or more). Smaller blocks come from warm memory.

So a read whose data passes `PIECEWISE_FROM` is sent as several
`NP.GET key SLICE a:b` ranges along the result's first axis, of at most
`PIECE_BYTES` each, in one MULTI/EXEC: the server replies with warm blocks,
and each piece is read from the socket straight into its place in one
preallocated array. The key is WATCHed from the `NP.INFO` the pieces are
planned from until EXEC, so the pieces are one snapshot of the array that
shape describes: a write between them cannot tear the result, and a write
before EXEC makes the read start again.

Only reads whose first index is a slice (or the whole array) of a C-ordered
array, with plain ints and slices elsewhere, are split; anything else (and
any connection this module cannot read from the socket) goes as one command.
"""

from __future__ import annotations

import math
import re
from typing import Any, Optional, Union

import numpy as np
import redis

from . import wire
from .commands import NP_GET, NP_INFO, format_index, parse_info
from .libraries import is_cluster, node_client

MiB = 1 << 20
# Reads of more data than this go in pieces: a single reply block up to 7 MiB
# is still served warm, and the header and Redis's own bytes fit below that.
PIECEWISE_FROM = 6 * MiB
# The data one piece carries (whole rows; one row when a row is bigger). The
# pieces' blocks are all alive until EXEC's reply is written: 26 MiB read as
# 1 MiB pieces cost the server about what XREVRANGE's 0.9 MB entries do, as
# 4 MiB pieces about 5x that (GETRANGE in MULTI, measured on a 2-core VM).
PIECE_BYTES = 1 * MiB
# Rows bigger than this are not split: the read goes as one command.
ROW_MAX = 2 * MiB
# How often the read starts again when the key changes before EXEC.
ATTEMPTS = 3


class _NotDone:
    """The read could not be split (or the key kept changing): send it as one command."""


NOT_DONE = _NotDone()
_SLICE_TEXT = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*)?$")
_INT_TEXT = re.compile(r"^\s*-?\d+\s*$")


class _Fallback(Exception):
    """A reply this module did not expect: close the connection, send one command."""


def _parse(text: str) -> Optional[tuple[Any, ...]]:
    """A SLICE text of ints and `a:b:c` slices as a tuple of Python indices, or None."""
    parts: list[Any] = []
    for part in text.split(","):
        if _INT_TEXT.match(part):
            parts.append(int(part))
            continue
        m = _SLICE_TEXT.match(part)
        if m is None:
            return None
        parts.append(slice(*(None if v is None else int(v) for v in m.groups())))
    return tuple(parts)


def _is_int(part: Any) -> bool:
    return isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_))


def splittable(spec: Any) -> Optional[tuple[slice, tuple[Any, ...]]]:
    """(the first axis's slice, the other indices) when `spec` (None for the
    whole array) is a slice along the first axis with ints and slices elsewhere."""
    if spec is None:
        return slice(None), ()
    if isinstance(spec, str):
        parsed = _parse(spec)
        if parsed is None:
            return None
        spec = parsed
    parts = spec if isinstance(spec, tuple) else (spec,)
    if not parts or not isinstance(parts[0], slice):
        return None
    rest = parts[1:]
    if not all(isinstance(p, slice) or _is_int(p) for p in rest):
        return None
    return parts[0], rest


def plan(
    first: slice, rest: tuple[Any, ...], shape: tuple[int, ...], dtype: np.dtype[Any]
) -> Optional[tuple[tuple[int, ...], list[tuple[int, int, str]]]]:
    """(the result's shape, its pieces as (first row, end row, SLICE text)) for
    `arr[(first,) + rest]` of an array of `shape`, or None when the result is
    small enough for one reply, a row too big for a piece, or the index invalid
    (the server then says why)."""
    try:
        start, stop, step = first.indices(shape[0])
        # The other axes' result shape, from a view of zero strides: no memory.
        inner = np.broadcast_to(np.empty((), np.uint8), (1,) + shape[1:])[(slice(None),) + rest].shape[1:]
    except (ValueError, IndexError, TypeError):
        return None
    rows = len(range(start, stop, step))
    row_bytes = math.prod(inner) * dtype.itemsize
    if rows * row_bytes <= PIECEWISE_FROM or row_bytes > ROW_MAX:
        return None
    per = max(1, PIECE_BYTES // max(row_bytes, 1))
    tail = ", " + format_index(rest) if rest else ""
    pieces = []
    for a in range(0, rows, per):
        b = min(a + per, rows)
        lo, hi = start + a * step, start + b * step
        # A negative end would count from the back: a run down to row 0 has none.
        pieces.append((a, b, f"{lo}:{'' if hi < 0 else hi}:{step}{tail}"))
    return (rows,) + inner, pieces


def read(client: Any, key: Any, spec: Any) -> Union[Optional[np.ndarray], _NotDone]:
    """`arr[spec]` at `key` read in pieces into one new (writable) array, None
    if the key does not exist, or NOT_DONE when the read should go as one
    command (not splittable, small, an unusual connection or reply)."""
    split = splittable(spec)
    if split is None:
        return NOT_DONE
    if is_cluster(client):
        pool = node_client(client.get_node_from_key(key)).connection_pool
    else:
        pool = client.connection_pool
    conn = wire.connection(pool)
    try:
        if not wire.usable(conn):
            return NOT_DONE
        for _ in range(ATTEMPTS):
            try:
                got = wire.guarded(conn, lambda: _attempt(conn, key, *split), keep=(_Fallback,))
            except _Fallback:
                conn.disconnect()
                return NOT_DONE
            if got is not None:
                found: Optional[np.ndarray] = got[0]
                return found
        return NOT_DONE
    finally:
        pool.release(conn)


def _attempt(conn: Any, key: Any, first: slice, rest: tuple[Any, ...]) -> Optional[tuple[Any]]:
    """One WATCH, NP.INFO, MULTI, pieces, EXEC: (the array or None,), or None
    when the key changed before EXEC. Raises _Fallback for anything else."""
    conn.send_packed_command([wire.command("WATCH", key) + wire.command(NP_INFO, key)])
    try:
        conn.read_response()
        info = parse_info(conn.read_response())
    except redis.exceptions.ResponseError as err:  # WRONGTYPE, NOPERM, ...: one command says it
        raise _Fallback from err
    if info is None:
        conn.send_packed_command([wire.command("UNWATCH")])
        conn.read_response()
        return (None,)
    found = None if info["fortran_order"] else plan(first, rest, info["shape"], info["dtype"])
    if found is None or not wire.usable(conn):
        raise _Fallback
    shape, pieces = found
    out = np.empty(shape, info["dtype"])
    conn.send_packed_command(
        [
            wire.command("MULTI")
            + b"".join(wire.command(NP_GET, key, "SLICE", text) for _, _, text in pieces)
            + wire.command("EXEC")
        ]
    )
    reader = wire.Reader(conn)
    if reader.line() != b"+OK" or any(reader.line() != b"+QUEUED" for _ in pieces):
        raise _Fallback
    head = reader.line()
    if head in (b"*-1", b"_"):  # the key changed: EXEC ran nothing
        return None
    if head != b"*%d" % len(pieces):
        raise _Fallback
    for a, b, _ in pieces:
        try:
            if wire.npy_reply_into(conn, reader, out[a:b]) is not True:
                raise _Fallback
        except (redis.exceptions.ResponseError, ValueError) as err:
            raise _Fallback from err
    if reader.pending:
        raise _Fallback
    return (out,)
