"""Fixtures of the client's tests. The server-backed tests of a command option
the server does not have yet are skipped, saying which; once the server has it
they run."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_numpy import Numpy

PROBE_KEY = "redis-numpy:probe"


def _raw(client: redis.Redis, *args: object) -> object:
    """A reply without redis-py's callbacks (its COMMAND parser fails on unknown commands)."""
    assert client.connection is not None, "a single_connection_client"
    client.connection.send_command(*args)
    return client.connection.read_response()


def _accepts(client: redis.Redis, *args: object) -> bool:
    try:
        _raw(client, *args)
        return True
    except redis.ResponseError:
        return False
    finally:
        client.delete(PROBE_KEY)


FEATURES: dict[str, Callable[[redis.Redis], bool]] = {
    "NP.MGET": lambda c: _raw(c, "COMMAND", "INFO", "np.mget") != [None],
    "NP.MSET": lambda c: _raw(c, "COMMAND", "INFO", "np.mset") != [None],
    "NP.SET options": lambda c: _accepts(c, "NP.SET", PROBE_KEY, npy(np.zeros(1)), "NX", "EX", 100),
    "NP.SET GET": lambda c: _accepts(c, "NP.SET", PROBE_KEY, npy(np.zeros(1)), "GET"),
    "NP.APPEND MAXLEN": lambda c: _accepts(c, "NP.APPEND", PROBE_KEY, npy(np.zeros(1)), "MAXLEN", 5),
}


@pytest.fixture
def arrays(redis_server, r):
    """The client under test on a flushed database; `r` is a separate raw
    client (Numpy registers reply callbacks on its own)."""
    client = redis_server.client()
    yield Numpy(client)
    client.close()


@pytest.fixture
def cluster_arrays(cluster):
    """The client under test on the module's cluster, flushed."""
    rc = cluster.client()
    rc.flushall()
    yield Numpy(rc)
    rc.close()


@pytest.fixture(scope="session")
def server_features(redis_server) -> dict[str, bool]:
    """Which of the newer commands and options the server under test has, asked once."""
    client = redis_server.client(single_connection_client=True)
    try:
        return {name: probe(client) for name, probe in FEATURES.items()}
    finally:
        client.close()


@pytest.fixture
def needs(server_features) -> Callable[..., None]:
    """`needs("NP.MGET", ...)` skips the test while the server lacks one of them."""

    def check(*names: str) -> None:
        missing = [name for name in names if not server_features[name]]
        if missing:
            pytest.skip(f"the server under test does not have {', '.join(missing)} yet")

    return check
