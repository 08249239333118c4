"""Load: 50-client redis-benchmark readers (NP.GET / NP.SHAPE / NP.INFO) while a
Python generator writes (NP.SET, NP.APPEND, NP.SETSLICE) and the server runs
BGSAVE and BGREWRITEAOF. After every round each key is byte-exact against the
generator's record and memory does not grow from round to round."""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np

from npy_bytes import npy
from redis_server import RedisServer


KEYS = 50
ROUNDS = 4
ROUND_SECONDS = 4.0


def key(i: int) -> str:
    return f"arr:{i:012d}"  # redis-benchmark's __rand_int__ is 12 zero-padded digits


def writer(client, record: dict[str, np.ndarray], rng: np.random.Generator, stop: threading.Event) -> None:
    while not stop.is_set():
        i = int(rng.integers(KEYS))
        k = key(i)
        op = rng.integers(3)
        if op == 0:
            arr = rng.standard_normal((64, 32)).astype(np.float32)
            client.execute_command("NP.SET", k, npy(arr))
            record[k] = arr
        elif op == 1:
            row = int(rng.integers(64))
            value = rng.standard_normal(32).astype(np.float32)
            client.execute_command("NP.SETSLICE", k, str(row), npy(value))
            record[k][row] = value
        else:
            rows = rng.standard_normal((2, 8)).astype(np.int64)
            client.execute_command("NP.APPEND", "log", npy(rows))
            record["log"] = np.concatenate([record["log"], rows])


def wait_idle(client) -> None:
    while True:
        persistence = client.info("persistence")
        if not persistence["rdb_bgsave_in_progress"] and not persistence["aof_rewrite_in_progress"]:
            return
        time.sleep(0.05)


def test_mixed_load_with_bgsave_and_bgrewriteaof():
    config = {"appendonly": "yes", "appendfsync": "everysec"}
    with RedisServer(config=config) as server:
        client = server.client()
        rng = np.random.default_rng(5)
        record: dict[str, np.ndarray] = {}
        for i in range(KEYS):
            record[key(i)] = rng.standard_normal((64, 32)).astype(np.float32)
            client.execute_command("NP.SET", key(i), npy(record[key(i)]))
        record["log"] = np.zeros((0, 8), np.int64)
        wait_idle(client)  # Redis 7 rewrites the AOF once at startup with appendonly yes

        memory = []
        for round in range(ROUNDS):
            stop = threading.Event()
            thread = threading.Thread(target=writer, args=(server.client(), record, rng, stop))
            thread.start()
            readers = [
                subprocess.Popen(
                    ["redis-benchmark", "-p", str(server.port), "-c", "50", "-n", "1000000", "-r", str(KEYS),
                     "-q", *command, "arr:__rand_int__"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                )
                for command in (["NP.GET"], ["NP.SHAPE"], ["NP.INFO"])
            ]
            time.sleep(ROUND_SECONDS / 4)
            assert client.bgsave()
            time.sleep(ROUND_SECONDS / 4)
            wait_idle(client)
            assert client.bgrewriteaof()
            time.sleep(ROUND_SECONDS / 2)
            for reader in readers:
                reader.terminate()
            outputs = [reader.communicate(timeout=30)[0] for reader in readers]
            stop.set()
            thread.join(timeout=30)
            wait_idle(client)
            for output in outputs:
                assert "rror" not in output, output
            assert server.alive()

            for k, arr in record.items():
                assert client.execute_command("NP.GET", k) == npy(arr), f"{k} differs after round {round}"
            # Keep the data size constant across rounds: the log restarts each round.
            record["log"] = np.zeros((0, 8), np.int64)
            client.execute_command("NP.SET", "log", npy(record["log"]))
            info = client.info("memory")
            memory.append((info["used_memory"], info["used_memory_rss"]))

        calls = {name: stats["calls"] for name, stats in client.info("commandstats").items()}
        for command in ("np.get", "np.shape", "np.info"):
            assert calls.get(f"cmdstat_{command}", 0) > 10_000, calls  # the readers really ran
        assert calls["cmdstat_np.setslice"] > 100 and calls["cmdstat_np.append"] > 100, calls

        # Round 0 warms the allocator up; later rounds must not grow.
        used = [m[0] for m in memory[1:]]
        rss = [m[1] for m in memory[1:]]
        assert max(used) <= min(used) * 1.05 + (1 << 20), memory
        assert rss[-1] <= rss[0] * 1.25 + (16 << 20), memory

        # Everything also survives a restart from the AOF written under load.
        server.restart()
        client = server.client()
        for k, arr in record.items():
            assert client.execute_command("NP.GET", k) == npy(arr)
