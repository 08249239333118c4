"""Which part of an array a preview reads, and how it is downsampled.

Pure logic, no Redis and no drawing: from an array's shape and dtype and the
per-axis choices typed in the detail view (`"3"`, `":"`, `"10:500:2"`), pick the
preview kind and build the one `NP.GET key SLICE spec` that fetches just what
the preview draws. Downsampling is a larger slice step, since
`arr[a:b:s][::k]` is `arr[a:b:s*k]`: the server strides over the array and
only the sampled elements cross the wire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

# Most elements a preview reads along one axis. A heatmap strides each axis
# on its own to at most 512 elements, a line plot reads 2000 points, a table
# 50 rows x 16 columns, an image 1024 x 1024 pixels (one factor for both
# axes, so it keeps its shape).
LINE_POINTS = 2000
HEATMAP_SIDE = 512
IMAGE_SIDE = 1024
TABLE_ROWS = 50
TABLE_COLUMNS = 16
# Most bytes of array data any preview reads, whatever the dtype: the largest
# is an RGBA image of 1024 x 1024 x 4 bytes. A table of wide elements (long
# strings, big records) reads fewer rows and columns, at most TABLE_BYTES; an
# element wider than that is not read at all.
READ_BUDGET = 4 << 20
TABLE_BYTES = 1 << 20


class SelectionError(ValueError):
    """A per-axis choice that cannot be used (not a number, out of bounds, ...)."""


@dataclass(frozen=True)
class Axis:
    """One axis of the array as chosen: an integer index, or a normalized slice
    (start, step and the number of elements it selects)."""

    index: Optional[int]
    dim: int
    start: int = 0
    step: int = 1
    length: int = 0

    def spec(self) -> str:
        """This axis's part of a SLICE spec, in NumPy's shortest spelling
        (`:`, `::100`, `31::-1`)."""
        if self.index is not None:
            return str(self.index)
        if self.length == 0:
            return "0:0"
        forward = self.step > 0
        last = self.start + self.step * (self.length - 1)
        to_end = self.length == len(range(self.start, self.dim if forward else -1, self.step))
        start = "" if self.start == (0 if forward else self.dim - 1) else str(self.start)
        # Without a stop the slice runs to the end; a stop of -1 would count from the end.
        stop = "" if to_end else str(last + (1 if forward else -1))
        step = "" if self.step == 1 else f":{self.step}"
        return f"{start}:{stop}{step}"

    def every(self, k: int) -> "Axis":
        """Every k-th element of this slice: `arr[a:b:s][::k]`."""
        return Axis(None, self.dim, self.start, self.step * k, math.ceil(self.length / k))

    def first(self, n: int) -> "Axis":
        """The first n elements of this slice: `arr[a:b:s][:n]`."""
        return Axis(None, self.dim, self.start, self.step, min(self.length, n))


def _int(text: str, axis: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise SelectionError(f"axis {axis}: {text!r} is not an integer") from None


def parse_axis(text: str, axis: int, dim: int) -> Axis:
    """An index (`-1`) or a slice (`::2`, `10:20`) for an axis of length `dim`,
    checked with NumPy's rules and wording."""
    text = text.strip()
    if ":" not in text:
        index = _int(text, axis)
        if not -dim <= index < dim:
            raise SelectionError(f"index {index} is out of bounds for axis {axis} with size {dim}")
        return Axis(index % dim, dim)
    parts = text.split(":")
    if len(parts) > 3:
        raise SelectionError(f"axis {axis}: {text!r} has more than two colons")
    start, stop, step = (None if not p.strip() else _int(p, axis) for p in parts + [""] * (3 - len(parts)))
    if step == 0:
        raise SelectionError("slice step cannot be zero")
    start, stop, step = slice(start, stop, step).indices(dim)
    return Axis(None, dim, start, step, len(range(start, stop, step)))


def default_choices(shape: tuple[int, ...], dtype: np.dtype) -> list[str]:
    """What an axis shows before anyone picks: the last two axes (three for a
    uint8 stack of RGB/RGBA images) in full, index 0 on the others (unless
    they are empty, which no index fits)."""
    ndim = len(shape)
    shown = 3 if ndim >= 3 and dtype == np.uint8 and shape[-1] in (3, 4) else 2
    fixed = ["0" if dim else ":" for dim in shape[: max(ndim - shown, 0)]]
    return fixed + [":"] * min(ndim, shown)


@dataclass(frozen=True)
class Selection:
    """The preview of one array: its kind, the SLICE spec that reads it, and the
    original index of every element along each remaining axis."""

    kind: str  # image, heatmap, line, table, scalar, or none
    axes: tuple[Axis, ...]
    note: str = ""
    # Per axis: every k-th element of the chosen slice is read (1 for indexed
    # axes and for axes read in full or cut).
    factors: tuple[int, ...] = ()

    @property
    def spec(self) -> str:
        return ", ".join(axis.spec() for axis in self.axes)

    @property
    def kept(self) -> tuple[tuple[int, Axis], ...]:
        """The remaining axes as (axis number, Axis)."""
        return tuple((n, a) for n, a in enumerate(self.axes) if a.index is None)

    @property
    def downsampled(self) -> bool:
        return any(k > 1 for k in self.factors)

    @property
    def elements(self) -> int:
        """How many elements the preview reads."""
        return 0 if self.kind == "none" else math.prod(a.length for _, a in self.kept)


