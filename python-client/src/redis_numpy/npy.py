"""The `.npy` format on the client side: arrays to the bytes `np.save` writes, and back.

`encode` writes exactly what `np.save(f, arr, allow_pickle=False)` writes, with
one copy of the data (into the outgoing buffer: a RESP bulk string must be one
contiguous argument). `decode` parses the header and wraps the reply with
`np.frombuffer`, so the array's data *is* the reply's memory: no second copy.
"""

from __future__ import annotations

import ast
import functools
import struct
from typing import Any, Literal, Optional

import numpy as np

__all__ = ["encode", "decode", "check_dtype", "as_storable_array"]

MAGIC_PREFIX = b"\x93NUMPY"
ARRAY_ALIGN = 64
# np.save leaves room to rewrite the growth axis in place (numpy/lib/format.py).
GROWTH_AXIS_MAX_DIGITS = 21
_HEADER_LEN_FORMAT = {1: ("<H", "latin1"), 2: ("<I", "latin1"), 3: ("<I", "utf8")}


def check_dtype(dtype: np.dtype[Any]) -> None:
    """Raise TypeError for dtypes `.npy` can only hold by pickling: the server never unpickles."""
    if dtype.hasobject:
        raise TypeError(f"redis-numpy does not store object arrays (dtype {dtype!r}): the server never unpickles")
    # NumPy 2's new-style dtypes (e.g. StringDType) have no .npy descr either.
    if not getattr(type(dtype), "_legacy", True):
        raise TypeError(f"redis-numpy cannot store dtype {dtype!r}: it has no .npy representation without pickle")


# What to call instead, for pandas columns whose values have no NumPy dtype.
_PANDAS_HINTS = (
    ("category", "a categorical: store s.cat.codes.to_numpy() and the categories separately, "
                 "or s.to_numpy(dtype=...) with the categories' dtype"),
    ("string", "a string column: convert with s.to_numpy(dtype='U') (or dtype='S' for bytes)"),
    ("str", "a string column: convert with s.to_numpy(dtype='U') (or dtype='S' for bytes)"),
)
_PANDAS_NULLABLE_HINT = ("a nullable column: convert with s.to_numpy(dtype=..., na_value=...), "
                         "e.g. s.to_numpy(dtype='float64', na_value=np.nan)")


def as_storable_array(value: Any) -> np.ndarray[Any, Any]:
    """`value` as the plain ndarray `np.save` would write, or TypeError saying what to
    do instead: values `.npy` holds only by pickling, or that a NumPy user would not
    expect to become an array, are refused before anything is sent."""
    if isinstance(value, (str, bytes)):
        kind = type(value).__name__
        raise TypeError(
            f"refusing to store a bare {kind} as an array: wrap it (np.array([value])) "
            f"if you mean a {'str' if kind == 'str' else 'bytes'} array, or use the client's plain SET for text"
        )
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            "masked arrays are not stored: .npy has no place for the mask (np.save drops it); "
            "store arr.filled(fill_value), or arr.data and np.ma.getmaskarray(arr) under two keys"
        )
    module = type(value).__module__ or ""
    if module.startswith("pandas"):
        _check_pandas(value)
    arr = np.asarray(value)
    if module.startswith("pandas") and (arr.dtype.hasobject or not getattr(type(arr.dtype), "_legacy", True)):
        raise TypeError(_pandas_refusal(f"pandas {type(value).__name__}", getattr(value, "dtype", "object")))
    check_dtype(arr.dtype)
    return arr


def _pandas_refusal(what: str, dtype: Any) -> str:
    hint = next((h for word, h in _PANDAS_HINTS if word in str(dtype).lower()), _PANDAS_NULLABLE_HINT)
    return f"{what} of dtype {dtype} has no NumPy dtype; it is {hint}"


