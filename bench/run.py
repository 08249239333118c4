#!/usr/bin/env python3
"""redis-numpy benchmarks, each reported as a ratio against plain Redis.

Starts its own redis-server (no persistence, free loopback port, temporary
--dir) with the module loaded, and compares every NP.* workload with the
plain-Redis command doing the same job on the same bytes, in the same run:

  a) NP.SET / NP.GET vs SET / GET of the same .npy bytes (single client)
  b) NP.GET vs GET with 50 clients (redis-benchmark)
  c) NP.SHAPE / NP.INFO on a huge array vs a 4-byte one
  d) MEMORY USAGE of an array vs its nbytes and vs the same .npy as a string
  e) SAVE time, RDB size and DEBUG RELOAD time, arrays vs strings
  f) 100 000 single-row NP.APPENDs: time per append, first vs last 10 %
  g) NP.GET ... SLICE of one row, 1 MB vs 1 GB matrix (if the server has SLICE)
  h) Python end to end with the redis_numpy client (if it imports)

Prints one Markdown table per workload, writes docs/benchmarks.md and PNG
plots under docs/img/ (when matplotlib is installed).

    python bench/run.py            # full run, under 10 minutes on 2 cores
    python bench/run.py --quick    # about a minute, smaller sizes
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import io
import os
import pickle
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODULE = ROOT / "target" / "release" / "libredis_numpy.so"

KB = 1 << 10
MB = 1 << 20
GB = 1 << 30


# --------------------------------------------------------------------------- helpers


def human(n: float) -> str:
    for unit, size in (("GiB", GB), ("MiB", MB), ("KiB", KB)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{int(n)} B"


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.3f}×"


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def make_array(dtype: str, nbytes: int, rng: np.random.Generator, shape_cols: int | None = None) -> np.ndarray:
    dt = np.dtype(dtype)
    n = max(1, nbytes // dt.itemsize)
    if dt.kind == "f":
        arr = rng.random(n, dtype=np.float32 if dt.itemsize == 4 else np.float64).astype(dt, copy=False)
    elif dt.kind == "c":
        arr = rng.random(2 * n).view(np.complex128).astype(dt, copy=False)
    else:
        arr = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max, size=n, dtype=dt, endpoint=True)
    if shape_cols:
        arr = arr.reshape(-1, shape_cols)
    return arr


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "**miss**")


class Table:
    def __init__(self, key: str, title: str, columns: list[str]):
        self.key, self.title, self.columns = key, title, columns
        self.rows: list[list[str]] = []
        self.notes: list[str] = []
        self.misses: list[str] = []
        self.skipped: str | None = None

    def add(self, *cells, miss_label: str | None = None, ok: bool | None = None):
        self.rows.append([str(c) for c in cells])
        if ok is False and miss_label:
            self.misses.append(miss_label)

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        if self.skipped:
            out += [f"skipped: {self.skipped}", ""]
            return "\n".join(out)
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join("---" for _ in self.columns) + "|")
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        out.append("")
        return "\n".join(out)


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, redis_server: str, module: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="redis-numpy-bench-"))
        self.log = self.dir / "redis.log"
        # Load a private copy, so a rebuild during the run cannot change what is measured.
        self.module = self.dir / module.name
        shutil.copy2(module, self.module)
        last_error = ""
        for _ in range(5):
            self.port = free_port()
            cmd = [
                redis_server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.log),
                "--enable-debug-command",
                "local",
                "--loadmodule",
                str(self.module),
            ]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready():
                self.cmdline = " ".join(c if c else "''" for c in cmd)
                return
            last_error = self._log_tail()
            self.stop(remove=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        raise SystemExit(f"redis-server did not start:\n{last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return True
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
            except redis.exceptions.ResponseError:  # LOADING
                time.sleep(0.05)
        return False

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return (self.proc.stderr.read() or b"").decode(errors="replace") if self.proc.stderr else ""

    def stop(self, remove: bool = True):
        if self.proc.poll() is None:
            try:
                redis.Redis(port=self.port, socket_timeout=30).shutdown(nosave=True)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


class Bench:
    def __init__(self, server: Server, quick: bool):
        self.server = server
        self.port = server.port
        self.quick = quick
        self.r = redis.Redis(port=self.port, decode_responses=False, protocol=2, socket_timeout=600)
        self.conn = redis.Connection(port=self.port, decode_responses=False, protocol=2, socket_timeout=600)
        self.conn.connect()
        self.rng = np.random.default_rng(20240531)
        self.plot_data: dict = {}

    def reconnect(self):
        clients = int(self.r.info("clients")["connected_clients"])
        self.conn.disconnect()
        deadline = time.monotonic() + 5
        while int(self.r.info("clients")["connected_clients"]) >= clients and time.monotonic() < deadline:
            time.sleep(0.002)
        self.conn.connect()

    def call(self, *args):
        self.conn.send_command(*args)
        return self.conn.read_response()

    def timed(self, *args) -> float:
        t = time.perf_counter()
        self.conn.send_command(*args)
        self.conn.read_response()
        return time.perf_counter() - t

    def cmdstats(self) -> dict:
        return self.r.info("commandstats")

    def usec_per_call(self, stats: dict, cmd: str) -> float | None:
        entry = stats.get(f"cmdstat_{cmd.lower()}")
        return float(entry["usec_per_call"]) if entry else None

    def used_memory(self) -> int:
        return int(self.r.info("memory")["used_memory"])

    def alloc_delta(self, *commands: tuple) -> int:
        """Change of used_memory caused by `commands`, pipelined on a short-lived
        connection and measured after that client (and its query buffer) is freed."""
        clients = int(self.r.info("clients")["connected_clients"])
        before = self.used_memory()
        client = redis.Redis(port=self.port, decode_responses=False, protocol=2, socket_timeout=600)
        pipe = client.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        pipe.execute()
        client.close()
        client.connection_pool.disconnect()
        deadline = time.monotonic() + 5
        while int(self.r.info("clients")["connected_clients"]) > clients and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.used_memory() - before


def pair_times(fa, fb, reps: int) -> tuple[list[float], list[float]]:
    """Interleaves a and b (alternating which goes first) so drift hits both."""
    ta, tb = [], []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for i in range(reps):
            if i % 2 == 0:
                ta.append(fa())
                tb.append(fb())
            else:
                tb.append(fb())
                ta.append(fa())
    finally:
        if gc_was:
            gc.enable()
    return ta, tb


def stat(times: list[float], nbytes: int = 0) -> float:
    """Median of many repetitions; best-of-N for few repetitions or for payloads
    of 1 MiB and more, whose times are bimodal (fresh vs reused pages)."""
    return statistics.median(times) if len(times) >= 15 and nbytes < MB else min(times)


def stat_name(reps: int, nbytes: int = 0) -> str:
    return "median" if reps >= 15 and nbytes < MB else "best"


def reps_for(nbytes: int, quick: bool) -> int:
    if quick:
        return max(5, min(500, (192 * MB) // max(nbytes, 1)))
    return max(8, min(1500, GB // max(nbytes, 1)))


def getset_target(nbytes: int) -> float:
    return 1.05 if nbytes >= 64 * KB else 1.15


# --------------------------------------------------------------------------- a) + d)


def workload_getset(b: Bench) -> list[Table]:
    max_size = 64 * MB if b.quick else 256 * MB
    sizes = []
    s = 64
    while s <= max_size:
        sizes.append(("float32", s))
        s *= 4
    extra = [KB, MB] if b.quick else [KB, MB, 16 * MB]
    for dt in ("int8", "complex128"):
        sizes += [(dt, n) for n in extra]

    a = Table(
        "a",
        "a) NP.SET / NP.GET vs SET / GET of the same .npy bytes (single client, redis-py)",
        [
            "dtype",
            "data",
            "reps",
            "SET",
            "NP.SET",
            "ratio",
            "GET",
            "NP.GET",
            "ratio",
            "server SET / NP.SET",
            "server ratio",
            "server GET / NP.GET",
            "server ratio",
            "target",
            "result",
        ],
    )
    a.notes.append(
        "Times are client round trips (send + server + reply + parse); ratio = NP / plain. "
        "Median of interleaved calls below 1 MiB; best of N at 1 MiB and above or when N < 15."
    )
    a.notes.append(
        "Server columns: `INFO commandstats` usec_per_call after `CONFIG RESETSTAT` for each pair; "
        "they exclude network and client time, so they magnify any server-side difference."
    )
    d = Table(
        "d",
        "d) Memory: MEMORY USAGE of the array key vs nbytes and vs the same .npy as a plain string",
        [
            "data (nbytes)",
            ".npy",
            "MEMORY USAGE array",
            "MEMORY USAGE string",
            "array − nbytes",
            "array / nbytes",
            "array / string",
            "alloc Δ array",
            "alloc Δ string",
            "target",
            "result",
        ],
    )
    d.notes.append(
        "MEMORY USAGE includes the key (dict entry + key name); the result column judges it. "
        "`alloc Δ` is the change of INFO used_memory per key when k keys (k = 1 for big arrays, up to 1000 "
        "for small ones) are written from a fresh connection, measured after that client is freed: what "
        "the allocator really handed out, including jemalloc size-class rounding and the key's dict entry "
        "(± a few bytes of hash-table growth), as bytes and × nbytes. A big alloc Δ with a passing MEMORY "
        "USAGE is listed in the summary."
    )
    plot = {
        "sizes": [],
        "SET": [],
        "NP.SET": [],
        "GET": [],
        "NP.GET": [],
        "mem_np": [],
        "mem_str": [],
        "alloc_np": [],
        "alloc_str": [],
    }

    for dtype, nbytes in sizes:
        arr = make_array(dtype, nbytes, b.rng)
        payload = npy_bytes(arr)
        reps = reps_for(nbytes, b.quick)
        kn, ks = b"n:a", b"s:a"  # same length: same key overhead
        b.call("DEL", kn, ks)

        # memory first, on fresh keys
        if dtype == "float32":
            # allocator view: average over k keys so small sizes are not lost in noise;
            # reconnect first so the big query buffer of the last size is freed, not trimmed mid-measure
            b.reconnect()
            k = max(1, min(1000, (8 if b.quick else 32) * MB // arr.nbytes))
            deltas = []
            for cmd, prefix in (("NP.SET", "n:m:"), ("SET", "s:m:")):
                keys = [f"{prefix}{i:04d}" for i in range(k)]
                deltas.append(b.alloc_delta(*[(cmd, key, payload) for key in keys]) / k)
                for i in range(0, k, 500):
                    b.call("DEL", *keys[i : i + 500])
            da, ds = (round(x) for x in deltas)
            b.call("NP.SET", kn, payload)
            b.call("SET", ks, payload)
            mu_np = int(b.call("MEMORY", "USAGE", kn, "SAMPLES", "0"))
            mu_str = int(b.call("MEMORY", "USAGE", ks, "SAMPLES", "0"))
            over = mu_np - arr.nbytes
            if arr.nbytes >= MB:
                ok = mu_np <= 1.01 * arr.nbytes
                tgt = "≤ 1.01× nbytes"
            else:
                ok = over <= 256
                tgt = "≤ nbytes + 256 B"
            d.add(
                human(arr.nbytes),
                human(len(payload)),
                mu_np,
                mu_str,
                f"{over} B",
                f"{mu_np / arr.nbytes:.3f}×",
                f"{mu_np / mu_str:.3f}×",
                f"{da} ({da / arr.nbytes:.3f}×)",
                f"{ds} ({ds / arr.nbytes:.3f}×)",
                tgt,
                verdict(ok),
                ok=ok,
                miss_label=f"d) memory {human(arr.nbytes)}: {mu_np} B for {arr.nbytes} B of data",
            )
            plot["mem_np"].append(mu_np / arr.nbytes)
            plot["mem_str"].append(mu_str / arr.nbytes)
            plot["alloc_np"].append(da / arr.nbytes)
            plot["alloc_str"].append(ds / arr.nbytes)
            if arr.nbytes >= MB and da > 1.01 * arr.nbytes and ok:
                d.misses.append(
                    f"d) {human(arr.nbytes)}: MEMORY USAGE passes ({mu_np / arr.nbytes:.3f}×) but the "
                    f"allocator handed out {da / arr.nbytes:.3f}× nbytes (see alloc Δ)"
                )
        else:
            b.call("NP.SET", kn, payload)
            b.call("SET", ks, payload)
        assert b.call("NP.GET", kn) == payload, "NP.GET must return the np.save bytes"

        b.call("CONFIG", "RESETSTAT")
        t_set, t_npset = pair_times(lambda: b.timed("SET", ks, payload), lambda: b.timed("NP.SET", kn, payload), reps)
        st = b.cmdstats()
        s_set, s_npset = b.usec_per_call(st, "set"), b.usec_per_call(st, "np.set")
        b.call("CONFIG", "RESETSTAT")
        t_get, t_npget = pair_times(lambda: b.timed("GET", ks), lambda: b.timed("NP.GET", kn), reps)
        st = b.cmdstats()
        s_get, s_npget = b.usec_per_call(st, "get"), b.usec_per_call(st, "np.get")

        r_set = stat(t_npset, arr.nbytes) / stat(t_set, arr.nbytes)
        r_get = stat(t_npget, arr.nbytes) / stat(t_get, arr.nbytes)
        target = getset_target(arr.nbytes)
        ok = r_set <= target and r_get <= target
        bad = [n for n, r in (("NP.SET", r_set), ("NP.GET", r_get)) if r > target]
        a.add(
            dtype,
            human(arr.nbytes),
            f"{reps} ({stat_name(reps, arr.nbytes)})",
            fmt_time(stat(t_set, arr.nbytes)),
            fmt_time(stat(t_npset, arr.nbytes)),
            fmt_ratio(r_set),
            fmt_time(stat(t_get, arr.nbytes)),
            fmt_time(stat(t_npget, arr.nbytes)),
            fmt_ratio(r_get),
            f"{fmt_time(s_set / 1e6)} / {fmt_time(s_npset / 1e6)}",
            fmt_ratio(s_npset / s_set) if s_set else "—",
            f"{fmt_time(s_get / 1e6)} / {fmt_time(s_npget / 1e6)}",
            fmt_ratio(s_npget / s_get) if s_get else "—",
            f"≤ {target}×",
            verdict(ok),
            ok=ok,
            miss_label=f"a) {dtype} {human(arr.nbytes)}: "
            + ", ".join(f"{n} {r:.3f}× > {target}×" for n, r in (("NP.SET", r_set), ("NP.GET", r_get)) if n in bad),
        )
        if dtype == "float32":
            plot["sizes"].append(arr.nbytes)
            for name, ts in (("SET", t_set), ("NP.SET", t_npset), ("GET", t_get), ("NP.GET", t_npget)):
                plot[name].append(len(payload) / stat(ts, arr.nbytes) / MB)
        b.call("DEL", kn, ks)
        print(f"  a) {dtype:>10} {human(arr.nbytes):>8}: NP.SET {r_set:.3f}×  NP.GET {r_get:.3f}×", flush=True)
        arr = payload = None  # free before the next size is built
    b.plot_data["getset"] = plot
    return [a, d]


# --------------------------------------------------------------------------- b)


def workload_clients(b: Bench, redis_benchmark: str | None) -> list[Table]:
    t = Table(
        "b",
        "b) 50 clients: redis-benchmark -c 50 NP.GET vs GET",
        ["data", "requests", "GET req/s", "NP.GET req/s", "time ratio (GET rps / NP.GET rps)", "target", "result"],
    )
    if not redis_benchmark:
        t.skipped = "redis-benchmark not found"
        return [t]
    # about 0.5 s (quick) or 1.5–3 s per redis-benchmark run on 2 cores
    if b.quick:
        cases, rounds = [(KB, 40_000), (64 * KB, 15_000), (MB, 800)], 2
    else:
        cases, rounds = [(KB, 150_000), (64 * KB, 50_000), (MB, 3_000)], 3
    t.notes.append(
        f"Best of {rounds} alternating runs per command; `-q` requests/sec. "
        "Server and benchmark share the machine's cores."
    )
    for nbytes, n in cases:
        payload = npy_bytes(make_array("float32", nbytes, b.rng))
        b.call("NP.SET", "np:rb", payload)
        b.call("SET", "str:rb", payload)
        best = {"GET": 0.0, "NP.GET": 0.0}
        for _ in range(rounds):
            for cmd, key in (("GET", "str:rb"), ("NP.GET", "np:rb")):
                out = subprocess.run(
                    [redis_benchmark, "-h", "127.0.0.1", "-p", str(b.port), "-c", "50", "-n", str(n), "-q", cmd, key],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                found = re.findall(r"([\d.]+) requests per second", out.stdout)
                if not found:
                    raise RuntimeError(f"cannot parse redis-benchmark output:\n{out.stdout}\n{out.stderr}")
                best[cmd] = max(best[cmd], float(found[-1]))
        ratio = best["GET"] / best["NP.GET"]
        target = getset_target(nbytes)
        ok = ratio <= target
        t.add(
            human(nbytes),
            n,
            f"{best['GET']:.0f}",
            f"{best['NP.GET']:.0f}",
            fmt_ratio(ratio),
            f"≤ {target}×",
            verdict(ok),
            ok=ok,
            miss_label=f"b) 50 clients {human(nbytes)}: {ratio:.3f}× > {target}×",
        )
        print(
            f"  b) {human(nbytes):>8}: GET {best['GET']:.0f} rps, NP.GET {best['NP.GET']:.0f} rps, {ratio:.3f}×",
            flush=True,
        )
    b.call("DEL", "np:rb", "str:rb")
    return [t]


# --------------------------------------------------------------------------- c)


def workload_metadata(b: Bench) -> list[Table]:
    big = 64 * MB if b.quick else 256 * MB
    t = Table(
        "c",
        f"c) Metadata: NP.SHAPE / NP.INFO on a {human(big)} array vs a 4-byte array",
        [
            "command",
            "4 B array",
            f"{human(big)} array",
            "ratio",
            "server µs (4 B / big)",
            "server ratio",
            "target",
            "result",
        ],
    )
    b.call("NP.SET", "np:small", npy_bytes(make_array("float32", 4, b.rng)))
    b.call("NP.SET", "np:big", npy_bytes(make_array("float32", big, b.rng).reshape(-1, 256)))
    reps = 1000 if b.quick else 4000
    t.notes.append(f"Median of {reps} interleaved calls each.")
    for cmd in ("NP.SHAPE", "NP.INFO"):
        b.call("CONFIG", "RESETSTAT")
        ts, tb = pair_times(lambda: b.timed(cmd, "np:small"), lambda: b.timed(cmd, "np:big"), reps)
        # server-side: separate runs so the two keys do not share one commandstats entry
        b.call("CONFIG", "RESETSTAT")
        for _ in range(reps):
            b.call(cmd, "np:small")
        s_small = b.usec_per_call(b.cmdstats(), cmd)
        b.call("CONFIG", "RESETSTAT")
        for _ in range(reps):
            b.call(cmd, "np:big")
        s_big = b.usec_per_call(b.cmdstats(), cmd)
        ratio = stat(tb) / stat(ts)
        ok = ratio <= 1.1
        t.add(
            cmd,
            fmt_time(stat(ts)),
            fmt_time(stat(tb)),
            fmt_ratio(ratio),
            f"{s_small:.2f} / {s_big:.2f}",
            fmt_ratio(s_big / s_small) if s_small else "—",
            "≤ 1.1×",
            verdict(ok),
            ok=ok,
            miss_label=f"c) {cmd} big/small {ratio:.3f}× > 1.1×",
        )
        print(f"  c) {cmd}: {ratio:.3f}×", flush=True)
    b.call("DEL", "np:small", "np:big")
    return [t]


# --------------------------------------------------------------------------- e)


def workload_persistence(b: Bench) -> list[Table]:
    total = 256 * MB if b.quick else GB
    chunk = 64 * MB
    count = total // chunk
    reps = 1 if b.quick else 2
    t = Table(
        "e",
        f"e) Persistence: {human(total)} as {count} arrays of {human(chunk)} vs the same .npy bytes as strings",
        ["measure", "strings", "arrays", "ratio", "target", "result"],
    )
    t.notes.append(
        f"Random float32 data (incompressible, rdbcompression on as by default). Best of {reps}. "
        "DEBUG RELOAD = SAVE + flush + load; `NOSAVE` = load only."
    )
    payloads = [npy_bytes(make_array("float32", chunk, b.rng)) for _ in range(count)]
    rdb = b.server.dir / "dump.rdb"
    results = {}
    for kind, cmd in (("strings", "SET"), ("arrays", "NP.SET")):
        b.call("FLUSHALL")
        for i, p in enumerate(payloads):
            b.call(cmd, f"persist:{i}", p)
        save = min(b.timed("SAVE") for _ in range(reps))
        size = rdb.stat().st_size
        reload_ = min(b.timed("DEBUG", "RELOAD") for _ in range(reps))
        load = min(b.timed("DEBUG", "RELOAD", "NOSAVE") for _ in range(reps))
        got = b.call("NP.GET" if kind == "arrays" else "GET", f"persist:{count - 1}")
        assert got == payloads[-1], f"{kind}: data differs after reload"
        results[kind] = {"save": save, "size": size, "reload": reload_, "load": load}
        print(f"  e) {kind}: SAVE {save:.2f}s, RDB {size} B, RELOAD {reload_:.2f}s, load {load:.2f}s", flush=True)
    b.call("FLUSHALL")
    rdb.unlink(missing_ok=True)
    s, a = results["strings"], results["arrays"]
    rows = [
        ("SAVE time", fmt_time(s["save"]), fmt_time(a["save"]), a["save"] / s["save"], None),
        ("RDB file size", f"{s['size']} B", f"{a['size']} B", a["size"] / s["size"], 1.01),
        ("DEBUG RELOAD time", fmt_time(s["reload"]), fmt_time(a["reload"]), a["reload"] / s["reload"], 1.1),
        ("DEBUG RELOAD NOSAVE (load only)", fmt_time(s["load"]), fmt_time(a["load"]), a["load"] / s["load"], 1.1),
    ]
    for name, sv, av, ratio, target in rows:
        ok = None if target is None else ratio <= target
        t.add(
            name,
            sv,
            av,
            fmt_ratio(ratio),
            "—" if target is None else f"≤ {target}×",
            verdict(ok),
            ok=ok,
            miss_label=f"e) {name}: {ratio:.3f}× > {target}×",
        )
    return [t]


# --------------------------------------------------------------------------- f)


class RawPipe:
    """Sends pre-packed pipelines on a raw socket and counts one-line replies."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run(self, packed: bytes, replies: int) -> float:
        t = time.perf_counter()
        self.sock.sendall(packed)
        seen, tail = 0, b""
        while seen < replies:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("connection closed")
            if b"-" in chunk and re.search(rb"(^|\n)-", tail + chunk):
                raise RuntimeError(f"error reply: {(tail + chunk)[:200]!r}")
            seen += chunk.count(b"\n")
            tail = chunk[-1:]
        return time.perf_counter() - t

    def close(self):
        self.sock.close()


