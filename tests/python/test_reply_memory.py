"""What a reader can make the server hold. `NP.GET … AS` builds a cast of up
to 16x the stored data, and a client that pipelines commands without reading
the replies makes Redis keep every reply. Redis's `client-output-buffer-limit`
bounds that for every command (docs/security.md); the module refuses casts
and VALUES, which allocate more than the array holds, over `maxmemory`."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer, wait_for

BIG = np.arange(1 << 20, dtype=np.int8)  # 1 MiB; as complex128 16 MiB
MiB = 1 << 20


def resp(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def flood(port: int, commands: int) -> socket.socket:
    """Sends `commands` casts without reading a single reply."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(resp(b"NP.GET", b"big", b"AS", b"complex128") * commands)
    return sock


def connection_of(r, sock: socket.socket) -> dict | None:
    """The server's CLIENT LIST entry for `sock`, found by its address. The
    server-wide connected_clients count is no measure of one connection: it also
    counts others that close at their own pace (a dropped redis-py client's,
    when the garbage collector gets to it)."""
    host, port = sock.getsockname()
    return next((c for c in r.client_list() if c["addr"] == f"{host}:{port}"), None)


def casts_run(r) -> int:
    return r.info("commandstats").get("cmdstat_np.get", {}).get("calls", 0)


def settled_memory(r) -> int:
    time.sleep(0.5)
    return r.info("memory")["used_memory"]


@pytest.mark.parametrize("limit", ["0 0 0", "32mb 0 0"], ids=["no-limit", "limit"])
def test_output_buffer_limit_bounds_what_unread_casts_hold(limit):
    with RedisServer(config={"client-output-buffer-limit": f"normal {limit}"}) as server:
        r = server.client()
        r.execute_command("NP.SET", "big", npy(BIG))
        baseline = settled_memory(r)
        sock = flood(server.port, 10)
        wait_for(lambda: connection_of(r, sock) is not None or casts_run(r) > 0)
        if limit == "0 0 0":
            # Redis's default for normal clients: every unread reply is kept,
            # in the flooding connection's output buffer.
            wait_for(lambda: casts_run(r) == 10)
            held = settled_memory(r) - baseline
            flooder = connection_of(r, sock)
            assert flooder is not None, (r.client_list(), server.log_tail())
            assert int(flooder["omem"]) > 100 * MiB
            assert held > 100 * MiB
        else:
            # The limit closes that connection: its replies and casts are freed.
            wait_for(lambda: connection_of(r, sock) is None)
            host, port = sock.getsockname()
            closed = [line for line in server.log_tail().splitlines() if "for overcoming of output buffer limits" in line]
            assert len(closed) == 1 and f"addr={host}:{port} " in closed[0], closed
            # The buffer the last cast was gathered in is kept for the next
            # read until it has been idle (1 s + 1 s per 64 MiB).
            wait_for(lambda: settled_memory(r) - baseline < 8 * MiB, timeout=10, what="casts not freed")
        sock.close()
        assert server.alive()


def test_casts_and_values_are_refused_over_maxmemory(r):
    r.execute_command("NP.SET", "big", npy(BIG))
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", str(r.info("memory")["used_memory"] - MiB))
    try:
        for options in (["AS", "complex128"], ["VALUES"], ["SLICE", ":10", "AS", "float64"]):
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                r.execute_command("NP.GET", "big", *options)
        # Plain reads and slices still work, as GET does over maxmemory.
        assert r.execute_command("NP.GET", "big") == npy(BIG)
        assert r.execute_command("NP.GET", "big", "SLICE", ":10") == npy(BIG[:10])
    finally:
        r.config_set("maxmemory", "0")
    assert r.execute_command("NP.GET", "big", "SLICE", ":3", "AS", "float64") == npy(BIG[:3].astype(np.float64))


def test_copying_commands_are_refused_over_maxmemory(r):
    """NP.RESHAPE's copy of a Fortran array and NP.REDUCE's copies (a slice,
    a cast, a Fortran input) are refused over maxmemory, as NP.SET is."""
    fortran = np.asfortranarray(np.arange(1 << 20, dtype=np.float64).reshape(1024, 1024))
    r.execute_command("NP.SET", "f", npy(fortran))
    r.execute_command("NP.SET", "big", npy(BIG))
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", str(r.info("memory")["used_memory"] - MiB))
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            r.execute_command("NP.RESHAPE", "f", "-1")
        for key, options in (("big", ["SLICE", "::2"]), ("big", ["AS", "float64"]), ("f", [])):
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                r.execute_command("NP.REDUCE", key, "sum", *options)
        # A reduction that copies nothing still answers, as GET does.
        r.execute_command("NP.REDUCE", "big", "max")
    finally:
        r.config_set("maxmemory", "0")
    assert r.execute_command("NP.GET", "f") == npy(fortran)
    assert r.execute_command("NP.RESHAPE", "f", "-1") == [1 << 20]


def test_reserve_is_refused_past_maxmemory(r):
    """Redis counts reserved room at once: room past maxmemory is refused
    instead of evicting other keys for memory nothing has written yet."""
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", str(r.info("memory")["used_memory"] + 64 * MiB))
    try:
        for i in range(200):
            r.set(f"other:{i}", b"x" * 1000)
        r.execute_command("NP.SET", "k", npy(np.zeros((1, 1024), np.float32)))
        with pytest.raises(redis.exceptions.OutOfMemoryError, match="past 'maxmemory'"):
            r.execute_command("NP.RESERVE", "k", 131072)  # 512 MiB
        assert r.dbsize() == 201, "no key was evicted"
        assert r.execute_command("NP.RESERVE", "k", 1024) == b"OK"  # 4 MiB fits
    finally:
        r.config_set("maxmemory", "0")
        r.config_set("maxmemory-policy", "noeviction")
