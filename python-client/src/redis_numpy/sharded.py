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
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import redis
from redis.client import NEVER_DECODE

from .commands import NP_GET, NP_KNN, NP_SET, NP_SETSLICE, format_slice
from .npy import check_dtype, encode
from .view import RemoteArrayMeta, indexed_call

if TYPE_CHECKING:
    from .streaming import StreamingCommands

FORMAT = "redis-numpy-sharded/1"
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
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

    def __init__(self, arrays: "StreamingCommands", name: str):
        self.arrays = arrays
        self.name = name
        self.refresh()

    # -- creating ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        arrays: "StreamingCommands",
        name: str,
        data: Optional[Any] = None,
        *,
        shape: Optional[tuple[int, ...]] = None,
        dtype: Any = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
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
            raise redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
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
            raise redis.exceptions.ResponseError(
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
        """(leading newaxes, the axis-0 index, the rest) of a basic index."""
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
        if isinstance(head, slice):
            return lead, head, parts[1:]
        raise TypeError(f"only basic indexing (ints, slices, ...) is supported, got {head!r}")

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
        rest_spec = [format_slice(p) for p in rest] if rest else []
        if isinstance(head, int):
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

    def __setitem__(self, index: Any, value: Any) -> None:
        lead, head, rest = self._split(index)
        if lead:
            raise TypeError("sharded arrays do not assign through a new axis")
        # The selection's shape, from a zero-byte stand-in of the array.
        stand_in = np.lib.stride_tricks.as_strided(np.empty(1, np.uint8), self.shape, (0,) * self.ndim)
        data = np.broadcast_to(np.asarray(value, dtype=self.dtype), stand_in[index].shape)
        rest_spec = [format_slice(p) for p in rest]
        keys = self._keys()
        if isinstance(head, int):
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
        key = distances if metric.lower() == "l2" else -distances
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
            out[chunk * c : (chunk + 1) * c] = self._get_chunk(chunk, "...")

        with ThreadPoolExecutor(min(PARALLEL, self._meta["chunks"])) as pool:
            list(pool.map(fill, range(self._meta["chunks"])))
        return out if dtype is None else out.astype(dtype, copy=False)


def _delete(client: Any, keys: list[str]) -> None:
    """Delete keys that may live on different shards, one command each."""
    for key in keys:
        client.delete(key)
