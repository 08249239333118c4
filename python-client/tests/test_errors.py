"""Error replies keep the client's exception classes: `except ReadOnlyError`,
`OutOfMemoryError`, `NoPermissionError`, `ExecAbortError` keep matching, and
NP.* errors are also `NumpyError`, with the client's exception as their cause.
Each case is produced for real: a replica, maxmemory, an ACL user, MULTI."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis
import redis.asyncio
from redis.exceptions import ExecAbortError, NoPermissionError, OutOfMemoryError, ReadOnlyError, ResponseError

from redis_numpy import Numpy, NumpyError
from redis_server import RedisServer


def assert_marked(err: BaseException, cls: type) -> None:
    assert type(err) is not cls and isinstance(err, cls) and isinstance(err, NumpyError)
    assert type(err.__cause__) is cls, "the client's own exception is the cause"
    assert err.__cause__.args[0] in err.args[0]  # a pipeline's error text also names the command


def test_wrongtype_is_response_error_and_numpy_error(redis_server, r):
    arrays = Numpy(redis_server.client())
    r.set("s", "x")
    with pytest.raises(NumpyError, match="WRONGTYPE") as caught:
        arrays.get("s")
    assert_marked(caught.value, ResponseError)
    assert type(caught.value).__name__ == "ResponseError"


def test_plain_commands_keep_plain_errors(redis_server, r):
    arrays = Numpy(redis_server.client())
    arrays.set("a", np.zeros(2))
    with pytest.raises(ResponseError) as caught:
        arrays.incr("a")  # reached through the wrapper, but not an NP.* command
    assert not isinstance(caught.value, NumpyError)


@pytest.fixture(scope="module")
def replica(redis_server):
    with RedisServer(config={"replicaof": f"127.0.0.1 {redis_server.port}"}) as server:
        yield server


def test_read_only_replica(replica):
    arrays = Numpy(replica.client())
    with pytest.raises(ReadOnlyError) as caught:
        arrays.set("a", np.zeros(2))
    assert_marked(caught.value, ReadOnlyError)
    pipe = arrays.pipeline(transaction=False)
    pipe.set("a", np.zeros(2)).shape("a")
    err, shape = pipe.execute(raise_on_error=False)
    assert_marked(err, ReadOnlyError)
    assert shape is None


def test_out_of_memory(redis_server, r):
    arrays = Numpy(redis_server.client())
    r.config_set("maxmemory", "1")
    try:
        with pytest.raises(OutOfMemoryError) as caught:
            arrays.set("big", np.zeros(1000))
        assert_marked(caught.value, OutOfMemoryError)
    finally:
        r.config_set("maxmemory", "0")
    assert r.exists("big") == 0


def test_no_permission(redis_server, r):
    r.acl_setuser("reader", enabled=True, passwords=["+pw"], keys=["*"], commands=["+np.get", "+np.shape"])
    try:
        arrays = Numpy(redis_server.client(username="reader", password="pw"))
        with pytest.raises(NoPermissionError) as caught:
            arrays.set("a", np.zeros(2))
        assert_marked(caught.value, NoPermissionError)
        assert arrays.get("missing") is None
    finally:
        r.acl_deluser("reader")


def test_exec_abort_raises_what_redis_py_raises(redis_server, r):
    """A transaction refused at EXEC raises exactly what redis-py raises for the same commands."""

    def run(pipe):
        pipe.execute_command("NP.SET", "a", b"not .npy")
        pipe.execute_command("NP.SHAPE")  # wrong arity: refused when queued, so EXEC aborts
        with pytest.raises(ResponseError) as caught:
            pipe.execute()
        return caught.value

    raw = run(r.pipeline())
    ours = run(Numpy(redis_server.client()).pipeline())
    assert type(ours) is type(raw) and str(ours) == str(raw)
    assert r.exists("a") == 0

    arrays = Numpy(redis_server.client(single_connection_client=True))
    arrays.execute_command("MULTI")
    with pytest.raises(NumpyError, match="wrong number of arguments"):
        arrays.execute_command("NP.SHAPE")
    with pytest.raises(ExecAbortError) as caught:
        arrays.execute_command("EXEC")
    assert not isinstance(caught.value, NumpyError)
    arrays.close()


@pytest.mark.parametrize("transaction", [True, False])
def test_pipeline_marks_np_errors_by_position(redis_server, r, transaction):
    arrays = Numpy(redis_server.client())
    r.set("s", "text")
    pipe = arrays.pipeline(transaction=transaction)
    pipe.set("ok", np.zeros(1)).get("s")  # NP.GET on a string: WRONGTYPE
    pipe.incr("s")  # a plain command's error
    ok, np_err, plain_err = pipe.execute(raise_on_error=False)
    assert ok is True
    assert_marked(np_err, ResponseError)
    assert isinstance(plain_err, ResponseError) and not isinstance(plain_err, NumpyError)

    def first_error(pipe, queue):
        queue(pipe)
        with pytest.raises(ResponseError) as caught:
            pipe.execute()
        return caught.value

    # The error raised, and its text, are redis-py's own for the same pipeline.
    for queue in (lambda p: p.incr("s").get("s"), lambda p: p.set("ok", np.zeros(1)).get("s").incr("s")):
        ours = first_error(arrays.pipeline(transaction=transaction), queue)
        raw_pipe = r.pipeline(transaction=transaction)
        raw = first_error(raw_pipe, lambda p: queue(Numpy(p)))
        assert isinstance(ours, type(raw)) and str(ours) == str(raw)
        assert str(ours).startswith("Command # ")
    assert not isinstance(first_error(arrays.pipeline(transaction=transaction), lambda p: p.incr("s").get("s")), NumpyError)
    marked = first_error(arrays.pipeline(transaction=transaction), lambda p: p.set("ok", np.zeros(1)).get("s"))
    assert_marked(marked, ResponseError)
    assert str(marked).startswith("Command # 2 (NP.GET s")


def test_asyncio_errors_keep_their_class(redis_server, r):
    r.set("s", "x")

    async def main() -> None:
        arrays = Numpy(redis.asyncio.Redis(port=redis_server.port))
        with pytest.raises(NumpyError) as caught:
            await arrays.shape("s")
        assert_marked(caught.value, ResponseError)
        async with arrays.pipeline(transaction=False) as pipe:
            pipe.shape("s").incr("s")
            np_err, plain_err = await pipe.execute(raise_on_error=False)
        assert_marked(np_err, ResponseError)
        assert not isinstance(plain_err, NumpyError)
        await arrays.aclose()

    asyncio.run(main())
