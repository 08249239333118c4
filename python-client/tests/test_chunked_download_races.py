"""Chunked downloads racing writers on a real server: a write that lands
mid-download (same shape, another shape, another dtype, a delete) restarts
it, the result is always one whole version of the array, never a mix, and a
key that keeps changing gives up with ConcurrentWrite."""

from __future__ import annotations

import numpy as np
import pytest

from redis_numpy.chunked import DOWNLOAD_ATTEMPTS, ConcurrentWrite, download

from chunking import write_after
from npy_bytes import assert_same, npy

KB = 1024
OLD = np.random.default_rng(3).standard_normal((1000, 7)).astype(np.float32)


@pytest.fixture
def arrays(arrays):
    """The client with chunks so small that small arrays take the chunked paths."""
    arrays.chunk_bytes = 4 * KB  # 146 rows of OLD per chunk: 7 chunks
    return arrays


@pytest.fixture
def writer(redis_server):
    client = redis_server.client()
    yield client
    client.close()


REPLACEMENTS = {
    "same_shape_and_dtype": np.full((1000, 7), 3.0, np.float32),
    "fewer_rows": np.arange(200 * 7, dtype=np.float32).reshape(200, 7),
    "more_rows": np.arange(2000 * 7, dtype=np.float32).reshape(2000, 7),
    "other_row_shape": np.arange(1000 * 3, dtype=np.float32).reshape(1000, 3),
    "other_dtype_same_shape": np.arange(7000, dtype=np.int64).reshape(1000, 7),
    "structured_same_shape": np.zeros((1000, 7), dtype=[("a", "<f4")]),
    "zero_d": np.array(42.0),
    "fewer_rows_other_row_shape_and_dtype": np.arange(500 * 9, dtype=np.int16).reshape(500, 9),
}


@pytest.mark.parametrize("name", REPLACEMENTS)
def test_a_replacement_mid_download_restarts_it(arrays, writer, name):
    arrays.set("big", OLD)
    new = REPLACEMENTS[name]
    progress = write_after(2, lambda: writer.execute_command("NP.SET", "big", npy(new)))
    assert_same(arrays.get("big", progress=progress), new)
    assert_same(arrays.get("big"), new)  # the connection is still in step


@pytest.mark.parametrize("after", [1, 3])
def test_a_delete_mid_download_gives_none(arrays, writer, after):
    arrays.set("big", OLD)
    assert arrays.get("big", progress=write_after(after, lambda: writer.delete("big"))) is None


def test_a_key_that_changes_during_every_attempt_gives_up(arrays, writer):
    arrays.set("big", OLD)
    versions = []

    def rewrite(done: int, total: int) -> None:
        if done == 146 * 7 * 4:  # after the first chunk of each attempt
            versions.append(OLD + len(versions) + 1)
            writer.execute_command("NP.SET", "big", npy(versions[-1]))

    with pytest.raises(ConcurrentWrite, match=f"changed during each of {DOWNLOAD_ATTEMPTS} chunked reads"):
        arrays.get("big", progress=rewrite)
    assert len(versions) == DOWNLOAD_ATTEMPTS
    assert_same(arrays.get("big"), versions[-1])  # the last write stands


def test_download_of_a_missing_key_is_none(arrays):
    assert download(arrays, "nothing", chunk_bytes=64) is None


@pytest.mark.parametrize(
    "arr",
    [np.array(2.5), np.zeros((0, 4), np.int8), np.zeros((3, 0), np.float32), np.asfortranarray(np.eye(3))],
    ids=["zero_d", "no_rows", "no_columns", "fortran"],
)
def test_download_of_arrays_without_rows_to_split(arrays, arr):
    arrays.set("a", arr)
    got = download(arrays, "a", chunk_bytes=8)
    assert_same(got, arr)
    assert got.flags.writeable and got.flags.f_contiguous == arr.flags.f_contiguous

