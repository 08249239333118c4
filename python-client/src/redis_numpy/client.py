"""`Numpy`: the NP.* commands on any redis-py client, pipeline or cluster."""

from __future__ import annotations

import inspect
from typing import Any, Optional

import redis
import redis.asyncio
from redis.exceptions import ResponseError

from .commands import COMMANDS, RESPONSE_CALLBACKS
from .streaming import StreamingCommands


class NumpyError(ResponseError):
    """An error reply to an NP.* command, with the server's message (`invalid .npy: ...`, `WRONGTYPE ...`)."""


def _numpy_error(err: ResponseError) -> ResponseError:
    return err if isinstance(err, NumpyError) else NumpyError(*err.args)


_PIPELINES: tuple[type, ...] = (
    redis.client.Pipeline,
    redis.cluster.ClusterPipeline,
    redis.asyncio.client.Pipeline,
    redis.asyncio.cluster.ClusterPipeline,
)


def _binary_twin(client: Any) -> Any:
    """A client on the same server that does not decode replies.

    EXEC's reply is read without redis-py's NEVER_DECODE, so a transaction on a
    `decode_responses=True` client would try to decode the arrays as UTF-8.
    """
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    # from_pool: the twin owns its pool, so closing the twin disconnects it.
    if isinstance(client, redis.asyncio.Redis):
        return redis.asyncio.Redis.from_pool(redis.asyncio.ConnectionPool(connection_class=pool.connection_class, **kwargs))
    return redis.Redis.from_pool(redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def _decodes_responses(client: Any) -> bool:
    pool = getattr(client, "connection_pool", None)
    return bool(pool is not None and pool.connection_kwargs.get("decode_responses"))


class Numpy(StreamingCommands):
    """The NP.* commands on `client`: a `redis.Redis`, `redis.asyncio.Redis`,
    `redis.cluster.RedisCluster`, `redis.asyncio.RedisCluster`, or a pipeline of any of them.

    >>> arrays = Numpy(redis.Redis())
    >>> arrays.set("a", np.arange(6.0).reshape(2, 3))
    True
    >>> arrays.get("a")
    array([[0., 1., 2.],
           [3., 4., 5.]])

    With an asyncio client every command returns an awaitable. On a pipeline the
    commands are queued and `execute()` returns their converted replies; any other
    redis-py command of the pipeline is reachable through this object too.
    Error replies raise `NumpyError` (a `redis.ResponseError`).
    """

    def __init__(self, client: Any):
        self.client = client
        # Shared with the client's pipelines, so their replies are converted too.
        # redis-py 5's asyncio ClusterPipeline keeps them on its cluster client.
        owner = client if hasattr(client, "set_response_callback") else client._client
        for command, callback in RESPONSE_CALLBACKS.items():
            owner.set_response_callback(command, callback)
        self._queued = isinstance(client, _PIPELINES)
        self._twin: Any = None  # see pipeline()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            reply = self.client.execute_command(*args, **options)
        except ResponseError as err:
            raise _numpy_error(err) from None
        if self._queued and reply is self.client:
            return self  # queued in a pipeline: chain like redis-py
        if inspect.isawaitable(reply):
            return self._await(reply)
        return reply

    @staticmethod
    async def _await(reply: Any) -> Any:
        try:
            return await reply
        except ResponseError as err:
            raise _numpy_error(err) from None

    def pipeline(self, transaction: bool = True, shard_hint: Optional[str] = None) -> "Numpy":
        """A pipeline (a MULTI/EXEC transaction unless `transaction=False`) with the NP.* commands.

        Use it like redis-py's: queue commands, then `execute()` (or `await execute()`);
        it is also a (async) context manager. On Redis Cluster, pipelines are not transactional.
        """
        client = self.client
        if isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.RedisCluster)):
            return Numpy(client.pipeline())
        if transaction and _decodes_responses(client):
            if self._twin is None:
                self._twin = _binary_twin(client)
            client = self._twin
        return Numpy(client.pipeline(transaction=transaction, shard_hint=shard_hint))

    def close(self) -> Any:
        """Close the client (and the second connection pool `pipeline()` may have
        opened). For an asyncio client this returns an awaitable, like `aclose()`."""
        if isinstance(self.client, (redis.asyncio.Redis, redis.asyncio.RedisCluster)):
            return self.aclose()
        if self._twin is not None:
            self._twin.close()
        return self.client.close()

    async def aclose(self) -> None:
        """Close an asyncio client (and the second pool `pipeline()` may have opened)."""
        if self._twin is not None:
            await self._twin.aclose()
        await self.client.aclose()

    def execute(self, raise_on_error: bool = True) -> Any:
        """Run a pipeline's queued commands; NP.* errors become `NumpyError`."""
        try:
            replies = self.client.execute(raise_on_error=raise_on_error)
        except ResponseError as err:
            raise _pipeline_error(err) from None
        if inspect.isawaitable(replies):
            return self._await_execute(replies)
        return replies

    async def _await_execute(self, replies: Any) -> Any:
        try:
            return await replies
        except ResponseError as err:
            raise _pipeline_error(err) from None

    def __getattr__(self, name: str) -> Any:
        # Everything else (plain commands in a pipeline, reset, watch, close...) is the client's.
        return getattr(self.client, name)

    def __len__(self) -> int:
        return len(self.client)  # the number of queued commands, for a pipeline

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> "Numpy":
        self.client.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client.__exit__(*exc)

    async def __aenter__(self) -> "Numpy":
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.__aexit__(*exc)


def _pipeline_error(err: ResponseError) -> ResponseError:
    """`NumpyError` when redis-py's pipeline error text ("Command # 2 (NP.SET ...)
    of pipeline caused error: ...") names an NP.* command, else `err` itself."""
    message = str(err)
    named = any(f"({command} " in message or f"({command})" in message for command in COMMANDS)
    return _numpy_error(err) if named else err
