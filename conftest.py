"""Shared pytest fixtures: a real redis-server with the module, started once per session."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests" / "support"))

from redis_server import RedisClusterProcs, RedisServer  # noqa: E402


@pytest.fixture(scope="session")
def redis_server():
    with RedisServer() as server:
        yield server
        assert server.alive(), f"redis-server died during the tests:\n{server.log_tail()}"


@pytest.fixture
def r(redis_server):
    """A redis-py client (bytes replies) on a flushed database."""
    client = redis_server.client()
    # SYNC: Valkey 8 flushes lazily by default, and INFO numpy's counts must be settled.
    client.execute_command("FLUSHALL", "SYNC")
    yield client
    client.close()


@pytest.fixture(scope="module")
def cluster():
    """A real 3-master Redis Cluster with the module, one per test module
    (tests may move slots or leave keys behind)."""
    with RedisClusterProcs(3) as procs:
        yield procs


@pytest.fixture
def r_decoded(redis_server):
    """A redis-py client with decode_responses=True on a flushed database."""
    client = redis_server.client(decode_responses=True)
    client.execute_command("FLUSHALL", "SYNC")
    yield client
    client.close()
