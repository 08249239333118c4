"""The NP.* commands: how each is sent, and how its reply becomes Python values.

Replies are converted by response callbacks registered on the redis-py client,
the way redis-py's own module clients do it, so one code path serves direct
calls, pipelines, transactions, asyncio and Cluster alike. A callback learns
what the caller asked for from execute_command options (`np_copy`, `np_field`,
`np_get`).

The methods here return `Any`: what the wrapped client's `execute_command`
returns. `client.py` gives each kind of client its precise types.
"""

from __future__ import annotations

import ast
import datetime
import functools
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt
from redis.exceptions import DataError

from .npy import decode, decode_batch, encode
from .reply_types import returns

if TYPE_CHECKING:
    from types import EllipsisType

# redis-py's option that reads a reply without decode_responses' UTF-8 decoding
# (redis.client.NEVER_DECODE; valkey's client uses the same name).
NEVER_DECODE = "NEVER_DECODE"

NP_SET = "NP.SET"
NP_MSET = "NP.MSET"
NP_APPEND = "NP.APPEND"
NP_TRIM = "NP.TRIM"
NP_RESERVE = "NP.RESERVE"
NP_GET = "NP.GET"
NP_MGET = "NP.MGET"
NP_SETSLICE = "NP.SETSLICE"
NP_SHAPE = "NP.SHAPE"
NP_DTYPE = "NP.DTYPE"
NP_SIZE = "NP.SIZE"
NP_INFO = "NP.INFO"
NP_RESHAPE = "NP.RESHAPE"
NP_TRANSPOSE = "NP.TRANSPOSE"
NP_REDUCE = "NP.REDUCE"
NP_UPDATE = "NP.UPDATE"
NP_CONVERT = "NP.CONVERT"
NP_KNN = "NP.KNN"
# How NP.GET ... MAXBYTES n starts its refusal of a bigger array, after the
# "ERR " code redis-py moves into the exception class (docs/commands.md, NP.GET).
OVER_MAXBYTES = "reply array would be "
COMMANDS = (
    NP_SET, NP_MSET, NP_APPEND, NP_TRIM, NP_RESERVE, NP_GET, NP_MGET, NP_SETSLICE, NP_SHAPE, NP_DTYPE, NP_SIZE, NP_INFO,
    NP_RESHAPE, NP_TRANSPOSE, NP_REDUCE, NP_UPDATE, NP_CONVERT, NP_KNN,
)  # fmt: skip
KnnMetric = Literal["l2", "ip", "cosine", "hamming"]
UpdateOp = Literal["add", "sub", "mul", "div", "min", "max", "and", "or", "xor"]
ReduceOp = Literal[
    "sum", "prod", "mean", "var", "std", "min", "max", "argmin", "argmax", "count_nonzero", "any", "all",
    "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmin", "nanmax", "nanargmin", "nanargmax",
]
# `axis=` of a reduction: one axis or a tuple of them, as NumPy takes it.
AxisLike = Union[int, Tuple[int, ...]]

KeyT = Union[str, bytes, memoryview]
Array = npt.NDArray[Any]
DtypeLike = npt.DTypeLike
# A NumPy basic index (`np.s_[...]`) or its text; see `format_slice`.
SliceSpec = Union[str, int, slice, Tuple[Any, ...], "EllipsisType", None]
# The same, with integer lists (`[3, 17, 99]`, `np.s_[:, [0, 5]]`): see `format_index`.
IndexSpec = Union[SliceSpec, "list[int]", npt.NDArray[np.integer[Any]]]
ExpiryT = Union[int, datetime.timedelta]
AbsExpiryT = Union[int, datetime.datetime]