def pack(*args: bytes | str) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        parts += [b"$%d\r\n" % len(a), a, b"\r\n"]
    return b"".join(parts)


def workload_append(b: Bench) -> list[Table]:
    total = 100_000
    batch = 1000
    row = npy_bytes(make_array("float32", 512, b.rng))  # shape (128,) float32
    t = Table(
        "f",
        f"f) Append: {total:,} single-row NP.APPEND calls (row = 128 float32, {len(row)} B .npy) in pipelines of {batch}",
        [
            "command",
            "first 10 %: µs/append",
            "last 10 %: µs/append",
            "last / first",
            "server µs/call first → last",
            "server last / first",
            "target",
            "result",
        ],
    )
    t.notes.append(
        "Client time per append = pipeline batch time / batch size (raw socket, pre-packed commands). "
        "Plain APPEND of the same bytes to a string is the baseline. Server columns: commandstats "
        "reset before the first and the last 10 %."
    )
    tenth = total // batch // 10
    batches = total // batch
    pipe = RawPipe(b.port)
    try:
        b.call("DEL", "np:app", "str:app")
        b.call("NP.SET", "np:app", npy_bytes(np.zeros((0, 128), dtype=np.float32)))
        results = {}
        for cmd, key in (("APPEND", "str:app"), ("NP.APPEND", "np:app")):
            packed = pack(cmd, key, row) * batch
            times, server = [], {}
            for i in range(batches):
                if i == 0 or i == batches - tenth:
                    b.call("CONFIG", "RESETSTAT")
                times.append(pipe.run(packed, batch))
                if i == tenth - 1 or i == batches - 1:
                    server["first" if i == tenth - 1 else "last"] = b.usec_per_call(b.cmdstats(), cmd)
            first = sum(times[:tenth]) / (tenth * batch)
            last = sum(times[-tenth:]) / (tenth * batch)
            results[cmd] = (first, last, server)
        shape = b.call("NP.SHAPE", "np:app")
        assert [int(x) for x in shape] == [total, 128], shape
        assert int(b.call("STRLEN", "str:app")) == total * len(row)
    finally:
        pipe.close()
        b.call("DEL", "np:app", "str:app")
    for cmd, (first, last, server) in results.items():
        ratio = last / first
        target = 1.2 if cmd == "NP.APPEND" else None
        ok = None if target is None else ratio <= target
        sratio = server["last"] / server["first"] if server.get("first") else None
        t.add(
            cmd,
            f"{first * 1e6:.2f}",
            f"{last * 1e6:.2f}",
            fmt_ratio(ratio),
            f"{server['first']:.2f} → {server['last']:.2f}",
            fmt_ratio(sratio),
            "≤ 1.2×" if target else "(baseline)",
            verdict(ok),
            ok=ok,
            miss_label=f"f) NP.APPEND last/first {ratio:.3f}× > 1.2×",
        )
        print(f"  f) {cmd}: first {first * 1e6:.2f} µs, last {last * 1e6:.2f} µs, {ratio:.3f}×", flush=True)
    np_first, np_last, _ = results["NP.APPEND"]
    s_first, s_last, _ = results["APPEND"]
    t.notes.append(
        f"NP.APPEND / APPEND: {np_first / s_first:.3f}× in the first 10 %, {np_last / s_last:.3f}× in the last 10 %."
    )
    return [t]


