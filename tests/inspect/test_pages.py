"""The inspector's pages over HTTP, against a real redis-server: the paged
list, previews, what crosses the wire, ACL users and connection errors."""

from __future__ import annotations

import html
import io
import re
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from conftest import start_inspector, stop_inspector
from redis_numpy import Numpy
from redis_numpy.inspect.store import READ_COMMANDS


def listed_keys(body: bytes) -> list[str]:
    return [html.unescape(k) for k in re.findall(r'<td data-value="([^"]*)"><a href="array\?', body.decode())]


def next_link(body: bytes) -> str | None:
    found = re.search(r'<a id="next" href="([^"]+)"', body.decode())
    return html.unescape(found.group(1)) if found else None


def net_output_bytes(r) -> int:
    return int(r.info("stats")["total_net_output_bytes"])


def test_list_pages_through_every_array_and_nothing_else(r, inspector):
    arrays = Numpy(r)
    want = {f"arr:{n:03d}" for n in range(130)}
    for key in want:
        arrays.set(key, np.zeros(3))
    for n in range(60):
        r.set(f"str:{n}", "x")
    r.hset("h", "f", "v")
    seen: list[str] = []
    path = "?page_size=20"
    pages = 0
    while path:
        status, body, _ = inspector.get(path)
        assert status == 200
        seen += listed_keys(body)
        path = next_link(body)
        pages += 1
    assert sorted(seen) == sorted(want)  # each exactly once, no string or hash
    assert pages >= 2
    status, body, _ = inspector.get("?match=" + quote("arr:12*"))
    assert sorted(listed_keys(body)) == [f"arr:12{d}" for d in range(10)]


def test_row_shows_np_info_memory_and_ttl(r, inspector):
    arrays = Numpy(r)
    arrays.set("f", np.asfortranarray(np.ones((30, 40), dtype=">f4")))
    r.pexpire("f", 3_600_000)
    info = arrays.info("f")
    status, body, _ = inspector.get("")
    assert status == 200
    row = re.search(r"<tr>\s*<td data-value=\"f\">.*?</tr>", body.decode(), re.S).group(0)
    values = [html.unescape(v) for v in re.findall(r'data-value="([^"]*)"', row)]
    memory_usage = r.memory_usage("f")
    assert values[:10] == [
        "f", "float32", ">f4", "(30, 40)", "2", "1200", "4", "4800", "F", str(info["memory"]),
    ]
    assert values[10] == str(memory_usage)
    assert 3_590_000 < float(values[11]) <= 3_600_000
    assert "60 min" in row
    gauges = dict(re.findall(r'data-gauge="(\w+)"[^>]*>([^<]*)<', body.decode()))
    assert gauges["numpy_arrays"] == r.info("numpy")["numpy_arrays"].__str__()


def test_image_preview_is_the_array_pixel_for_pixel(r, inspector):
    rng = np.random.default_rng(5)
    for key, shape, mode in [("rgb", (37, 53, 3), "RGB"), ("rgba", (20, 9, 4), "RGBA"), ("grey", (31, 17), "L")]:
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
        Numpy(r).set(key, arr)
        status, body, ctype = inspector.get(f"preview.png?key={key}")
        assert status == 200 and ctype == "image/png"
        image = Image.open(io.BytesIO(body))
        assert image.mode == mode
        assert np.array_equal(np.asarray(image), arr)


def test_slice_controls_pick_the_frame(r, inspector):
    stack = np.random.default_rng(6).integers(0, 256, (6, 12, 16), dtype=np.uint8)
    Numpy(r).set("stack", stack)
    status, body, _ = inspector.get("array?key=stack&a0=4")
    assert status == 200 and 'SLICE "<span id="spec">4, :, :</span>"' in body.decode()
    status, body, _ = inspector.get("preview.png?key=stack&a0=4")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(body))), stack[4])
    status, body, _ = inspector.get("preview.png?key=stack&a0=-1&a1=::-1&a2=::2")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(body))), stack[-1, ::-1, ::2])
    status, body, _ = inspector.get("array?key=stack&a0=6")
    assert status == 400 and "index 6 is out of bounds for axis 0 with size 6" in body.decode()