class ArrayInfo(TypedDict):
    """`info(key)`: NP.INFO's fields with Python types."""

    dtype: np.dtype[Any]  # exact, from descr: byte order and fields included
    # The header's descr as np.save writes it (np.lib.format.dtype_to_descr):
    # "<f4", or a list of (name, descr[, shape]) tuples for a structured dtype.
    descr: Union[str, list[Any]]
    shape: tuple[int, ...]
    ndim: int
    size: int
    itemsize: int
    nbytes: int
    fortran_order: bool
    # How the value lies in server memory: "packed", "full", "wrapped" (a
    # rolling buffer in two segments) or "adopted" (a large NP.SET argument
    # kept as it came); None from a module that does not say.
    layout: Optional[str]
    memory: int  # bytes the value occupies on the server


class ArrayValues(TypedDict):
    """`values(key)`: the elements as Python scalars, row-major."""

    dtype: str  # arr.dtype.name
    shape: tuple[int, ...]
    values: list[Any]


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


def parse_info(reply: Any) -> Optional[ArrayInfo]:
    """NP.INFO's reply (a RESP3 map or a RESP2 flat array, None for a missing
    key) as an `ArrayInfo`: what `info(key)` returns, for code that sends
    NP.INFO on a client of its own (the inspector, pipelined reads)."""
    if reply is None:
        return None
    fields = _pairs(reply)
    descr = ast.literal_eval(_text(fields["descr"]))
    return {
        "dtype": np.lib.format.descr_to_dtype(descr),
        "descr": descr,
        "shape": tuple(int(d) for d in fields["shape"]),
        "ndim": int(fields["ndim"]),
        "size": int(fields["size"]),
        "itemsize": int(fields["itemsize"]),
        "nbytes": int(fields["nbytes"]),
        "fortran_order": bool(int(fields["fortran_order"])),
        "layout": _text(fields["layout"]) if "layout" in fields else None,
        "memory": int(fields["memory"]),
    }


def _parse_values(reply: Any) -> ArrayValues:
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


def _on_reduce(reply: Any, **_: Any) -> Any:
    if reply is None:
        return None
    if not isinstance(reply, (bytes, bytearray, memoryview)):
        return _parse_values(reply)  # VALUES
    result = decode(reply)
    return result[()] if result.ndim == 0 else result  # a full reduction is a scalar, as in NumPy


def _on_knn(reply: Any, **_: Any) -> Any:
    if reply is None:
        return None
    indices, distances = reply
    if isinstance(indices, (bytes, bytearray, memoryview)):
        return decode(indices), decode(distances)
    return _parse_values(indices), _parse_values(distances)  # VALUES


def decode_mget(payloads: list[Any], copy: bool = False) -> list[Optional[Array]]:
    """NP.MGET's payloads as arrays (None for a missing key): read-only views
    sharing one buffer where they can (npy.decode_batch), or writable copies."""
    if copy:
        return [None if payload is None else decode(payload, copy=True) for payload in payloads]
    return decode_batch(payloads)


def _on_mget(reply: Any, np_copy: bool = False, **_: Any) -> Any:
    return decode_mget(reply, copy=np_copy)


def _on_set(reply: Any, np_get: bool = False, np_copy: bool = False, **_: Any) -> Any:
    if np_get:  # GET: the old array, or None
        return None if reply is None else decode(reply, copy=np_copy)
    return None if reply is None else reply in (True, b"OK", "OK")  # None: NX/XX not met


def _on_info(reply: Any, np_field: Optional[str] = None, **_: Any) -> Any:
    info = parse_info(reply)
    return info if info is None or np_field is None else info[np_field]  # type: ignore[literal-required]


def _on_ok(reply: Any, **_: Any) -> Any:
    return reply in (True, b"OK", "OK")


def _on_shape(reply: Any, **_: Any) -> Any:
    return None if reply is None else tuple(int(d) for d in reply)


def _on_dtype(reply: Any, **_: Any) -> Any:
    return None if reply is None else _text(reply)


def _on_int(reply: Any, **_: Any) -> Any:
    return None if reply is None else int(reply)


def _on_converted(reply: Any, **_: Any) -> Any:
    return bool(int(reply))


