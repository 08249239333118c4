"""Big arrays: chunked set/get through a staging key, uploads in pieces, and
the lazy `ArrayView`, against a real server. Chunks are made tiny so that
small arrays exercise every path; one test moves an array past 512 MiB."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import redis

from redis_numpy import Numpy, NumpyError, Upload, UploadAborted
from redis_numpy.chunked import STAGING_INFIX

from npy_bytes import assert_same, npy
from redis_server import RedisServer, wait_aof_rewrite_done, wait_for
from replication import wait_applied
from chunking import staging_keys
from indexing import assert_indexes_like_numpy

KB = 1024
MB = 1024 * KB


@pytest.fixture
def arrays(arrays):
    """The client with chunks so small that small arrays take the chunked paths."""
    arrays.chunk_bytes = 4 * KB
    return arrays


CASES = {
    "float32_2d": np.random.default_rng(1).standard_normal((1000, 7)).astype(np.float32),
    "int8_1d": np.arange(100_000, dtype=np.int64).astype(np.int8),
    "big_endian_3d": np.arange(6000, dtype=">f8").reshape(30, 20, 10),
    "fortran": np.asfortranarray(np.arange(20_000, dtype=np.int32).reshape(200, 100)),
    "strided": np.arange(40_000, dtype=np.uint16).reshape(400, 100)[::3, ::2],
    "structured": np.array([(i, i / 3, b"x" * (i % 4)) for i in range(2000)],
                           dtype=[("i", "<u4"), ("f", "<f8"), ("s", "S3")]),
    "unicode": np.array([f"row {i} ✓" for i in range(1500)], dtype="U9"),
    "row_bigger_than_chunk": np.arange(3 * 5000, dtype=np.float64).reshape(3, 5000),
    "empty_rows": np.zeros((0, 3000), dtype=np.float32),
}


@pytest.mark.parametrize("name", CASES)
def test_chunked_set_and_get_round_trip(arrays, r, name):
    arr = CASES[name]
    assert arrays.set("big", arr) is True
    # stored as one array, byte for byte what np.save writes (Fortran order included)
    assert r.execute_command("NP.GET", "big") == npy(arr)
    got = arrays.get("big")
    assert_same(got, arr)
    assert got.flags.writeable
    assert staging_keys(r) == []
    assert r.ttl("big") == -1


FORTRAN = {
    "2d": np.asfortranarray(np.arange(20_000, dtype=np.int32).reshape(200, 100)),
    "3d": np.asfortranarray(np.arange(24_000, dtype=">f8").reshape(20, 30, 40)),
    "column_bigger_than_chunk": np.asfortranarray(np.arange(3 * 5000, dtype=np.float64).reshape(5000, 3)),
    "one_row": np.asfortranarray(np.arange(2 * 3000, dtype=np.int16).reshape(1, 2, 3000)),
}


@pytest.mark.parametrize("name", FORTRAN)
@pytest.mark.parametrize("chunked", [False, True], ids=["one_command", "chunked"])
def test_fortran_arrays_keep_their_order_below_and_above_chunk_bytes(arrays, r, name, chunked):
    arr = FORTRAN[name]
    assert arr.nbytes > arrays.chunk_bytes
    if not chunked:
        arrays.chunk_bytes = None
    r.config_resetstat()
    assert arrays.set("f", arr) is True
    assert ("cmdstat_np.append" in r.info("commandstats")) is chunked
    assert arrays.info("f")["fortran_order"] is True
    assert r.execute_command("NP.GET", "f") == npy(arr)  # what np.save writes
    assert npy(arrays.get("f")) == npy(arr)
    assert staging_keys(r) == []


def test_fortran_upload_in_pieces_along_the_last_axis(arrays, r):
    arr = FORTRAN["3d"]
    with arrays.upload("f", arr.shape, arr.dtype, order="F") as up:
        with pytest.raises(ValueError, match="at least 2 entries"):
            up.write(arr[..., :1])
        with pytest.raises(ValueError, match=r"\(20, 30\) \+ \(n,\)"):
            up.write(arr[:5])
        for a in range(0, 40, 7):
            up.write(arr[..., a : a + 7])
    assert r.execute_command("NP.GET", "f") == npy(arr)


def test_small_arrays_and_zero_d_go_in_one_command(arrays, r):
    r.config_resetstat()
    arrays.set("small", np.arange(10.0))
    arrays.set("scalar", np.array(2.5))
    stats = r.info("commandstats")
    assert stats["cmdstat_np.set"]["calls"] == 2 and "cmdstat_np.append" not in stats
    assert arrays.get("scalar")[()] == 2.5


def calls(r, command: str) -> tuple[int, int]:
    """(calls, failed calls) of `command` since CONFIG RESETSTAT."""
    stats = r.info("commandstats").get(f"cmdstat_{command}", {})
    return stats.get("calls", 0), stats.get("failed_calls", 0)


@pytest.mark.parametrize("nbytes", [8, 4 * KB - 8, 4 * KB])
def test_get_up_to_chunk_bytes_is_one_command(arrays, r, nbytes):
    arr = np.arange(nbytes // 8, dtype=np.float64)
    r.execute_command("NP.SET", "small", npy(arr))
    r.config_resetstat()
    got = arrays.get("small")
    assert_same(got, arr)
    assert not got.flags.writeable  # the one reply, viewed without a copy
    assert calls(r, "np.get") == (1, 0) and calls(r, "np.info") == (0, 0)
    assert arrays.get("small", copy=True).flags.writeable


def test_get_past_chunk_bytes_is_refused_by_maxbytes_then_read_in_chunks(arrays, r):
    arr = np.arange(4 * KB // 8 + 1, dtype=np.float64)  # one element past the threshold
    r.execute_command("NP.SET", "big", npy(arr))
    r.config_resetstat()
    got = arrays.get("big")
    assert_same(got, arr)
    assert got.flags.writeable
    # the refused NP.GET MAXBYTES, then NP.INFO and two SLICE chunks
    assert calls(r, "np.get") == (3, 1) and calls(r, "np.info") == (1, 0)


def test_get_on_another_error_raises_it(arrays, r):
    r.set("text", "not an array")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE") as caught:
        arrays.get("text")
    assert isinstance(caught.value, NumpyError)


def test_get_past_chunk_bytes_for_a_user_allowed_np_get_alone(arrays, redis_server, r):
    arr = np.arange(2000, dtype=np.float64)
    r.execute_command("NP.SET", "big", npy(arr))
    r.acl_setuser("getter", enabled=True, passwords=["+pw"], keys=["*"], commands=["+np.get"])
    try:
        getter = Numpy(redis_server.client(username="getter", password="pw"))
        getter.chunk_bytes = 4 * KB
        assert_same(getter.get("big"), arr)  # NP.INFO is refused: one NP.GET of the whole array
        assert getter.get("missing") is None
        getter.close()
    finally:
        r.acl_deluser("getter")


def test_get_of_a_missing_key_is_none(arrays):
    assert arrays.get("nothing") is None


def test_progress_callback_counts_every_byte(arrays):
    arr = CASES["float32_2d"]
    seen: list[tuple[int, int]] = []
    arrays.set("big", arr, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == 7 and seen[-1] == (arr.nbytes, arr.nbytes)  # 146 rows of 28 B per 4 KiB chunk
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    arrays.get("big", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (arr.nbytes, arr.nbytes)


def test_progress_true_draws_a_tqdm_bar(arrays, capsys):
    pytest.importorskip("tqdm")
    arrays.set("big", CASES["int8_1d"], progress=True)
    err = capsys.readouterr().err
    assert "set 'big'" in err and "100%" in err


def test_readers_see_the_old_value_until_the_upload_is_complete(arrays, redis_server, r):
    old = np.arange(10, dtype=np.float32)
    arrays.set("big", old)
    reader = Numpy(redis_server.client())
    observed = []

    def check(done, total):
        observed.append(done)
        assert_same(reader.get("big"), old)
        (staging,) = staging_keys(r)
        assert 0 < r.ttl(staging) <= arrays.staging_ttl

    new = CASES["big_endian_3d"]
    arrays.set("big", new, progress=check)
    assert len(observed) > 5
    assert_same(reader.get("big"), new)
    assert staging_keys(r) == []


def test_a_key_with_a_hash_tag_keeps_it_for_staging(arrays, r):
    seen = []
    arrays.set("{user:7}.weights", CASES["float32_2d"], progress=lambda d, t: seen.extend(staging_keys(r)))
    assert seen and all(k.startswith(b"{user:7}.weights" + STAGING_INFIX) for k in seen)
    assert_same(arrays.get("{user:7}.weights"), CASES["float32_2d"])


def test_upload_in_pieces(arrays, r):
    want = np.arange(5000, dtype=np.int16).reshape(1000, 5)
    with arrays.upload("pieces", (1000, 5), np.int16) as up:
        for start in (0, 1, 10, 500):
            up.write(want[start : {0: 1, 1: 10, 10: 500, 500: 1000}[start]])
    assert_same(arrays.get("pieces"), want)


def test_a_chunk_that_does_not_fit_is_refused_and_nothing_changes(arrays, r):
    arrays.set("k", np.ones(3))
    up = arrays.upload("k", (100, 4), np.float32)
    up.write(np.zeros((10, 4), np.float32))
    with pytest.raises(ValueError, match=r"does not fit the staged shape \(100, 4\)"):
        up.write(np.zeros((10, 5), np.float32))
    with pytest.raises(ValueError, match="does not fit the staged shape"):
        up.write(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="10 of 100 rows are already staged"):
        up.write(np.zeros((91, 4), np.float32))
    with pytest.raises(TypeError, match="chunk dtype float64 does not match the upload's dtype float32"):
        up.write(np.zeros((1, 4)))
    with pytest.raises(UploadAborted, match="incomplete: 10 of 100 rows"):
        up.commit()
    assert_same(arrays.get("k"), np.ones(3))
    assert staging_keys(r) == []


def test_an_exception_inside_the_with_block_aborts(arrays, r):
    arrays.set("k", np.ones(3))
    with pytest.raises(RuntimeError):
        with arrays.upload("k", (10,), np.float64) as up:
            up.write(np.zeros(5))
            raise RuntimeError("producer failed")
    assert_same(arrays.get("k"), np.ones(3))
    assert staging_keys(r) == []


def test_an_expired_staging_key_aborts_the_upload(arrays, r):
    arrays.set("k", np.ones(3))
    arrays.staging_ttl = 1
    up = arrays.upload("k", (10,), np.float64)
    up.write(np.zeros(5))
    time.sleep(2.2)
    assert staging_keys(r) == []
    with pytest.raises(UploadAborted, match="staging key expired"):
        up.write(np.zeros(5))
    assert staging_keys(r) == []  # the chunk that re-created it is gone too
    assert_same(arrays.get("k"), np.ones(3))


def test_wrongtype_target_is_refused_before_the_upload(arrays, r):
    r.set("text", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.set("text", CASES["float32_2d"])
    assert r.get("text") == b"x" and staging_keys(r) == []


def test_server_limit_aborts_the_upload(arrays, r):
    arrays.set("k", np.ones(3))
    r.config_set("numpy.max-array-bytes", 10 * KB)
    try:
        with pytest.raises(UploadAborted, match="exceeds numpy.max-array-bytes"):
            arrays.set("k", CASES["float32_2d"])
    finally:
        r.config_set("numpy.max-array-bytes", 512 * MB)
    assert_same(arrays.get("k"), np.ones(3))
    assert staging_keys(r) == []


def test_killed_uploader_leaves_the_old_value_and_no_staging_key(redis_server, r):
    old = np.arange(4, dtype=np.float64)
    Numpy(r).set("victim", old)
    script = textwrap.dedent(
        f"""
        import numpy as np, redis
        from redis_numpy import Numpy
        arrays = Numpy(redis.Redis(port={redis_server.port}))
        arrays.chunk_bytes = 64 * 1024
        arrays.staging_ttl = 2
        def slow(done, total):
            print(done, flush=True)
        arrays.set("victim", np.ones((4096, 1024), np.float64), progress=slow)  # 32 MiB in 512 chunks
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(20):  # a few chunks in, then kill -9
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    assert staging_keys(r), "the upload should have been interrupted midway"
    assert_same(Numpy(r).get("victim"), old)
    wait_for(lambda: staging_keys(r) == [], 10, "the staging key outlived its TTL")
    assert_same(Numpy(r).get("victim"), old)


