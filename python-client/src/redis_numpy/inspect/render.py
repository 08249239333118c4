"""Previews drawn on the server as PNG: images with Pillow (pixel for pixel),
heatmaps and line plots with matplotlib's Agg renderer, and tables as rows of
text. No pyplot: each request draws on its own Figure, so threads do not share
state."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from .selection import Axis, Selection

MAX_CELL_CHARS = 80


def _native(arr: np.ndarray) -> np.ndarray:
    """The array in native byte order and C layout, as the drawing libraries expect."""
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def _plottable(arr: np.ndarray) -> tuple[np.ndarray, str]:
    """Float64 values to plot, and what they are (complex numbers plot as |z|)."""
    if arr.dtype.kind == "c":
        return np.abs(arr).astype(np.float64), "|z|"
    return arr.astype(np.float64), "value"


def _png(fig: Figure) -> bytes:
    canvas = FigureCanvasAgg(fig)
    out = io.BytesIO()
    canvas.print_png(out)
    return out.getvalue()


def _coords(axis: Axis) -> np.ndarray:
    """The original index of each element a slice read."""
    return axis.start + axis.step * np.arange(axis.length)


def image_png(arr: np.ndarray) -> bytes:
    """uint8 H x W (grey), H x W x 3 (RGB) or H x W x 4 (RGBA), one pixel per element."""
    out = io.BytesIO()
    # Pillow reads the mode (L, RGB, RGBA) from the uint8 array's shape.
    Image.fromarray(_native(arr)).save(out, format="PNG")
    return out.getvalue()


def heatmap_png(arr: np.ndarray, selection: Selection, title: str) -> bytes:
    """A 2-D array as a viridis heatmap with a colour bar, axes in original indices."""
    values, label = _plottable(_native(arr))
    (row_axis, rows), (col_axis, cols) = selection.kept[:2]
    fig = Figure(figsize=(7, 5.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    r, c = _coords(rows), _coords(cols)
    # extent puts each cell's centre on its original index, however strided.
    half_r, half_c = rows.step / 2, cols.step / 2
    extent = (
        (c[0] - half_c, c[-1] + half_c, r[-1] + half_r, r[0] - half_r)
        if values.size else None
    )
    image = ax.imshow(values, cmap="viridis", aspect="auto", interpolation="nearest", extent=extent)
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlabel(_axis_label(col_axis, cols))
    ax.set_ylabel(_axis_label(row_axis, rows))
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _axis_label(number: int, axis: Axis) -> str:
    """`axis 0`, or `axis 0 (every 196th)` when the preview strides it."""
    step = abs(axis.step)
    if step == 1:
        return f"axis {number}"
    suffix = "th" if 10 <= step % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(step % 10, "th")
    return f"axis {number} (every {step}{suffix})"


def line_png(arr: np.ndarray, selection: Selection, title: str) -> bytes:
    """A 1-D array as a line over its original indices."""
    values, label = _plottable(_native(arr))
    axis_number, axis = selection.kept[0]
    fig = Figure(figsize=(8, 3.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(_coords(axis), values, linewidth=1, color="#1f6fb4")
    ax.set_xlabel(f"index on axis {axis_number}")
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def cell(value: Any) -> str:
    if isinstance(value, bytes):
        text = repr(bytes(value))
    elif isinstance(value, np.void) and value.dtype.names is None:
        text = value.tobytes().hex()
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def table_rows(arr: np.ndarray, selection: Selection) -> tuple[list[str], list[list[str]]]:
    """Column headers and rows of text for a 1-D or 2-D array: one column per
    field of a structured dtype, else one per element of a row."""
    kept = selection.kept
    row_axis, rows = kept[0]
    row_index = _coords(rows)
    if arr.dtype.names is not None and arr.ndim == 1:
        names = list(arr.dtype.names)
        body = [[str(i)] + [cell(item[name]) for name in names] for i, item in zip(row_index, arr)]
        return [f"axis {row_axis}"] + names, body
    if arr.ndim == 1:
        return [f"axis {row_axis}", "value"], [[str(i), cell(v)] for i, v in zip(row_index, arr)]
    col_axis, cols = kept[1]
    headers = [f"axis {row_axis} \\ {col_axis}"] + [str(j) for j in _coords(cols)]
    return headers, [[str(i)] + [cell(v) for v in row] for i, row in zip(row_index, arr)]
