"""Start and stop real redis-server processes with the redis-numpy module loaded.

Used by every Python test suite in this repository (core tests and the client's
tests). Each server gets its own free loopback port and temporary directory and
is shut down (without saving) when cleaned up; nothing here mocks Redis.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import redis

REPO_ROOT = Path(__file__).resolve().parents[2]


def module_path() -> str:
    """The module to load: $REDIS_NUMPY_MODULE, else the release build."""
    path = os.environ.get("REDIS_NUMPY_MODULE") or str(
        REPO_ROOT / "target" / "release" / "libredis_numpy.so"
    )
    if not Path(path).is_file():
        raise RuntimeError(f"module not built: {path} (run `cargo build --release`)")
    return path


def server_binary() -> str:
    """The redis-server to run: $REDIS_SERVER (e.g. a source build with active
    defrag), else Debian's."""
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "redis-server"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (and its +10000 bus
    port), and not one handed out before in this process: the kernel may give
    the same free port to consecutive calls, e.g. for a cluster's nodes."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 55000 and port not in _HANDED_OUT:  # cluster bus uses port + 10000
            _HANDED_OUT.add(port)
            return port


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "timed out",
             interval: float = 0.05) -> None:
    """Polls `predicate` until it is true; fails saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(interval)


def wait_aof_rewrite_done(client: redis.Redis, timeout: float = 60.0) -> None:
    """Waits until no AOF rewrite runs or is scheduled (Redis 7 starts one
    when the AOF is switched on, and after BGREWRITEAOF)."""

    def idle() -> bool:
        persistence = client.info("persistence")
        return not persistence["aof_rewrite_in_progress"] and not persistence["aof_rewrite_scheduled"]

    wait_for(idle, timeout, "the AOF rewrite did not finish")


def stop_process(proc: subprocess.Popen[bytes], kill: bool = False, timeout: float = 30) -> None:
    """SIGTERM (SIGKILL with `kill`) and wait; SIGKILL if it outlives `timeout` seconds."""
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RedisServer:
    """One redis-server on 127.0.0.1 with the module loaded.

    `config` entries become command-line options (`--key value`).
    """

    def __init__(
        self,
        config: dict[str, str] | None = None,
        dir: str | None = None,
        module: str | None = None,
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.module = module or module_path()
        self.dir = dir or tempfile.mkdtemp(prefix="redis-numpy-")
        self._own_dir = dir is None
        self.config = {"save": "", "appendonly": "no", **(config or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def logfile(self) -> str:
        return os.path.join(self.dir, "redis.log")

    def start(self) -> "RedisServer":
        args = [
            server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self.dir,
            "--logfile", self.logfile,
            "--loadmodule", self.module,
            "--enable-debug-command", "yes",
        ]
        for key, value in self.config.items():
            args += [f"--{key}", value]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log_tail()}")
            try:
                # Closed here: a redis-py client merely dropped can sit in a
                # reference cycle, its connection open until the garbage
                # collector runs, and counted in the server's connected_clients.
                # The answer must come from our own process (a wrapper in
                # $REDIS_SERVER must exec): another server answering on the
                # port means ours could not bind it and is about to exit.
                with self.client() as probe:
                    if probe.ping() and probe.info("server")["process_id"] == self.proc.pid:
                        return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {self.log_tail()}")

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=120, **kwargs)

    def replicate_from(self, master: "RedisServer", timeout: float = 20.0) -> None:
        """REPLICAOF `master`, then wait until the link is up: the full sync
        (the RDB transfer and its load) is done and the command stream flows."""
        with self.client() as client:
            client.replicaof("127.0.0.1", master.port)
            wait_for(lambda: client.info("replication")["master_link_status"] == "up", timeout,
                     "the replica did not sync")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(Path(self.logfile).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            stop_process(self.proc, kill)
        self.proc = None

    def restart(self) -> "RedisServer":
        """Stop gracefully (Redis saves if configured) and start on the same dir and port."""
        self.stop()
        return self.start()

    def shutdown(self) -> None:
        """SHUTDOWN NOSAVE NOW FORCE: the server exits at once, saving nothing,
        through its normal exit path (an instrumented module writes its coverage
        profile there; SIGKILL would lose it). SIGKILL if it does not comply."""
        if self.proc and self.proc.poll() is None:
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5).execute_command(
                    "SHUTDOWN", "NOSAVE", "NOW", "FORCE"
                )
            except redis.ConnectionError:  # the server closed the connection: it is exiting
                pass
            except redis.RedisError:  # e.g. NOAUTH or a busy server: kill it
                self.stop(kill=True)
                return
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.stop(kill=True)

    def cleanup(self) -> None:
        self.shutdown()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


class RedisClusterProcs:
    """A Redis Cluster of `masters` real servers on loopback, created with
    `redis-cli --cluster create`; every node loads the module."""

    def __init__(self, masters: int = 3, ports: tuple[int, ...] | None = None, module: str | None = None):
        self.nodes = [
            RedisServer(config={"cluster-enabled": "yes", "cluster-config-file": "nodes.conf",
                                "cluster-node-timeout": "5000"}, port=port, module=module)
            for port in (ports or (None,) * masters)
        ]

    def start(self) -> "RedisClusterProcs":
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 30
        while not all(b"cluster_state:ok" in n.client().execute_command("CLUSTER", "INFO") for n in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        return self

    def client(self, **kwargs) -> "redis.cluster.RedisCluster":
        import redis.cluster

        return redis.cluster.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, **kwargs)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()

    def __enter__(self) -> "RedisClusterProcs":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()
