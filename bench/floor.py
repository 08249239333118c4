"""The reference module of tables k and a2: bench/floor/floor.c, built here.

FLOOR.SET stores its argument as a module value with the least work a module
data type write can do (see floor.c), so that table k can show, in the same
run and on the same server, what of NP.SET's cost is the module API's and
what is redis-numpy's. It is built with the C compiler that the Rust build
already needs (the redis-module crate compiles C too), against the
redismodule.h that crate vendors, into target/bench/; the product's module
and its tests never see it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from . import ROOT

SOURCE = ROOT / "bench" / "floor" / "floor.c"
OUTPUT = ROOT / "target" / "bench" / "libnpfloor.so"


def redismodule_include() -> Path:
    """The include directory of the redis-module crate this build resolved."""
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--manifest-path", str(ROOT / "Cargo.toml")],
        check=True, capture_output=True, text=True,
    ).stdout)
    for package in meta["packages"]:
        if package["name"] == "redis-module":
            include = Path(package["manifest_path"]).parent / "src" / "include"
            if (include / "redismodule.h").is_file():
                return include
    raise RuntimeError("redismodule.h not found in the redis-module crate (run `cargo build --release` first)")


def build() -> Path:
    """The reference module's path, compiled first if missing or older than its source."""
    if OUTPUT.is_file() and OUTPUT.stat().st_mtime >= SOURCE.stat().st_mtime:
        return OUTPUT
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [cc, "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror", "-I", str(redismodule_include()),
         "-o", str(OUTPUT), str(SOURCE)],
        check=True,
    )
    return OUTPUT
