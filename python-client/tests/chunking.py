"""For the tests of chunked transfers: the staging keys that uploads write
before renaming them onto their target (a finished or refused upload leaves
none behind), writes that land in the middle of a download, and a slot that
moves to another cluster node in the middle of one."""

from __future__ import annotations

from typing import Any, Callable

from redis_numpy.chunked import STAGING_INFIX


def staging_keys(client: Any) -> list[bytes]:
    """Every staging key the client sees (on a cluster, on every node)."""
    return list(client.scan_iter(match=b"*" + STAGING_INFIX + b"*"))


def write_after(n: int, action: Callable[[], object]) -> Callable[[int, int], None]:
    """A progress callback that runs `action` once, after the n-th chunk arrived."""
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == n:
            action()

    return progress


class SlotMove:
    """A progress callback that moves `key`'s slot (and the key, with MIGRATE)
    from its master to another one of `cluster`, once, at the first chunk.
    `source` and `target` are the two nodes; `moved` says whether it ran."""

    def __init__(self, cluster: Any, client: Any, key: str):
        self.key = key
        self.slot = client.keyslot(key)
        self.source = next(n for n in cluster.nodes if n.port == client.get_node_from_key(key).port)
        self.target = next(n for n in cluster.nodes if n is not self.source)
        self.nodes = cluster.nodes
        ids = {n.port: n.client().execute_command("CLUSTER", "MYID") for n in cluster.nodes}
        self.ids = {port: i.decode() if isinstance(i, bytes) else i for port, i in ids.items()}
        self.moved = False

    def __call__(self, done: int, total: int) -> None:
        if self.moved:
            return
        self.moved = True
        src, dst = self.source.client(), self.target.client()
        dst.execute_command("CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.ids[self.source.port])
        src.execute_command("CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.ids[self.target.port])
        src.execute_command("MIGRATE", "127.0.0.1", self.target.port, self.key, 0, 5000)
        for node in self.nodes:
            node.client().execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[self.target.port])