def _check_pandas(value: Any) -> None:
    """Refuses pandas values whose dtype is not a NumPy dtype (nullable Int64,
    boolean, string, category...): `np.asarray` would turn NA into a number
    (NaN in a float64 array) or the column into objects, silently. A
    DataFrame is stored only when every column has one and the same NumPy dtype."""
    dtypes = getattr(value, "dtypes", None)
    if type(value).__name__ == "DataFrame" and dtypes is not None:
        for column, dtype in dtypes.items():
            if not isinstance(dtype, np.dtype) or dtype.hasobject:
                raise TypeError(_pandas_refusal(f"pandas DataFrame column {column!r}", dtype))
        if len(set(dtypes)) > 1:
            listed = ", ".join(f"{column!r}: {dtype}" for column, dtype in dtypes.items())
            raise TypeError(
                f"pandas DataFrame of several dtypes ({listed}) has no single NumPy dtype: store "
                f"df.to_numpy(dtype=...) with the dtype to convert to, df.to_records(index=False) "
                f"for a structured array, or each column under its own key"
            )
        return
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not isinstance(dtype, np.dtype):
        raise TypeError(_pandas_refusal(f"pandas {type(value).__name__}", dtype))


@functools.lru_cache(maxsize=512)
def _header(dtype: np.dtype[Any], shape: tuple[int, ...], fortran_order: bool) -> bytes:
    """The `.npy` header np.save writes; cached like `_parse_header`."""
    descr = np.lib.format.dtype_to_descr(dtype)
    text = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran_order, shape)
    if shape:
        growth_axis = shape[-1 if fortran_order else 0]
        text += " " * (GROWTH_AXIS_MAX_DIGITS - len(repr(growth_axis)))
    for version in (1, 2, 3):
        fmt, encoding = _HEADER_LEN_FORMAT[version]
        try:
            body = text.encode(encoding)
        except UnicodeEncodeError:
            continue  # non-latin-1 field names need format 3.0
        prefix_len = len(MAGIC_PREFIX) + 2 + struct.calcsize(fmt)
        padding = ARRAY_ALIGN - (prefix_len + len(body) + 1) % ARRAY_ALIGN
        header_len = len(body) + padding + 1
        if version == 1 and header_len > 0xFFFF:
            continue
        return MAGIC_PREFIX + bytes([version, 0]) + struct.pack(fmt, header_len) + body + b" " * padding + b"\n"
    raise AssertionError("unreachable: format 3.0 takes any header")


def encode(arr: Any) -> bytes:
    """The `.npy` bytes of `arr`, byte-for-byte what `np.save` writes.

    Raises TypeError for values `.npy` cannot hold without pickle (see `as_storable_array`).

    Fortran-contiguous arrays are stored in Fortran order, like `np.save`;
    other non-contiguous arrays are written in C order.
    """
    arr = as_storable_array(arr)
    fortran_order = arr.flags.f_contiguous and not arr.flags.c_contiguous
    if fortran_order:
        contiguous = arr.T  # the same memory, C-contiguous
    elif arr.flags.c_contiguous:
        contiguous = arr
    else:
        contiguous = np.ascontiguousarray(arr)
    # A uint8 view works for every dtype, even those the buffer protocol refuses (datetime64).
    data = contiguous.reshape(-1).view(np.uint8).data
    return b"".join((_header(arr.dtype, arr.shape, fortran_order), data))


@functools.lru_cache(maxsize=512)
def _parse_header(version: int, text: bytes) -> tuple[np.dtype[Any], tuple[int, ...], Literal["C", "F"], int]:
    """dtype, shape, order and element count of a header; cached, since a
    store tends to hold many arrays of a few shapes (parsing costs ~15 µs)."""
    header = ast.literal_eval(text.decode(_HEADER_LEN_FORMAT[version][1]))
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    shape = tuple(header["shape"])
    count = 1
    for dim in shape:
        count *= dim
    return dtype, shape, "F" if header["fortran_order"] else "C", count


_Layout = tuple[np.dtype[Any], tuple[int, ...], Literal["C", "F"], int, int]  # dtype, shape, order, count, data offset
# The last header decoded, with its layout: a batch (NP.MGET) of arrays of one
# shape is decoded with a prefix comparison per array. One tuple, replaced whole,
# so concurrent threads always read a matching pair.
_last: tuple[bytes, Optional[_Layout]] = (b"\x00", None)


