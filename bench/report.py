"""docs/benchmarks.md: the prose lives in the doc; a run fills in only numbers.

The doc marks each generated part as `<!-- bench:NAME -->…<!-- /bench:NAME -->`,
inline (a number in a sentence) or around whole lines (the machine, the
summary, the tables). `fill` replaces what is between the markers and nothing
else; a marker the run has no value for is reported, and the doc is not written.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import redis
from npy_bytes import npy

from . import ROOT
from .harness import Bench
from .table import Table
from .units import MB

MARKER = re.compile(r"<!-- bench:([\w-]+) -->(.*?)<!-- /bench:\1 -->", re.S)


def fill(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """`text` with every marker's content replaced by its value, and the names
    of markers that have none."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            missing.append(name)
            return m.group(0)
        value = values[name]
        if "\n" in value or "\n" in m.group(2):
            value = "\n" + value.strip("\n") + "\n"
        return f"<!-- bench:{name} -->{value}<!-- /bench:{name} -->"

    return MARKER.sub(sub, text), missing


def _git_head() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def machine_info(b: Bench, module: Path) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    cpu = m.group(1).strip() if m else platform.processor() or "unknown"
    cores = len(re.findall(r"^processor\s*:", cpuinfo, re.M)) or os.cpu_count()
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    ram = f"{int(mem.group(1)) / (1 << 20):.1f} GiB" if mem else "unknown"
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
    counted = b.alloc_delta(("NP.SET", "np:alloccheck", npy(np.zeros(MB, dtype=np.uint8)))) >= MB // 2
    b.call("DEL", "np:alloccheck")
    if not counted:
        print("WARNING: the module's allocations are invisible to Redis (built with --features "
              "system-alloc?). Rebuild with `cargo build --release`; memory results are meaningless.", flush=True)
    shown = module.relative_to(ROOT) if module.is_relative_to(ROOT) else module
    return [
        f"- CPU: {cpu} × {cores} logical cores; RAM {ram}",
        f"- Kernel: `{u.system} {u.release} {u.version} {u.machine}`",
        f"- Redis {info.get('redis_version')} ({b.r.info('memory').get('mem_allocator', '?')}), "
        f"Python {platform.python_version()}, NumPy {np.__version__}, redis-py {redis.__version__}",
        f"- Module: `{shown}` (HEAD {_git_head()}, built "
        f"{_dt.datetime.fromtimestamp(module.stat().st_mtime):%Y-%m-%d %H:%M}); allocations "
        + ("go through Redis (RedisModule_Alloc)" if counted else "NOT seen by Redis: system-alloc build?"),
        f"- Memory first touch: {(t1 - t0) / pages * 1e6:.2f} µs per fresh 4 KiB page "
        f"(rewrite of touched memory: {(t2 - t1) / pages * 1e6:.2f} µs per page)",
    ]


def values(tables: list[Table], machine: list[str], images: list[str], quick: bool, elapsed: float) -> dict[str, str]:
    """Every marker's content for one run."""
    misses = [m for t in tables for m in t.misses]
    summary = (
        "\n".join([f"{len(misses)} target(s) missed:", ""] + [f"- {m}" for m in misses])
        if misses else "Every target was met."
    )
    out = {
        "run": f"`python -m bench{' --quick' if quick else ''}`"
        f"{' (quick mode: sizes capped, fewer repetitions)' if quick else ''}, "
        f"{_dt.datetime.now():%Y-%m-%d %H:%M}, {elapsed:.0f} s",
        "machine": "\n".join(machine),
        "summary": summary,
        "plots": "\n".join(f"![{Path(i).stem}]({i})" for i in images),
        "results": "\n".join(t.markdown() for t in tables),
    }
    for t in tables:
        out.update(t.facts)
    return out


def write_doc(path: Path, vals: dict[str, str]) -> None:
    text, missing = fill(path.read_text(), vals)
    if missing:
        raise SystemExit(f"{path}: no value for marker(s) {', '.join(missing)}; doc not written")
    path.write_text(text)
