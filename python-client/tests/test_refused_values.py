"""Values `.npy` cannot hold without pickle, or that a NumPy user would not expect
to become an array, are refused before anything is sent, with a message that
says what to do instead; array-likes np.save accepts still work."""

from __future__ import annotations

import io

import numpy as np
import pytest

from redis_numpy import encode


def refused(arrays, r, value, match):
    for call in (
        lambda: arrays.set("k", value),
        lambda: arrays.append("k", value),
        lambda: arrays.mset({"k": value}),
        lambda: arrays.setslice("k", "0", value),
    ):
        with pytest.raises(TypeError, match=match):
            call()
    assert r.exists("k") == 0, "nothing was sent"


@pytest.mark.parametrize("value", ["hello", b"hello"])
def test_bare_strings_are_refused(arrays, r, value):
    refused(arrays, r, value, r"bare (str|bytes).*np\.array\(\[value\]\)")
    arrays.set("k", np.array([value]))  # explicit: fine
    assert arrays.get("k").tolist() == [value]


def test_masked_arrays_are_refused(arrays, r):
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    refused(arrays, r, masked, r"masked arrays.*arr\.filled")
    arrays.set("k", masked.filled(np.nan))
    np.testing.assert_array_equal(arrays.get("k"), [1.0, np.nan, 3.0])


PANDAS_COLUMNS = {
    "Int64 with NA": (lambda pd: pd.Series([1, None, 3], dtype="Int64"), r"nullable column.*na_value"),
    "Int64": (lambda pd: pd.Series([1, 2, 3], dtype="Int64"), r"nullable column.*na_value"),
    "Float64 with NA": (lambda pd: pd.Series([1.5, None], dtype="Float64"), r"nullable column.*na_value"),
    "boolean with NA": (lambda pd: pd.Series([True, None], dtype="boolean"), r"nullable column.*na_value"),
    "string": (lambda pd: pd.Series(["a", None, "c"], dtype="string"), r"string column.*to_numpy\(dtype='U'\)"),
    "default str": (lambda pd: pd.Series(["a", "b"]), r"string column.*to_numpy\(dtype='U'\)"),
    "category": (lambda pd: pd.Series(["a", "b", "a"], dtype="category"), r"categorical.*cat\.codes"),
    "int category": (lambda pd: pd.Series([1, 2, 1], dtype="category"), r"categorical.*cat\.codes"),
}


@pytest.mark.parametrize("name", PANDAS_COLUMNS)
def test_pandas_columns_without_numpy_dtype_are_refused_with_a_hint(arrays, r, name):
    """A nullable column's NA never becomes a number (np.asarray makes it NaN in
    a float64 array): every column without a NumPy dtype is refused, with the
    conversion to use, also past chunk_bytes."""
    pd = pytest.importorskip("pandas")
    make, hint = PANDAS_COLUMNS[name]
    series = make(pd)
    refused(arrays, r, series, rf"pandas Series of dtype {series.dtype}.*{hint}")
    refused(arrays, r, series.array, hint)
    refused(arrays, r, pd.DataFrame({"col": series}), rf"pandas DataFrame column 'col' of dtype {series.dtype}.*{hint}")
    arrays.chunk_bytes = 8  # the chunked upload refuses the same
    refused(arrays, r, pd.concat([series] * 10), hint)


def test_pandas_values_with_a_numpy_dtype_are_stored_as_np_asarray(arrays, r):
    pd = pytest.importorskip("pandas")
    series = pd.Series([1.5, np.nan, 3.0])
    arrays.set("s", series)
    assert npy_of(arrays.get("s")) == npy_of(np.asarray(series))
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    arrays.set("df", frame)
    assert npy_of(arrays.get("df")) == npy_of(np.asarray(frame))
    with pytest.raises(TypeError, match=r"DataFrame of several dtypes \('a': int64, 'b': float64\).*to_records"):
        arrays.set("mixed", pd.DataFrame({"a": [1, 2], "b": [1.5, 2.5]}))
    assert r.exists("mixed") == 0


def npy_of(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_array_likes_are_stored_as_np_save_writes_them(arrays):
    for value in ([1, 2, 3], [[1.5], [2.5]], 7, 2.5, True, np.float32(1.5), np.matrix([[1, 2], [3, 4]])):
        buf = io.BytesIO()
        np.save(buf, value)
        assert encode(value) == buf.getvalue()
        arrays.set("v", value)
        np.testing.assert_array_equal(arrays.get("v"), np.asarray(value))


def test_object_values_are_refused(arrays, r):
    for value in (None, {"a": 1}, np.array([{}, None], dtype=object)):
        with pytest.raises(TypeError, match="object"):
            arrays.set("k", value)
    assert r.exists("k") == 0
