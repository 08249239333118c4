"""numpy.max-array-bytes limits what clients write, never what a replica
receives from its master or what the AOF replays."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer
from replication import wait_applied


BIG = np.arange(2000, dtype=np.float64)  # 16000 bytes of data
LIMIT = "4096"


def test_clients_are_limited(redis_server, r):
    r.config_set("numpy.max-array-bytes", LIMIT)
    try:
        with pytest.raises(redis.ResponseError, match=r"array data of 16000 bytes exceeds numpy.max-array-bytes \(4096\)"):
            r.execute_command("NP.SET", "big", npy(BIG))
        r.execute_command("NP.SET", "small", npy(BIG[:500]))
        with pytest.raises(redis.ResponseError, match="exceeds numpy.max-array-bytes"):
            r.execute_command("NP.APPEND", "small", npy(BIG[:100]))
        assert r.execute_command("NP.SIZE", "small") == 500
        assert r.exists("big") == 0
    finally:
        r.config_set("numpy.max-array-bytes", str(512 * 1024 * 1024))


def test_casts_are_limited_like_stored_arrays(redis_server, r):
    r.execute_command("NP.SET", "bytes", npy(np.zeros(1000, np.int8)))
    r.config_set("numpy.max-array-bytes", LIMIT)
    try:
        assert r.execute_command("NP.GET", "bytes", "AS", "float32") == npy(np.zeros(1000, np.float32))
        with pytest.raises(redis.ResponseError, match=r"array data of 16000 bytes exceeds numpy.max-array-bytes"):
            r.execute_command("NP.GET", "bytes", "AS", "complex128")
    finally:
        r.config_set("numpy.max-array-bytes", str(512 * 1024 * 1024))


def test_replica_with_a_lower_limit_keeps_everything_its_master_has():
    with RedisServer() as master, RedisServer(config={"numpy.max-array-bytes": LIMIT}) as replica:
        m, s = master.client(), replica.client()
        m.execute_command("NP.SET", "before", npy(BIG))  # full sync
        replica.replicate_from(master)
        m.execute_command("NP.SET", "after", npy(BIG))  # command stream
        m.execute_command("NP.APPEND", "after", npy(BIG))
        m.execute_command("NP.MSET", "multi1", npy(BIG), "multi2", npy(BIG))
        m.execute_command("NP.SET", "options", npy(BIG), "EX", "1000", "GET")
        assert m.wait(1, 10000) == 1
        wait_applied(m, s)
        assert s.execute_command("NP.SIZE", "options") == 2000
        assert s.execute_command("NP.MGET", "multi1", "multi2") == [npy(BIG), npy(BIG)]
        assert s.execute_command("NP.SIZE", "after") == 4000
        assert s.execute_command("NP.GET", "before") == npy(BIG)
        assert s.execute_command("NP.GET", "after") == npy(np.r_[BIG, BIG])


def test_aof_replay_ignores_the_limit():
    config = {"appendonly": "yes", "aof-use-rdb-preamble": "no", "numpy.max-array-bytes": "100000"}
    with RedisServer(config=config) as server:
        client = server.client()
        client.execute_command("NP.SET", "big", npy(BIG))
        client.execute_command("NP.MSET", "multi1", npy(BIG), "multi2", npy(BIG))
        client.execute_command("NP.SET", "options", npy(BIG), "PX", "1000000", "NX")
        client.config_set("numpy.max-array-bytes", LIMIT)
        assert client.execute_command("DEBUG", "LOADAOF") == b"OK"
        assert client.execute_command("NP.GET", "big") == npy(BIG)
        assert client.execute_command("NP.MGET", "multi1", "multi2", "options") == [npy(BIG)] * 3
        assert client.pttl("options") > 900_000
