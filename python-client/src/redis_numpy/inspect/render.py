"""Previews drawn on the server as PNG: images with Pillow (pixel for pixel),
heatmaps and line plots with matplotlib's Agg renderer, and tables as rows of
text. No pyplot: each request draws on its own Figure, so threads do not share
state."""

from __future__ import annotations

import io
from typing import Any, Optional

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


# A grey image whose values span fewer levels than this (a mask of 0/1, a
# label map, 4-bit weights) is drawn with its contrast stretched, else it
# would look black.
STRETCH_BELOW = 128


def stretch_range(lo: int, hi: int) -> Optional[tuple[int, int]]:
    """The (min, max) to stretch to black..white, or None to draw as stored."""
    return (lo, hi) if hi - lo < STRETCH_BELOW and (lo, hi) != (0, 0) else None


def stretched(arr: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """lo..hi mapped linearly onto 0..255 (a constant image turns mid-grey)."""
    if hi == lo:
        return np.full(arr.shape, 128, dtype=np.uint8)
    scaled = (arr.astype(np.float32) - lo) * (255.0 / (hi - lo))
    return np.rint(scaled).astype(np.uint8)


def image_png(arr: np.ndarray) -> bytes:
    """uint8 H x W (grey), H x W x 3 (RGB) or H x W x 4 (RGBA), one pixel per
    element; a grey image of a narrow range is contrast-stretched."""
    arr = _native(arr)
    if arr.ndim == 2 and arr.size:
        span = stretch_range(int(arr.min()), int(arr.max()))
        if span is not None:
            arr = stretched(arr, *span)
    out = io.BytesIO()
    # Pillow reads the mode (L, RGB, RGBA) from the uint8 array's shape.
    Image.fromarray(arr).save(out, format="PNG")
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


def dtype_label(dtype: np.dtype) -> str:
    """A dtype as a person reads it: NumPy's name for numbers (`float32`),
    NumPy's str for flexible ones (`|V80`, `<U5`, `|S4`, whose names count
    bits: `void640`), and `record (N fields)` for a structured one, whose
    fields the descr spells out."""
    if dtype.names is not None:
        return f"record ({len(dtype.names)} field{'s' if len(dtype.names) != 1 else ''})"
    if dtype.kind in "SUV":
        return str(dtype)
    return dtype.name


def number(value: Any) -> str:
    """A float or complex printed as NumPy prints array elements: the shortest
    text that tells the value apart, at most 8 digits after the point (`0.3`,
    not `0.30000000000000004`), scientific below 1e-4 or from 1e16 on; a
    whole number keeps one zero (`880.0`)."""
    if isinstance(value, (complex, np.complexfloating)):
        real: Any = np.real(value)  # of the matching float type
        imag: Any = np.imag(value)
        sign = "-" if np.signbit(imag) else "+"
        return f"{number(real)}{sign}{number(abs(imag))}j"
    # The value's own type, so float16 and float32 print their shortest text.
    x = value if isinstance(value, np.floating) else np.float64(value)
    if not np.isfinite(x):
        return str(float(x))
    magnitude = abs(float(x))
    if magnitude != 0 and (magnitude >= 1e16 or magnitude < 1e-4):
        return np.format_float_scientific(x, precision=8, unique=True, trim="-")
    return np.format_float_positional(x, precision=8, unique=True, trim="0")


def cell(value: Any) -> str:
    if isinstance(value, bytes):
        text = repr(bytes(value))
    elif isinstance(value, np.void) and value.dtype.names is None:
        text = value.tobytes().hex()
    elif isinstance(value, (np.floating, np.complexfloating)):
        text = number(value)
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


def value_text(value: Any) -> str:
    """One reduction result (a 0-d array or a scalar) as text."""
    value = np.asarray(value)[()]
    if isinstance(value, (np.floating, np.complexfloating)):
        return number(value)
    return str(value.item() if isinstance(value, np.generic) else value)


def stats(found: dict[str, Any]) -> dict[str, Any]:
    """The summary's figures by name, and the first error met (a user without
    np.reduce, an empty slice) instead of the figures it prevented."""
    values, error = {}, None
    for name, result in found.items():
        if isinstance(result, Exception):
            error = error or str(result)
            values[name] = "—"
        else:
            values[name] = value_text(result)
    return {"values": values, "error": error}


def nan_state(found: dict[str, Any]) -> Optional[str]:
    """`present` when min or max is NaN (NaN propagates through both), `none`
    when neither is, None when the dtype has no NaN or the ops failed."""
    results = [found.get("min"), found.get("max")]
    if any(r is None or isinstance(r, Exception) for r in results):
        return None
    arrays = [np.asarray(r) for r in results]
    if arrays[0].dtype.kind not in "fc":
        return None
    return "present" if any(np.isnan(a).any() for a in arrays) else "none"


def original_index(flat: int, selection: Selection) -> str:
    """`[i, j]`: the index in the stored array of element `flat` of the
    selection's C-order ravel (as NP.REDUCE argmax gives it)."""
    kept_shape = tuple(a.length for _, a in selection.kept)
    inner = iter(np.unravel_index(flat, kept_shape) if kept_shape else ())
    index = [a.index if a.index is not None else a.start + a.step * int(next(inner)) for a in selection.axes]
    return "[" + ", ".join(str(i) for i in index) + "]"


def column_stats(found: dict[str, Any], selection: Selection) -> dict[str, Any]:
    """Headers (the columns' own indices) and rows (min, max, mean) of the
    per-column view, or the error that prevented it."""
    if any(isinstance(v, Exception) for v in found.values()):
        return {"error": str(next(v for v in found.values() if isinstance(v, Exception)))}
    _, cols = selection.kept[1]
    headers = [str(j) for j in _coords(cols)]
    rows = [[name.split("@")[0]] + [value_text(v) for v in np.asarray(found[name])] for name in found]
    return {"headers": headers, "rows": rows}
