"""Random basic indexes, with NumPy as the oracle of what an array-like
(an ArrayView, a ShardedArray) returns for them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from npy_bytes import assert_same


def random_basic_index(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple:
    """Ints, slices (ends in or out of range, any step) and new axes over the
    first one to three axes; sometimes an ellipsis in front, or a new axis."""

    def part(n: int) -> Any:
        kind = rng.integers(0, 4)
        if kind == 0:
            return int(rng.integers(-n, n))
        if kind == 1:
            bounds = (int(x) if rng.random() < 0.8 else None for x in rng.integers(-n - 3, n + 3, 2))
            return slice(*bounds, int(rng.choice([-9, -3, -1, 1, 2, 8])))
        return slice(None) if kind == 2 else None

    index = tuple(part(n) for n in shape[: int(rng.integers(1, 4))])
    if rng.random() < 0.15:
        index = (Ellipsis,) + index[1:]
    if rng.random() < 0.1:
        index = (None,) + index
    return index


def assert_indexes_like_numpy(target: Any, data: np.ndarray, seed: int, cases: int) -> None:
    """`target[index]` is `data[index]` (dtype, shape, bytes; a scalar of the
    same type) for `cases` random basic indexes, or raises IndexError where
    NumPy does."""
    rng = np.random.default_rng(seed)
    for _ in range(cases):
        index = random_basic_index(rng, data.shape)
        try:
            want = data[index]
        except IndexError:
            with pytest.raises(IndexError):
                target[index]
            continue
        got = target[index]
        if np.ndim(want) == 0:
            assert got == want and type(got) is type(want), index
        else:
            assert_same(got, want)
