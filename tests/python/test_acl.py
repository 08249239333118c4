"""ACL users that may only read arrays, and users that may also write them, on
whatever server the tests run against: by category where the server can put
module commands in categories (Redis 7.2+: @read/@write/@fast; 7.4+ also
@numpy), by command name on Redis 7.0."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from npy_bytes import npy

READS = ["np.get", "np.mget", "np.shape", "np.dtype", "np.size", "np.info"]
WRITES = ["np.set", "np.mset", "np.append", "np.setslice", "np.reserve"]
A = npy(np.arange(6, dtype=np.float64).reshape(2, 3))


def categories(r, command):
    raw = redis.Redis(connection_pool=r.connection_pool)
    raw.response_callbacks.clear()
    info = raw.execute_command("COMMAND", "INFO", command)[0]
    return {c.decode().lstrip("@") for c in info[6]}


def has_module_category(r):
    return b"numpy" in r.execute_command("ACL", "CAT")


def every_command(user):
    """Runs each NP.* command as `user`; the set of commands it was allowed."""
    calls = {
        "np.get": ("NP.GET", "allowed:a"),
        "np.mget": ("NP.MGET", "allowed:a", "allowed:b"),
        "np.shape": ("NP.SHAPE", "allowed:a"),
        "np.dtype": ("NP.DTYPE", "allowed:a"),
        "np.size": ("NP.SIZE", "allowed:a"),
        "np.info": ("NP.INFO", "allowed:a"),
        "np.set": ("NP.SET", "allowed:b", A),
        "np.mset": ("NP.MSET", "allowed:b", A, "allowed:c", A),
        "np.append": ("NP.APPEND", "allowed:b", A),
        "np.setslice": ("NP.SETSLICE", "allowed:a", "0", npy(np.zeros(3))),
        "np.reserve": ("NP.RESERVE", "allowed:a", "10"),
    }
    allowed = set()
    for name, call in calls.items():
        try:
            user.execute_command(*call)
            allowed.add(name)
        except redis.exceptions.NoPermissionError as e:
            assert "has no permissions to run" in str(e), e
    with pytest.raises(redis.exceptions.NoPermissionError, match="(?i)no permissions to access (one of the keys|a key)"):
        user.execute_command("NP.GET", "secret:a")
    return allowed


def login(redis_server, name):
    return redis.Redis(host="127.0.0.1", port=redis_server.port, username=name, password="pw")


def test_categories_are_declared_where_the_server_can(r):
    cats = {c: categories(r, c) for c in READS + WRITES}
    if not any(cats.values()):
        # Redis 7.0: no API for module command categories.
        assert r.info("server")["redis_version"].startswith("7.0")
        return
    extra = {"numpy"} if has_module_category(r) else set()
    for command in READS:
        fast = {"fast"} if command not in ("np.get", "np.mget") else set()
        assert cats[command] == {"read"} | fast | extra, command
    for command in WRITES:
        assert cats[command] == {"write"} | extra, command


def test_read_only_and_write_users(redis_server, r):
    r.execute_command("NP.SET", "allowed:a", A)
    r.execute_command("NP.SET", "secret:a", A)
    by_category = bool(categories(r, "np.get"))
    if by_category:
        r.acl_setuser("reader", enabled=True, passwords=["+pw"], keys=["allowed:*"], commands=["-@all", "+@read"])
        r.acl_setuser("writer", enabled=True, passwords=["+pw"], keys=["allowed:*"], commands=["-@all", "+@read", "+@write"])
    else:
        r.acl_setuser("reader", enabled=True, passwords=["+pw"], keys=["allowed:*"], commands=["-@all"] + [f"+{c}" for c in READS])
        r.acl_setuser("writer", enabled=True, passwords=["+pw"], keys=["allowed:*"], commands=["-@all"] + [f"+{c}" for c in READS + WRITES])
    try:
        reader, writer = login(redis_server, "reader"), login(redis_server, "writer")
        assert every_command(reader) == set(READS)
        assert r.exists("allowed:b") == 0, "the reader wrote nothing"
        assert every_command(writer) == set(READS + WRITES)
        if has_module_category(r):
            # docs/security.md's reader: the module's commands minus the writes.
            r.acl_setuser("numpy-reader", enabled=True, passwords=["+pw"], keys=["allowed:*"],
                          commands=["-@all", "+@numpy", "-@write"])
            assert every_command(login(redis_server, "numpy-reader")) == set(READS)
    finally:
        for user in ("reader", "writer", "numpy-reader"):
            r.acl_deluser(user)
