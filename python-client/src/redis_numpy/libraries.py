"""Which client library a client comes from: redis-py, or valkey (a fork with
the same layout under other names), and what the helpers need of it."""

from __future__ import annotations

import sys
from typing import Any, TypeVar, cast

_E = TypeVar("_E", bound=Exception)


def library(client: Any) -> Any:
    """The client's library module: `redis` or `valkey`."""
    return sys.modules[type(client).__module__.split(".")[0]]


def errors(client: Any) -> Any:
    """The client's exceptions module (`redis.exceptions`, `valkey.exceptions`)."""
    return library(client).exceptions


def base_error(client: Any) -> type[Exception]:
    """The library's base exception class (redis-py's RedisError, valkey's ValkeyError)."""
    module = errors(client)
    base: type[Exception] = getattr(module, "RedisError", None) or module.ValkeyError
    return base


def error_class(client: Any, cls: type[_E]) -> type[_E]:
    """`cls`, one of this package's errors (a redis-py `RedisError`), as the
    class to raise for `client`: for a valkey client, a subclass that is also
    valkey's `ValkeyError`, so either library's `except` catches it."""
    base = base_error(client)
    if issubclass(cls, base):
        return cls
    joined = _JOINED.get((cls, base))
    if joined is None:
        joined = type(cls.__name__, (cls, base), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
        _JOINED[(cls, base)] = joined
    return cast("type[_E]", joined)


_JOINED: dict[tuple[type, type], type] = {}


def is_cluster(client: Any) -> bool:
    """A cluster client (or its pipeline), of either library, sync or asyncio."""
    return hasattr(client, "nodes_manager") or hasattr(client, "_nodes_manager")


def node_client(node: Any) -> Any:
    """The client a synchronous cluster client keeps for one node."""
    return getattr(node, "redis_connection", None) or node.valkey_connection
