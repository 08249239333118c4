"""The server under test and the connection that measures it.

The server is the test suites' RedisServer (tests/support/redis_server.py),
started on a private copy of the module so that a rebuild during the run
cannot change what is measured.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis
from redis_server import RedisServer


def start_server(module: Path, reference: Path | None = None) -> RedisServer:
    """A fresh server (no persistence, temporary --dir) loading a copy of `module`,
    and a copy of the `reference` module (bench/floor.py) beside it."""
    work = tempfile.mkdtemp(prefix="redis-numpy-bench-")
    copy = Path(work) / module.name
    shutil.copy2(module, copy)
    config: dict[str, str] = {}
    if reference is not None:
        shutil.copy2(reference, Path(work) / reference.name)
        config["loadmodule"] = str(Path(work) / reference.name)
    server = RedisServer(dir=work, module=str(copy), config=config)
    try:
        return server.start()
    except BaseException:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
        raise


def stop_server(server: RedisServer) -> None:
    server.cleanup()
    shutil.rmtree(server.dir, ignore_errors=True)


class Bench:
    """What every workload gets: the server, a redis-py client for setup, one
    raw connection for timed calls, the run's mode and its random generator."""

    def __init__(self, server: RedisServer, quick: bool, redis_benchmark: str | None = None):
        self.server = server
        self.port = server.port
        self.quick = quick
        self.redis_benchmark = redis_benchmark
        self.r = redis.Redis(port=self.port, decode_responses=False, protocol=2, socket_timeout=600)
        self.conn = redis.Connection(port=self.port, decode_responses=False, protocol=2, socket_timeout=600)
        self.conn.connect()
        self.rng = np.random.default_rng(20240531)
        # Series for the plots, by workload name.
        self.plot_data: dict[str, dict[str, list[float]]] = {}

    @property
    def dir(self) -> Path:
        return Path(self.server.dir)

    def connected_clients(self) -> int:
        return int(self.r.info("clients")["connected_clients"])

    def reconnect(self) -> None:
        """A new timed connection, once the server has freed the old one (and its buffers)."""
        clients = self.connected_clients()
        self.conn.disconnect()
        deadline = time.monotonic() + 5
        while self.connected_clients() >= clients and time.monotonic() < deadline:
            time.sleep(0.002)
        self.conn.connect()

    def call(self, *args: Any) -> Any:
        self.conn.send_command(*args)
        return self.conn.read_response()

    def timed(self, *args: Any) -> float:
        t = time.perf_counter()
        self.conn.send_command(*args)
        self.conn.read_response()
        return time.perf_counter() - t

    def cmdstats(self) -> dict[str, Any]:
        return self.r.info("commandstats")

    @staticmethod
    def usec_per_call(stats: dict[str, Any], cmd: str) -> float | None:
        entry = stats.get(f"cmdstat_{cmd.lower()}")
        return float(entry["usec_per_call"]) if entry else None

    def used_memory(self) -> int:
        return int(self.r.info("memory")["used_memory"])

    def alloc_delta(self, *commands: tuple[Any, ...]) -> int:
        """Change of used_memory caused by `commands`, pipelined on a short-lived
        connection and measured after that client (and its query buffer) is freed."""
        clients = self.connected_clients()
        before = self.used_memory()
        client = redis.Redis(port=self.port, decode_responses=False, protocol=2, socket_timeout=600)
        pipe = client.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        pipe.execute()
        client.close()
        client.connection_pool.disconnect()
        deadline = time.monotonic() + 5
        while self.connected_clients() > clients and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.used_memory() - before
