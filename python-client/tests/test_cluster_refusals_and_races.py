"""The client on a real 3-master Redis Cluster where things go wrong: NP.MSET
refused per slot, chunked reads racing writers (WATCHed on the key's node:
even a same-shape overwrite restarts the read), sharded arrays given bad
arguments or a shard that refuses writes. NumPy is the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from redis_numpy import NumpyError
from redis_numpy.chunked import DOWNLOAD_ATTEMPTS, ConcurrentWrite, download

from chunking import SlotMove, write_after
from npy_bytes import assert_same, npy


@pytest.fixture
def arrays(cluster_arrays):
    """This module's tests run on the cluster."""
    return cluster_arrays


# -- NP.MSET split by slot -----------------------------------------------------------


def test_mset_over_several_slots_raises_the_refusal_and_its_slot_writes_nothing(arrays, needs):
    needs("NP.MSET")
    rc = arrays.client
    rc.set("{s}text", "x")
    values = {"{s}a": np.arange(3), "{s}text": np.arange(2), "{t}b": np.ones(2)}
    assert rc.keyslot("{s}a") != rc.keyslot("{t}b")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE") as caught:
        arrays.mset(values)
    assert isinstance(caught.value, NumpyError)
    assert rc.get("{s}text") == b"x" and rc.exists("{s}a") == 0  # NP.MSET is atomic within a slot
    assert_same(arrays.get("{t}b"), np.ones(2))  # and only there (documented)


def test_mset_in_one_slot_raises_the_refusal_and_writes_nothing(arrays, needs):
    needs("NP.MSET")
    rc = arrays.client
    rc.set("{s}text", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE") as caught:
        arrays.mset({"{s}a": np.arange(3), "{s}text": np.arange(2)})
    assert isinstance(caught.value, NumpyError)
    assert rc.get("{s}text") == b"x" and rc.exists("{s}a") == 0


# -- chunked reads racing writers --------------------------------------------------

OLD = np.arange(1000 * 7, dtype=np.float32).reshape(1000, 7)


def test_np_errors_in_a_cluster_pipeline_raise(arrays):
    """redis-py's cluster pipelines hand error replies to the response callbacks:
    they must come out as the errors they are, not as False or a crash."""
    arrays.client.set("text", "x")
    arrays.set("a", np.arange(3))
    pipe = arrays.pipeline()
    pipe.shape("a").get("text").append("text", np.arange(2)).size("a")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE") as caught:
        pipe.execute()
    assert isinstance(caught.value, NumpyError)
    pipe = arrays.pipeline()
    pipe.shape("a").get("text").mset({"text": np.arange(2)}).size("a")
    shape, get_err, mset_err, size = pipe.execute(raise_on_error=False)
    assert shape == (3,) and size == 3
    for err in (get_err, mset_err):
        assert isinstance(err, NumpyError) and str(err).startswith("WRONGTYPE")


@pytest.mark.parametrize("new", [OLD + 1, np.arange(300 * 3, dtype=np.int16).reshape(300, 3)],
                         ids=["same_shape_overwrite", "replacement"])
def test_a_write_mid_download_restarts_it(arrays, cluster, new):
    arrays.chunk_bytes = 4096
    writer = cluster.client()
    writer.execute_command("NP.SET", "big", npy(OLD))  # one command: for the same shape, NP.INFO stays equal
    progress = write_after(2, lambda: writer.execute_command("NP.SET", "big", npy(new)))
    assert_same(arrays.get("big", progress=progress), new)
    writer.close()


def test_a_key_that_changes_during_every_attempt_gives_up(arrays, cluster):
    arrays.chunk_bytes = 4096
    arrays.set("big", OLD)
    writer = cluster.client()
    versions = []

    def rewrite(done, total):
        if done == 4088:  # after the first chunk of each attempt
            versions.append(OLD + len(versions) + 1)
            writer.execute_command("NP.SET", "big", npy(versions[-1]))

    with pytest.raises(ConcurrentWrite, match=f"changed during each of {DOWNLOAD_ATTEMPTS} chunked reads"):
        arrays.get("big", progress=rewrite)
    assert len(versions) == DOWNLOAD_ATTEMPTS
    assert_same(arrays.get("big"), versions[-1])
    writer.close()


def test_download_of_a_missing_or_deleted_key_is_none(arrays, cluster):
    assert download(arrays, "nothing", chunk_bytes=64) is None
    arrays.set("big", OLD)
    writer = cluster.client()
    got = download(arrays, "big", chunk_bytes=4096, progress=lambda d, t: writer.delete("big"))
    assert got is None
    writer.close()


# -- sharded arrays ------------------------------------------------------------------

DATA = np.arange(100 * 6 * 2, dtype="<f8").reshape(100, 6, 2)


def test_create_sharded_needs_data_or_shape_and_dtype_and_an_axis(arrays):
    with pytest.raises(TypeError, match="give the data, or its shape and dtype"):
        arrays.create_sharded("emb")
    with pytest.raises(TypeError, match="give the data, or its shape and dtype"):
        arrays.create_sharded("emb", shape=(4, 2))
    with pytest.raises(ValueError, match="0-d array has no axis to shard"):
        arrays.create_sharded("emb", np.array(3.0))
    with pytest.raises(ValueError, match="0-d array has no axis to shard"):
        arrays.create_sharded("emb", shape=(), dtype=np.int8)
    assert arrays.client.dbsize() == 0


def test_repr_and_new_axes_after_an_ellipsis(arrays):
    a = arrays.create_sharded("emb", DATA, chunk_bytes=7 * 6 * 2 * 8)
    assert repr(a) == "ShardedArray('emb', shape=(100, 6, 2), dtype=float64, chunks=15)"
    for index in [(Ellipsis, None, 5, 1, 0), (Ellipsis, None, None, 50, 2, 1), (None, Ellipsis, 1), (Ellipsis, None)]:
        want = DATA[index]
        got = a[index]
        assert_same(got, want)
    with pytest.raises(TypeError, match="do not assign through a new axis"):
        a[None, 0] = 1.0
    assert_same(np.asarray(a), DATA)


def test_a_shard_refusing_writes_leaves_no_chunks_and_the_old_array(arrays, cluster):
    old = arrays.create_sharded("emb", DATA, chunk_bytes=20 * 6 * 2 * 8)
    keys_before = sorted(arrays.client.keys("*"))
    refusing = cluster.nodes[1].client()
    refusing.config_set("maxmemory", 1)  # noeviction: every write to this shard is refused (OOM)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            arrays.create_sharded("emb", DATA * 2, chunk_bytes=7 * 6 * 2 * 8)  # 15 chunks over 3 shards
    finally:
        refusing.config_set("maxmemory", 0)
        refusing.close()
    assert sorted(arrays.client.keys("*")) == keys_before  # the new generation's chunks are gone
    assert_same(np.asarray(arrays.sharded("emb")), DATA)
    assert_same(np.asarray(old.refresh()), DATA)


def test_a_slot_moving_mid_download_restarts_it_on_the_new_node(arrays, cluster):
    """Last in this file: it moves a slot to another node."""
    arrays.chunk_bytes = 4096
    arrays.set("big", OLD)
    rc = arrays.client
    move_slot = SlotMove(cluster, rc, "big")
    assert_same(arrays.get("big", progress=move_slot), OLD)
    assert move_slot.moved and rc.get_node_from_key("big").port == move_slot.target.port
    assert move_slot.source.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", move_slot.slot) == 0
