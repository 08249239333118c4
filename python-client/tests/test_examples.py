"""The example scripts run against a real server; the typed example also passes
`mypy --strict`, and mypy catches a misuse of the client's return types."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SRC = Path(__file__).resolve().parents[1] / "src"


def run_example(name: str, port: int) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--port", str(port)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_store_and_fetch(redis_server, r):
    out = run_example("store_and_fetch.py", redis_server.port)
    assert "example:image: (1080, 1920, 3) uint8 round-tripped" in out
    assert "shape after append: (10002, 384)" in out


def test_typed_usage_runs(redis_server, r, needs):
    needs("NP.MGET", "NP.MSET", "NP.SET options", "NP.SET GET", "NP.APPEND MAXLEN")
    assert "typed example ran" in run_example("typed_usage.py", redis_server.port)


def mypy(*paths: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy", reason="mypy is installed by the test extra")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", "/dev/null", *paths],
        capture_output=True,
        text=True,
        cwd=SRC,
        timeout=600,
    )


def test_mypy_strict_checks_what_commands_return(tmp_path):
    misuse = tmp_path / "misuse.py"
    misuse.write_text(textwrap.dedent("""
        import numpy as np, redis, redis.asyncio
        from redis_numpy import Numpy

        arrays = Numpy(redis.Redis())
        rows: int = arrays.get("k")                 # Optional[NDArray], not int
        shape: tuple[int, ...] = arrays.shape("k")  # Optional: the key may be missing
        memory: str = arrays.info("k")["memory"]    # Optional, and memory is an int
        async_arrays = Numpy(redis.asyncio.Redis())
        got = async_arrays.get("k")
        got.shape                                   # an Awaitable: not awaited
    """))
    client = [f"redis_numpy/{name}.py" for name in ("__init__", "client", "commands", "npy")]
    proc = mypy(str(misuse), str(EXAMPLES / "typed_usage.py"), *client)
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert {line.split(": error")[0].rsplit(":", 1)[-1] for line in errors} == {"6", "7", "8", "11"}, proc.stdout
    assert all(line.startswith(str(misuse)) for line in errors), "the typed example and the client pass"
