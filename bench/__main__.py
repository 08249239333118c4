"""redis-numpy benchmarks, each reported as a ratio against plain Redis.

Starts its own redis-server (no persistence, free loopback port, temporary
--dir) with the module loaded, runs the workloads of bench/workloads/, prints
one Markdown table per workload and, on a full run, fills the numbers into
docs/benchmarks.md and redraws the plots under docs/img/.

    python -m bench                 # full run, under 10 minutes on 2 cores
    python -m bench --quick         # about a minute, smaller sizes
    python -m bench --only getset,slice
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from . import ROOT, floor, targets
from .harness import Bench, start_server, stop_server
from .plots import write_plots
from .report import machine_info, values, write_doc
from .table import Table
from .workloads import WORKLOADS

# The client is the measuring instrument: keep glibc from handing big reply
# buffers back to the kernel after each call, so client-side page faults (very
# costly on some VMs) do not add noise to big GET / NP.GET timings. The server
# runs with its defaults.
CLIENT_MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 36)}


def reexec_with_client_malloc_env() -> None:
    if os.environ.get("REDIS_NUMPY_BENCH_REEXEC") or sys.platform != "linux":
        return
    env = dict(os.environ, REDIS_NUMPY_BENCH_REEXEC="1", **CLIENT_MALLOC_ENV)
    os.execve(sys.executable, [sys.executable, "-m", "bench", *sys.argv[1:]], env)


def parse_args() -> argparse.Namespace:
    names = [w.name for w in WORKLOADS]
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="~1 minute: sizes capped at 64 MiB, fewer repetitions")
    p.add_argument("--only", help=f"comma-separated workloads ({', '.join(names)}); prints, does not write the doc")
    p.add_argument("--module", type=Path, default=ROOT / "target" / "release" / "libredis_numpy.so",
                   help="path of libredis_numpy.so")
    p.add_argument("--redis-benchmark", default=shutil.which("redis-benchmark"))
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md",
                   help="Markdown report to fill in (plots go to img/ next to it)")
    p.add_argument("--no-doc", action="store_true", help="print the tables only")
    args = p.parse_args()
    if args.only:
        unknown = set(args.only.split(",")) - set(names)
        if unknown:
            p.error(f"unknown workload(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return args


def main() -> int:
    args = parse_args()
    reexec_with_client_malloc_env()
    selected = [w for w in WORKLOADS if not args.only or w.name in args.only.split(",")]
    module = args.module.resolve()
    if not module.exists():
        print(f"{module} not found: run `cargo build --release` first", file=sys.stderr)
        return 2
    if any(w.name == "clients" for w in selected) and not args.redis_benchmark:
        print("redis-benchmark not found (make system-deps installs redis-tools)", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"redis-numpy benchmarks ({'quick' if args.quick else 'full'}), module {module}", flush=True)
    server = start_server(module, floor.build())
    tables: list[Table] = []
    try:
        b = Bench(server, args.quick, args.redis_benchmark)
        machine = machine_info(b, module)
        print("\n".join(machine), flush=True)
        for w in selected:
            t0 = time.monotonic()
            for t in w.run(b):
                tables.append(t)
                print()
                print(t.markdown(), flush=True)
            print(f"  ({w.name}: {time.monotonic() - t0:.1f} s)", flush=True)
        elapsed = time.monotonic() - started
        tables.sort(key=lambda t: t.key)
        misses = [m for t in tables for m in t.misses]
        print(f"\nDone in {elapsed:.0f} s. " + (f"{len(misses)} target(s) missed:" if misses else "Every target met."))
        for m in misses:
            print(f"  - {m}")
        if not args.no_doc and not args.only:
            images = write_plots(b.plot_data, args.doc.parent / "img")
            vals = values(tables, machine, images, args.quick, elapsed)
            vals.update(targets.facts())
            write_doc(args.doc, vals)
            print(f"wrote {args.doc} and {len(images)} plots under {args.doc.parent / 'img'}")
    finally:
        stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
