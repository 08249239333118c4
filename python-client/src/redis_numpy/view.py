"""`ArrayView`: an array that stays on the server and is read or written a slice at a time."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from redis.client import NEVER_DECODE

from . import chunked
from .commands import NP_GET, NP_SETSLICE, format_index
from .libraries import errors
from .npy import encode
from .protocol import Arrays


class RemoteArrayMeta:
    """NumPy's metadata properties of an array held remotely, derived from
    `_meta`, which holds at least its "shape" and "dtype"."""

    _meta: dict[str, Any]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._meta["shape"])

    @property
    def dtype(self) -> np.dtype[Any]:
        dtype: np.dtype[Any] = np.dtype(self._meta["dtype"])
        return dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


class ArrayView(RemoteArrayMeta):
    """The array at `key`, lazily: `shape`, `dtype`, `ndim`, `size`, `nbytes` and
    `len()` come from one NP.INFO; `view[index]` is `NP.GET key SLICE index` (only
    the selected elements cross the network); `view[index] = value` is
    NP.SETSLICE; `np.asarray(view)` reads the whole array in chunks.

    Indexes are NumPy basic indexes (ints, slices, `...`, `None`) and integer
    lists (`v[[3, 17, 99]]`, `v[:, [0, 5]]`), as `get(slice=...)` takes. The metadata
    is read once; call `refresh()` after the array changed shape on the server.
    Works with `dask.array.from_array(view, chunks=...)`.
    """

    def __init__(self, arrays: Arrays, key: Any, *, chunk_bytes: int = chunked.TRANSFER_CHUNK_BYTES):
        self.arrays = arrays
        self.key = key
        self.chunk_bytes = chunk_bytes
        self._meta = {}
        self.refresh()

    def refresh(self) -> "ArrayView":
        info = self.arrays.info(self.key)
        if info is None:
            raise KeyError(f"no array at key {self.key!r}")
        self._meta = info
        return self

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __getitem__(self, index: Any) -> Any:
        spec = self._spec(index)
        reply = self._call(NP_GET, self.key, "SLICE", spec, **{NEVER_DECODE: []})
        if reply is None:
            raise KeyError(f"no array at key {self.key!r}")
        return reply[()] if reply.ndim == 0 else reply

    def __setitem__(self, index: Any, value: Any) -> None:
        data = np.asarray(value, dtype=self.dtype)
        self._call(NP_SETSLICE, self.key, self._spec(index), encode(data))

    def __array__(self, dtype: Optional[Any] = None, copy: Optional[bool] = None) -> np.ndarray:
        out = chunked.download(self.arrays, self.key, chunk_bytes=self.chunk_bytes)
        if out is None:
            raise KeyError(f"no array at key {self.key!r}")
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"ArrayView({self.key!r}, shape={self.shape}, dtype={self.dtype})"

    @staticmethod
    def _spec(index: Any) -> str:
        if isinstance(index, tuple) and index == ():
            return "..."
        return format_index(index)

    def _call(self, *args: Any, **options: Any) -> Any:
        return indexed_call(self.arrays, *args, **options)


def indexed_call(arrays: Arrays, *args: Any, **options: Any) -> Any:
    """An NP.* command with an index; "out of bounds" replies become IndexError, as in NumPy."""
    try:
        return arrays.execute_command(*args, **options)
    except errors(arrays.client).ResponseError as err:
        if "out of bounds" in str(err) or "too many indices" in str(err):
            raise IndexError(str(err).removeprefix("ERR ")) from err
        raise
