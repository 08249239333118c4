"""`Numpy`: the NP.* commands on any redis-py (or valkey) client, pipeline or cluster.

`Numpy(client)` returns the class that matches the client, so type checkers know
what each command returns: `SyncNumpy` (values), `AsyncNumpy` (awaitables),
`NumpyPipeline` / `AsyncNumpyPipeline` (commands queue and return the pipeline).
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Awaitable, Optional, TypeVar, Union, overload

from redis.exceptions import ResponseError

from .commands import COMMANDS, NP_MGET, NP_MSET, NP_SCRIPTS, NumpyCommands, register_callbacks
from .libraries import errors, is_cluster
from .streaming import StreamingCommands
from .typed_faces import AsyncCommands, AsyncPipelineCommands, PipelineCommands, SyncCommands

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    import redis.asyncio.client
    import redis.asyncio.cluster
    import redis.client
    import redis.cluster

_E = TypeVar("_E", bound=BaseException)
_P = TypeVar("_P", bound="NumpyPipeline")
_AP = TypeVar("_AP", bound="AsyncNumpyPipeline")


class NumpyError(ResponseError):
    """Marks an error reply to an NP.* command.

    The exception raised is also an instance of the error class the client chose
    (redis-py's `ResponseError`, `ReadOnlyError`, `OutOfMemoryError`,
    `NoPermissionError`, ... or valkey's), with the client's exception as its
    `__cause__`: `except redis.exceptions.ReadOnlyError` keeps matching, and
    `except NumpyError` catches the NP.* errors alone."""


_MARKED: dict[type, type] = {}


def _marked(err: _E) -> _E:
    """`err` as an instance of both its own class and `NumpyError`, caused by `err`."""
    if isinstance(err, NumpyError):
        return err
    cls = type(err)
    marked = _MARKED.get(cls)
    if marked is None:
        marked = type(cls.__name__, (NumpyError, cls), {"__module__": __name__, "__qualname__": cls.__qualname__})
        _MARKED[cls] = marked
    new: _E = marked(*err.args)
    new.__cause__ = err
    return new


def _is_pipeline(client: Any) -> bool:
    return callable(getattr(client, "execute", None))


def _is_async(client: Any) -> bool:
    method = client.execute if _is_pipeline(client) else client.execute_command
    return inspect.iscoroutinefunction(method)


def _binary_twin(client: Any) -> Any:
    """A client on the same server that does not decode replies.

    EXEC's reply is read without redis-py's NEVER_DECODE, so a transaction on a
    `decode_responses=True` client would try to decode the arrays as UTF-8.
    """
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    # from_pool: the twin owns its pool, so closing the twin disconnects it.
    return type(client).from_pool(type(pool)(connection_class=pool.connection_class, **kwargs))


def _queued_args(pipe: Any) -> Optional[list[Any]]:
    """The argument tuples queued in a pipeline, where the client keeps them
    (the place differs between pipeline classes and redis-py versions)."""
    strategy = getattr(pipe, "_execution_strategy", None)  # redis-py 6+'s cluster pipelines
    for stack in (
        getattr(pipe, "command_stack", None),  # Pipeline, asyncio Pipeline, redis-py 5's ClusterPipeline
        getattr(strategy, "command_queue", None),
        getattr(strategy, "_command_queue", None),
        getattr(pipe, "_command_stack", None),  # redis-py 5's asyncio ClusterPipeline
    ):
        if isinstance(stack, list) and len(stack) == len(pipe):
            return [c[0] if isinstance(c, tuple) else getattr(c, "args", ()) for c in stack]
    return None


def _decodes_responses(client: Any) -> bool:
    pool = getattr(client, "connection_pool", None)
    return bool(pool is not None and pool.connection_kwargs.get("decode_responses"))


class _NumpyBase(StreamingCommands):
    """What every `Numpy` does; `Numpy` adds the choice of class (`__new__`), kept
    apart so type checkers read the constructor's overloads rather than `__init__`."""

    def __init__(self, client: Any):
        self.client = register_callbacks(client)
        self._queued = _is_pipeline(client)
        self._cluster = is_cluster(client)
        self._response_error: type[Exception] = errors(client).ResponseError
        self._np_positions: set[int] = set()  # pipeline positions of queued NP.* commands
        self._twin: Any = None  # see pipeline()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self._cluster and not self._queued and args[0] in (NP_MGET, NP_MSET):
            return self._by_slot(args, options)
        position = len(self.client) if self._queued else -1
        try:
            reply = self.client.execute_command(*args, **options)
        except self._response_error as err:
            raise self._mark(args, err) from err
        if self._queued and reply is self.client:
            self._np_positions.add(position)
            return self  # queued in a pipeline: chain like redis-py
        if inspect.isawaitable(reply):
            return self._await(args, reply)
        return reply

    def _mark(self, args: tuple[Any, ...], err: Exception) -> Exception:
        name = args[0].upper() if isinstance(args[0], str) else args[0]
        np_script = name == "EVAL" and len(args) > 1 and args[1] in NP_SCRIPTS
        return _marked(err) if name in COMMANDS or np_script else err

    async def _await(self, args: tuple[Any, ...], reply: Awaitable[Any]) -> Any:
        try:
            return await reply
        except self._response_error as err:
            raise self._mark(args, err) from err

    def _by_slot(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        """NP.MGET / NP.MSET on a cluster client: one command per hash slot, sent in
        one cluster pipeline; NP.MGET's arrays come back in the caller's order."""
        command, rest = args[0], args[1:]
        step = 2 if command == NP_MSET else 1
        groups: dict[int, list[int]] = {}  # slot -> positions in the caller's list
        for i in range(0, len(rest), step):
            groups.setdefault(self.client.keyslot(rest[i]), []).append(i)
        if len(groups) <= 1:
            return self._direct(args, options)
        pipe = self.client.pipeline()
        for positions in groups.values():
            pipe.execute_command(command, *(a for i in positions for a in rest[i : i + step]), **options)

        def merge(replies: list[Any]) -> Any:
            if command == NP_MSET:
                return all(replies)
            out: list[Any] = [None] * len(rest)
            for positions, arrays in zip(groups.values(), replies):
                for i, arr in zip(positions, arrays):
                    out[i] = arr
            return out

        if _is_async(pipe):
            return self._await_merge(args, pipe.execute(), merge)
        try:
            return merge(pipe.execute())
        except self._response_error as err:
            raise self._mark(args, err) from err

    async def _await_merge(self, args: tuple[Any, ...], replies: Awaitable[list[Any]], merge: Any) -> Any:
        return merge(await self._await(args, replies))

    def _direct(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        try:
            reply = self.client.execute_command(*args, **options)
        except self._response_error as err:
            raise self._mark(args, err) from err
        return self._await(args, reply) if inspect.isawaitable(reply) else reply

    def pipeline(self, transaction: bool = True, shard_hint: Optional[str] = None) -> Numpy:
        """A pipeline (a MULTI/EXEC transaction unless `transaction=False`) with the NP.* commands.

        Use it like redis-py's: queue commands, then `execute()` (or `await execute()`);
        it is also a (async) context manager. On Redis Cluster, pipelines are not transactional.
        """
        client = self.client
        if self._cluster:
            pipe = client.pipeline()
        else:
            if transaction and _decodes_responses(client):
                if self._twin is None:
                    self._twin = _binary_twin(client)
                client = self._twin
            pipe = client.pipeline(transaction=transaction, shard_hint=shard_hint)
        wrapped: Numpy = Numpy(pipe)
        return wrapped

    def close(self) -> Any:
        """Close the client (and the second connection pool `pipeline()` may have
        opened). For an asyncio client this returns an awaitable, like `aclose()`."""
        if _is_async(self.client):
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
        """Run a pipeline's queued commands. Error replies keep the client's exception
        classes; those of NP.* commands are also marked as `NumpyError`."""
        positions, self._np_positions = self._np_positions, set()
        queued = _queued_args(self.client)
        # Errors come back in place (a transaction refused as a whole, EXECABORT or
        # WATCH, still raises as the client raises it), so each is known by position.
        replies = self.client.execute(raise_on_error=False)
        if inspect.isawaitable(replies):
            return self._await_execute(replies, positions, queued, raise_on_error)
        return self._pipeline_replies(replies, positions, queued, raise_on_error)

    async def _await_execute(
        self, replies: Awaitable[list[Any]], positions: set[int], queued: Optional[list[Any]], raise_on_error: bool
    ) -> Any:
        return self._pipeline_replies(await replies, positions, queued, raise_on_error)

    def _pipeline_replies(
        self, replies: list[Any], positions: set[int], queued: Optional[list[Any]], raise_on_error: bool
    ) -> list[Any]:
        error = self._response_error
        replies = [_marked(r) if i in positions and isinstance(r, error) else r for i, r in enumerate(replies)]
        first = next((i for i, r in enumerate(replies) if isinstance(r, error)), None)
        if raise_on_error and first is not None:
            # The text the client's own raise_on_error gives: "Command # 2 (NP.SET ...) of pipeline ..."
            annotate = getattr(self.client, "annotate_exception", None)
            if annotate is not None and queued is not None:
                annotate(replies[first], first + 1, queued[first])
            raise replies[first]
        return replies

    def reset(self) -> Any:
        """Empty a pipeline (redis-py's `reset`)."""
        self._np_positions = set()
        return self.client.reset()

    def __getattr__(self, name: str) -> Any:
        # Everything else (plain commands in a pipeline, watch, multi...) is the client's.
        attr = getattr(self.__dict__["client"], name)
        if not self.__dict__.get("_queued") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def chained(*args: Any, **kwargs: Any) -> Any:
            reply = attr(*args, **kwargs)
            return self if reply is self.client else reply  # queued: keep chaining on self

        return chained

    def __len__(self) -> int:
        return len(self.client)  # the number of queued commands, for a pipeline

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> Any:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._np_positions = set()
        self.client.__exit__(*exc)

    async def __aenter__(self) -> Any:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._np_positions = set()
        await self.client.__aexit__(*exc)


class Numpy(_NumpyBase):
    """The NP.* commands on `client`: a `redis.Redis`, `redis.asyncio.Redis`,
    `redis.cluster.RedisCluster`, `redis.asyncio.RedisCluster`, valkey's
    equivalents, or a pipeline of any of them.

    >>> arrays = Numpy(redis.Redis())
    >>> arrays.set("a", np.arange(6.0).reshape(2, 3))
    True
    >>> arrays.get("a")
    array([[0., 1., 2.],
           [3., 4., 5.]])

    With an asyncio client every command returns an awaitable. On a pipeline the
    commands are queued and `execute()` returns their converted replies; any other
    command of the client is reachable through this object too.
    Error replies to NP.* commands raise the client's own exception class, marked
    as a `NumpyError` (see there).
    """

    @overload
    def __new__(cls, client: redis.asyncio.client.Pipeline) -> AsyncNumpyPipeline: ...  # type: ignore[overload-overlap]
    @overload
    def __new__(cls, client: redis.asyncio.cluster.ClusterPipeline) -> AsyncNumpyPipeline: ...
    @overload
    def __new__(cls, client: Union[redis.asyncio.Redis, redis.asyncio.RedisCluster]) -> AsyncNumpy: ...
    @overload
    def __new__(cls, client: redis.client.Pipeline) -> NumpyPipeline: ...  # type: ignore[overload-overlap]
    @overload
    def __new__(cls, client: redis.cluster.ClusterPipeline) -> NumpyPipeline: ...  # type: ignore[overload-overlap]
    @overload
    def __new__(cls, client: Union[redis.Redis, redis.cluster.RedisCluster]) -> SyncNumpy: ...
    @overload
    def __new__(cls, client: Any) -> Numpy: ...

    def __new__(cls, client: Any) -> Numpy:
        if cls is Numpy:  # pick the class that matches the client
            pipeline, asynchronous = _is_pipeline(client), _is_async(client)
            if pipeline:
                cls = AsyncNumpyPipeline if asynchronous else NumpyPipeline
            else:
                cls = AsyncNumpy if asynchronous else SyncNumpy
        return object.__new__(cls)


# The typed faces of Numpy. They add no behaviour: each states what the commands
# return for one kind of client, for type checkers. The commands' signatures
# come from typed_faces.py (generated from commands.py); the members below are
# the facade's own. (`# type: ignore[misc]`: a face names SET's options, which
# StreamingCommands.set passes on as **options.)


class SyncNumpy(SyncCommands, Numpy):  # type: ignore[misc]
    """`Numpy` on a synchronous client: every command returns its value."""

    if TYPE_CHECKING:

        def pipeline(self, transaction: bool = True, shard_hint: Optional[str] = None) -> NumpyPipeline: ...
        def close(self) -> None: ...
        def __enter__(self) -> SyncNumpy: ...


class AsyncNumpy(AsyncCommands, Numpy):  # type: ignore[misc]
    """`Numpy` on an asyncio client: every command returns an awaitable of its value."""

    if TYPE_CHECKING:

        def pipeline(self, transaction: bool = True, shard_hint: Optional[str] = None) -> AsyncNumpyPipeline: ...
        def close(self) -> Awaitable[None]: ...


class NumpyPipeline(PipelineCommands, Numpy):  # type: ignore[misc]
    """`Numpy` on a synchronous pipeline: commands queue and return the pipeline;
    `execute()` returns the converted replies."""

    if TYPE_CHECKING:

        def execute(self, raise_on_error: bool = True) -> list[Any]: ...
        def __enter__(self: _P) -> _P: ...


class AsyncNumpyPipeline(AsyncPipelineCommands, Numpy):  # type: ignore[misc]
    """`Numpy` on an asyncio pipeline: commands queue and return the pipeline;
    `await execute()` returns the converted replies."""

    if TYPE_CHECKING:

        def execute(self, raise_on_error: bool = True) -> Awaitable[list[Any]]: ...
        async def __aenter__(self: _AP) -> _AP: ...


# The commands are defined on base classes; a call with wrong arguments names the
# class users call ("Numpy.set() missing 1 required positional argument: 'arr'").
for _name, _member in [*vars(NumpyCommands).items(), *vars(StreamingCommands).items(), *vars(_NumpyBase).items()]:
    if callable(_member) and not _name.startswith("_"):
        _member.__qualname__ = f"Numpy.{_name}"
