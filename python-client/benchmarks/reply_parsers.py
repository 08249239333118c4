"""Array reads through the client with redis-py's pure-Python reply parser and with
hiredis (`pip install 'redis-numpy[hiredis]'`), in one run on one server.

    python python-client/benchmarks/reply_parsers.py [--port 6379] [--markdown]

Without --port it starts its own redis-server with the module (the repository's
tests/support/redis_server.py). Prints a table of median times and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import redis

from redis_numpy import Numpy

REPO_ROOT = Path(__file__).resolve().parents[2]


def parsers() -> dict[str, Any]:
    from redis._parsers import _HiredisParser, _RESP2Parser

    try:
        import hiredis  # noqa: F401
    except ImportError:
        sys.exit("hiredis is not installed: pip install 'redis-numpy[hiredis]'")
    return {"pure Python": _RESP2Parser, "hiredis": _HiredisParser}


def median_time(fn: Callable[[], object], budget: float = 1.0, at_least: int = 5) -> float:
    fn()  # warm up
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < at_least or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if len(times) >= 2000:
            break
    return statistics.median(times)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} µs"


def run(port: int) -> list[tuple[str, float, float]]:
    rng = np.random.default_rng(0)
    cases: list[tuple[str, Callable[[Any], object]]] = []
    setup = Numpy(redis.Redis(port=port))
    for label, shape in (("get 16 KiB", (4096,)), ("get 1 MiB", (262144,)), ("get 16 MiB", (4194304,))):
        key = f"bench:hiredis:{label}"
        setup.set(key, rng.standard_normal(shape).astype(np.float32))
        cases.append((label, lambda arrays, key=key: arrays.get(key)))
    setup.set("bench:hiredis:rows", rng.standard_normal((100_000, 384)).astype(np.float32))
    cases.append(("get 256 rows of float32[384] (SLICE)",
                  lambda arrays: arrays.get("bench:hiredis:rows", slice=np.s_[1000:1256])))
    cases.append(("values of 10,000 float64 (VALUES)",
                  lambda arrays: arrays.values("bench:hiredis:rows", slice=np.s_[0:26, :384], as_dtype=np.float64)))
    setup.close()

    results = []
    clients = {name: Numpy(redis.Redis(connection_pool=redis.ConnectionPool(port=port, parser_class=cls))) for name, cls in parsers().items()}
    for label, case in cases:
        pure, fast = (median_time(lambda arrays=arrays: case(arrays)) for arrays in clients.values())
        results.append((label, pure, fast))
    for arrays in clients.values():
        arrays.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    if args.port:
        results = run(args.port)
    else:
        sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))
        from redis_server import RedisServer

        with RedisServer() as server:
            results = run(server.port)
    if args.markdown:
        print("| read | pure-Python parser | hiredis | hiredis speed-up |")
        print("|---|---|---|---|")
        for label, pure, fast in results:
            print(f"| {label} | {fmt(pure)} | {fmt(fast)} | {pure / fast:.2f}× |")
    else:
        for label, pure, fast in results:
            print(f"{label:<40} pure Python {fmt(pure):>10}   hiredis {fmt(fast):>10}   {pure / fast:.2f}x")


if __name__ == "__main__":
    main()
