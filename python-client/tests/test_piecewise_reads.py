"""Reads past a few MiB sent as pieces in one MULTI/EXEC (redis_numpy.piecewise),
on a real server: every result equals NumPy's `arr[index]` byte for byte, the
pieces really are used (EXEC runs), small reads stay one command, and a writer
racing the reader never yields a torn result."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import redis

from redis_numpy import piecewise

from npy_bytes import assert_same, npy

KB = 1024


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of 1 KiB past 4 KiB, so small arrays take the piecewise path."""
    monkeypatch.setattr(piecewise, "PIECEWISE_FROM", 4 * KB)
    monkeypatch.setattr(piecewise, "PIECE_BYTES", 1 * KB)
    monkeypatch.setattr(piecewise, "ROW_MAX", 4 * KB)


def calls(r: redis.Redis, command: str) -> int:
    return int(r.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def random_index(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple:
    """A slice on axis 0 (any step, ends in or out of range) and ints or slices after it."""

    def end() -> int | None:
        return None if rng.random() < 0.3 else int(rng.integers(-shape[0] - 3, shape[0] + 3))

    step = None if rng.random() < 0.4 else int(rng.choice([-3, -2, -1, 1, 2, 5]))
    parts: list = [slice(end(), end(), step)]
    for dim in shape[1 : 1 + int(rng.integers(0, len(shape)))]:
        if rng.random() < 0.3:
            parts.append(int(rng.integers(-dim, dim)))
        else:
            parts.append(slice(int(rng.integers(0, dim)), None, int(rng.choice([1, 2]))))
    return tuple(parts)


def text(index: tuple) -> str:
    return ", ".join(
        f"{p}" if isinstance(p, int) else ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step))
        for p in index
    )


@pytest.mark.parametrize("dtype", ["<f4", ">i8", "u1", "S3", [("a", "<i2"), ("b", ">f8", (2,))]])
def test_random_slices_read_in_pieces_match_numpy(arrays, r, small_pieces, dtype):
    rng = np.random.default_rng(len(str(dtype)))
    dt = np.dtype(dtype)
    shape = (int(rng.integers(40, 90)), 12, 10)
    arr = np.frombuffer(rng.bytes(int(np.prod(shape)) * dt.itemsize), dt).reshape(shape)
    arrays.set("a", arr)
    r.config_resetstat()
    split = 0
    for _ in range(60):
        index = random_index(rng, shape)
        want = arr[index]
        spec = index if rng.random() < 0.5 else text(index)
        got = arrays.get("a", slice=spec)
        assert_same(got, want)
        split += want.nbytes > piecewise.PIECEWISE_FROM and want[:1].nbytes <= piecewise.ROW_MAX
    assert split > 0 and calls(r, "exec") == split  # one transaction per read past the bound


