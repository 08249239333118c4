"""For the tests of chunked transfers: the staging keys that uploads write
before renaming them onto their target (a finished or refused upload leaves
none behind), and writes that land in the middle of a download."""

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