def test_structured_table_and_scalar(r, inspector):
    rec = np.zeros(80, dtype=[("id", "<i4"), ("name", "S5"), ("score", "<f8")])
    rec["id"] = np.arange(80)
    rec["name"] = [f"n{i}".encode() for i in range(80)]
    rec["score"] = np.arange(80) / 4
    Numpy(r).set("rec", rec)
    status, body, _ = inspector.get("array?key=rec")
    text = body.decode()
    assert status == 200
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html.unescape(text))
    assert len(rows) == 50  # the first rows only
    assert rows[7] == ("7", "7", "b'n7'", "1.75")
    Numpy(r).set("zero-d", np.array(2.5))
    status, body, _ = inspector.get("array?key=zero-d")
    assert '<p class="scalar" id="scalar">2.5</p>' in body.decode()


def test_line_preview_reads_a_few_kilobytes_of_a_large_array(r, inspector):
    """64 MiB of float64: the detail page and its plot read a strided sample."""
    chunk = np.arange(1 << 20, dtype=np.float64)
    arrays = Numpy(r)
    for n in range(8):
        arrays.append("big", chunk + n * (1 << 20))
    before = net_output_bytes(r)
    status, body, _ = inspector.get("array?key=big")
    assert status == 200 and "downsampled on the server" in body.decode()
    status, png, _ = inspector.get("preview.png?key=big")
    assert status == 200 and png.startswith(b"\x89PNG")
    sent = net_output_bytes(r) - before
    assert sent < 64 * 1024, f"{sent} bytes left the server for a 64 MiB array's preview"


def test_heatmap_and_missing_key(r, inspector):
    Numpy(r).set("heat", np.random.default_rng(1).normal(size=(900, 700)).astype(np.float32))
    status, body, _ = inspector.get("array?key=heat")
    assert status == 200 and 'data-kind="heatmap"' in body.decode()
    status, png, ctype = inspector.get("preview.png?key=heat")
    assert status == 200 and ctype == "image/png" and Image.open(io.BytesIO(png)).size[0] > 300
    status, body, _ = inspector.get("array?key=nope")
    assert status == 404 and "No array at key" in body.decode()
    r.set("text", "not an array")
    status, body, _ = inspector.get("array?key=text")
    assert status == 404 and "not an array" in body.decode()
    Numpy(r).set("hollow", np.zeros((0, 3, 4)))
    status, body, _ = inspector.get("array?key=hollow")
    assert status == 200 and "pick an index" in body.decode()


def test_acl_reader_sees_only_its_keys(redis_server, r):
    arrays = Numpy(r)
    arrays.set("pub:a", np.arange(5, dtype=np.uint8))
    arrays.set("secret:b", np.arange(5))
    r.acl_setuser("viewer", enabled=True, passwords=["+pw"], keys=["pub:*"], commands=["-@all"] + ["+" + c for c in READ_COMMANDS])
    r.acl_setuser("no-get", enabled=True, passwords=["+pw"], keys=["*"],
                  commands=["-@all"] + ["+" + c for c in READ_COMMANDS if c != "np.get"])
    viewer = start_inspector(f"redis://viewer:pw@127.0.0.1:{redis_server.port}/0")
    no_get = start_inspector(f"redis://no-get:pw@127.0.0.1:{redis_server.port}/0")
    wrong = start_inspector(f"redis://viewer:bad@127.0.0.1:{redis_server.port}/0")
    try:
        status, body, _ = viewer.get("")
        assert status == 200 and listed_keys(body) == ["pub:a"]
        assert "keys not readable by this user were skipped" in body.decode()
        assert "viewer:***@" in body.decode() and "pw@" not in body.decode()
        status, png, _ = viewer.get("preview.png?key=pub:a")
        assert status == 200 and png.startswith(b"\x89PNG")
        status, body, _ = viewer.get("array?key=secret:b")
        assert status == 403 and "Permission denied" in body.decode()
        status, body, _ = no_get.get("preview.png?key=pub:a")
        assert status == 403 and "Permission denied" in body.decode() and "+np.get" in body.decode()
        status, body, _ = wrong.get("")
        assert status == 401 and "Authentication failed" in body.decode()
    finally:
        for inspector in (viewer, no_get, wrong):
            stop_inspector(inspector)
        r.acl_deluser("viewer", "no-get")


