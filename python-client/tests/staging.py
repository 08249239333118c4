"""The staging keys that chunked uploads write before renaming them onto
their target: a finished or refused upload leaves none behind."""

from __future__ import annotations

from typing import Any

from redis_numpy.chunked import STAGING_INFIX


def staging_keys(client: Any) -> list[bytes]:
    """Every staging key the client sees (on a cluster, on every node)."""
    return list(client.scan_iter(match=b"*" + STAGING_INFIX + b"*"))