def _passing_errors(callback: Callable[..., Any]) -> Callable[..., Any]:
    """`callback`, except that an error reply stays the exception it is: redis-py's
    cluster pipelines hand error replies to the callbacks before raising them."""

    @functools.wraps(callback)
    def convert(reply: Any, **options: Any) -> Any:
        return reply if isinstance(reply, Exception) else callback(reply, **options)

    return convert


RESPONSE_CALLBACKS: dict[str, Callable[..., Any]] = {
    command: _passing_errors(callback)
    for command, callback in {
        NP_SET: _on_set,
        NP_MSET: _on_ok,
        NP_APPEND: _on_int,
        NP_TRIM: _on_int,
        NP_RESERVE: _on_ok,
        NP_GET: _on_get,
        NP_MGET: _on_mget,
        NP_SETSLICE: _on_ok,
        NP_SHAPE: _on_shape,
        NP_DTYPE: _on_dtype,
        NP_SIZE: _on_int,
        NP_INFO: _on_info,
        NP_RESHAPE: _on_shape,
        NP_TRANSPOSE: _on_shape,
        NP_REDUCE: _on_reduce,
        NP_UPDATE: _on_ok,
        NP_CONVERT: _on_converted,
    }.items()
}

RESPONSE_CALLBACKS[NP_KNN] = _passing_errors(_on_knn)


def register_callbacks(client: Any) -> Any:
    """Has `client` (a redis-py or valkey client, or pipeline) convert the NP.*
    replies; returns it. A client's pipelines share its callbacks; redis-py 5's
    asyncio ClusterPipeline has none of its own, so they go on its cluster client."""
    owner = client if hasattr(client, "set_response_callback") else client._client
    for command, callback in RESPONSE_CALLBACKS.items():
        owner.set_response_callback(command, callback)
    return client


def format_slice(spec: SliceSpec) -> str:
    """A NumPy basic index (`5`, `np.s_[::2, -1]`, `"..., 0"`) as the SLICE text the server parses."""
    return _format(spec, lists=False)


def format_index(spec: IndexSpec) -> str:
    """A NumPy index as the SLICE text: basic indexing, plus integer lists
    (`[3, 17, 99]`, `np.s_[:, [0, 5]]`, a 1-d integer array), which gather
    rows or columns like NumPy's advanced indexing."""
    return _format(spec, lists=True)


def _format(spec: Any, lists: bool) -> str:
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
        elif isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_)):
            out.append(str(int(part)))
        elif lists and isinstance(part, (list, np.ndarray)):
            out.append(_format_list(part))
        else:
            kinds = "ints, slices, integer lists, ..." if lists else "ints, slices, ..."
            raise TypeError(f"only basic indexing ({kinds}) is supported, got {part!r}")
    return ", ".join(out)


def _format_list(part: Any) -> str:
    items = np.asarray(part)
    if items.dtype.kind == "b":
        raise TypeError("boolean masks are not supported: pass np.flatnonzero(mask), the positions, as an index list")
    if items.ndim != 1 or (items.size and items.dtype.kind not in "iu"):
        raise TypeError(f"an index list must be a flat list of integers, got {part!r}")
    return "[" + ", ".join(str(int(i)) for i in items) + "]"


def get_args(key: KeyT, slice: IndexSpec, as_dtype: Optional[DtypeLike]) -> list[Any]:
    """NP.GET with its SLICE and AS options."""
    args: list[Any] = [NP_GET, key]
    if slice is not None:
        args += ["SLICE", format_index(slice)]
    if as_dtype is not None:
        args += ["AS", np.dtype(as_dtype).str]
    return args


def _seconds(value: ExpiryT, unit: int) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * unit)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise DataError(f"an expiry must be an int or a datetime.timedelta, got {value!r}")


def _timestamp(value: AbsExpiryT, unit: int) -> int:
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * unit)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise DataError(f"an expiry time must be an int or a datetime.datetime, got {value!r}")


