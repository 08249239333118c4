"""Fixtures for the inspector's tests: the real `python -m redis_numpy.inspect`
process in front of a real redis-server with the module loaded."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Iterator

import pytest

from redis_server import free_port, stop_process


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


@dataclass
class Inspector:
    base: str
    proc: subprocess.Popen[bytes]

    def get(self, path: str, form: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        """Status, body and content type of GET path, or of POSTing `form`
        there (errors included; redirects are not followed)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with NO_REDIRECTS.open(self.base + path, data=data, timeout=60) as response:
                return response.status, response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers.get("content-type", "")


def start_inspector(url: str, *extra: str) -> Inspector:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_numpy.inspect", "--url", url, "--port", str(port), "--page-size", "50", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    inspector = Inspector(f"http://127.0.0.1:{port}/", proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"inspector exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            urllib.request.urlopen(inspector.base + "static/style.css", timeout=5).close()
            return inspector
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("inspector did not start")


def stop_inspector(inspector: Inspector) -> None:
    stop_process(inspector.proc, timeout=20)


@pytest.fixture(scope="module")
def inspector(redis_server) -> Iterator[Inspector]:
    found = start_inspector(f"redis://127.0.0.1:{redis_server.port}/0")
    yield found
    stop_inspector(found)
