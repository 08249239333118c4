"""Big arrays through asyncio clients (redis-py's and valkey's, a server and a
cluster): chunked upload through a staging key and chunked download, with
the client's memory bounded by the array and a few chunks, and progress."""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import redis
import redis.asyncio

from npy_bytes import npy
from redis_numpy import ClusterMoveWarning, Numpy, NumpyError, UploadAborted
from chunking import SlotMove, staging_keys

MiB = 1024 * 1024
CHUNK = 2 * MiB
# Besides the array: the chunk in flight, the connection's copy of it, the
# reply being parsed; plus a little for everything else.
ALLOWED_EXTRA = 3 * CHUNK + MiB


def big_array(nbytes: int, fortran: bool = False) -> np.ndarray:
    rows = nbytes // (1024 * 4)
    arr = (np.arange(rows * 1024, dtype=np.uint32) * np.uint32(2654435761)).view(np.float32).reshape(rows, 1024)
    return np.asfortranarray(arr) if fortran else arr


def async_client(library: str, port: int, cluster: bool = False):
    if library == "valkey":
        valkey_asyncio = pytest.importorskip("valkey.asyncio", reason="the valkey client is installed by the test extra")
        return (valkey_asyncio.ValkeyCluster if cluster else valkey_asyncio.Valkey)(host="127.0.0.1", port=port)
    return (redis.asyncio.RedisCluster if cluster else redis.asyncio.Redis)(host="127.0.0.1", port=port)


