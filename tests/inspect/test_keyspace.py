"""The list over a large keyspace, against a real redis-server: pages fill to
exactly the page size (resuming inside a SCAN batch), a selective MATCH or a
dtype/shape filter still fills a page, a SCAN budget bounds each request and
offers more, and the largest arrays are ranked across the keyspace."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from conftest import start_inspector, stop_inspector
from redis_numpy import Numpy
from test_pages import listed_keys, next_link


def fill_strings(r, n: int, prefix: str = "other") -> None:
    with r.pipeline(transaction=False) as pipe:
        for start in range(0, n, 5000):
            pipe.mset({f"{prefix}:{i}": "x" for i in range(start, min(start + 5000, n))})
        pipe.execute()


def walk(inspector, path: str) -> tuple[list[list[str]], list[bytes]]:
    pages, bodies = [], []
    while path:
        status, body, _ = inspector.get(path)
        assert status == 200, body[:500]
        pages.append(listed_keys(body))
        bodies.append(body)
        path = next_link(body)
        assert len(pages) < 100
    return pages, bodies


def test_pages_hold_exactly_the_page_size(r, inspector):
    arrays = Numpy(r)
    want = {f"arr:{n:03d}" for n in range(230)}
    for key in want:
        arrays.set(key, np.zeros(3))
    fill_strings(r, 2000)
    pages, _ = walk(inspector, "?page_size=100")
    assert [len(p) for p in pages] == [100, 100, 30]
    seen = [k for p in pages for k in p]
    assert sorted(seen) == sorted(want) and len(seen) == len(set(seen))
    pages, _ = walk(inspector, "?page_size=7")
    assert all(len(p) == 7 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 7
    assert sorted(k for p in pages for k in p) == sorted(want)


def test_selective_match_among_100k_keys_fills_pages(r, inspector):
    fill_strings(r, 100_000)
    arrays = Numpy(r)
    want = sorted(f"emb:{n:03d}" for n in range(250))
    for key in want:
        arrays.set(key, np.zeros((2, 4), dtype=np.float32))
    for n in range(40):
        arrays.set(f"other:arr:{n}", np.zeros(2))
    pages, bodies = walk(inspector, "?match=emb:*&page_size=100")
    assert [len(p) for p in pages] == [100, 100, 50]  # 3 pages, not ~20
    assert sorted(k for p in pages for k in p) == want
    assert 'id="end"' in bodies[-1].decode()


def test_dtype_and_shape_filters_fill_a_page(r, inspector):
    arrays = Numpy(r)
    rng = np.random.default_rng(4)
    made = {}
    for n in range(600):
        dtype = [np.float32, np.float64, np.uint8][n % 3]
        shape = [(5, 384), (7,), (3, 16)][(n // 3) % 3]
        made[f"k:{n:03d}"] = (np.dtype(dtype), shape)
        arrays.set(f"k:{n:03d}", np.zeros(shape, dtype=dtype))
    fill_strings(r, 5000)
    status, body, _ = inspector.get("?dtype=float32&page_size=50")
    keys = listed_keys(body)
    assert len(keys) == 50 and all(made[k][0] == np.float32 for k in keys)
    assert "arrays examined" in body.decode()
    pages, _ = walk(inspector, "?dtype=%3Cf4&shape=*,384&page_size=30")
    want = sorted(k for k, (d, s) in made.items() if d == np.float32 and s == (5, 384))
    assert sorted(k for p in pages for k in p) == want and [len(p) for p in pages][:-1] == [30] * (len(pages) - 1)
    status, body, _ = inspector.get("?shape=7")
    assert len(listed_keys(body)) == 50 and all(made[k][1] == (7,) for k in listed_keys(body))
    status, body, _ = inspector.get("?shape=*,x")
    assert status == 400 and "neither a length nor *" in html.unescape(body.decode())


def test_scan_budget_bounds_a_request_and_offers_more(redis_server, r):
    fill_strings(r, 20_000)
    Numpy(r).set("needle", np.zeros(3))
    small = start_inspector(f"redis://127.0.0.1:{redis_server.port}/0", "--scan-budget", "2")
    try:
        status, body, _ = small.get("?match=needle")
        text = html.unescape(body.decode())
        assert status == 200 and "2 SCAN calls (COUNT 1000)" in text and 'id="budget"' in text
        assert "Scan more →" in text
        pages, _ = walk(small, "?match=needle")
        assert [k for p in pages for k in p] == ["needle"]
        assert 5 <= len(pages) <= 40  # about 20,000 keys / 2,000 per request
    finally:
        stop_inspector(small)


def test_largest_arrays_across_the_keyspace(redis_server, r, inspector):
    arrays = Numpy(r)
    rng = np.random.default_rng(9)
    sizes = {}
    for n in range(300):
        length = int(rng.integers(1, 20_000))
        arrays.set(f"s:{n}", np.zeros(length, dtype=np.float64 if n % 2 else np.float32))
        sizes[f"s:{n}"] = arrays.info(f"s:{n}")["memory"]
    fill_strings(r, 10_000)
    status, body, _ = inspector.get("largest?n=10")
    assert status == 200
    top = sorted(sizes, key=lambda k: (-sizes[k], k))[:10]
    assert listed_keys(body) == top
    assert 'id="complete"' in body.decode() and "The whole keyspace was scanned" in body.decode()
    status, body, _ = inspector.get("largest?n=5&dtype=float32")
    top32 = sorted((k for k in sizes if int(k[2:]) % 2 == 0), key=lambda k: (-sizes[k], k))[:5]
    assert listed_keys(body) == top32
    # A budget that ends before the keyspace: said so, and the next part offered.
    small = start_inspector(f"redis://127.0.0.1:{redis_server.port}/0", "--scan-budget", "1")
    try:
        status, body, _ = small.get("largest?n=10")
        assert status == 200 and 'id="partial"' in body.decode() and 'id="more"' in body.decode()
    finally:
        stop_inspector(small)


def test_pages_resume_after_binary_keys(r, inspector):
    arrays = Numpy(r)
    want = {b"bin:\xfe" + bytes([n]) for n in range(40)}
    for key in want:
        arrays.set(key, np.arange(2))
    seen: list[bytes] = []
    path = "?page_size=7"
    while path:
        status, body, _ = inspector.get(path)
        assert status == 200
        seen += [bytes.fromhex(h) for h in re.findall(r'href="array\?hex=([0-9a-f]+)"', body.decode())]
        path = next_link(body)
    assert sorted(seen) == sorted(want)
