"""What README.md tells an operator before they start is true of the Makefile:
where the module runs, how `make run` picks its port and where it keeps data."""

from __future__ import annotations

import re
import subprocess

from redis_server import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def make_dry_run(*args: str) -> str:
    done = subprocess.run(["make", "-n", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_says_up_front_where_the_module_runs():
    before_quick_start = README.split("## Quick start")[0]
    for fact in ("Redis 7.0 or later", "Valkey 8 or later", "Managed services", "cannot run it"):
        assert fact in before_quick_start, fact


def test_make_run_port_and_data_directory_are_as_documented():
    m = re.search(r"`make run PORT=(\d+)`", README)
    assert m, "README says how to pick make run's port"
    command = [line for line in make_dry_run("run", f"PORT={m.group(1)}").splitlines() if "redis-server" in line]
    assert command and f"--port {m.group(1)}" in command[-1], command
    assert "--dir run " in command[-1] and "`run/`" in README, "README names the RDB directory make run uses"
    default = [line for line in make_dry_run("run").splitlines() if "redis-server" in line][-1]
    assert "--port 6379" in default and "port 6379" in README
