"""`Arrays`: what the helpers below `Numpy` (chunked transfers, `ArrayView`,
`ShardedArray`) need of it, so they take any object with these three members
and never import the facade: imports run one way, `client.py` at the top."""

from __future__ import annotations

from typing import Any, Protocol


class Arrays(Protocol):
    """The face of `Numpy` the helpers use."""

    # The wrapped redis-py (or valkey) client, with the NP.* reply callbacks registered.
    client: Any

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """One command through the facade: its reply converted, an NP.* error marked."""
        ...

    def info(self, key: Any) -> Any:
        """NP.INFO as an `ArrayInfo`, or None for a missing key."""
        ...
