"""DNS rebinding: the inspector answers only requests whose Host header names
it (loopback names, its bound address, --allow-host names), over real HTTP."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from conftest import start_inspector, stop_inspector
from redis_numpy.inspect.hosts import HostCheck, host_name


def get_with_host(base: str, path: str, host: str | None) -> tuple[int, str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.mark.parametrize("host", ["localhost", "localhost:8008", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8008", "LOCALHOST"])
def test_loopback_names_are_answered(inspector, host):
    status, _ = get_with_host(inspector.base, "/static/style.css", host)
    assert status == 200


@pytest.mark.parametrize("path", ["/", "/array?key=x", "/api/stats", "/static/style.css", "/preview.png?key=x"])
@pytest.mark.parametrize("host", ["attacker.example:8008", "attacker.example", "localhost.attacker.example", "127.0.0.1.nip.io"])
def test_other_names_are_refused_with_a_reason(inspector, path, host):
    status, body = get_with_host(inspector.base, path, host)
    assert status == 403
    assert repr(host) in body and "DNS rebinding" in body and "--allow-host" in body


def test_a_request_without_host_is_refused(inspector):
    # HTTP/1.1 requires Host: the server itself refuses the request.
    status, _ = get_with_host(inspector.base, "/", None)
    assert status in (400, 403)


def test_allow_host_adds_a_name(redis_server):
    proxied = start_inspector(f"redis://127.0.0.1:{redis_server.port}/0", "--allow-host", "inspect.internal",
                              "--allow-host", "Other.Example")
    try:
        for host in ("inspect.internal", "inspect.internal:443", "other.example", "localhost"):
            assert get_with_host(proxied.base, "/static/style.css", host)[0] == 200, host
        assert get_with_host(proxied.base, "/static/style.css", "attacker.example")[0] == 403
    finally:
        stop_inspector(proxied)


def test_host_rules():
    assert host_name("[::1]:8008") == "::1" and host_name("LocalHost.:80") == "localhost"
    assert host_name("::1") == "::1"
    loop = HostCheck("127.0.0.1")
    assert not loop.allows("10.0.0.5") and not loop.allows("")
    bound = HostCheck("192.0.2.7")
    assert bound.allows("192.0.2.7:8008") and not bound.allows("192.0.2.8")
    # Bound to every interface: any address literal (no name to rebind), still no foreign name.
    anywhere = HostCheck("0.0.0.0")
    assert anywhere.allows("192.0.2.8:8008") and anywhere.allows("[2001:db8::1]")
    assert not anywhere.allows("attacker.example")