def _layout(payload: bytes | bytearray | memoryview) -> tuple[bytes, _Layout]:
    """The header bytes of a `.npy` payload and what they say."""
    if len(payload) < 10 or payload[:6] != MAGIC_PREFIX:
        raise ValueError("not a .npy payload: bad magic")
    version = payload[6]
    if version == 1:
        start = 10
        header_len = payload[8] | payload[9] << 8
    elif version in _HEADER_LEN_FORMAT and len(payload) >= 12:
        start = 12
        header_len = int.from_bytes(payload[8:12], "little")
    else:
        raise ValueError(f"unsupported .npy format version {version}.{payload[7]}")
    end = start + header_len
    # The parse is cached: a store tends to hold many arrays of a few shapes.
    dtype, shape, order, count = _parse_header(version, bytes(payload[start:end]))
    return bytes(payload[:end]), (dtype, shape, order, count, end)


def decode(payload: bytes | bytearray | memoryview, copy: bool = False) -> np.ndarray[Any, Any]:
    """The array held in `.npy` bytes, a zero-copy view of `payload` unless `copy` is true.

    A view of a `bytes` payload is read-only; `copy=True` returns a writable array.
    """
    global _last
    head, layout = _last
    if layout is None or not isinstance(payload, bytes) or not payload.startswith(head):
        head, layout = _layout(payload)
        _last = (head, layout)
    dtype, shape, order, count, offset = layout
    if count == 0 or dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype, order=order)  # no data to share with the reply
    arr = np.frombuffer(payload, dtype, count, offset)
    if len(shape) != 1:
        arr = arr.reshape(shape, order=order)
    return arr.copy(order="K") if copy else arr


def decode_batch(payloads: list[Any]) -> list[Optional[np.ndarray[Any, Any]]]:
    """`decode` of each payload (None stays None), for NP.MGET's replies: a
    batch of same-shaped arrays costs a prefix check and `np.frombuffer` each.

    A batch whose payloads all share one header (a feature store's vectors)
    is joined into one buffer and each array is a row of it: one copy of the
    batch, then a view per array, about a third of the time of a
    `np.frombuffer` each. Every array then keeps that buffer alive."""
    shared = _shared_rows(payloads)
    if shared is not None:
        return shared
    out: list[Optional[np.ndarray[Any, Any]]] = []
    append = out.append
    head, layout = _last
    for payload in payloads:
        if layout is not None and type(payload) is bytes and payload.startswith(head):
            dtype, shape, order, count, offset = layout
            if count and dtype.itemsize:
                arr = np.frombuffer(payload, dtype, count, offset)
                append(arr if len(shape) == 1 else arr.reshape(shape, order=order))
                continue
        append(None if payload is None else decode(payload))
        head, layout = _last
    return out


def _shared_rows(payloads: list[Any]) -> Optional[list[Optional[np.ndarray[Any, Any]]]]:
    """The arrays of `payloads` as rows of one joined buffer, when they are
    at least two `bytes` of one length and header holding arrays of one
    C-order (or 1-d) shape with data; else None."""
    if len(payloads) < 2 or type(payloads[0]) is not bytes:
        return None
    first: bytes = payloads[0]
    head, layout = _last
    if layout is None or not first.startswith(head):
        head, layout = _layout(first)
    dtype, shape, order, count, offset = layout
    size = len(first)
    if not shape or not count or not dtype.itemsize or (order == "F" and len(shape) > 1):
        return None
    try:
        if len(set(map(len, payloads))) != 1:
            return None
        joined = b"".join(payloads)
    except TypeError:  # a None (missing key) or another type
        return None
    whole = np.frombuffer(joined, np.uint8).reshape(len(payloads), size)
    if not (whole[:, :offset] == whole[0, :offset]).all():  # one header for all
        return None
    return list(whole[:, offset:].view(dtype).reshape((len(payloads),) + tuple(shape)))
