"""The NP.* commands: how each is sent, and how its reply becomes Python values.

Replies are converted by response callbacks registered on the redis-py client,
the way redis-py's own module clients do it, so one code path serves direct
calls, pipelines, transactions, asyncio and Cluster alike. A callback learns
what the caller asked for from execute_command options (`np_copy`, `np_field`).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple, Union

import numpy as np
from redis.client import NEVER_DECODE

from .npy import decode, encode

if TYPE_CHECKING:
    from types import EllipsisType

NP_SET = "NP.SET"
NP_APPEND = "NP.APPEND"
NP_GET = "NP.GET"
NP_SETSLICE = "NP.SETSLICE"
NP_SHAPE = "NP.SHAPE"
NP_DTYPE = "NP.DTYPE"
NP_SIZE = "NP.SIZE"
NP_INFO = "NP.INFO"
COMMANDS = (NP_SET, NP_APPEND, NP_GET, NP_SETSLICE, NP_SHAPE, NP_DTYPE, NP_SIZE, NP_INFO)

DtypeLike = Union[np.dtype, type, str]
# A NumPy basic index (`np.s_[...]`) or its text; see `format_slice`.
SliceSpec = Union[str, int, slice, Tuple[Any, ...], "EllipsisType"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(reply: Any) -> dict[str, Any]:
    """A RESP3 map or a RESP2 flat field/value array, as a dict with str keys."""
    if isinstance(reply, dict):
        return {_text(k): v for k, v in reply.items()}
    return {_text(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}


def _scalar_parser(dtype_name: str) -> Callable[[Any], Any]:
    """How to read one VALUES element of this dtype: RESP2 sends doubles as bulk
    strings, booleans as 0/1 and complex numbers as [re, im]."""
    if dtype_name.startswith("str"):
        return _text
    if dtype_name.startswith("bytes"):
        return bytes
    if dtype_name == "bool":
        return lambda v: bool(int(v))
    if dtype_name.startswith("complex"):
        return lambda v: complex(float(v[0]), float(v[1]))
    if dtype_name.startswith("float"):
        return float
    return int


def _parse_info(reply: Any) -> Optional[dict[str, Any]]:
    if reply is None:
        return None
    fields = _pairs(reply)
    descr = _text(fields["descr"])
    return {
        "dtype": _dtype_from_descr(descr),
        "descr": descr,
        "shape": tuple(int(d) for d in fields["shape"]),
        "ndim": int(fields["ndim"]),
        "size": int(fields["size"]),
        "itemsize": int(fields["itemsize"]),
        "nbytes": int(fields["nbytes"]),
        "fortran_order": bool(int(fields["fortran_order"])),
        "memory": int(fields["memory"]),
    }


def _dtype_from_descr(descr: str) -> np.dtype:
    """NP.INFO's descr is the header's literal text, e.g. `'<f4'` or `[('a', '<i4')]`."""
    return np.lib.format.descr_to_dtype(ast.literal_eval(descr))


def _parse_values(reply: Any) -> Optional[dict[str, Any]]:
    if reply is None:
        return None
    fields = _pairs(reply)
    dtype_name = _text(fields["dtype"])
    scalar = _scalar_parser(dtype_name)
    return {
        "dtype": dtype_name,
        "shape": tuple(int(d) for d in fields["shape"]),
        "values": [scalar(v) for v in fields["values"]],
    }


def _on_get(reply: Any, np_copy: bool = False, **_: Any) -> Any:
    if reply is None:
        return None
    if isinstance(reply, (bytes, bytearray, memoryview)):
        return decode(reply, copy=np_copy)
    return _parse_values(reply)  # NP.GET ... VALUES


def _on_info(reply: Any, np_field: Optional[str] = None, **_: Any) -> Any:
    info = _parse_info(reply)
    return info if info is None or np_field is None else info[np_field]


def _on_ok(reply: Any, **_: Any) -> Any:
    return reply in (True, b"OK", "OK")


def _on_shape(reply: Any, **_: Any) -> Any:
    return None if reply is None else tuple(int(d) for d in reply)


def _on_dtype(reply: Any, **_: Any) -> Any:
    return None if reply is None else _text(reply)


def _on_int(reply: Any, **_: Any) -> Any:
    return None if reply is None else int(reply)


RESPONSE_CALLBACKS: dict[str, Callable[..., Any]] = {
    NP_SET: _on_ok,
    NP_APPEND: _on_int,
    NP_GET: _on_get,
    NP_SETSLICE: _on_ok,
    NP_SHAPE: _on_shape,
    NP_DTYPE: _on_dtype,
    NP_SIZE: _on_int,
    NP_INFO: _on_info,
}


def format_slice(spec: SliceSpec) -> str:
    """A NumPy basic index (`5`, `np.s_[::2, -1]`, `"..., 0"`) as the SLICE text the server parses."""
    if isinstance(spec, str):
        return spec
    parts = spec if isinstance(spec, tuple) else (spec,)
    out = []
    for part in parts:
        if part is Ellipsis:
            out.append("...")
        elif part is None:
            out.append("None")
        elif isinstance(part, slice):
            out.append(":".join("" if v is None else str(int(v)) for v in (part.start, part.stop, part.step)))
        elif isinstance(part, (int, np.integer)) and not isinstance(part, bool):
            out.append(str(int(part)))
        else:
            raise TypeError(f"only basic indexing (ints, slices, ...) is supported, got {part!r}")
    return ", ".join(out)


def _get_args(key: Any, slice: Optional[SliceSpec], as_dtype: Optional[DtypeLike]) -> list[Any]:
    """NP.GET with its SLICE and AS options."""
    args: list[Any] = [NP_GET, key]
    if slice is not None:
        args += ["SLICE", format_slice(slice)]
    if as_dtype is not None:
        args += ["AS", np.dtype(as_dtype).str]
    return args


class NumpyCommands:
    """The NP.* commands. Each returns what redis-py's `execute_command` returns:
    the value for a client, an awaitable for an asyncio client, or the pipeline
    when queued in one (its `execute()` then yields the value)."""

    def execute_command(self, *args: Any, **options: Any) -> Any:  # pragma: no cover - provided by the client class
        raise NotImplementedError

    def set(self, key: Any, arr: Any) -> Any:
        """Store `arr` at `key` (NP.SET), replacing any array there. Returns True.

        Object arrays raise TypeError before anything is sent."""
        return self.execute_command(NP_SET, key, encode(arr))

    def append(self, key: Any, arr: Any) -> Any:
        """Concatenate `arr` to the array at `key` along its growth axis (NP.APPEND),
        creating the key if absent. Returns the new length of that axis."""
        return self.execute_command(NP_APPEND, key, encode(arr))

    def get(
        self,
        key: Any,
        *,
        copy: bool = False,
        slice: Optional[SliceSpec] = None,
        as_dtype: Optional[DtypeLike] = None,
    ) -> Any:
        """The array at `key` (NP.GET), or None if the key does not exist.

        The array is a read-only view of the reply; `copy=True` returns a writable copy.
        `slice` reads `arr[slice]` on the server (a string like `"10:20, ::2"` or
        `np.s_[10:20, ::2]`); `as_dtype` casts on the server like `arr.astype(dtype)`.
        """
        args = _get_args(key, slice, as_dtype)
        return self.execute_command(*args, np_copy=copy, **{NEVER_DECODE: []})

    def setslice(self, key: Any, slice: SliceSpec, arr: Any) -> Any:
        """`arr_at_key[slice] = arr` on the server (NP.SETSLICE). `arr` must have the stored
        dtype (no casting) and broadcast to the slice's shape. Returns True."""
        return self.execute_command(NP_SETSLICE, key, format_slice(slice), encode(arr))

    def values(self, key: Any, *, slice: Optional[SliceSpec] = None, as_dtype: Optional[DtypeLike] = None) -> Any:
        """NP.GET ... VALUES: `{"dtype": name, "shape": tuple, "values": [...]}` with the
        elements as Python scalars, row-major, or None if the key does not exist."""
        args = _get_args(key, slice, as_dtype)
        return self.execute_command(*args, "VALUES", **{NEVER_DECODE: []})

    def shape(self, key: Any) -> Any:
        """The shape of the array at `key` as a tuple (NP.SHAPE), or None."""
        return self.execute_command(NP_SHAPE, key)

    def dtype(self, key: Any) -> Any:
        """The exact `np.dtype` of the array at `key` (from NP.INFO's descr), or None."""
        return self.execute_command(NP_INFO, key, np_field="dtype")

    def dtype_name(self, key: Any) -> Any:
        """NP.DTYPE: the dtype's name as NumPy spells it (`arr.dtype.name`), or None."""
        return self.execute_command(NP_DTYPE, key)

    def size(self, key: Any) -> Any:
        """The element count of the array at `key` (NP.SIZE), or None."""
        return self.execute_command(NP_SIZE, key)

    def info(self, key: Any) -> Any:
        """NP.INFO as a dict: dtype (np.dtype), descr, shape (tuple), ndim, size,
        itemsize, nbytes, fortran_order (bool), memory (bytes used), or None."""
        return self.execute_command(NP_INFO, key)
