"""A master and a replica, both with the module, for checking that every kind
of write leaves the replica byte-identical (DEBUG DIGEST covers every key's
value and whether it has a TTL)."""

from __future__ import annotations

from typing import Any, Iterable

from redis_server import RedisServer, wait_for


def wait_applied(m: Any, s: Any, timeout: float = 20.0) -> None:
    """The replica (client `s`) has applied everything its master (client `m`)
    has written so far: its processed offset has reached the master's."""
    offset = m.info("replication")["master_repl_offset"]
    wait_for(lambda: s.info("replication")["slave_repl_offset"] >= offset, timeout,
             "the replica did not catch up")


def assert_replica_matches(m: Any, s: Any, keys: Iterable[str]) -> None:
    """Once the replica has applied everything, each of `keys` reads back the
    same bytes from both (NP.GET) and has the same DEBUG DIGEST-VALUE."""
    assert m.wait(1, 10000) == 1
    wait_applied(m, s)
    for key in keys:
        assert s.execute_command("NP.GET", key) == m.execute_command("NP.GET", key), key
        assert s.execute_command("DEBUG", "DIGEST-VALUE", key) == m.execute_command("DEBUG", "DIGEST-VALUE", key), key


class Pair:
    def __init__(self) -> None:
        self.master = RedisServer().start()
        self.replica = RedisServer().start()
        # redis-py's sync/async union return types, as Any for the test code.
        self.m: Any = self.master.client()
        self.s: Any = self.replica.client()
        self.replica.replicate_from(self.master)

    def assert_in_sync(self) -> None:
        """The replica has applied everything so far and holds the same data."""
        assert self.m.wait(1, 10000) == 1
        wait_applied(self.m, self.s)
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