def test_unreachable_server_is_a_clear_error():
    from redis_server import free_port

    port = free_port()
    inspector = start_inspector(f"redis://127.0.0.1:{port}/0")
    try:
        status, body, _ = inspector.get("")
        assert status == 503 and f"Cannot connect to Redis at redis://127.0.0.1:{port}/0" in body.decode()
        status, body, ctype = inspector.get("api/stats")
        assert status == 503 and ctype == "application/json" and b'"ok":false' in body
    finally:
        stop_inspector(inspector)


@pytest.mark.parametrize("path", ["", "array?key=rgb"])
def test_pages_load_nothing_from_elsewhere(inspector, path):
    """Every src/href is relative to the inspector: no CDN, works offline."""
    status, body, _ = inspector.get(path)
    assert status in (200, 404)
    assert not re.search(r'(src|href)="(https?:)?//', body.decode())


def test_binary_keys_fortran_images_and_other_dtypes(r, inspector):
    arrays = Numpy(r)
    image = np.asfortranarray(np.random.default_rng(7).integers(0, 256, (21, 34, 3), dtype=np.uint8))
    key = b"img:\xff\xfe"  # not UTF-8: travels as hex
    arrays.set(key, image)
    status, body, _ = inspector.get("")
    assert f'href="array?hex={key.hex()}"' in body.decode()
    status, body, _ = inspector.get(f"array?hex={key.hex()}")
    assert status == 200 and "F (Fortran)" in body.decode()
    status, png, _ = inspector.get(f"preview.png?hex={key.hex()}")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), image)
    status, body, _ = inspector.get("array?hex=zz")
    assert status == 400 and "not valid hex" in body.decode()
    for name, arr, kind in [
        ("be", np.arange(12.0).reshape(3, 4).astype(">f8"), "heatmap"),
        ("cplx", np.exp(1j * np.linspace(0, 3, 50)), "line"),
        ("flags", np.arange(30) % 3 == 0, "line"),
        ("half", np.ones((5, 6), dtype=np.float16), "heatmap"),
        ("empty", np.zeros((0, 4)), "heatmap"),
    ]:
        arrays.set(name, arr)
        status, body, _ = inspector.get(f"array?key={name}")
        assert status == 200 and f'data-kind="{kind}"' in body.decode(), name
        status, png, ctype = inspector.get(f"preview.png?key={name}")
        assert status == 200 and ctype == "image/png", (name, png[:300])
        assert Image.open(io.BytesIO(png)).size[0] > 100


def form_token(body: bytes) -> str:
    return re.search(r'name="token" value="([^"]+)"', body.decode()).group(1)


def test_read_only_by_default(r, inspector):
    Numpy(r).set("keep", np.zeros(3))
    status, body, _ = inspector.get("array?key=keep")
    assert status == 200 and 'id="delete-form"' not in body.decode() and "read-only" in body.decode()
    for path in ("delete", "ttl"):
        status, _, _ = inspector.get(path, {"key": "keep", "token": "x", "seconds": "5"})
        assert status in (404, 405)
    assert r.exists("keep") and r.pttl("keep") == -1


def test_allow_writes_deletes_and_sets_ttl_with_a_token(redis_server, r):
    arrays = Numpy(r)
    arrays.set("w", np.zeros(3))
    writer = start_inspector(f"redis://127.0.0.1:{redis_server.port}/0", "--allow-writes")
    r.acl_setuser("viewer2", enabled=True, passwords=["+pw"], keys=["*"], commands=["-@all"] + ["+" + c for c in READ_COMMANDS])
    reader = start_inspector(f"redis://viewer2:pw@127.0.0.1:{redis_server.port}/0", "--allow-writes")
    try:
        status, body, _ = writer.get("array?key=w")
        assert "writes allowed" in body.decode()
        token = form_token(body)
        status, _, _ = writer.get("ttl", {"key": "w", "token": "forged", "seconds": "100"})
        assert status == 403 and r.pttl("w") == -1
        status, _, _ = writer.get("ttl", {"key": "w", "token": token, "seconds": "100"})
        assert status == 303 and 99_000 < r.pttl("w") <= 100_000
        status, body, _ = writer.get("ttl", {"key": "w", "token": token, "seconds": "-3"})
        assert status == 400 and "at least 1 second" in body.decode()
        status, _, _ = writer.get("ttl", {"key": "w", "token": token, "seconds": ""})
        assert status == 303 and r.pttl("w") == -1
        # A user without write commands gets a clear refusal and the key stays.
        status, body, _ = reader.get("array?key=w")
        status, body, _ = reader.get("delete", {"key": "w", "token": form_token(body)})
        assert status == 403 and "Permission denied" in body.decode() and "+unlink" in body.decode()
        assert r.exists("w")
        status, _, _ = writer.get("delete", {"key": "w", "token": token})
        assert status == 303 and not r.exists("w")
    finally:
        stop_inspector(writer)
        stop_inspector(reader)
        r.acl_deluser("viewer2")