# NP.APPEND, then the TTL, in one step; an error reply comes back as NP.APPEND gave it.
# ARGV: the payload, PEXPIRE or PEXPIREAT, its time, then NP.APPEND's options.
_APPEND_EXPIRE = """
local grown = redis.pcall('NP.APPEND', KEYS[1], ARGV[1], unpack(ARGV, 4))
if type(grown) == 'table' and grown.err then return grown end
redis.call(ARGV[2], KEYS[1], ARGV[3])
return grown
"""


# Scripts whose errors are those of the NP.* command they run.
NP_SCRIPTS = (_APPEND_EXPIRE,)


def _expiry_args(
    ex: Optional[ExpiryT], px: Optional[ExpiryT], exat: Optional[AbsExpiryT], pxat: Optional[AbsExpiryT]
) -> Optional[tuple[str, int]]:
    """(PEXPIRE or PEXPIREAT, milliseconds) for at most one of SET's TTL options."""
    if sum(option is not None for option in (ex, px, exat, pxat)) > 1:
        raise DataError("``ex``, ``px``, ``exat`` and ``pxat`` are mutually exclusive.")
    if ex is not None:
        return "PEXPIRE", _seconds(ex, 1) * 1000 if isinstance(ex, int) else _seconds(ex, 1000)
    if px is not None:
        return "PEXPIRE", _seconds(px, 1000)
    if exat is not None:
        return "PEXPIREAT", _timestamp(exat, 1) * 1000 if isinstance(exat, int) else _timestamp(exat, 1000)
    if pxat is not None:
        return "PEXPIREAT", _timestamp(pxat, 1000)
    return None


def set_args(
    key: KeyT,
    payload: bytes,
    *,
    ex: Optional[ExpiryT] = None,
    px: Optional[ExpiryT] = None,
    exat: Optional[AbsExpiryT] = None,
    pxat: Optional[AbsExpiryT] = None,
    nx: bool = False,
    xx: bool = False,
    keepttl: bool = False,
    get: bool = False,
) -> list[Any]:
    """NP.SET with SET's options, checked as redis-py checks SET's."""
    if nx and xx:
        raise DataError("``nx`` and ``xx`` are mutually exclusive.")
    if sum(option is not None for option in (ex, px, exat, pxat)) + bool(keepttl) > 1:
        raise DataError("``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive.")
    args: list[Any] = [NP_SET, key, payload]
    if nx:
        args.append("NX")
    if xx:
        args.append("XX")
    if get:
        args.append("GET")
    if ex is not None:
        args += ["EX", _seconds(ex, 1)]
    if px is not None:
        args += ["PX", _seconds(px, 1000)]
    if exat is not None:
        args += ["EXAT", _timestamp(exat, 1)]
    if pxat is not None:
        args += ["PXAT", _timestamp(pxat, 1000)]
    if keepttl:
        args.append("KEEPTTL")
    return args


