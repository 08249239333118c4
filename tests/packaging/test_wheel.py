"""The client as users get it: `python -m build` makes an sdist and a wheel with the
metadata PyPI shows, and the wheel installs in a fresh venv and works against a
real server. Run by `make test-package` (it downloads numpy and redis-py from PyPI)."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "python-client"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(CLIENT)], check=True, capture_output=True)
    return out


def version() -> str:
    namespace: dict[str, str] = {}
    init = (CLIENT / "src" / "redis_numpy" / "__init__.py").read_text()
    exec(next(line for line in init.splitlines() if line.startswith("__version__")), namespace)
    return namespace["__version__"]


def test_sdist_and_wheel_carry_the_package_and_its_metadata(dist):
    v = version()
    (wheel,) = dist.glob(f"redis_numpy-{v}-py3-none-any.whl")
    (sdist,) = dist.glob(f"redis_numpy-{v}.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {"redis_numpy/__init__.py", "redis_numpy/client.py", "redis_numpy/py.typed"} <= names
        assert not any(n.startswith("tests/") for n in names)
        meta = email.message_from_bytes(zf.read(f"redis_numpy-{v}.dist-info/METADATA"))
    assert meta["Name"] == "redis-numpy" and meta["Version"] == v
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["License-Expression"] == "MIT"
    classifiers = set(meta.get_all("Classifier"))
    assert {"Typing :: Typed", "Topic :: Database", "Programming Language :: Python :: 3 :: Only"} <= classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    # The Python versions listed start where Requires-Python does.
    pythons = sorted(tuple(map(int, c.rsplit(" ", 1)[1].split("."))) for c in classifiers
                     if c.startswith("Programming Language :: Python :: 3."))
    assert pythons[0] == tuple(map(int, meta["Requires-Python"].removeprefix(">=").split("."))), pythons
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues"}, urls
    assert all(url.startswith("https://github.com/redis-numpy/redis-numpy") for url in urls.values()), urls
    assert "hiredis" in meta.get_all("Provides-Extra")
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("redis>=") for r in requires) and any(r.startswith("numpy>=") for r in requires)
    assert any(r.startswith("hiredis") and 'extra == "hiredis"' in r for r in requires)
    assert "NumPy arrays in, NumPy arrays out" in meta.get_payload(), "the README is the long description"
    with tarfile.open(sdist) as tf:
        assert f"redis_numpy-{v}/src/redis_numpy/py.typed" in tf.getnames()


def test_wheel_installs_in_a_fresh_venv_and_works(dist, tmp_path, redis_server):
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=600)
    script = f"""
import numpy as np, redis, redis_numpy
from redis_numpy import Numpy
assert redis_numpy.__version__ == {version()!r}
arrays = Numpy(redis.Redis(port={redis_server.port}))
arrays.set("wheel", np.arange(6.0).reshape(2, 3))
assert np.array_equal(arrays.get("wheel"), np.arange(6.0).reshape(2, 3))
print(redis_numpy.__file__)
"""
    out = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(venv) in out, "imported from the venv, not from the checkout"