async def peak_extra(awaitable, baseline_objects=()) -> tuple[object, int]:
    """(the result, the peak of traced memory above what was held before)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = await awaitable
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


async def round_trip(arrays, raw, arr: np.ndarray) -> None:
    seen: list[tuple[int, int]] = []
    ok, up_peak = await peak_extra(arrays.set("big", arr, progress=lambda d, t: seen.append((d, t))))
    assert ok is True
    assert up_peak < ALLOWED_EXTRA, f"upload held {up_peak / MiB:.1f} MiB besides the array"
    assert len(seen) >= arr.nbytes // CHUNK and seen[-1] == (arr.nbytes, arr.nbytes)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert raw.execute_command("NP.GET", "big") == npy(arr)  # as np.save writes it, order included
    assert staging_keys(raw) == []
    seen.clear()
    got, down_peak = await peak_extra(arrays.get("big", progress=lambda d, t: seen.append((d, t))))
    assert down_peak < arr.nbytes + ALLOWED_EXTRA, f"download held {(down_peak - arr.nbytes) / MiB:.1f} MiB extra"
    assert seen[-1] == (arr.nbytes, arr.nbytes)
    assert got.flags.writeable and npy(got) == npy(arr)
    print(f"upload: {up_peak / MiB:.1f} MiB, download: {(down_peak - arr.nbytes) / MiB:.1f} MiB besides the array")


@pytest.mark.parametrize("library", ["redis", "valkey"])
def test_asyncio_set_and_get_of_a_big_array_hold_a_few_chunks(redis_server, r, library):
    arr = big_array(64 * MiB)

    async def main():
        arrays = Numpy(async_client(library, redis_server.port))
        arrays.chunk_bytes = CHUNK
        await round_trip(arrays, r, arr)
        r.config_resetstat()
        assert await arrays.get("big", slice=np.s_[5:7, :3]) is not None  # slices go as one command
        await arrays.aclose()

    asyncio.run(main())


def test_asyncio_chunked_set_keeps_fortran_order(redis_server, r):
    arr = big_array(8 * MiB, fortran=True)

    async def main():
        arrays = Numpy(redis.asyncio.Redis(port=redis_server.port))
        arrays.chunk_bytes = 256 * 1024
        assert await arrays.set("f", arr) is True
        assert (await arrays.info("f"))["fortran_order"] is True
        assert r.execute_command("NP.GET", "f") == npy(arr)
        got = await arrays.get("f")
        assert npy(got) == npy(arr)
        await arrays.aclose()

    asyncio.run(main())


def test_asyncio_upload_is_published_whole_and_refusals_leave_the_old_value(redis_server, r):
    old = np.arange(10.0)
    r.execute_command("NP.SET", "big", npy(old))
    r.set("text", "hello")

    async def main():
        arrays = Numpy(redis.asyncio.Redis(port=redis_server.port))
        arrays.chunk_bytes = 4096
        arr = np.arange(4096, dtype=np.float64).reshape(512, 8)

        def check(done, total):
            # readers see the old array until the rename
            if done < total:
                assert r.execute_command("NP.GET", "big") == npy(old)

        assert await arrays.set("big", arr, progress=check) is True
        assert r.execute_command("NP.GET", "big") == npy(arr)
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            await arrays.set("text", arr)
        assert r.get("text") == b"hello"
        async with arrays.upload("piece", (4, 3), np.int16) as up:
            await up.write(np.zeros((1, 3), np.int16))
            await up.write(np.ones((3, 3), np.int16))
        assert r.execute_command("NP.GET", "piece") == npy(np.r_[np.zeros((1, 3)), np.ones((3, 3))].astype(np.int16))
        with pytest.raises(UploadAborted, match="incomplete"):
            async with arrays.upload("piece", (4, 3), np.int16) as up:
                await up.write(np.full((1, 3), 7, np.int16))
        assert (await arrays.get("piece"))[0, 0] == 0
        assert staging_keys(r) == []
        assert await arrays.get("missing") is None
        with pytest.raises(NumpyError, match="WRONGTYPE"):
            await arrays.get("text")
        await arrays.aclose()

    asyncio.run(main())


def test_asyncio_valkey_aborts_with_an_error_of_both_libraries(redis_server):
    async def main():
        arrays = Numpy(async_client("valkey", redis_server.port))
        with pytest.raises(UploadAborted, match="incomplete") as caught:
            async with arrays.upload("piece", (4, 3), np.int16) as up:
                await up.write(np.full((1, 3), 7, np.int16))
        assert isinstance(caught.value, sys.modules["valkey"].exceptions.ValkeyError)
        await arrays.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("library", ["redis", "valkey"])
def test_asyncio_cluster_set_and_get_of_a_big_array_hold_a_few_chunks(cluster, library):
    arr = big_array(32 * MiB)
    raw = cluster.client()
    raw.flushall()

    async def main():
        arrays = Numpy(async_client(library, cluster.nodes[0].port, cluster=True))
        arrays.chunk_bytes = CHUNK
        await round_trip(arrays, raw, arr)
        await arrays.aclose()

    asyncio.run(main())
    raw.close()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
def test_cluster_upload_warns_when_the_key_could_not_move_between_nodes(cluster, asynchronous):
    """An array at one cluster key whose RESTORE payload exceeds proto-max-bulk-len
    on any node cannot be resharded: the client says so when it stores one."""
    arr = big_array(2 * MiB)
    raw = cluster.client()
    raw.flushall()
    other = next(n for n in raw.get_primaries() if n.port != raw.get_node_from_key("big").port)
    other.redis_connection.config_set("proto-max-bulk-len", MiB)  # one node: enough to pin the key

    async def store_async():
        arrays = Numpy(redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port))
        arrays.chunk_bytes = 256 * 1024
        assert await arrays.set("big", arr) is True
        await arrays.aclose()

    def store():
        if asynchronous:
            asyncio.run(store_async())
        else:
            arrays = Numpy(cluster.client())
            arrays.chunk_bytes = 256 * 1024
            assert arrays.set("big", arr) is True
            arrays.close()

    try:
        with pytest.warns(ClusterMoveWarning, match=r"proto-max-bulk-len on every node \(1048576 on the smallest\)"):
            store()
        assert raw.execute_command("NP.GET", "big", target_nodes=raw.get_node_from_key("big")) == npy(arr)
        if not asynchronous:
            # What the warning says: MIGRATE moves a key as one RESTORE argument,
            # which a node refuses past its proto-max-bulk-len, and takes once it fits.
            payload = raw.get_node_from_key("big").redis_connection.dump("big")
            there = next(k for k in (f"probe{i}" for i in range(10_000)) if raw.get_node_from_key(k).port == other.port)
            with pytest.raises((redis.ResponseError, redis.ConnectionError)):
                other.redis_connection.restore(there, 0, payload)
            other.redis_connection.config_set("proto-max-bulk-len", 4 * MiB)
            assert other.redis_connection.restore(there, 0, payload)
            assert other.redis_connection.execute_command("NP.GET", there) == npy(arr)
            other.redis_connection.delete(there)
            other.redis_connection.config_set("proto-max-bulk-len", MiB)
    finally:
        other.redis_connection.config_set("proto-max-bulk-len", 512 * MiB)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClusterMoveWarning)
        store()  # fits every node's limit: no warning
    raw.close()


def test_asyncio_cluster_download_follows_a_slot_that_moves_mid_read(cluster):
    """Last in this file: it moves a slot to another node."""
    arr = big_array(256 * 1024)
    raw = cluster.client()
    raw.flushall()
    move_slot = SlotMove(cluster, raw, "big")

    async def main():
        arrays = Numpy(redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port))
        arrays.chunk_bytes = 16 * 1024
        await arrays.set("big", arr)
        got = await arrays.get("big", progress=move_slot)
        assert npy(got) == npy(arr)
        assert arrays.client.get_node_from_key("big").port == move_slot.target.port
        await arrays.aclose()

    asyncio.run(main())
    assert move_slot.moved
    assert move_slot.source.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", move_slot.slot) == 0
    raw.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_asyncio_chunking_on_a_decoding_client_and_resp3(redis_server, r, protocol):
    arr = np.asfortranarray(np.arange(20_000, dtype=np.float64).reshape(100, 200))

    async def main():
        arrays = Numpy(redis.asyncio.Redis(port=redis_server.port, decode_responses=True, protocol=protocol))
        arrays.chunk_bytes = 4096
        r.config_resetstat()
        assert await arrays.set("x", arr) is True
        assert r.info("commandstats")["cmdstat_np.append"]["calls"] > 1
        assert npy(await arrays.get("x")) == npy(arr)
        await arrays.aclose()

    asyncio.run(main())
    assert r.execute_command("NP.GET", "x") == npy(arr)
