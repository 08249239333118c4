"""`ShardedArray`: one array whose rows live in chunk keys spread over the
shards of a Redis Cluster (docs/big-arrays.md, "Sharded arrays").

Layout: a hash at the array's name holds the metadata; the data is split
along axis 0 into chunks of `chunk_rows` rows, each an ordinary NP array at
`<name>:<generation>:<i>`. Those keys carry no hash tag, so the cluster spreads
them over its slots and shards; resharding moves them like any key. A write of
a whole new array stores its chunks under a new generation first and then
switches the metadata, so readers see the old array or the new one.
"""

from __future__ import annotations

import ast
import builtins
import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import numpy as np
from redis.client import NEVER_DECODE

from .commands import NP_APPEND, NP_GET, NP_KNN, NP_REDUCE, NP_SET, NP_SETSLICE, ReduceOp, format_index, format_slice
from .libraries import errors
from .npy import check_dtype, encode
from .protocol import Arrays
from .view import RemoteArrayMeta, indexed_call

FORMAT = "redis-numpy-sharded/1"
# The data one chunk key of a sharded array holds, unless `create` is told otherwise.
SHARD_CHUNK_BYTES = 16 * 1024 * 1024
# Chunks read or written at once; each is one connection to its shard.
PARALLEL = 16


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ShardedArray(RemoteArrayMeta):
    """The sharded array at `name`, with the `ArrayView` interface: `shape`,
    `dtype`, `ndim`, `size`, `nbytes`, `len()`, `a[index]` (reads only the
    chunks the index touches, in parallel), `a[index] = value` and
    `np.asarray(a)`. Make one with `ShardedArray.create`.
    """

    def __init__(self, arrays: Arrays, name: str):
        self.arrays = arrays
        self.name = name
        self.refresh()

    # -- creating ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        arrays: Arrays,
        name: str,
        data: Optional[Any] = None,
        *,
        shape: Optional[tuple[int, ...]] = None,
        dtype: Any = None,
        chunk_bytes: int = SHARD_CHUNK_BYTES,
    ) -> "ShardedArray":
        """Store `data` (an ndarray) as a sharded array at `name`, or, given
        `shape` and `dtype` instead, a zero-filled one to write in pieces
        (`a[rows] = block`). Replaces a sharded array already there."""
        if "{" in name and "}" in name.split("{", 1)[1]:
            raise ValueError(f"sharded array name {name!r} has a hash tag: every chunk would land on one shard")
        if data is not None:
            arr = np.asarray(data)
            shape, dt = arr.shape, arr.dtype
        elif shape is not None and dtype is not None:
            arr, dt = None, np.dtype(dtype)
            shape = tuple(int(d) for d in shape)
        else:
            raise TypeError("give the data, or its shape and dtype")
        check_dtype(dt)
        if not shape:
            raise ValueError("a 0-d array has no axis to shard")
        row_bytes = math.prod(shape[1:]) * dt.itemsize
        chunk_rows = max(1, chunk_bytes // max(row_bytes, 1))
        count = max(1, math.ceil(shape[0] / chunk_rows))
        generation = uuid.uuid4().hex[:12]
        client = arrays.client
        kind = _text(client.type(name))
        if kind not in ("none", "hash"):
            raise errors(client).ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
        old = cls._read_meta(client, name) if kind == "hash" else None

        def write(i: int) -> None:
            rows = slice(i * chunk_rows, min((i + 1) * chunk_rows, shape[0]))
            if arr is not None:
                block = np.ascontiguousarray(arr[rows])
            else:
                block = np.zeros((rows.stop - rows.start,) + tuple(shape[1:]), dt)
            arrays.execute_command(NP_SET, cls._chunk_key(name, generation, i), encode(block))

        keys = [cls._chunk_key(name, generation, i) for i in range(count)]
        try:
            with ThreadPoolExecutor(min(PARALLEL, count)) as pool:
                list(pool.map(write, range(count)))
        except BaseException:
            _delete(client, keys)
            raise
        client.hset(name, mapping={
            "format": FORMAT,
            "descr": repr(np.lib.format.dtype_to_descr(dt)),
            "shape": ",".join(str(d) for d in shape),
            "chunk_rows": chunk_rows,
            "chunks": count,
            "generation": generation,
        })
        if old is not None and old["generation"] != generation:
            _delete(client, [cls._chunk_key(name, old["generation"], i) for i in range(old["chunks"])])
        return cls(arrays, name)

    def delete(self) -> None:
        """Remove the chunks and the metadata."""
        _delete(self.arrays.client, self._keys())
        self.arrays.client.delete(self.name)

    # -- metadata ----------------------------------------------------------------

    @staticmethod
    def _chunk_key(name: str, generation: str, i: int) -> str:
        return f"{name}:{generation}:{i}"

    @staticmethod
    def _read_meta(client: Any, name: str) -> dict[str, Any]:
        kind = _text(client.type(name))
        if kind == "none":
            raise KeyError(f"no sharded array at key {name!r}")
        if kind != "hash":
            raise errors(client).ResponseError(
                f"WRONGTYPE {name!r} holds a {kind}, not a sharded array's metadata hash"
            )
        raw = {_text(k): _text(v) for k, v in client.hgetall(name).items()}
        if raw.get("format") != FORMAT:
            raise ValueError(f"{name!r} is a hash but not a sharded array's metadata (format {raw.get('format')!r})")
        shape = tuple(int(d) for d in raw["shape"].split(","))

        return {
            "dtype": np.lib.format.descr_to_dtype(ast.literal_eval(raw["descr"])),
            "shape": shape,
            "chunk_rows": int(raw["chunk_rows"]),
            "chunks": int(raw["chunks"]),
            "generation": raw["generation"],
        }

    def refresh(self) -> "ShardedArray":
        self._meta = self._read_meta(self.arrays.client, self.name)
        return self

    def _keys(self) -> list[str]:
        return [self._chunk_key(self.name, self._meta["generation"], i) for i in range(self._meta["chunks"])]

    @property
    def chunk_rows(self) -> int:
        return int(self._meta["chunk_rows"])

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ShardedArray({self.name!r}, shape={self.shape}, dtype={self.dtype}, chunks={self._meta['chunks']})"

    # -- reading and writing ----------------------------------------------------------

    def _split(self, index: Any) -> tuple[int, Any, tuple[Any, ...]]:
        """(leading newaxes, the axis-0 index, the rest) of an index: basic
        indexing plus integer lists (an axis-0 list comes back as an int array
        of positions in range)."""
        parts = index if isinstance(index, tuple) else (index,)
        lead = 0
        while parts and parts[0] is None:
            lead, parts = lead + 1, parts[1:]
        if any(p is Ellipsis for p in parts):
            at = next(i for i, p in enumerate(parts) if p is Ellipsis)
            named = sum(1 for p in parts if p is not None and p is not Ellipsis)
            parts = parts[:at] + (slice(None),) * (self.ndim - named) + parts[at + 1:]
            while parts and parts[0] is None:
                lead, parts = lead + 1, parts[1:]
        if not parts:
            return lead, slice(None), ()
        head = parts[0]
        if isinstance(head, (int, np.integer)) and not isinstance(head, bool):
            n = self.shape[0]
            if not -n <= int(head) < n:
                raise IndexError(f"index {int(head)} is out of bounds for axis 0 with size {n}")
            return lead, int(head) % n, parts[1:]
        rest = parts[1:]
        lists = [p for p in rest if isinstance(p, (list, np.ndarray))]
        if isinstance(head, (list, np.ndarray)):
            if lists or lead or any(p is None for p in rest):
                raise TypeError(
                    "a sharded array takes an integer list on axis 0 with ints and slices on the other axes "
                    "(no second list, no np.newaxis)"
                )
            return lead, self._positions(head), rest
        if not isinstance(head, slice):
            raise TypeError(f"only ints, slices, integer lists, ... are supported, got {head!r}")
        if lists and not self._lists_stay_in_place(rest):
            raise TypeError(
                "on a sharded array, integer lists after a slice on axis 0 must be next to each other "
                "(with the ints among them) and come without np.newaxis, so that axis 0 of the result stays the rows'"
            )
        return lead, head, rest

    def _positions(self, head: Any) -> np.ndarray:
        """An axis-0 index list as positions in range, with NumPy's errors."""
        format_index(head)  # refuses booleans and nested lists with the client's message
        positions = np.asarray(head, dtype=np.int64).reshape(-1)
        n = self.shape[0]
        bad = positions[(positions < -n) | (positions >= n)]
        if bad.size:
            raise IndexError(f"index {int(bad[0])} is out of bounds for axis 0 with size {n}")
        return positions % n if n else positions

    @staticmethod
    def _lists_stay_in_place(rest: tuple[Any, ...]) -> bool:
        """Whether the advanced indexes among `rest` (lists, and ints once a list is
        there) are adjacent: NumPy then leaves the result's axes in place, else it
        moves the lists' axis to the front."""
        advanced = [i for i, p in enumerate(rest) if isinstance(p, (list, np.ndarray, int, np.integer))]
        adjacent = advanced == list(range(advanced[0], advanced[0] + len(advanced)))
        return adjacent and not any(p is None for p in rest)

    def _plan(self, rows: slice) -> list[tuple[int, slice, int]]:
        """(chunk, local slice, rows picked) for each chunk a slice of axis 0
        touches, in the slice's order."""
        picked = range(*rows.indices(self.shape[0]))
        if not picked:
            return []
        c, step = self.chunk_rows, picked.step
        plan = []
        first, last = picked[0] // c, picked[-1] // c
        for chunk in range(first, last + (1 if step > 0 else -1), 1 if step > 0 else -1):
            lo, hi = chunk * c, min((chunk + 1) * c, self.shape[0])
            if step > 0:
                i_lo = max(0, -(-(lo - picked.start) // step))
                i_hi = min(len(picked), -(-(hi - picked.start) // step))
            else:
                i_lo = max(0, -(-(picked.start - (hi - 1)) // -step))
                i_hi = min(len(picked), (picked.start - lo) // -step + 1)
            sub = picked[i_lo:i_hi]
            if not sub:
                continue  # a step longer than a chunk skips it
            end = sub[-1] - lo + (1 if step > 0 else -1)
            plan.append((chunk, slice(sub[0] - lo, None if end < 0 else end, step), len(sub)))
        return plan

    def _get_chunk(self, chunk: int, spec: str) -> np.ndarray:
        key = self._keys()[chunk]
        reply = indexed_call(self.arrays, NP_GET, key, "SLICE", spec, **{NEVER_DECODE: []})
        if reply is None:
            raise KeyError(f"chunk {key!r} of sharded array {self.name!r} is missing (replaced meanwhile? refresh())")
        chunk_array: np.ndarray = reply
        return chunk_array

    def __getitem__(self, index: Any) -> Any:
        lead, head, rest = self._split(index)
        rest_spec = [format_index(p) for p in rest] if rest else []
        if isinstance(head, np.ndarray):
            result = self._gather(head, rest_spec)
        elif isinstance(head, int):
            chunk, local = divmod(head, self.chunk_rows)
            result = self._get_chunk(chunk, ", ".join([str(local)] + rest_spec))
        else:
            plan = self._plan(head)
            if not plan:
                result = self._get_chunk(0, ", ".join(["0:0"] + rest_spec))
            else:
                specs = [(chunk, ", ".join([format_slice(local)] + rest_spec)) for chunk, local, _ in plan]
                with ThreadPoolExecutor(min(PARALLEL, len(specs))) as pool:
                    parts = list(pool.map(lambda cs: self._get_chunk(*cs), specs))
                result = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        result = result[(None,) * lead] if lead else result
        return result[()] if result.ndim == 0 else result

    def _by_chunk(self, positions: np.ndarray) -> list[tuple[int, np.ndarray, str]]:
        """(chunk, where in `positions`, the chunk's local index list) for each
        chunk the positions fall in."""
        chunks = positions // self.chunk_rows
        out = []
        for chunk in np.unique(chunks):
            where = np.flatnonzero(chunks == chunk)
            out.append((int(chunk), where, format_index(positions[where] - chunk * self.chunk_rows)))
        return out

    def _gather(self, positions: np.ndarray, rest_spec: list[str]) -> np.ndarray:
        """`a[positions, rest]`: one NP.GET per chunk the positions touch, in
        parallel, each chunk's rows put back at their places in the list."""
        if not positions.size:
            return self._get_chunk(0, ", ".join(["0:0"] + rest_spec))
        groups = self._by_chunk(positions)
        specs = [(chunk, ", ".join([local] + rest_spec)) for chunk, _, local in groups]
        with ThreadPoolExecutor(min(PARALLEL, len(specs))) as pool:
            parts = list(pool.map(lambda cs: self._get_chunk(*cs), specs))
        out = np.empty((positions.size,) + parts[0].shape[1:], self.dtype)
        for (_, where, _), part in zip(groups, parts):
            out[where] = part
        return out

    def __setitem__(self, index: Any, value: Any) -> None:
        lead, head, rest = self._split(index)
        if lead:
            raise TypeError("sharded arrays do not assign through a new axis")
        # The selection's shape, from a zero-byte stand-in of the array (an index
        # list makes a real array of it: one byte per element selected).
        stand_in = np.lib.stride_tricks.as_strided(np.empty(1, np.uint8), self.shape, (0,) * self.ndim)
        data = np.broadcast_to(np.asarray(value, dtype=self.dtype), stand_in[index].shape)
        rest_spec = [format_index(p) for p in rest]
        keys = self._keys()
        if isinstance(head, np.ndarray):
            pieces = [(chunk, local, data[where]) for chunk, where, local in self._by_chunk(head)]
        elif isinstance(head, int):
            chunk, local = divmod(head, self.chunk_rows)
            pieces = [(chunk, str(local), data)]
        else:
            pieces, done = [], 0
            for chunk, part, n in self._plan(head):
                pieces.append((chunk, format_slice(part), data[done : done + n]))
                done += n
        for chunk, spec, piece in pieces:
            indexed_call(
                self.arrays, NP_SETSLICE, keys[chunk], ", ".join([spec] + rest_spec), encode(np.ascontiguousarray(piece))
            )

    # -- growing -----------------------------------------------------------------------

    def append(self, rows: Any) -> int:
        """Append `rows` along axis 0 (an array of shape `(n,) + shape[1:]`, or one
        row of shape `shape[1:]`), as NP.APPEND does for one array: the last chunk
        is filled up (NP.APPEND), further rows go to new chunks (NP.SET), then
        the metadata's shape grows in one HSET. Returns the new length.

        Readers see the old length until that HSET, then the new one. One writer
        at a time: appends to one sharded array must not run concurrently."""
        self.refresh()
        block = np.asarray(rows)
        if block.dtype != self.dtype:
            raise TypeError(
                f"cannot append: dtype {np.lib.format.dtype_to_descr(block.dtype)!r} does not match the "
                f"stored {np.lib.format.dtype_to_descr(self.dtype)!r}"
            )
        if block.shape == self.shape[1:]:
            block = block[np.newaxis]
        if block.shape[1:] != self.shape[1:]:
            raise ValueError(f"cannot append: shape {block.shape} does not fit {self.shape} along axis 0")
        n, c, chunks = self.shape[0], self.chunk_rows, int(self._meta["chunks"])
        in_last = n - (chunks - 1) * c
        keys = self._keys()
        fill = block[: c - in_last]
        if len(fill):
            grown = indexed_call(self.arrays, NP_APPEND, keys[-1], encode(np.ascontiguousarray(fill)))
            if grown != in_last + len(fill):
                # The chunk held rows past the metadata's length (an append that
                # failed before its HSET): rewrite it as its rows plus these.
                kept = self._get_chunk(chunks - 1, f"0:{in_last}")
                whole = np.concatenate([kept, fill])
                indexed_call(self.arrays, NP_SET, keys[-1], encode(whole))
        rest = block[len(fill) :]
        new = [(chunks + i, rest[i * c : (i + 1) * c]) for i in range(math.ceil(len(rest) / c))]
        generation = self._meta["generation"]

        def write(item: tuple[int, np.ndarray]) -> None:
            chunk, part = item
            key = self._chunk_key(self.name, generation, chunk)
            self.arrays.execute_command(NP_SET, key, encode(np.ascontiguousarray(part)))

        if new:
            with ThreadPoolExecutor(min(PARALLEL, len(new))) as pool:
                list(pool.map(write, new))
        length = n + len(block)
        self.arrays.client.hset(
            self.name, mapping={"shape": ",".join(str(d) for d in (length,) + self.shape[1:]), "chunks": chunks + len(new)}
        )
        self.refresh()
        return length

    # -- reducing ---------------------------------------------------------------------

    def reduce(self, op: ReduceOp, *, axis: Optional[int] = None, dtype: Any = None) -> Any:
        """`np.<op>(a, axis=axis, dtype=dtype)` computed on the shards: one
        NP.REDUCE per chunk, in parallel, merged on the client.

        Along an axis other than 0 every op is offered and is NumPy's result
        exactly: each row is reduced whole within its chunk. Over axis 0 (or
        the whole array) the per-chunk results are merged: `min`, `max`,
        `argmin`, `argmax` (first occurrence, NaN first as in NumPy),
        `count_nonzero`, `any`, `all`, and `sum`/`prod` of integer and bool
        dtypes are exact; `sum`/`prod` of floats add the chunks' partial sums,
        an order NumPy does not use, so they may differ from `np.sum` in the
        last bits. `mean`, `var` and `std` over axis 0 are not offered (a merge
        of partial sums would not be NumPy's): use `reduce("sum", ...) / len(a)`
        where that is close enough, or reduce each row along another axis."""
        ndim = self.ndim
        if axis is not None:
            if not -ndim <= axis < ndim:
                raise np.exceptions.AxisError(axis, ndim)
            axis %= ndim
        rows_axis = axis is None or axis == 0
        if rows_axis and op not in _MERGED:
            raise ValueError(
                f"{op!r} over axis 0 of a sharded array is not offered: merging the chunks' results would not "
                f"be NumPy's exactly; reduce along another axis, or compute it from reduce('sum')"
            )
        chunks, c, n = int(self._meta["chunks"]), self.chunk_rows, self.shape[0]
        keys = self._keys()

        def one(chunk: int, what: str) -> Any:
            args: list[Any] = [NP_REDUCE, keys[chunk], what]
            if axis is not None:
                args += ["AXIS", axis]
            args += ["SLICE", f"0:{min(c, n - chunk * c)}"]
            if dtype is not None and what not in ("argmin", "argmax"):
                args += ["AS", np.dtype(dtype).str]
            reply = indexed_call(self.arrays, *args, **{NEVER_DECODE: []})
            if reply is None:
                raise KeyError(f"chunk {keys[chunk]!r} of sharded array {self.name!r} is missing (refresh())")
            return reply

        jobs: list[tuple[int, str]] = [(chunk, op) for chunk in range(chunks)]
        if op in ("argmin", "argmax") and rows_axis:
            jobs += [(chunk, op[3:]) for chunk in range(chunks)]  # each chunk's min or max too
        with ThreadPoolExecutor(min(PARALLEL, len(jobs))) as pool:
            replies = list(pool.map(lambda job: one(*job), jobs))
        if not rows_axis:
            return np.concatenate(replies[:chunks], axis=0)
        parts = replies[:chunks]
        if chunks == 1:
            return parts[0]
        if op in ("argmin", "argmax"):
            values = np.stack(replies[chunks:])
            best = getattr(np, op)(values, axis=0)  # the first chunk holding the extreme (or a NaN)
            local = np.take_along_axis(np.stack(parts), np.expand_dims(best, 0), axis=0)[0]
            # A flat index over the whole array (axis None) counts every element of the rows before.
            per_row = 1 if axis == 0 else math.prod(self.shape[1:])
            found = local + best * c * per_row
            return type(parts[0])(found) if np.ndim(found) == 0 else found.astype(np.asarray(parts[0]).dtype)
        stacked = np.stack(parts)
        merged = _MERGED[op](stacked, axis=0)
        if np.ndim(merged) == 0:
            return np.asarray(merged, dtype=stacked.dtype)[()]
        return merged.astype(stacked.dtype, copy=False)

    def knn(
        self, query: Any, k: int = 10, metric: str = "l2", slice: Optional[Any] = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` rows nearest each query, as `arrays.knn` gives them for one
        array: one NP.KNN per chunk (each on its shard, in parallel), the
        chunks' k best merged (nearest first, ties to the lower row, NaN last)
        with their indices made rows of the whole array. `slice`: a range of
        rows (a Python `slice`) to search."""
        rows = slice if slice is not None else builtins.slice(None)
        if not isinstance(rows, builtins.slice):
            raise TypeError(f"ShardedArray.knn searches a range of rows (a slice), got {rows!r}")
        plan = self._plan(rows)
        searched = sum(n for _, _, n in plan)
        if not 1 <= k <= searched:
            raise ValueError(f"k must be between 1 and the number of rows searched ({searched}), got {k}")
        payload = encode(np.asarray(query))
        keys, c = self._keys(), self.chunk_rows

        def search(part: tuple[int, Any, int]) -> tuple[np.ndarray, np.ndarray]:
            chunk, local, n = part
            spec = format_slice(local)
            reply = indexed_call(
                self.arrays, NP_KNN, keys[chunk], payload, "K", min(k, n), "METRIC", metric, "SLICE", spec,
                **{NEVER_DECODE: []},
            )
            if reply is None:
                raise KeyError(f"chunk {keys[chunk]!r} of sharded array {self.name!r} is missing (refresh())")
            indices, distances = reply
            return indices + chunk * c, distances

        with ThreadPoolExecutor(min(PARALLEL, len(plan))) as pool:
            found = list(pool.map(search, plan))
        single = found[0][0].ndim == 1
        indices = np.concatenate([np.atleast_2d(i) for i, _ in found], axis=1)
        distances = np.concatenate([np.atleast_2d(d) for _, d in found], axis=1)
        key = distances if metric.lower() in ("l2", "hamming") else -distances
        order = np.empty((len(indices), k), np.intp)
        for q in range(len(indices)):
            order[q] = np.lexsort((indices[q], key[q], np.isnan(key[q])))[:k]
        indices = np.take_along_axis(indices, order, axis=1)
        distances = np.take_along_axis(distances, order, axis=1)
        return (indices[0], distances[0]) if single else (indices, distances)

    def __array__(self, dtype: Optional[Any] = None, copy: Optional[bool] = None) -> np.ndarray:
        out = np.empty(self.shape, self.dtype)
        c = self.chunk_rows

        def fill(chunk: int) -> None:
            rows = min(c, self.shape[0] - chunk * c)
            out[chunk * c : chunk * c + rows] = self._get_chunk(chunk, f"0:{rows}")

        with ThreadPoolExecutor(min(PARALLEL, self._meta["chunks"])) as pool:
            list(pool.map(fill, range(self._meta["chunks"])))
        return out if dtype is None else out.astype(dtype, copy=False)


# How the chunks' results of an op over axis 0 merge into NumPy's.
_MERGED: dict[str, Any] = {
    "sum": np.sum,
    "prod": np.prod,
    "min": np.min,
    "max": np.max,
    "argmin": None,
    "argmax": None,
    "count_nonzero": np.sum,
    "any": np.any,
    "all": np.all,
}


def _delete(client: Any, keys: list[str]) -> None:
    """Delete keys that may live on different shards, one command each."""
    for key in keys:
        client.delete(key)