def test_wide_elements_are_not_read_whole(r, inspector):
    """A 5-row U2000000 array is 40 MB: its page reads none of it, and a table
    of wide records reads at most TABLE_BYTES."""
    from redis_numpy.inspect.selection import TABLE_BYTES

    arrays = Numpy(r)
    arrays.set("wide:str", np.array(["x" * 2_000_000] * 5, dtype="U2000000"))
    before = net_output_bytes(r)
    status, body, _ = inspector.get("array?key=wide:str")
    sent = net_output_bytes(r) - before
    text = html.unescape(body.decode())
    assert status == 200 and "each element is 8,000,000 bytes" in text and "not read" in text
    assert sent < 16 * 1024, f"{sent} bytes left the server for a page about a 40 MB string array"
    rec = np.zeros(200, dtype=[("id", "<i4"), ("blob", "S100000")])
    rec["id"] = np.arange(200)
    arrays.set("wide:rec", rec)
    before = net_output_bytes(r)
    status, body, _ = inspector.get("array?key=wide:rec")
    sent = net_output_bytes(r) - before
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>", body.decode())
    assert status == 200 and rows and len(rows) == TABLE_BYTES // rec.dtype.itemsize
    assert rows[-1] == (str(len(rows) - 1),) * 2
    assert sent <= TABLE_BYTES + 16 * 1024, f"{sent} bytes for a table bounded at {TABLE_BYTES}"
    # The same bound for a 0-d wide element (every axis indexed).
    status, body, _ = inspector.get("array?key=wide:str&a0=2")
    assert status == 200 and "not read" in html.unescape(body.decode())


