"""Nearest-row search on the same data, side by side (docs/search.md):
NP.KNN, NumPy, faiss-cpu's exact IndexFlatIP, Redis 8's vector sets (HNSW
and their exact `TRUTH` scan) and hnswlib (HNSW), all by cosine similarity
(the one metric vector sets have), k = 10, one thread each.

    python -m bench.compare_search                  # 100,000 × 384 random-normal + digits
    python -m bench.compare_search --n 20000 --quick   # smaller
    make bench-search

NP.KNN and the vector set live in one Redis 8 server (the module loaded
into it; $REDIS8_SERVER or .redis8/bin/redis-server): their times are the
server's main-thread CPU time (INFO cpu; VSIM runs with NOTHREAD so its work
stays on that thread), the in-process libraries' the CPU time of this
thread (NumPy's BLAS held to one thread, faiss and hnswlib told one).
Build time is wall time: NP.SET of the matrix; NumPy's and faiss's
normalising the rows (and faiss's `add`); pipelined VADDs; hnswlib's
`add_items`. Memory is bytes per vector: MEMORY USAGE of the key, the library's own footprint otherwise. Recall@10 is measured
against the float64 exact top 10 of the same float32 vectors.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import redis
from npy_bytes import npy
from redis_server import RedisServer

from . import ROOT

K = 10
QUERIES = 64


@dataclass
class Row:
    method: str
    build_s: float
    bytes_per_vector: float
    one_ms: float
    batch_ms: float
    recall: float
    note: str = ""


def cpu(fn: Callable[[], object]) -> float:
    t = time.thread_time()
    fn()
    return time.thread_time() - t


def wall(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def server_cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])


def server_time(r: redis.Redis, fn: Callable[[], object], reps: int = 3) -> float:
    """Best main-thread CPU seconds of the server over `reps` runs of `fn`."""
    best = float("inf")
    for _ in range(reps):
        before = server_cpu(r)
        fn()
        best = min(best, server_cpu(r) - before)
    return best


def memory_usage(r: redis.Redis, key: str) -> int:
    """MEMORY USAGE of a key, every element counted."""
    return int(r.execute_command("MEMORY", "USAGE", key, "SAMPLES", 0))


def exact_top(x: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The float64 exact cosine top K of each query, (Q, K)."""
    x64, q64 = x.astype(np.float64), queries.astype(np.float64)
    sims = (q64 @ x64.T) / (np.linalg.norm(x64, axis=1)[None] * np.linalg.norm(q64, axis=1)[:, None])
    return np.argsort(-sims, axis=1, kind="stable")[:, :K]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def normalised(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def np_knn(r: redis.Redis, x: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> Row:
    build = wall(lambda: r.execute_command("NP.SET", "cmp:np", npy(x)))
    per_vector = memory_usage(r, "cmp:np") / len(x)
    args = ("K", K, "METRIC", "cosine")
    singles = [npy(q) for q in queries]
    one = server_time(r, lambda: [r.execute_command("NP.KNN", "cmp:np", q, *args) for q in singles]) / len(queries)
    batch_arg = npy(queries)
    batch = server_time(r, lambda: r.execute_command("NP.KNN", "cmp:np", batch_arg, *args))
    found = np.load(io.BytesIO(r.execute_command("NP.KNN", "cmp:np", batch_arg, *args)[0]))
    r.delete("cmp:np")
    return Row("NP.KNN (exact)", build, per_vector, one * 1e3, batch * 1e3, recall(found, truth))


def numpy_search(x: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> Row:
    holder: dict[str, np.ndarray] = {}
    build = wall(lambda: holder.update(xn=normalised(x)))
    xn, qn = holder["xn"], normalised(queries)

    def one(q: np.ndarray) -> np.ndarray:
        s = xn @ q
        top = np.argpartition(-s, K)[:K]
        return top[np.argsort(-s[top])]

    def batch() -> np.ndarray:
        s = xn @ qn.T
        top = np.argpartition(-s, K, axis=0)[:K].T
        return np.take_along_axis(top, np.argsort(-np.take_along_axis(s.T, top, axis=1), axis=1), axis=1)

    one_s = min(cpu(lambda: [one(q) for q in qn]) for _ in range(3)) / len(qn)
    batch_s = min(cpu(batch) for _ in range(3))
    return Row("NumPy `Xn @ q` + argpartition (exact)", build, xn.nbytes / len(xn), one_s * 1e3, batch_s * 1e3,
               recall(batch(), truth), "keeps the normalised copy `Xn`")


def faiss_search(x: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> Row:
    import faiss  # type: ignore[import-untyped,import-not-found,unused-ignore]

    faiss.omp_set_num_threads(1)
    index = faiss.IndexFlatIP(x.shape[1])
    build = wall(lambda: index.add(normalised(x)))
    qn = normalised(queries)
    one_s = min(cpu(lambda: [index.search(qn[i : i + 1], K) for i in range(len(qn))]) for _ in range(3)) / len(qn)
    threshold = faiss.cvar.distance_compute_blas_threshold
    faiss.cvar.distance_compute_blas_threshold = 1  # a batch of 64 takes the BLAS path
    try:
        batch_s = min(cpu(lambda: index.search(qn, K)) for _ in range(3))
        found = index.search(qn, K)[1]
    finally:
        faiss.cvar.distance_compute_blas_threshold = threshold
    return Row("faiss IndexFlatIP (exact)", build, index.code_size, one_s * 1e3, batch_s * 1e3, recall(found, truth),
               "normalised rows; BLAS path for the batch")


def vector_set(r: redis.Redis, x: np.ndarray, queries: np.ndarray, truth: np.ndarray, quant: str) -> list[Row]:
    key = f"cmp:vset:{quant}"

    def load() -> None:
        for start in range(0, len(x), 500):
            pipe = r.pipeline(transaction=False)
            for i in range(start, min(start + 500, len(x))):
                pipe.execute_command("VADD", key, "FP32", x[i].astype("<f4").tobytes(), str(i), quant)
            pipe.execute()

    build = wall(load)
    per_vector = memory_usage(r, key) / len(x)
    blobs = [q.astype("<f4").tobytes() for q in queries]
    rows = []
    for label, extra in [("HNSW, default EF", ()), ("exact `TRUTH`", ("TRUTH",))]:

        def search(blob: bytes, extra: tuple[str, ...] = extra) -> list[Any]:
            return list(r.execute_command("VSIM", key, "FP32", blob, "COUNT", K, *extra, "NOTHREAD"))

        reps = 3 if not extra else 1
        one = server_time(r, lambda: [search(b) for b in blobs], reps) / len(blobs)
        found = np.array([[int(e) for e in search(b)] for b in blobs])
        rows.append(Row(f"Redis 8 vector set {quant}, {label}", build, per_vector, one * 1e3, one * len(blobs) * 1e3,
                        recall(found, truth), "no batch form: 64 VSIMs"))
    r.delete(key)
    return rows


def hnswlib_search(x: np.ndarray, queries: np.ndarray, truth: np.ndarray, ef: int) -> Row:
    import hnswlib  # type: ignore[import-untyped,import-not-found,unused-ignore]

    index = hnswlib.Index(space="cosine", dim=x.shape[1])
    index.set_num_threads(1)

    def build() -> None:
        index.init_index(max_elements=len(x), M=16, ef_construction=200, random_seed=1)
        index.add_items(x, np.arange(len(x)), num_threads=1)

    build_s = wall(build)
    index.set_ef(ef)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.bin")
        index.save_index(path)
        per_vector = os.path.getsize(path) / len(x)
    one_s = min(cpu(lambda: [index.knn_query(q, k=K, num_threads=1) for q in queries]) for _ in range(3)) / len(queries)
    batch_s = min(cpu(lambda: index.knn_query(queries, k=K, num_threads=1)) for _ in range(3))
    found = index.knn_query(queries, k=K, num_threads=1)[0].astype(np.int64)
    return Row(f"hnswlib HNSW M=16, ef={ef}", build_s, per_vector, one_s * 1e3, batch_s * 1e3, recall(found, truth), "index file size")


def compare(r: redis.Redis, name: str, x: np.ndarray, queries: np.ndarray, quants: list[str]) -> list[Row]:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,import-not-found,unused-ignore]

    truth = exact_top(x, queries)
    rows: list[Row] = []
    print(f"{name}: NP.KNN", flush=True)
    rows.append(np_knn(r, x, queries, truth))
    with threadpool_limits(1):
        print(f"{name}: NumPy, faiss", flush=True)
        rows.append(numpy_search(x, queries, truth))
        rows.append(faiss_search(x, queries, truth))
    for quant in quants:
        print(f"{name}: vector set {quant}", flush=True)
        rows += vector_set(r, x, queries, truth, quant)
    print(f"{name}: hnswlib", flush=True)
    for ef in [10, 100]:
        rows.append(hnswlib_search(x, queries, truth, ef))
    return rows


def table(title: str, rows: list[Row]) -> str:
    lines = [
        f"**{title}**",
        "",
        "| method | build | bytes / vector | one query | batch of 64 | recall@10 | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.method} | {row.build_s:.2f} s | {row.bytes_per_vector:,.0f} | {row.one_ms:.3f} ms "
            f"| {row.batch_ms:.2f} ms | {row.recall:.3f} | {row.note} |"
        )
    return "\n".join(lines)


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.compare_search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000, help="rows of the random-normal matrix")
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--server", default=os.environ.get("REDIS8_SERVER") or str(ROOT / ".redis8" / "bin" / "redis-server"))
    p.add_argument("--quick", action="store_true", help="the random matrix's vector set quantised (Q8) only")
    args = p.parse_args()
    if not Path(args.server).is_file():
        p.error(f"no Redis 8 server at {args.server} (make .redis8/bin/redis-server builds one)")
    os.environ["REDIS_SERVER"] = args.server
    from sklearn.datasets import load_digits  # type: ignore[import-untyped,import-not-found,unused-ignore]

    rng = np.random.default_rng(0)
    with RedisServer() as server:
        r = server.client()
        version = r.info("server")["redis_version"]
        try:
            r.execute_command("VCARD", "cmp:absent")
        except redis.ResponseError as e:
            raise SystemExit(f"Redis {version} at {args.server} has no vector sets ({e})") from e
        digits = load_digits().data.astype(np.float32)
        out = [
            f"Machine: {machine()}; Redis {version} with the module; one thread each.",
            "",
            table(f"scikit-learn digits: {len(digits) - QUERIES:,} × 64 searched by the last {QUERIES} images",
                  compare(r, "digits", digits[:-QUERIES], digits[-QUERIES:], ["Q8", "NOQUANT"])),
            "",
        ]
        x = rng.standard_normal((args.n, args.d)).astype(np.float32)
        queries = rng.standard_normal((QUERIES, args.d)).astype(np.float32)
        quants = ["Q8"] if args.quick else ["Q8", "NOQUANT"]
        out.append(table(f"random normal: {args.n:,} × {args.d} float32, {QUERIES} random-normal queries",
                         compare(r, "random", x, queries, quants)))
    print()
    print("\n".join(out))


if __name__ == "__main__":
    main()
