"""The list's server-side filters on an array's dtype and shape, applied to
NP.INFO while scanning, so a filtered page fills like an unfiltered one.
Pure logic, no Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np


class FilterError(ValueError):
    """A shape pattern that cannot be read."""


def dtype_names(dtype: np.dtype, descr: Any) -> set[str]:
    """The spellings a dtype filter may use: `float32`, `<f4`, `f4`, `|V80`,
    `V80`, `<U5`, `U5`, `record`, and the descr itself (a string, or the list
    of fields of a structured dtype, as NP.INFO's `descr` reads in Python)."""
    text = descr if isinstance(descr, str) else repr(descr)
    names = {dtype.name, str(dtype), text}
    if dtype.names is not None:
        names.add("record")
    else:
        names.add(dtype.str.lstrip("<>|="))
        names.add(dtype.str)
    return {n.lower() for n in names}


def parse_shape(text: str) -> Optional[tuple[Optional[int], ...]]:
    """`*, 384` -> (None, 384): one item per axis, an integer or `*` for
    any length; `()` for 0-d arrays; empty text for no filter."""
    text = text.strip()
    if not text:
        return None
    inner = text[1:-1] if text.startswith("(") and text.endswith(")") else text
    items = [p.strip() for p in inner.split(",")]
    if items and items[-1] == "" and len(items) > 1:
        items = items[:-1]  # a trailing comma, as in "(5,)"
    if items == [""]:
        return ()
    dims: list[Optional[int]] = []
    for item in items:
        if item == "*":
            dims.append(None)
            continue
        try:
            dims.append(int(item))
        except ValueError:
            raise FilterError(f"shape filter {text!r}: {item!r} is neither a length nor *") from None
    return tuple(dims)


@dataclass(frozen=True)
class ArrayFilter:
    """Keeps the arrays whose dtype is `dtype` (any spelling above) and whose
    shape matches `shape` (same number of axes, each length equal or `*`)."""

    dtype: str = ""
    shape: Optional[tuple[Optional[int], ...]] = None

    @classmethod
    def parse(cls, dtype: str, shape: str) -> "ArrayFilter":
        return cls(dtype.strip().lower(), parse_shape(shape))

    @property
    def active(self) -> bool:
        return bool(self.dtype) or self.shape is not None

    def keeps(self, info: dict[str, Any]) -> bool:
        if self.dtype and self.dtype not in dtype_names(info["dtype"], info["descr"]):
            return False
        if self.shape is not None:
            shape = info["shape"]
            if len(shape) != len(self.shape):
                return False
            if any(want is not None and want != got for want, got in zip(self.shape, shape)):
                return False
        return True
