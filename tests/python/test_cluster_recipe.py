"""`make cluster`'s script: three masters with the module, a working cluster,
stopped and brought back with its arrays."""

from __future__ import annotations

import os
import socket
import subprocess

import numpy as np
import redis.cluster

from npy_bytes import npy
from redis_server import REPO_ROOT, module_path, server_binary

SCRIPT = str(REPO_ROOT / "scripts" / "cluster.sh")


def free_port_run(n: int = 3) -> int:
    """A first port such that it, the next n-1 ports and their cluster bus
    ports (+10000) are free now."""
    for first in range(21000 + os.getpid() % 2000 * 3, 29000, 7):
        ports = [first + i for i in range(n)] + [first + i + 10000 for i in range(n)]
        socks = []
        try:
            for port in ports:
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port run")


def script(*args: str) -> str:
    env = {**os.environ, "REDIS_SERVER": server_binary(), "MODULE": module_path()}
    done = subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_start_stop_and_restart_keep_the_arrays(tmp_path):
    first = free_port_run()
    where = str(tmp_path / "cluster")
    try:
        assert "Redis Cluster up" in script("start", str(first), where)
        rc = redis.cluster.RedisCluster(host="127.0.0.1", port=first)
        assert len(rc.get_primaries()) == 3
        arrays = {f"a{i}": np.arange(i + 1, dtype=np.float32) for i in range(30)}
        for key, arr in arrays.items():
            rc.execute_command("NP.SET", key, npy(arr))
        owners = {rc.get_node_from_key(key).port for key in arrays}
        assert owners == {first, first + 1, first + 2}, "keys land on every master"
        rc.close()
        script("stop", str(first), where)
        assert "Redis Cluster up" in script("start", str(first), where)
        rc = redis.cluster.RedisCluster(host="127.0.0.1", port=first)
        for key, arr in arrays.items():
            assert rc.execute_command("NP.GET", key) == npy(arr), key
        rc.close()
    finally:
        script("stop", str(first), where)
    for port in (first, first + 1, first + 2):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"node {port} still up"