def test_a_chunked_get_keeps_errors_and_the_connection_in_step(arrays, redis_server):
    arrays.set("big", CASES["float32_2d"])
    writer = redis_server.client()

    def interfere(done, total):
        if writer.type("big") != b"string":
            writer.set("big", "now text")

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.get("big", progress=interfere)
    arrays.set("again", CASES["int8_1d"])
    assert_same(arrays.get("again"), CASES["int8_1d"])


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("parser", ["hiredis", "python"])
def test_chunks_travel_from_and_into_the_arrays_on_every_connection_kind(redis_server, r, protocol, parser):
    """The chunks are sent from the array's memory and read into the result's
    (redis_numpy.wire) with redis-py's own parser or hiredis, on RESP2 and RESP3."""
    from redis._parsers import _HiredisParser, _RESP2Parser, _RESP3Parser

    if parser == "hiredis":
        pytest.importorskip("hiredis")
        parser_class = _HiredisParser
    else:
        parser_class = _RESP2Parser if protocol == 2 else _RESP3Parser
    pool = redis.ConnectionPool(port=redis_server.port, protocol=protocol, parser_class=parser_class)
    arrays = Numpy(redis.Redis(connection_pool=pool))
    arrays.chunk_bytes = 4 * KB
    for name in ("float32_2d", "big_endian_3d", "structured", "unicode", "row_bigger_than_chunk"):
        arrays.set("k", CASES[name])
        got = arrays.get("k")
        assert_same(got, CASES[name])
        assert got.flags.writeable
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.set("text", "x")
        arrays.set("text", CASES["float32_2d"])
    assert staging_keys(r) == []
    pool.disconnect()