def test_tall_matrix_heatmap_shows_every_column(r, inspector):
    """20000 x 384: rows are strided, columns are not, so a gradient along the
    columns draws as hundreds of colours across the plot, not two bands."""
    tall = np.broadcast_to(np.arange(384, dtype=np.float32), (20_000, 384))
    Numpy(r).set("tall", np.ascontiguousarray(tall))
    status, body, _ = inspector.get("array?key=tall")
    assert status == 200 and 'SLICE "<span id="spec">::40, :</span>"' in body.decode()
    status, png, _ = inspector.get("preview.png?key=tall")
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    middle = pixels[pixels.shape[0] // 2]
    colours = {tuple(p) for p in middle}
    assert len(colours) > 150, len(colours)


def stat(body: bytes, name: str) -> str:
    found = re.search(rf'<dd id="stat-{name}">([^<]*)</dd>', body.decode())
    return html.unescape(found.group(1)) if found else ""


def test_summary_is_reduced_on_the_server_over_a_bounded_slice(r, inspector):
    from redis_numpy.inspect.selection import STATS_COLUMNS, SUMMARY_ELEMENTS

    rng = np.random.default_rng(11)
    m = rng.normal(size=(5000, 400)).astype(np.float32)
    m[3000, 7] = np.nan  # past the summarized rows: not seen
    m[100, 9] = np.nan
    Numpy(r).set("m", m)
    status, body, _ = inspector.get("array?key=m")
    assert status == 200
    rows = SUMMARY_ELEMENTS // 400
    part = m[:rows]
    assert html.unescape(re.search(r'id="summary-spec">([^<]*)<', body.decode()).group(1)) == f":{rows}, :"
    from redis_numpy.inspect.render import number
    assert stat(body, "min") == "nan" and stat(body, "max") == "nan"
    assert stat(body, "nan") == "first at [100, 9]"
    clean = m.copy()
    clean[100, 9] = 0
    Numpy(r).set("m", clean)
    status, body, _ = inspector.get("array?key=m")
    part = clean[:rows]
    assert stat(body, "nan") == "none"
    assert stat(body, "min") == number(part.min()) and stat(body, "max") == number(part.max())
    assert stat(body, "mean") == number(np.mean(part)) and stat(body, "std") == number(np.std(part))
    # Per column: NP.REDUCE AXIS 0 over the same rows, the first columns.
    table = re.search(r'<table class="values" id="columns">(.*?)</table>', body.decode(), re.S).group(1)
    header = re.findall(r"<th>([^<]*)</th>", table)
    assert header == ["column"] + [str(j) for j in range(STATS_COLUMNS)]
    lines = {cells[0]: cells[1:] for cells in (re.findall(r"<td>([^<]*)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", table))
             if cells}
    assert lines["max"] == [number(v) for v in part[:, :STATS_COLUMNS].max(axis=0)]
    assert lines["mean"] == [number(v) for v in part[:, :STATS_COLUMNS].mean(axis=0)]
    # The slice boxes choose what is summarized: rows 10..19, every 3rd column from 5.
    status, body, _ = inspector.get("array?key=m&a0=10:20&a1=5::3")
    assert html.unescape(re.search(r'id="summary-spec">([^<]*)<', body.decode()).group(1)) == "10:20, 5::3"
    assert stat(body, "max") == number(clean[10:20, 5::3].max())
    # Integers have no NaN line; a user without np.reduce still gets the page.
    Numpy(r).set("ints", np.arange(10, dtype=np.int16))
    status, body, _ = inspector.get("array?key=ints")
    assert stat(body, "min") == "0" and stat(body, "mean") == "4.5" and 'id="stat-nan"' not in body.decode()


def test_summary_without_np_reduce_permission(redis_server, r):
    Numpy(r).set("v", np.arange(10.0))
    old = [c for c in READ_COMMANDS if c != "np.reduce"]
    r.acl_setuser("old-reader", enabled=True, passwords=["+pw"], keys=["*"], commands=["-@all"] + ["+" + c for c in old])
    reader = start_inspector(f"redis://old-reader:pw@127.0.0.1:{redis_server.port}/0")
    try:
        status, body, _ = reader.get("array?key=v")
        assert status == 200 and 'id="preview-img"' in body.decode()
        assert "Permission denied" in body.decode() and "+np.reduce" in body.decode()
    finally:
        stop_inspector(reader)
        r.acl_deluser("old-reader")


def test_grey_images_of_a_narrow_range_are_stretched(r, inspector):
    labels = np.zeros((40, 60), dtype=np.uint8)
    labels[10:30, 10:30] = 1
    labels[5:15, 40:55] = 3
    Numpy(r).set("labels", labels)
    status, body, _ = inspector.get("array?key=labels")
    assert status == 200 and "values 0…3 are drawn black…white" in html.unescape(body.decode())
    status, png, _ = inspector.get("preview.png?key=labels")
    drawn = np.asarray(Image.open(io.BytesIO(png)))
    assert np.array_equal(drawn, np.rint(labels * 85.0).astype(np.uint8))  # 0, 85, 255
    # A full-range photo is drawn as stored, without the note.
    photo = np.random.default_rng(3).integers(0, 256, (20, 30), dtype=np.uint8)
    Numpy(r).set("photo", photo)
    status, body, _ = inspector.get("array?key=photo")
    assert 'id="stretch"' not in body.decode()
    status, png, _ = inspector.get("preview.png?key=photo")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), photo)


def test_record_floats_and_void_dtypes_print_as_numpy_does(r, inspector):
    rec = np.zeros(3, dtype=[("x", "<f8"), ("y", "<f4")])
    rec["x"] = [0.1 + 0.2, 1e-20, 2.5]
    rec["y"] = [1 / 3, 0, 7]
    Numpy(r).set("rec2", rec)
    status, body, _ = inspector.get("array?key=rec2")
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", body.decode())
    assert rows[:3] == [("0", "0.3", "0.33333334"), ("1", "1e-20", "0.0"), ("2", "2.5", "7.0")]
    assert 'id="dtype">record (2 fields)' in body.decode()
    Numpy(r).set("blob", np.zeros(4, dtype="V80"))
    status, body, _ = inspector.get("array?key=blob")
    assert status == 200 and 'id="dtype">|V80 ' in body.decode()
    status, body, _ = inspector.get("")
    assert '<td data-value="|V80">|V80</td>' in body.decode() and "void640" not in body.decode()
