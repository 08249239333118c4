"""A master and a replica, both with the module, for checking that every kind
of write leaves the replica byte-identical (DEBUG DIGEST covers every key's
value and whether it has a TTL)."""

from __future__ import annotations

import time
from typing import Any, Callable

from redis_server import RedisServer


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Pair:
    def __init__(self) -> None:
        self.master = RedisServer().start()
        self.replica = RedisServer().start()
        # redis-py's sync/async union return types, as Any for the test code.
        self.m: Any = self.master.client()
        self.s: Any = self.replica.client()
        self.s.replicaof("127.0.0.1", self.master.port)
        wait_for(lambda: self.s.info("replication")["master_link_status"] == "up")

    def assert_in_sync(self) -> None:
        """The replica has applied everything so far and holds the same data."""
        assert self.m.wait(1, 10000) == 1
        offset = self.m.info("replication")["master_repl_offset"]
        wait_for(lambda: self.s.info("replication")["slave_repl_offset"] >= offset)
        self.assert_replica_refused_nothing()
        assert self.m.execute_command("DEBUG", "DIGEST") == self.s.execute_command("DEBUG", "DIGEST")
        for key in self.m.keys():
            assert self.m.pexpiretime(key) == self.s.pexpiretime(key), key

    def assert_replica_refused_nothing(self) -> None:
        """Redis logs every error a replica replies to its master's stream."""
        with open(self.replica.logfile, errors="replace") as log:
            refused = [line for line in log if "sending an error to its master" in line]
        assert not refused, refused

    def cleanup(self) -> None:
        self.replica.cleanup()
        self.master.cleanup()