def preview_kind(kept_shape: tuple[int, ...], dtype: np.dtype) -> str:
    """The preview for an array (after indexing) of this shape and dtype."""
    rank = len(kept_shape)
    if rank == 0:
        return "scalar"
    if dtype.names is not None or dtype.kind not in "biufc":
        return "table" if rank <= 2 else "none"
    if dtype == np.uint8 and (rank == 2 or (rank == 3 and kept_shape[-1] in (3, 4))):
        return "image"
    if rank == 1:
        return "line"
    if rank == 2:
        return "heatmap"
    return "none"


def select(shape: tuple[int, ...], dtype: np.dtype, choices: Optional[list[str]] = None) -> Selection:
    """The preview of `arr[choices]` for an array of this shape and dtype, with
    every remaining axis downsampled (or cut, for tables) to the kind's budget."""
    if choices is None:
        choices = default_choices(shape, dtype)
    if len(choices) != len(shape):
        raise SelectionError(f"{len(choices)} axis choices for an array of {len(shape)} dimensions")
    axes = [parse_axis(text, n, dim) for n, (text, dim) in enumerate(zip(choices, shape))]
    kept = [n for n, a in enumerate(axes) if a.index is None]
    kind = preview_kind(tuple(axes[n].length for n in kept), dtype)
    itemsize = max(dtype.itemsize, 1)
    note = ""
    factors = [1] * len(axes)

    def stride(n: int, k: int) -> None:
        axes[n] = axes[n].every(k)
        factors[n] = k

    if kind == "none":
        note = f"{len(kept)} axes remain: pick an index on all but two of them"
    elif kind in ("table", "scalar") and itemsize > TABLE_BYTES:
        kind = "none"
        note = (f"each element is {itemsize:,} bytes, more than the {TABLE_BYTES:,} bytes a preview reads: "
                "not read (NP.GET cannot read part of an element)")
    elif kind == "line":
        stride(kept[0], max(1, math.ceil(axes[kept[0]].length / LINE_POINTS)))
    elif kind == "image":
        # One factor for both axes keeps the picture's aspect ratio; an image's
        # colour channels are never subsampled.
        k = max(1, max(math.ceil(axes[n].length / IMAGE_SIDE) for n in kept[:2]))
        for n in kept[:2]:
            stride(n, k)
    elif kind == "heatmap":
        # A heatmap has no aspect to keep: each axis is strided on its own, so
        # a tall matrix still shows all of its columns.
        side = min(HEATMAP_SIDE, math.isqrt(READ_BUDGET // itemsize))
        for n in kept[:2]:
            stride(n, max(1, math.ceil(axes[n].length / side)))
    elif kind == "table":
        columns = min(TABLE_COLUMNS, axes[kept[1]].length) if len(kept) > 1 else 1
        columns = max(1, min(columns, TABLE_BYTES // itemsize))
        rows = max(1, min(TABLE_ROWS, TABLE_BYTES // (columns * itemsize)))
        axes[kept[0]] = axes[kept[0]].first(rows)
        if len(kept) > 1:
            axes[kept[1]] = axes[kept[1]].first(columns)
    return Selection(kind, tuple(axes), note, tuple(factors))


# The per-array summary (min, max, mean, ...) is reduced on the server over at
# most this many elements of the chosen slice: whole rows from its start, so
# each NP.REDUCE holds Redis for a millisecond or so (about 0.1 s per GB).
SUMMARY_ELEMENTS = 1 << 20
# The per-column view of a matrix shows the first columns of the chosen slice.
STATS_COLUMNS = 32


def summary_selection(shape: tuple[int, ...], dtype: np.dtype, choices: list[str]) -> Optional[Selection]:
    """The slice the summary reduces: the chosen slice (not strided), cut to
    its first SUMMARY_ELEMENTS elements by taking its first rows (and, when a
    row alone is larger, the first rows of the next axis). None for dtypes
    NP.REDUCE does not summarize, for a single element and for an empty slice."""
    if dtype.names is not None or dtype.kind not in "biufc" or not shape:
        return None
    if dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16):
        return None  # longdouble: NP.REDUCE has no loop for it
    axes = [parse_axis(text, n, dim) for n, (text, dim) in enumerate(zip(choices, shape))]
    kept = [n for n, a in enumerate(axes) if a.index is None]
    if not kept:
        return None
    for i, n in enumerate(kept):
        inner = math.prod(axes[m].length for m in kept[i + 1:])
        if inner <= SUMMARY_ELEMENTS:
            axes[n] = axes[n].first(max(1, SUMMARY_ELEMENTS // max(inner, 1)))
            break
        axes[n] = axes[n].first(1)
    summary = Selection("summary", tuple(axes), factors=(1,) * len(axes))
    return summary if summary.elements else None


def column_selection(summary: Selection) -> Optional[Selection]:
    """For a 2-D summary slice, the same rows and its first STATS_COLUMNS
    columns, reduced along the rows (AXIS of the first kept axis)."""
    kept = summary.kept
    if len(kept) != 2:
        return None
    axes = list(summary.axes)
    n = kept[1][0]
    axes[n] = axes[n].first(STATS_COLUMNS)
    return Selection("columns", tuple(axes), factors=summary.factors)
