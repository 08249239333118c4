"""The exporter command line of docs/monitoring/ (README.md and the comment of
prometheus.yml) starts the redis_exporter that Debian ships and exports the
INFO numpy fields through numpy-info.lua."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from redis_numpy import Numpy
from redis_server import free_port

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
# Upstream's binary name, and Debian's (package prometheus-redis-exporter).
EXPORTER = shutil.which("redis_exporter") or shutil.which("prometheus-redis-exporter")


def documented_commands() -> list[list[str]]:
    """Each `redis_exporter … --script=…numpy-info.lua` command line the
    monitoring docs give, as argv: README.md's, then prometheus.yml's."""
    readme = (MONITORING / "README.md").read_text()
    yml = (MONITORING / "prometheus.yml").read_text()
    texts = re.findall(r"^(redis_exporter .*?)(?<!\\)\n", readme, re.M | re.S)
    comment = "\n".join(line.lstrip("#").strip() for line in yml.splitlines() if line.startswith("#"))
    texts += re.findall(r"^(redis_exporter .*?)(?<!\\)\n", comment, re.M | re.S)
    argvs = [shlex.split(text.replace("\\\n", " ")) for text in texts]
    return [argv for argv in argvs if any(a.endswith("/numpy-info.lua") for a in argv)]


def test_docs_give_the_command():
    commands = documented_commands()
    assert len(commands) == 2, "README.md and prometheus.yml each give one"
    assert commands[0] == commands[1], "the two give the same command"


@pytest.mark.skipif(EXPORTER is None, reason="no redis_exporter (make test-inspect installs Debian's)")
@pytest.mark.parametrize("source", [0, 1], ids=["README.md", "prometheus.yml"])
def test_documented_command_starts_and_exports_info_numpy(redis_server, r, source):
    Numpy(r).set("a", np.arange(10, dtype=np.int32))
    Numpy(r).set("b", np.zeros(3))
    port = free_port()
    argv = [EXPORTER]
    for arg in documented_commands()[source][1:]:
        if arg.startswith("--redis.addr="):
            arg = f"--redis.addr=redis://127.0.0.1:{redis_server.port}"
        elif arg.startswith("--script="):
            arg = f"--script={MONITORING / 'numpy-info.lua'}"
        argv.append(arg)
    argv.append(f"--web.listen-address=127.0.0.1:{port}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        metrics = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the exporter exited ({proc.returncode}): {proc.stdout.read() if proc.stdout else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                    metrics = reply.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert re.search(r"^redis_up(\{[^}]*\})? 1$", metrics, re.M), metrics[:2000]
        values = dict(re.findall(r'^redis_script_values\{[^}]*key="(numpy_[a-z_0-9]+)"[^}]*\} (\S+)$', metrics, re.M))
        assert float(values["numpy_arrays"]) == 2
        assert float(values["numpy_data_bytes"]) == 40 + 24
    finally:
        proc.terminate()
        proc.wait(timeout=10)
