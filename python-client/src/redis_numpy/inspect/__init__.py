"""A read-only web inspector for redis-numpy arrays.

`python -m redis_numpy.inspect --url redis://localhost:6379` serves a page that
lists the arrays in a Redis database (SCAN + TYPE, paged) with their NP.INFO
fields, memory and TTL, the `INFO numpy` gauges refreshing live, and a detail
view per key with a preview drawn on the server from a downsampled slice, so
the browser never receives the array itself. Needs the `inspect` extra
(`pip install redis-numpy[inspect]`).
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m redis_numpy.inspect` can say which
    # extra is missing instead of failing on import.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