class NumpyCommands:
    """The NP.* commands. Each returns what redis-py's `execute_command` returns:
    the value for a client, an awaitable for an asyncio client, or the pipeline
    when queued in one (its `execute()` then yields the value)."""

    def execute_command(self, *args: Any, **options: Any) -> Any:  # pragma: no cover - provided by the client class
        raise NotImplementedError

    @returns("Optional[bool]", if_true=("get", "Optional[Array]"))
    def set(
        self,
        key: KeyT,
        arr: npt.ArrayLike,
        *,
        ex: Optional[ExpiryT] = None,
        px: Optional[ExpiryT] = None,
        exat: Optional[AbsExpiryT] = None,
        pxat: Optional[AbsExpiryT] = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
    ) -> Any:
        """Store `arr` at `key` (NP.SET), with SET's options. Returns True, or None
        when `nx`/`xx` was not met; with `get=True`, the array that was there (or None).

        `ex`/`px` set a TTL in seconds/milliseconds (an int or a timedelta),
        `exat`/`pxat` an expiry time (a Unix time or a datetime), `keepttl` keeps
        the key's TTL; without any of them the TTL is cleared, as SET does.
        `nx` writes only a new key, `xx` only an existing one.

        Values `.npy` cannot hold without pickle (object arrays, a bare `str`, pandas
        extension columns, masked arrays) raise TypeError before anything is sent."""
        args = set_args(key, encode(arr), ex=ex, px=px, exat=exat, pxat=pxat, nx=nx, xx=xx, keepttl=keepttl, get=get)
        if get:
            return self.execute_command(*args, np_get=True, **{NEVER_DECODE: []})
        return self.execute_command(*args)

    @returns("bool")
    def mset(self, mapping: Mapping[KeyT, npt.ArrayLike]) -> Any:
        """Store several arrays at once (NP.MSET), atomically: every value is
        checked before any is written. Returns True.

        On Redis Cluster the keys are grouped by hash slot, one NP.MSET per slot:
        atomic per slot, not across slots (like redis-py's `mset_nonatomic`)."""
        args: list[Any] = [NP_MSET]
        for key, arr in mapping.items():
            args += [key, encode(arr)]
        return self.execute_command(*args)

    @returns("int")
    def append(
        self,
        key: KeyT,
        arr: npt.ArrayLike,
        *,
        maxlen: Optional[int] = None,
        ex: Optional[ExpiryT] = None,
        px: Optional[ExpiryT] = None,
        exat: Optional[AbsExpiryT] = None,
        pxat: Optional[AbsExpiryT] = None,
    ) -> Any:
        """Concatenate `arr` to the array at `key` along its growth axis (NP.APPEND),
        creating the key if absent. Returns the new length of that axis.

        `maxlen=n` then keeps only the last `n` entries along that axis: a rolling buffer.
        NP.APPEND keeps the key's TTL; `ex`/`px` (a TTL in seconds/milliseconds, an
        int or a timedelta) or `exat`/`pxat` (an expiry time) set one in the same
        atomic step (a script: NP.APPEND, then PEXPIRE or PEXPIREAT)."""
        extra: list[Any] = [] if maxlen is None else ["MAXLEN", int(maxlen)]
        expiry = _expiry_args(ex, px, exat, pxat)
        if expiry is not None:
            return self.execute_command("EVAL", _APPEND_EXPIRE, 1, key, encode(arr), *expiry, *extra)
        return self.execute_command(NP_APPEND, key, encode(arr), *extra)

    @returns("int")
    def trim(self, key: KeyT, n: int) -> Any:
        """Keep only the last `n` entries along the growth axis (NP.TRIM): `arr[-n:]`
        in C order, `arr[..., -n:]` in Fortran order. Returns the new length of that
        axis (0 for a missing key)."""
        return self.execute_command(NP_TRIM, key, int(n))

    @returns("bool")
    def reserve(self, key: KeyT, length: int) -> Any:
        """Make room for the array at `key` to grow to `length` entries along its growth
        axis (NP.RESERVE), so later appends copy only what they append. Returns True."""
        return self.execute_command(NP_RESERVE, key, int(length))

    @returns("Optional[Array]")
    def get(
        self,
        key: KeyT,
        *,
        copy: bool = False,
        slice: IndexSpec = None,
        as_dtype: Optional[DtypeLike] = None,
    ) -> Any:
        """The array at `key` (NP.GET), or None if the key does not exist.

        The array is a **read-only** zero-copy view of the reply: in-place changes
        (`a += 1`, `a[0] = 1`) raise NumPy's "assignment destination is read-only".
        Pass `copy=True` for a writable copy.

        `slice` reads `arr[slice]` on the server (a string like `"10:20, ::2"` or
        `np.s_[10:20, ::2]`, integer lists too: `np.s_[[3, 17, 99]]` gathers rows);
        `as_dtype` casts on the server like `arr.astype(dtype)`.
        """
        args = get_args(key, slice, as_dtype)
        return self.execute_command(*args, np_copy=copy, **{NEVER_DECODE: []})

    @returns("list[Optional[Array]]")
    def mget(self, keys: Iterable[KeyT], *, copy: bool = False) -> Any:
        """The arrays at `keys` (NP.MGET), in order, None for a missing key.

        Read-only views of the reply like `get`'s (a batch of one dtype and shape
        shares one buffer, which each array keeps alive); `copy=True` for
        writable copies of their own.
        On Redis Cluster the keys are grouped by hash slot (one NP.MGET per slot)
        and the arrays come back in the caller's order."""
        return self.execute_command(NP_MGET, *keys, np_copy=copy, **{NEVER_DECODE: []})

    @returns("bool")
    def setslice(self, key: KeyT, slice: IndexSpec, arr: npt.ArrayLike) -> Any:
        """`arr_at_key[slice] = arr` on the server (NP.SETSLICE). `arr` must have the stored
        dtype (no casting) and broadcast to the slice's shape. Returns True."""
        return self.execute_command(NP_SETSLICE, key, format_index(slice), encode(arr))

    @returns("Optional[ArrayValues]")
    def values(self, key: KeyT, *, slice: IndexSpec = None, as_dtype: Optional[DtypeLike] = None) -> Any:
        """NP.GET ... VALUES: `{"dtype": name, "shape": tuple, "values": [...]}` with the
        elements as Python scalars, row-major, or None if the key does not exist."""
        args = get_args(key, slice, as_dtype)
        return self.execute_command(*args, "VALUES", **{NEVER_DECODE: []})

    @returns("tuple[int, ...]")
    def reshape(self, key: KeyT, shape: Union[int, Iterable[int]]) -> Any:
        """`arr = arr.reshape(shape)` on the server (NP.RESHAPE; one dimension may be -1).
        Returns the new shape. O(1) for C-ordered arrays."""
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        text = "(" + "".join(f"{int(d)}, " for d in dims).rstrip(" ") + ")"
        return self.execute_command(NP_RESHAPE, key, text)

    @returns("tuple[int, ...]")
    def transpose(self, key: KeyT) -> Any:
        """`arr = arr.T` on the server (NP.TRANSPOSE), in O(1). Returns the new shape."""
        return self.execute_command(NP_TRANSPOSE, key)

    @returns("Optional[Union[np.generic, Array]]")
    def reduce(
        self,
        key: KeyT,
        op: ReduceOp,
        *,
        axis: Optional[AxisLike] = None,
        slice: IndexSpec = None,
        dtype: Optional[DtypeLike] = None,
        ddof: Optional[int] = None,
    ) -> Any:
        """`np.<op>(arr[slice], axis=axis, dtype=dtype, ddof=ddof)` computed on the server
        (NP.REDUCE): a NumPy scalar when every axis is reduced, else an array; None if the
        key does not exist. `axis`: an int or a tuple of ints (not empty). `ddof`: var,
        std, nanvar and nanstd. `op`: sum, prod, mean, var, std, min, max, argmin, argmax,
        count_nonzero, any, all, and nansum, nanprod, nanmean, nanvar, nanstd, nanmin,
        nanmax, nanargmin, nanargmax."""
        args: list[Any] = [NP_REDUCE, key, op]
        if isinstance(axis, tuple):
            if not axis:
                raise ValueError("axis=() (no reduction) is not supported by NP.REDUCE")
            args += ["AXIS", *(int(a) for a in axis)]
        elif axis is not None:
            args += ["AXIS", int(axis)]
        if ddof is not None:
            args += ["DDOF", int(ddof)]
        if slice is not None:
            args += ["SLICE", format_index(slice)]
        if dtype is not None:
            args += ["AS", np.dtype(dtype).str]
        return self.execute_command(*args, **{NEVER_DECODE: []})

    @returns("Optional[tuple[Array, Array]]")
    def knn(
        self, key: KeyT, query: npt.ArrayLike, k: int = 10, metric: KnnMetric = "l2", slice: IndexSpec = None
    ) -> Any:
        """The `k` rows of the (N, d) array at `key` nearest each query, exactly
        (NP.KNN): `(indices, distances)`, int64 and float32 (float64 for float64
        data) arrays of shape `(k,)` for a query of shape `(d,)`, `(Q, k)` for a
        batch `(Q, d)`; None if the key does not exist. `metric`: "l2" (squared
        Euclidean distance, smaller is nearer), "ip" (inner product) or
        "cosine" (cosine similarity), larger is nearer for both, or "hamming"
        (differing bits of uint8 rows packed by np.packbits, or differing
        elements of bool rows; int64 distances, smaller is nearer). `slice`
        restricts the rows searched (a range of rows, or a list of them);
        indices are rows of the whole array. The query's dtype must cast safely
        to the array's: `np.asarray(query)` of Python floats is float64, so pass
        a float32 array for a float32 matrix."""
        args: list[Any] = [NP_KNN, key, encode(query), "K", int(k), "METRIC", metric]
        if slice is not None:
            args += ["SLICE", format_index(slice)]
        return self.execute_command(*args, **{NEVER_DECODE: []})

    @returns("bool")
    def update(self, key: KeyT, op: UpdateOp, value: npt.ArrayLike, *, slice: IndexSpec = None) -> Any:
        """`arr[slice] op= value` in place on the server (NP.UPDATE), atomically, as
        NumPy's in-place ufunc computes it (`same_kind` casting, broadcasting).
        `op`: add, sub, mul, div, min, max, and, or, xor. Returns True.

        `value` is sent as `np.asarray(value)` makes it: a Python float is a float64,
        so pass `np.float32(0.1)` to add in float32 to a float32 array."""
        args: list[Any] = [NP_UPDATE, key, op, encode(value)]
        if slice is not None:
            args += ["SLICE", format_index(slice)]
        return self.execute_command(*args)

    @returns("bool")
    def convert(self, key: KeyT) -> Any:
        """Turn the string at `key` holding `np.save` bytes (what `SET key <.npy bytes>`
        stored) into an array in place, keeping its TTL (NP.CONVERT). Returns True,
        or False if the key does not exist. A string that is not valid `.npy`
        (an `np.savez` archive, a pickle, an object array) is refused and left as
        it was; a key of another type, an array included, is WRONGTYPE.
        `migrate(pattern)` converts every matching string key."""
        return self.execute_command(NP_CONVERT, key)

    @returns("Optional[tuple[int, ...]]")
    def shape(self, key: KeyT) -> Any:
        """The shape of the array at `key` as a tuple (NP.SHAPE), or None."""
        return self.execute_command(NP_SHAPE, key)

    @returns("Optional[np.dtype[Any]]")
    def dtype(self, key: KeyT) -> Any:
        """The exact `np.dtype` of the array at `key` (from NP.INFO's descr), or None."""
        return self.execute_command(NP_INFO, key, np_field="dtype")

    @returns("Optional[str]")
    def dtype_name(self, key: KeyT) -> Any:
        """NP.DTYPE: the dtype's name as NumPy spells it (`arr.dtype.name`), or None."""
        return self.execute_command(NP_DTYPE, key)

    @returns("Optional[int]")
    def size(self, key: KeyT) -> Any:
        """The element count of the array at `key` (NP.SIZE), or None."""
        return self.execute_command(NP_SIZE, key)

    @returns("Optional[ArrayInfo]")
    def info(self, key: KeyT) -> Any:
        """NP.INFO as an `ArrayInfo` dict: dtype (np.dtype), descr (as np.save's header
        holds it: "<f4", or a list for a structured dtype), shape (tuple), ndim, size,
        itemsize, nbytes, fortran_order (bool), layout, memory (bytes used), or None."""
        return self.execute_command(NP_INFO, key)
