"""The preview's slice: for random shapes and per-axis choices, what
`NP.GET key SLICE spec` returns must be exactly NumPy's `arr[choices]`,
strided by each axis's downsampling factor (or cut to the table's first rows)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from redis_numpy import Numpy
from redis_numpy.inspect import selection
from redis_numpy.inspect.selection import SelectionError, parse_axis, select


def numpy_index(text: str) -> object:
    """One axis choice as the Python object NumPy indexes with."""
    if ":" not in text:
        return int(text)
    return slice(*(int(p) if p.strip() else None for p in text.split(":")))


def random_choice(rng: random.Random, dim: int) -> str:
    def bound() -> str:
        return rng.choice(["", str(rng.randint(-dim - 2, dim + 2))])

    roll = rng.random()
    if roll < 0.3 and dim > 0:
        return str(rng.randint(-dim, dim - 1))
    if roll < 0.4:
        return ":"
    step = rng.choice(["", "1", "2", "3", "-1", "-2", str(rng.randint(-7, 7) or 1)])
    return f"{bound()}:{bound()}" + (f":{step}" if step else "")


def expected(arr: np.ndarray, choices: list[str], sel: selection.Selection) -> np.ndarray:
    """NumPy's answer: arr[choices], then the preview's stride or cut."""
    chosen = arr[tuple(numpy_index(c) for c in choices)]
    if sel.kind == "table":
        cut = (slice(0, selection.TABLE_ROWS), slice(0, selection.TABLE_COLUMNS))[: chosen.ndim]
        return chosen[cut]
    if sel.kind in ("line", "heatmap", "image"):
        return chosen[tuple(slice(None, None, sel.factors[n]) for n, _ in sel.kept)]
    return chosen


def test_parse_axis_uses_numpys_rules_and_words():
    assert parse_axis("-1", 0, 5).index == 4
    assert parse_axis("::-2", 0, 5).spec() == "::-2"
    assert parse_axis("0:5:1", 0, 5).spec() == ":"
    assert parse_axis("3::-1", 0, 5).spec() == "3::-1"
    assert parse_axis("1:-1", 0, 5).spec() == "1:4"
    assert parse_axis("1:-1", 0, 5).first(2).spec() == "1:3"
    with pytest.raises(SelectionError, match="index 5 is out of bounds for axis 2 with size 5"):
        parse_axis("5", 2, 5)
    with pytest.raises(SelectionError, match="slice step cannot be zero"):
        parse_axis("::0", 0, 5)
    with pytest.raises(SelectionError, match="not an integer"):
        parse_axis("a:b", 0, 5)


@pytest.mark.parametrize(
    "shape, dtype, kind",
    [
        ((480, 640), np.uint8, "image"),
        ((48, 64, 3), np.uint8, "image"),
        ((48, 64, 4), np.uint8, "image"),
        ((48, 64, 5), np.uint8, "image"),  # index 0 on the first axis: a 64 x 5 grey image
        ((48, 64), np.int16, "heatmap"),
        ((48, 64), np.complex64, "heatmap"),
        ((100,), np.float32, "line"),
        ((100,), np.bool_, "line"),
        ((10, 48, 64), np.float64, "heatmap"),
        ((10, 48, 64, 3), np.uint8, "image"),
        ((10,), np.dtype([("a", "<i4"), ("b", "S3")]), "table"),
        ((10,), np.dtype("U5"), "table"),
        ((10,), np.dtype("datetime64[s]"), "table"),
        ((), np.float64, "scalar"),
    ],
)
def test_kind_by_shape_and_dtype(shape, dtype, kind):
    assert select(shape, np.dtype(dtype)).kind == kind


def test_three_free_axes_ask_for_an_index():
    sel = select((4, 5, 6), np.dtype(np.float32), [":", ":", ":"])
    assert sel.kind == "none" and "pick an index" in sel.note


def test_budgets_bound_what_is_read():
    line = select((10**9,), np.dtype(np.float64))
    assert line.kept[0][1].length <= selection.LINE_POINTS
    heat = select((100_000, 30_000), np.dtype(np.float32))
    assert all(a.length <= selection.HEATMAP_SIDE for _, a in heat.kept)
    image = select((20_000, 10_000, 4), np.dtype(np.uint8))
    assert [a.length for _, a in image.kept][:2] == [1000, 500] and image.kept[2][1].length == 4


def test_tall_heatmap_strides_each_axis_on_its_own():
    """A 100000 x 384 matrix keeps all its columns; only the rows are strided."""
    heat = select((100_000, 384), np.dtype(np.float32))
    assert heat.spec == "::196, :" and heat.factors == (196, 1)
    assert [a.length for _, a in heat.kept] == [511, 384]
    wide = select((3, 50_000), np.dtype(np.float64))
    assert wide.spec == ":, ::98" and wide.factors == (1, 98)
    # Images keep their shape: one factor for both axes.
    assert select((100_000, 384), np.dtype(np.uint8)).factors == (98, 98)


WIDE_DTYPES = [
    "U2000000", "S300000", "V80", "V5000000", "U20", "S1", "<f8", "<c32",
    [("id", "<i4"), ("blob", "S3000000")], [("a", "<f8"), ("s", "U1000")],
]


@pytest.mark.parametrize("descr", WIDE_DTYPES)
@pytest.mark.parametrize("shape", [(5,), (7, 40), (100_000, 384), (), (3, 4, 5)])
def test_every_preview_reads_a_bounded_number_of_bytes(descr, shape):
    dtype = np.dtype(descr)
    for choices in (None, [":"] * len(shape)):
        sel = select(shape, dtype, choices)
        read = sel.elements * dtype.itemsize
        assert read <= selection.READ_BUDGET, (descr, shape, sel.spec, read)
        if sel.kind in ("table", "scalar"):
            assert read <= selection.TABLE_BYTES
        if sel.kind != "none":
            assert sel.elements >= 1 or 0 in shape
    huge = select((5,), np.dtype("U2000000"))
    assert huge.kind == "none" and "8,000,000 bytes" in huge.note
    few = select((5, 40), np.dtype("U20000"))  # 80 KB per element: 16 columns, 1 row... or fewer
    assert few.kind == "table" and few.elements * 80_000 <= selection.TABLE_BYTES and few.elements >= 1


def test_random_selections_match_numpy_on_the_server(r):
    arrays = Numpy(r)
    rng = random.Random(1234)
    dtypes = [np.float64, np.uint8, np.int32, np.dtype([("x", "<f4"), ("y", "S2")])]
    cases = 0
    for trial in range(300):
        ndim = rng.randint(1, 4)
        # Some long axes so the budgets downsample.
        shape = tuple(rng.choice([0, 1, 2, 5, 17, 600, 2500]) if ndim <= 2 else rng.choice([1, 3, 4, 9]) for _ in range(ndim))
        if np.prod(shape) > 3_000_000:
            continue
        dtype = np.dtype(rng.choice(dtypes))
        arr = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).astype(dtype) if dtype.names is None \
            else np.zeros(shape, dtype)
        if dtype.names:
            arr["x"] = np.arange(arr.size).reshape(shape)
        choices = [random_choice(rng, dim) for dim in shape]
        try:
            want_chosen = arr[tuple(numpy_index(c) for c in choices)]
        except (IndexError, ValueError) as err:
            with pytest.raises(SelectionError):
                select(shape, dtype, choices)
            assert str(err)  # NumPy refused too
            continue
        sel = select(shape, dtype, choices)
        if sel.kind == "none":
            assert want_chosen.ndim > 2
            continue
        arrays.set("a", arr)
        got = arrays.get("a", slice=sel.spec if sel.spec else None)
        want = expected(arr, choices, sel)
        assert got.shape == want.shape, (shape, choices, sel.spec)
        assert got.dtype == want.dtype
        assert got.tobytes() == np.ascontiguousarray(want).tobytes(), (shape, choices, sel.spec)
        cases += 1
    assert cases > 100


def test_summary_slice_is_bounded_whole_rows_of_the_choice():
    from redis_numpy.inspect.selection import SUMMARY_ELEMENTS, column_selection, summary_selection

    f4 = np.dtype(np.float32)
    tall = summary_selection((100_000, 400), f4, [":", ":"])
    assert tall.spec == f":{SUMMARY_ELEMENTS // 400}, :" and tall.elements <= SUMMARY_ELEMENTS
    assert column_selection(tall).spec == f":{SUMMARY_ELEMENTS // 400}, :32"
    # A row longer than the bound: one row, cut.
    wide = summary_selection((10, 5_000_000), f4, [":", ":"])
    assert wide.spec == f":1, :{SUMMARY_ELEMENTS}" and wide.elements == SUMMARY_ELEMENTS
    # The boxes' choice, not strided; small slices whole.
    assert summary_selection((50, 60), f4, ["10:20", "5::3"]).spec == "10:20, 5::3"
    assert summary_selection((8, 60, 80), f4, ["2", ":", ":"]).spec == "2, :, :"
    for shape, dtype in [((0, 5), f4), ((), f4), ((4,), np.dtype("U3")), ((4,), np.dtype(np.longdouble)),
                         ((4,), np.dtype([("a", "<f4")])), ((4,), np.dtype("M8[s]"))]:
        assert summary_selection(shape, dtype, [":"] * len(shape)) is None, (shape, dtype)
    assert column_selection(summary_selection((9,), f4, [":"])) is None