# --------------------------------------------------------------------------- g)


def workload_slice(b: Bench) -> list[Table]:
    big = 256 * MB if b.quick else GB
    cols = 256  # float32 → 1 KiB rows
    t = Table(
        "g",
        f"g) Slice: NP.GET key SLICE <row> of one row, 1 MiB vs {human(big)} matrix",
        ["matrix", "shape", "µs / slice", "ratio", "target", "result"],
    )
    b.call("NP.SET", "np:probe", npy_bytes(np.zeros((2, 2), dtype=np.float32)))
    try:
        b.call("NP.GET", "np:probe", "SLICE", "0")
    except redis.exceptions.ResponseError as e:
        t.skipped = f"this build does not support `NP.GET key SLICE 0` ({e})"
        return [t]
    finally:
        b.call("DEL", "np:probe")
    old_limit = b.r.config_get("numpy.max-array-bytes").get(b"numpy.max-array-bytes")
    b.call("CONFIG", "SET", "numpy.max-array-bytes", str(2 * big))
    try:
        small = make_array("float32", MB, b.rng, cols)
        b.call("NP.SET", "np:slice_small", npy_bytes(small))
        chunk = make_array("float32", min(big, 64 * MB), b.rng, cols)
        b.call("NP.SET", "np:slice_big", npy_bytes(chunk))
        for _ in range(big // chunk.nbytes - 1):
            b.call("NP.APPEND", "np:slice_big", npy_bytes(chunk))
        rows_small, rows_big = small.shape[0], big // (cols * 4)
        mid_s, mid_b = str(rows_small // 2), str(rows_big // 2)
        got = np.load(io.BytesIO(b.call("NP.GET", "np:slice_small", "SLICE", mid_s)))
        assert np.array_equal(got.reshape(-1), small[rows_small // 2]), "SLICE returned the wrong row"
        reps = 500 if b.quick else 2000
        ts, tb = pair_times(
            lambda: b.timed("NP.GET", "np:slice_small", "SLICE", mid_s),
            lambda: b.timed("NP.GET", "np:slice_big", "SLICE", mid_b),
            reps,
        )
        ratio = stat(tb) / stat(ts)
        ok = ratio <= 1.2
        t.add("1 MiB", f"({rows_small}, {cols})", f"{stat(ts) * 1e6:.1f}", "1 (baseline)", "", "")
        t.add(
            human(big),
            f"({rows_big}, {cols})",
            f"{stat(tb) * 1e6:.1f}",
            fmt_ratio(ratio),
            "≤ 1.2×",
            verdict(ok),
            ok=ok,
            miss_label=f"g) slice big/small {ratio:.3f}× > 1.2×",
        )
        t.notes.append(f"Median of {reps} interleaved calls; the row is the middle one.")
        print(f"  g) slice: {ratio:.3f}×", flush=True)
    finally:
        b.call("DEL", "np:slice_small", "np:slice_big")
        if old_limit is not None:
            b.call("CONFIG", "SET", "numpy.max-array-bytes", old_limit)
    return [t]


# --------------------------------------------------------------------------- h)


def import_client():
    try:
        import redis_numpy  # noqa: F401

        return redis_numpy, None
    except ImportError as e:
        return None, f"`import redis_numpy` failed ({e}); install python-client (make python-deps)"


def workload_python(b: Bench) -> list[Table]:
    t = Table(
        "h",
        "h) Python end to end: redis_numpy client vs hand-rolled serialisation (set + get round trip)",
        [
            "data",
            "reps",
            "client",
            "raw SET/GET of .npy",
            "pickle + SET/GET",
            "np.save/np.load + SET/GET",
            "client / raw",
            "client / pickle",
            "client / np.save",
        ],
    )
    mod, why = import_client()
    if mod is None:
        t.skipped = why
        return [t]
    try:
        nc = mod.Numpy(b.r)
        probe = np.arange(6, dtype=np.float32).reshape(2, 3)
        nc.set("py:probe", probe)
        back = nc.get("py:probe")
        assert np.array_equal(back, probe) and back.dtype == probe.dtype, "client round trip differs"
        b.call("DEL", "py:probe")
    except Exception as e:  # an API still being written: report, do not fail the run
        t.skipped = f"redis_numpy client not usable: {type(e).__name__}: {e}"
        return [t]
    t.notes.append(
        f"redis_numpy from {getattr(mod, '__file__', '?')}. Each time = one set + one get "
        "(client: `Numpy(r).set` / `.get`; raw: SET/GET of precomputed np.save bytes, no (de)serialisation; "
        "pickle protocol 5). Median or best of N as in a)."
    )
    r = b.r
    sizes = [KB, 16 * KB, 256 * KB, 4 * MB, 16 * MB] if b.quick else [KB, 16 * KB, 256 * KB, 4 * MB, 64 * MB]
    for nbytes in sizes:
        arr = make_array("float32", nbytes, b.rng)
        payload = npy_bytes(arr)
        reps = reps_for(nbytes, b.quick)

        def client():
            t0 = time.perf_counter()
            nc.set("py:c", arr)
            nc.get("py:c")
            return time.perf_counter() - t0

        def raw():
            t0 = time.perf_counter()
            r.set("py:r", payload)
            r.get("py:r")
            return time.perf_counter() - t0

        def pkl():
            t0 = time.perf_counter()
            r.set("py:p", pickle.dumps(arr, protocol=5))
            pickle.loads(r.get("py:p"))
            return time.perf_counter() - t0

        def npsave():
            t0 = time.perf_counter()
            buf = io.BytesIO()
            np.save(buf, arr)
            r.set("py:n", buf.getvalue())
            np.load(io.BytesIO(r.get("py:n")))
            return time.perf_counter() - t0

        tc, traw = pair_times(client, raw, reps)
        tp, tn = pair_times(pkl, npsave, reps)
        c, rw, p, n = (stat(x, nbytes) for x in (tc, traw, tp, tn))
        t.add(
            human(nbytes),
            f"{reps} ({stat_name(reps, nbytes)})",
            fmt_time(c),
            fmt_time(rw),
            fmt_time(p),
            fmt_time(n),
            fmt_ratio(c / rw),
            fmt_ratio(c / p),
            fmt_ratio(c / n),
        )
        print(
            f"  h) {human(nbytes):>8}: client/raw {c / rw:.3f}×  client/pickle {c / p:.3f}×  client/np.save {c / n:.3f}×",
            flush=True,
        )
        r.delete("py:c", "py:r", "py:p", "py:n")
    return [t]


# --------------------------------------------------------------------------- report


def machine_info(b: Bench, module: Path) -> list[str]:
    cpu, cores = "unknown", os.cpu_count()
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        cores = len(re.findall(r"^processor\s*:", text, re.M)) or cores
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / (1 << 20):.1f} GiB"
    except (OSError, AttributeError):
        pass
    u = platform.uname()
    info = b.r.info("server")
    # First touch of fresh memory: on some VMs every new page costs microseconds,
    # which dominates any command that allocates and fills a big buffer.
    fresh = np.empty(64 * MB, dtype=np.uint8)
    t0 = time.perf_counter()
    fresh.fill(1)
    t1 = time.perf_counter()
    fresh.fill(2)
    t2 = time.perf_counter()
    del fresh
    pages = 64 * MB // 4096
    # Are the module's allocations seen by Redis (RedisModule_Alloc), or was the
    # .so built with the system-alloc feature (e.g. by `cargo bench` in the same target dir)?
    payload = npy_bytes(np.zeros(MB, dtype=np.uint8))
    counted = b.alloc_delta(("NP.SET", "np:alloccheck", payload)) >= MB // 2
    b.call("DEL", "np:alloccheck")
    if not counted:
        print(
            "WARNING: the module's allocations are invisible to Redis (built with --features "
            "system-alloc?). Rebuild with `cargo build --release`; memory results are meaningless.",
            file=sys.stderr,
            flush=True,
        )
    commit = "unknown"
    try:
        head = (ROOT / ".git" / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = ROOT / ".git" / ref
            if ref_file.exists():
                commit = ref_file.read_text().strip()[:12]
            else:
                packed = (ROOT / ".git" / "packed-refs").read_text()
                m = re.search(rf"^([0-9a-f]{{40}}) {re.escape(ref)}$", packed, re.M)
                commit = m.group(1)[:12] if m else commit
        else:
            commit = head[:12]
    except OSError:
        pass
    return [
        f"- CPU: {cpu} × {cores} logical cores; RAM {mem}",
        f"- Kernel: `{u.system} {u.release} {u.version} {u.machine}`",
        f"- Redis {info.get('redis_version')} ({b.r.info('memory').get('mem_allocator', '?')}), "
        f"Python {platform.python_version()}, NumPy {np.__version__}, redis-py {redis.__version__}",
        f"- Module: `{module.relative_to(ROOT) if module.is_relative_to(ROOT) else module}` "
        f"(HEAD {commit}, built {_dt.datetime.fromtimestamp(module.stat().st_mtime):%Y-%m-%d %H:%M}); "
        f"allocations {'go through Redis (RedisModule_Alloc)' if counted else 'NOT seen by Redis: system-alloc build?'}",
        f"- Memory first touch: {(t1 - t0) / pages * 1e6:.2f} µs per fresh 4 KiB page "
        f"(rewrite of touched memory: {(t2 - t1) / pages * 1e6:.2f} µs per page)",
    ]


def size_axis(ax, sizes: list[int]):
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes[::2])
    ax.set_xticklabels([human(s) for s in sizes[::2]])
    ax.minorticks_off()


def finish(fig, ax, path: Path):
    import matplotlib.pyplot as plt

    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(b: Bench, img_dir: Path) -> list[str]:
    data = b.plot_data.get("getset")
    if not data or not data["sizes"]:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib is not installed: plots skipped (pip install matplotlib)", flush=True)
        return []
    img_dir.mkdir(parents=True, exist_ok=True)
    sizes = data["sizes"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {
        "GET": ("tab:blue", "--", "o"),
        "NP.GET": ("tab:blue", "-", "s"),
        "SET": ("tab:orange", "--", "o"),
        "NP.SET": ("tab:orange", "-", "s"),
    }
    for name, (color, ls, marker) in styles.items():
        ax.plot(sizes, data[name], ls, color=color, marker=marker, label=name, markersize=4)
    size_axis(ax, sizes)
    ax.set_yscale("log")
    ax.set_xlabel("array data size (float32)")
    ax.set_ylabel("throughput (MB/s of .npy, single client)")
    ax.set_title("NP.GET / NP.SET vs GET / SET of the same .npy bytes")
    finish(fig, ax, img_dir / "throughput.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(sizes, data["mem_np"], "-s", color="tab:blue", label="array: MEMORY USAGE", markersize=4)
    ax.plot(sizes, data["mem_str"], "-o", color="tab:orange", label="string of the .npy: MEMORY USAGE", markersize=4)
    ax.plot(sizes, data["alloc_np"], ":s", color="tab:blue", label="array: allocated (used_memory Δ)", markersize=3)
    ax.plot(sizes, data["alloc_str"], ":o", color="tab:orange", label="string: allocated (used_memory Δ)", markersize=3)
    ax.axhline(1.01, color="grey", lw=0.8, ls=":", label="1.01× nbytes")
    size_axis(ax, sizes)
    ax.set_yscale("log")
    ax.set_yticks([1, 1.25, 1.5, 2, 3, 4, 6, 8])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("array data size (nbytes)")
    ax.set_ylabel("bytes per key ÷ nbytes")
    ax.set_title("Memory per key vs array size")
    finish(fig, ax, img_dir / "memory.png")
    return ["img/throughput.png", "img/memory.png"]


HOW_TO_READ = """\
## How to read these tables

- Every number that matters is a **ratio against plain Redis measured in the
  same run, on the same machine, with the same bytes**: NP command time ÷ plain
  command time (or array ÷ string for sizes). 1.00× means "costs exactly what
  a string costs"; above 1 is slower or bigger. Absolute times depend on the
  machine and are only there for context.
- Client times include the loopback network and redis-py. Server columns come
  from `INFO commandstats` (usec_per_call after `CONFIG RESETSTAT`), which
  excludes both, so they expose server-side work that the client times dilute:
  e.g. plain `SET` of a big value adopts Redis's query buffer without copying,
  whereas `NP.SET` validates and copies the data into its own 64-byte-aligned
  buffer.
- Plain and NP calls are interleaved (alternating which goes first). Below
  1 MiB a row is the median of many calls; from 1 MiB up it is the best of N,
  because big-payload times are bimodal (reused vs freshly faulted pages, which
  cost microseconds per 4 KiB page on some VMs: see "Memory first touch"
  above). The client runs with glibc told to keep freed memory
  (`MALLOC_MMAP_MAX_=0`, `MALLOC_TRIM_THRESHOLD_`) so its own page faults do not
  add noise; the server runs with its defaults. On a small shared machine
  expect ±3–5 % noise on single-client ratios; rerun before trusting a 1.06×.
- Memory: `MEMORY USAGE` is what Redis reports (for arrays, the module's
  mem_usage callback); `alloc Δ` is what the allocator really handed out
  (INFO used_memory before/after writing the keys), which includes jemalloc's
  size-class rounding: with 4 size classes per doubling, a power-of-two array
  plus its 128-byte `.npy` header lands in the next class, 1.25× the data.
- `pass` / `**miss**` compare a row with its target (shown in the row).
  Targets: NP.GET / NP.SET ≤ 1.05× at ≥ 64 KiB and ≤ 1.15× below; metadata
  ≤ 1.1×; MEMORY USAGE ≤ 1.01× nbytes at ≥ 1 MiB and ≤ nbytes + 256 B below;
  RDB size ≤ 1.01×; reload ≤ 1.1×; append last/first ≤ 1.2×; slice ≤ 1.2×.
  Rows with "—" are informational.
"""


WHY_MISSED = """\
## Where targets are missed, and why

Measured on this machine; each miss was profiled (`perf record` on
redis-server, `INFO commandstats`) before being accepted.

- **NP.SET at 256 KiB – 4 MiB (≈ 1.1–1.35×).** For arguments of 32 KiB or
  more, plain `SET` adopts Redis's query buffer as the value: zero copies.
  `NP.SET` must copy the data once, into a 64-byte-aligned buffer laid out as
  `.npy` header + data (the query buffer's data starts 9 bytes into a page, so
  it cannot be viewed as typed slices, and the header must be the canonical
  one). That memcpy is the whole difference (server time ≈ 30 µs per MiB).
  Overwriting a key with a same-sized array reuses the old buffer, so no fresh
  pages are faulted in; before that change NP.SET was 1.6× at ≥ 16 MiB
  (`perf`: 40 % of server time in page faults), now ≈ 1.1×. NP.SET of a new
  key still faults its pages in: ≈ 1.6× at ≥ 16 MiB on this VM.
- **Python client round trip (≈ 1.04–1.17× raw SET/GET).** The same NP.SET copy,
  plus the client's own copy of the data into the outgoing `.npy` buffer
  (a RESP argument must be one contiguous string). Reads are zero-copy
  (`np.frombuffer` on the reply) and headers are parsed once per shape (cached).
  The client is faster than `pickle` or `np.save`/`np.load` + SET/GET.
- **Memory of small arrays (nbytes + 312 B; target + 256 B).** A plain string
  of the same `.npy` costs nbytes + 208 B. The extra 104 B: the decoded value
  (dtype, the inline 8-dimension `SmallVec` shape, the buffer handle) besides
  the 128-byte header kept in front of the data so that `NP.GET` is one copy.
- **Memory at ≥ 256 KiB (1.25× nbytes for power-of-two sizes).** `MEMORY USAGE`
  reports the allocator's real block, as Redis does for strings. jemalloc has 4
  size classes per doubling, so a power-of-two array plus its 128-byte header
  lands in the next class: exactly what a plain string of the same `.npy` costs
  (array / string = 1.000×). Keeping the header apart would make the data
  block exact, but every `NP.GET` would then pay a second full copy to join
  them (≈ 1.3× GET at 64 MiB); we keep `NP.GET` as fast as `GET`.
- **RDB loads** were 1.4× strings' with encoding version 1 (one array-sized
  data string: Redis's buffer, then the module's, both faulted in). Version 2
  writes the data in 1 MiB strings copied through one warm buffer: loads are
  now on par with strings or faster.
"""


def write_doc(path: Path, tables: list[Table], machine: list[str], images: list[str], args, elapsed: float):
    misses = [m for t in tables for m in t.misses]
    lines = [
        "# Benchmarks",
        "",
        "<!-- generated by bench/run.py; do not edit by hand -->",
        "",
        "Reproduce with:",
        "",
        "```",
        "make bench",
        "```",
        "",
        "which builds the module and runs `python bench/run.py` "
        "(add `--quick` for a ~1 minute run with smaller sizes).",
        "",
        f"This run: `python bench/run.py{' --quick' if args.quick else ''}`"
        f"{' (quick mode: sizes capped, fewer repetitions)' if args.quick else ''}, "
        f"{_dt.datetime.now():%Y-%m-%d %H:%M}, {elapsed:.0f} s.",
        "",
        "## Machine",
        "",
        *machine,
        "- Server: `redis-server --save '' --appendonly no --loadmodule … --dir <tmp>` "
        "(plus `--enable-debug-command local` for DEBUG RELOAD), fresh per run",
        "",
        "## Summary",
        "",
    ]
    if misses:
        lines.append(f"{len(misses)} target(s) missed:")
        lines.append("")
        lines += [f"- {m}" for m in misses]
    else:
        lines.append("Every target was met.")
    lines.append("")
    lines.append(WHY_MISSED)
    if images:
        lines += ["## Plots", ""]
        lines += [f"![{Path(i).stem}]({i})" for i in images]
        lines.append("")
    else:
        lines += ["Plots were not generated (matplotlib missing); `make bench` installs it.", ""]
    lines += ["## Results", ""]
    lines += [t.markdown() for t in tables]
    lines.append(HOW_TO_READ)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------- main


# The client is the measuring instrument: keep glibc from handing big reply
# buffers back to the kernel after each call, so client-side page faults (very
# costly on some VMs) do not add noise to big GET / NP.GET timings. The server
# runs with its defaults.
CLIENT_MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 36)}


def reexec_with_client_malloc_env():
    if os.environ.get("REDIS_NUMPY_BENCH_REEXEC") or sys.platform != "linux":
        return
    env = dict(os.environ, REDIS_NUMPY_BENCH_REEXEC="1", **CLIENT_MALLOC_ENV)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="~1 minute: sizes capped at 64 MiB, fewer repetitions")
    p.add_argument("--only", default="abcdefgh", help="workloads to run, e.g. 'ac' (d runs with a; default: all)")
    p.add_argument("--module", type=Path, default=DEFAULT_MODULE, help="path of libredis_numpy.so")
    p.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    p.add_argument("--redis-benchmark", default=shutil.which("redis-benchmark"))
    p.add_argument(
        "--doc",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="Markdown report to write (plots go to img/ next to it)",
    )
    p.add_argument("--no-doc", action="store_true", help="print the tables only")
    args = p.parse_args()
    reexec_with_client_malloc_env()

    module = args.module.resolve()
    if not module.exists():
        print(f"{module} not found: run `cargo build --release` first", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"redis-numpy benchmarks ({'quick' if args.quick else 'full'}), module {module}", flush=True)
    server = Server(args.redis_server, module)
    tables: list[Table] = []
    try:
        b = Bench(server, args.quick)
        machine = machine_info(b, module)
        print("\n".join(machine), flush=True)
        only = set(args.only)
        steps = [
            ("ad", lambda: workload_getset(b)),
            ("b", lambda: workload_clients(b, args.redis_benchmark)),
            ("c", lambda: workload_metadata(b)),
            ("e", lambda: workload_persistence(b)),
            ("f", lambda: workload_append(b)),
            ("g", lambda: workload_slice(b)),
            ("h", lambda: workload_python(b)),
        ]
        for letters, run in steps:
            if not only & set(letters):
                continue
            t0 = time.monotonic()
            new = run()
            for t in new:
                if t.key in only or letters == "ad":
                    tables.append(t)
                    print()
                    print(t.markdown(), flush=True)
            print(f"  ({time.monotonic() - t0:.1f} s)", flush=True)
        elapsed = time.monotonic() - started
        tables.sort(key=lambda t: t.key)
        misses = [m for t in tables for m in t.misses]
        print(f"\nDone in {elapsed:.0f} s. " + (f"{len(misses)} target(s) missed:" if misses else "Every target met."))
        for m in misses:
            print(f"  - {m}")
        if not args.no_doc:
            images = write_plots(b, args.doc.parent / "img")
            write_doc(args.doc, tables, machine, images, args, elapsed)
            print(f"wrote {args.doc}" + (f" and {len(images)} plots under {args.doc.parent / 'img'}" if images else ""))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
