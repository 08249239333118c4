"""Moving from `SET key <np.save bytes>` to arrays: `convert(key)` for one key,
`migrate(pattern)` over a SCAN pattern, on a single server and on Cluster."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import redis

from redis_numpy import MigrationReport, Numpy


def np_save(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, arr)
    return out.getvalue()


def fill(client, n: int) -> dict[str, np.ndarray]:
    """What a user of SET + np.save holds: arrays under emb:*, one with a TTL
    each third, next to strings that are not .npy and keys of other types."""
    rng = np.random.default_rng(7)
    arrays = {}
    for i in range(n):
        arr = rng.standard_normal((3, 4)).astype(np.float32)
        client.set(f"emb:{i}", np_save(arr), ex=1000 if i % 3 == 0 else None)
        arrays[f"emb:{i}"] = arr
    client.set("emb:npz", b"PK\x03\x04 an np.savez archive")
    client.set("emb:pickle", pickle.dumps(np.arange(3)))
    client.set("emb:text", "hello")
    client.rpush("emb:list", "x")
    client.set("other:0", np_save(np.arange(3)))
    return arrays


def test_convert_one_key(arrays, r):
    arr = np.arange(6, dtype=np.int16).reshape(2, 3)
    r.set("a", np_save(arr), px=900_000)
    at = r.pexpiretime("a")
    assert arrays.convert("a") is True
    np.testing.assert_array_equal(arrays.get("a"), arr)
    assert arrays.get("a").dtype == arr.dtype
    assert r.pexpiretime("a") == at
    assert arrays.convert("missing") is False
    r.set("z", b"PK\x03\x04...")
    with pytest.raises(redis.ResponseError, match="np.savez archive"):
        arrays.convert("z")
    assert r.get("z") == b"PK\x03\x04..."
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        arrays.convert("a")  # already an array


def test_convert_in_a_pipeline(arrays, r):
    r.set("a", np_save(np.ones(3)))
    pipe = arrays.pipeline()
    pipe.convert("a").convert("missing")
    assert pipe.execute() == [True, False]


def test_migrate_a_pattern(arrays, r):
    expected = fill(r, 250)
    ttls = {k: r.pexpiretime(k) for k in expected}
    report = arrays.migrate("emb:*", count=64)
    assert isinstance(report, MigrationReport)
    assert (report.scanned, report.converted, report.refused, report.gone) == (253, 250, 3, 0)
    assert {key for key, _ in report.refusals} == {b"emb:npz", b"emb:pickle", b"emb:text"}
    assert any("np.savez archive" in why for _, why in report.refusals)
    for key, arr in expected.items():
        np.testing.assert_array_equal(arrays.get(key), arr)
        assert r.pexpiretime(key) == ttls[key]
    assert r.get("emb:text") == b"hello" and r.type("emb:list") == b"list"
    assert r.type("other:0") == b"string", "outside the pattern"
    again = arrays.migrate("emb:*")
    assert (again.scanned, again.converted, again.refused) == (3, 0, 3), "idempotent: only the refused strings remain"


def test_migrate_needs_a_synchronous_client(redis_server):
    import redis.asyncio

    with pytest.raises(TypeError, match="synchronous client"):
        Numpy(redis.asyncio.Redis(port=redis_server.port)).migrate("*")


def test_migrate_on_cluster(cluster_arrays):
    rc = cluster_arrays.client
    expected = fill(rc, 60)
    report = cluster_arrays.migrate("emb:*", count=16)
    assert (report.converted, report.refused, report.gone) == (60, 3, 0)
    for key, arr in expected.items():
        np.testing.assert_array_equal(cluster_arrays.get(key), arr)