def test_an_upload_reserves_the_whole_array_once(arrays, r):
    """After the first chunk NP.RESERVE makes room for all rows: the staged
    buffer never moves again, so each later chunk is one copy into place."""
    usage = []

    def watch(done, total):
        usage.append(r.memory_usage(staging_keys(r)[0], samples=0))

    r.config_resetstat()
    arr = CASES["float32_2d"]
    arrays.set("k", arr, progress=watch)
    assert len(usage) >= 6 and len(set(usage)) == 1, usage
    assert usage[0] >= arr.nbytes
    assert r.info("commandstats")["cmdstat_np.reserve"]["calls"] == 1
    assert_same(arrays.get("k"), arr)


def test_an_upload_works_for_a_user_without_np_reserve(redis_server, r):
    r.acl_setuser("noreserve", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-np.reserve"])
    try:
        user = redis.Redis(port=redis_server.port, username="noreserve", password="pw")
        arrays = Numpy(user)
        arrays.chunk_bytes = 4 * KB
        arrays.set("k", CASES["float32_2d"])
        assert_same(arrays.get("k"), CASES["float32_2d"])
        assert staging_keys(r) == []
        user.close()
    finally:
        r.acl_deluser("noreserve")


def test_an_upload_goes_on_when_the_room_would_cross_maxmemory(arrays, r):
    """The server refuses room past maxmemory (it would evict keys for memory
    nothing has written yet); the upload then grows its buffer chunk by chunk,
    and Redis evicts only as the data arrives."""
    arr = np.arange(4 << 20, dtype=np.float32).reshape(-1, 1024)  # 16 MiB
    arrays.chunk_bytes = 1 << 20
    for i in range(32):
        r.set(f"other:{i}", b"x" * (1 << 20), ex=60)
    r.config_resetstat()
    # The others expire before the staging key (refreshed with every chunk), so
    # they are evicted first whatever the server's LRU clock resolution.
    r.config_set("maxmemory-policy", "volatile-ttl")
    r.config_set("maxmemory", str(r.info("memory")["used_memory"] + 8 * (1 << 20)))
    try:
        arrays.set("k", arr)
        assert r.info("commandstats")["cmdstat_np.reserve"]["failed_calls"] == 1
        assert_same(arrays.get("k"), arr)
        assert staging_keys(r) == []
    finally:
        r.config_set("maxmemory", "0")
        r.config_set("maxmemory-policy", "noeviction")


def test_a_chunk_the_server_refuses_aborts_and_the_connection_stays_in_step(arrays, r):
    arrays.set("k", np.ones(3))
    block = CASES["float32_2d"]
    up = arrays.upload("k", block.shape, block.dtype)
    up.write(block[:100])
    r.config_set("numpy.max-array-bytes", 1000)
    try:
        with pytest.raises(UploadAborted, match="exceeds numpy.max-array-bytes"):
            up.write(block[100:200])
    finally:
        r.config_set("numpy.max-array-bytes", 512 * MB)
    assert staging_keys(r) == []
    assert_same(arrays.get("k"), np.ones(3))
    arrays.set("k2", block)
    assert_same(arrays.get("k2"), block)


def test_array_past_512_mib_round_trips_byte_exact_through_a_replica_and_the_aof():
    """600 MiB: over Redis's proto-max-bulk-len, so only the chunked path can send it."""
    with RedisServer(config={"appendonly": "yes", "aof-use-rdb-preamble": "no"}) as master, RedisServer() as replica:
        m = master.client()
        m.config_set("numpy.max-array-bytes", 1 << 30)
        replica.replicate_from(master)
        arrays = Numpy(master.client())
        arr = np.arange(600 * MB // 8, dtype=np.uint64).reshape(-1, 1024)
        assert arrays.set("huge", arr) is True
        got = arrays.get("huge")
        assert got.dtype == arr.dtype and np.array_equal(got, arr)
        del got
        digest = m.execute_command("DEBUG", "DIGEST-VALUE", "huge")
        s = replica.client()
        wait_applied(m, s, timeout=300)
        assert s.execute_command("DEBUG", "DIGEST-VALUE", "huge") == digest
        assert staging_keys(s) == []
        # AOF rewritten in command form (NP.SET + NP.APPEND pieces), then loaded back
        m.bgrewriteaof()
        wait_aof_rewrite_done(m, timeout=300)
        m.execute_command("DEBUG", "LOADAOF")
        assert m.execute_command("DEBUG", "DIGEST-VALUE", "huge") == digest
        assert arrays.get("huge", slice="-1")[-1] == arr[-1, -1]


# -- ArrayView -----------------------------------------------------------------


@pytest.fixture
def stored(arrays):
    arr = np.arange(2 * 30 * 7, dtype=">i4").reshape(30, 7, 2)
    arrays.set("m", arr)
    return arr


def test_view_metadata(arrays, stored):
    view = arrays.view("m")
    assert view.shape == stored.shape and view.dtype == stored.dtype
    assert view.ndim == 3 and view.size == stored.size and len(view) == 30
    assert view.nbytes == stored.nbytes
    assert "shape=(30, 7, 2)" in repr(view)


def test_view_getitem_matches_numpy_on_random_basic_indexes(arrays, stored):
    assert_indexes_like_numpy(arrays.view("m"), stored, seed=13, cases=300)


def test_view_setitem_writes_slices_on_the_server(arrays, stored):
    view = arrays.view("m")
    view[3:5, ::2] = 7  # broadcast, cast to the stored dtype
    view[-1, 0, 1] = -1
    want = stored.copy()
    want[3:5, ::2] = 7
    want[-1, 0, 1] = -1
    assert_same(arrays.get("m"), want)


def test_view_array_reads_in_chunks(arrays, stored):
    arrays.chunk_bytes = 64  # one row per NP.GET
    view = arrays.view("m")
    assert_same(np.asarray(view), stored)
    assert np.asarray(view, dtype=np.float64).dtype == np.float64


def test_view_out_of_range_is_an_index_error(arrays, stored):
    view = arrays.view("m")
    with pytest.raises(IndexError, match="out of bounds"):
        view[30]
    with pytest.raises(IndexError, match="out of bounds"):
        view[0, -8]
    with pytest.raises(IndexError, match="out of bounds"):
        view[30] = 1
    with pytest.raises(IndexError, match="out of bounds"):
        view[[1, 30]]
    with pytest.raises(TypeError, match="boolean masks"):
        view[np.ones(30, bool)]
    assert_same(arrays.get("m"), stored)


def test_view_of_a_missing_key(arrays):
    with pytest.raises(KeyError, match="no array at key 'absent'"):
        arrays.view("absent")


def test_dask_computes_on_a_view(arrays):
    da = pytest.importorskip("dask.array")
    arr = np.random.default_rng(5).standard_normal((500, 40))
    arrays.set("emb", arr)
    lazy = da.from_array(arrays.view("emb"), chunks=(64, 16))
    np.testing.assert_allclose(lazy.sum(axis=0).compute(), arr.sum(axis=0))
    assert_same(lazy[100:300:7, 5].compute(), arr[100:300:7, 5])
    assert_same(lazy.compute(), arr)
    # chunked sums add in another order than NumPy's: equal to rounding
    np.testing.assert_allclose((lazy.T @ lazy).compute(), arr.T @ arr, rtol=1e-12, atol=1e-9)
