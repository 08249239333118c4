"""Table b's write load: bench/writers/writers.c, built here.

redis-benchmark cannot send a `.npy` (its `-x` stops at the first zero
byte), so 50 clients writing arrays are driven by this small closed-loop
client instead: each connection sends a pre-packed command from a file and
waits for its reply. Built with the C compiler the Rust build already needs,
into target/bench/, as bench/floor.py builds table k's reference module; the
product never sees it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import ROOT
from .resp import pack

SOURCE = ROOT / "bench" / "writers" / "writers.c"
OUTPUT = ROOT / "target" / "bench" / "writers"


def build() -> Path:
    """The driver's path, compiled first if missing or older than its source."""
    if OUTPUT.is_file() and OUTPUT.stat().st_mtime >= SOURCE.stat().st_mtime:
        return OUTPUT
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(OUTPUT), str(SOURCE)], check=True)
    return OUTPUT


def requests_per_second(port: int, clients: int, requests: int, *command: bytes | str) -> float:
    """`clients` connections sending `command` until `requests` replies came back."""
    with tempfile.NamedTemporaryFile(prefix="redis-numpy-writers-") as f:
        f.write(pack(*command))
        f.flush()
        out = subprocess.run([str(build()), str(port), str(clients), str(requests), f.name],
                             capture_output=True, text=True, timeout=600)
    found = re.findall(r"([\d.]+) requests per second", out.stdout)
    if out.returncode != 0 or not found:
        raise RuntimeError(f"writers failed:\n{out.stdout}\n{out.stderr}")
    return float(found[-1])