def test_whole_array_between_the_bounds_is_read_in_pieces(arrays, r, small_pieces):
    arr = np.random.default_rng(1).standard_normal((300, 7))
    arrays.set("a", arr)
    arrays.chunk_bytes = 64 * KB  # a chunked download above this
    r.config_resetstat()
    got = arrays.get("a")
    assert_same(got, arr)
    assert got.flags.writeable
    assert calls(r, "exec") == 1 and calls(r, "np.get") == 1 + -(-300 // (KB // 56))


def test_small_reads_stay_one_command(arrays, r, small_pieces):
    arr = np.arange(400.0).reshape(50, 8)  # 3.2 KiB
    arrays.set("a", arr)
    r.config_resetstat()
    assert_same(arrays.get("a"), arr)
    assert_same(arrays.get("a", slice=np.s_[-20:]), arr[-20:])
    assert calls(r, "np.get") == 2 and calls(r, "exec") == 0 and calls(r, "np.info") == 0


@pytest.mark.parametrize(
    "index",
    [np.s_[[1, 2, 3]], np.s_[..., 0], np.s_[3], np.s_[:, None]],
    ids=["list", "ellipsis", "int", "newaxis"],
)
def test_indexes_that_are_not_split_go_as_one_command(arrays, r, small_pieces, index):
    arr = np.random.default_rng(2).standard_normal((200, 8))
    arrays.set("a", arr)
    r.config_resetstat()
    assert_same(arrays.get("a", slice=index), arr[index])
    assert calls(r, "exec") == 0


def test_fortran_arrays_missing_keys_and_other_types(arrays, r, small_pieces):
    f = np.asfortranarray(np.random.default_rng(3).standard_normal((200, 8)))
    arrays.set("f", f)
    got = arrays.get("f", slice=np.s_[10:150])
    assert np.array_equal(got, f[10:150])
    assert arrays.get("missing", slice=np.s_[-30:]) is None
    r.set("s", b"x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.get("s", slice=np.s_[-30:])
    with pytest.raises(redis.ResponseError):
        arrays.get("f", slice=np.s_[::0])  # the server's error for a zero step, as one command


def test_a_rolling_writer_never_tears_a_read(redis_server, arrays, r, small_pieces):
    """Frames filled with their sequence number, appended with MAXLEN while
    another connection reads the last 40 in pieces: every read is 40
    consecutive frames, as the buffer held them at one instant."""
    frame = (8, 8)  # 512 B of int64: 40 frames are 20 KiB, 20 pieces
    for seq in range(60):
        arrays.append("roll", np.full((1, *frame), seq, np.int64), maxlen=50)
    stop = threading.Event()

    def write() -> None:
        client = redis_server.client()
        seq = 60
        while not stop.is_set():
            client.execute_command("NP.APPEND", "roll", npy(np.full((1, *frame), seq, np.int64)), "MAXLEN", 50)
            seq += 1
        client.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        r.config_resetstat()
        for _ in range(200):
            got = arrays.get("roll", slice=np.s_[-40:])
            firsts = got[:, 0, 0]
            assert got.shape == (40, *frame) and (got == firsts[:, None, None]).all()
            assert (np.diff(firsts) == 1).all(), firsts
    finally:
        stop.set()
        writer.join()
    assert calls(r, "exec") > 0


def test_a_writer_replacing_the_array_gives_one_whole_version(redis_server, arrays, r, small_pieces):
    versions = [np.full((100 + 7 * v, 9), v, np.float64) for v in range(5)]
    arrays.set("a", versions[0])
    stop = threading.Event()

    def write() -> None:
        client = redis_server.client()
        v = 0
        while not stop.is_set():
            v = (v + 1) % len(versions)
            client.execute_command("NP.SET", "a", npy(versions[v]))
        client.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(200):
            got = arrays.get("a", slice=np.s_[5:])
            v = int(got[0, 0])
            assert_same(got, versions[v][5:])
    finally:
        stop.set()
        writer.join()


def test_pieces_on_a_cluster(cluster_arrays, small_pieces):
    rng = np.random.default_rng(4)
    for i in range(6):
        arr = rng.standard_normal((150 + i, 4, 3))
        cluster_arrays.set(f"k{i}", arr)
        assert_same(cluster_arrays.get(f"k{i}", slice=np.s_[-120:]), arr[-120:])
        assert_same(cluster_arrays.get(f"k{i}"), arr)
        node = cluster_arrays.client.get_node_from_key(f"k{i}").redis_connection
        assert int(node.info("commandstats")["cmdstat_exec"]["calls"]) > 0


def test_chunks_of_a_download_are_read_as_pieces(arrays, r, small_pieces):
    """A whole array past chunk_bytes: each chunk is pipelined pieces; a
    replacement between chunks restarts the download with the new array."""
    old = np.random.default_rng(5).standard_normal((400, 9))
    new = np.arange(300 * 9, dtype=np.float32).reshape(300, 9)
    arrays.set("a", old)
    arrays.chunk_bytes = 8 * KB  # chunks of 113 rows of 72 B (the last 61), pieces of 14 rows
    r.config_resetstat()
    assert_same(arrays.get("a"), old)
    assert calls(r, "np.get") == 1 + 3 * 9 + 5  # the refused probe, then 9 pieces per chunk, 5 in the last
    done = []

    def replace_once(got: int, total: int) -> None:
        done.append(got)
        if len(done) == 2:
            r.execute_command("NP.SET", "a", npy(new))

    assert_same(arrays.get("a", progress=replace_once), new)
