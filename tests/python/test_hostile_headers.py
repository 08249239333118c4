"""Hostile and unusual `.npy` headers against a real server (release build).

Every payload of at most 1 MB is accepted or refused in under 50 ms, and so
are the commands that read an accepted one's metadata, append to it and load
it again (DUMP/RESTORE, DEBUG RELOAD). Whatever the module accepts, np.load
reads back, and what NP.GET returns is what np.save writes for that array.
"""

from __future__ import annotations

import io
import re
import struct
import time
from typing import Callable

import numpy as np
import pytest
import redis

from npy_bytes import npy

# The bound the parser must hold for any payload of about 1 MB (header up to
# PAYLOAD_LIMIT bytes, plus the data of one element when there is one).
BOUND_S = 0.050
PAYLOAD_LIMIT = 1_048_000
# The machine is shared: the best of a few runs is the command's own cost.
RUNS = 3


def raw_npy(header: str, data: bytes = b"", version: int | None = None) -> bytes:
    """A `.npy` with this exact header text (no padding added) and data."""
    text = header.encode("utf-8" if version == 3 else "latin-1")
    if version is None:
        version = 1 if len(text) < 65536 else 2
    length = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text + data


def header(descr: str, shape: str = "(1,)", fortran: bool = False) -> str:
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


def fill(item: Callable[[int], str], sep: str = ", ", budget: int = PAYLOAD_LIMIT - 200,
         last: str | None = None) -> list[str]:
    """As many `item(i)` as fit `budget` characters joined by `sep`, the last
    one replaced by `last` when given."""
    items, used, i = [], 0, 0
    while True:
        text = item(i)
        if used + len(text) + len(sep) > budget:
            break
        items.append(text)
        used += len(text) + len(sep)
        i += 1
    if last is not None:
        items[-1] = last
    return items


def record(items: list[str], sep: str = ", ") -> str:
    return "[" + sep.join(items) + "]"


def main_thread_cpu(pid: int) -> float | None:
    """Seconds the server's main thread has run on a CPU (None if unknown)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def timed(server, fn: Callable[[], object]) -> tuple[float, float, object]:
    """The best of RUNS calls: the time the server's main thread spent on the
    command (what a concurrent client waits for; on a busy shared machine wall
    time also counts other processes, so it is reported, and bounded only
    where the CPU time cannot be read), the wall time, and the last result."""
    best_cpu, best_wall, result = float("inf"), float("inf"), None
    for _ in range(RUNS):
        cpu0 = main_thread_cpu(server.proc.pid)
        start = time.perf_counter()
        try:
            result = fn()
        except redis.ResponseError as e:
            result = e
        wall = time.perf_counter() - start
        cpu1 = main_thread_cpu(server.proc.pid)
        best_wall = min(best_wall, wall)
        best_cpu = min(best_cpu, wall if cpu0 is None or cpu1 is None else cpu1 - cpu0)
    return best_cpu, best_wall, result


def within_bound(server, what: str, fn: Callable[[], object]) -> object:
    cpu, wall, result = timed(server, fn)
    print(f"  {what}: {cpu * 1e3:.1f} ms (wall {wall * 1e3:.1f} ms)")
    assert cpu < BOUND_S, f"{what}: {cpu * 1e3:.1f} ms"
    return result


def nested(depth: int, inner: str) -> str:
    text = inner
    for _ in range(depth):
        text = f"[('a', {text})]"
    return text


# (name, payload, expected: None when accepted, else a regex of the error)
def hostile_cases() -> list[tuple[str, bytes, str | None]]:
    # Headers of up to PAYLOAD_LIMIT bytes are over the stored descr limit when
    # already canonical; STORABLE leaves room so that some are accepted.
    storable = 1_040_000
    wide_named = fill(lambda i: f"('f{i}', '|b1')", budget=storable)
    titled = fill(lambda i: f"(('t{i}', 'n{i}'), '|b1')", budget=storable)
    dims64 = "(" + ", ".join(["1"] * 64) + ")"
    n_wide = len(wide_named)
    return [
        # The shape: every field '|V0', names '0', '1', … (itemsize 0).
        ("wide |V0 fields", raw_npy(header(record(fill(lambda i: f"('{i}', '|V0')", budget=storable)))), None),
        ("wide |V0 fields over the descr limit",
         raw_npy(header(record(fill(lambda i: f"('{i}', '|V0')")))), "as np.save writes it, the limit is"),
        (f"{n_wide} named |b1 fields", raw_npy(header(record(wide_named)), b"\0" * n_wide), None),
        ("wide, duplicate name at the end",
         raw_npy(header(record(wide_named[:-1] + ["('f0', '|b1')"]))), "name already used"),
        ("wide, compact, canonical descr over the limit",
         raw_npy(header(record([f"('f{i}','|i1')" for i in range(62000)], sep=","))),
         "descr is 1[0-9]{6} bytes as np.save writes it"),
        ("wide, compact, over the field cap",
         raw_npy(header(record(fill(lambda i: f"('{i}',[])", sep=","), sep=","))), "more than 65536 fields"),
        (f"{len(titled)} titled fields", raw_npy(header(record(titled)), b"\0" * len(titled)), None),
        ("wide, title repeated at the end",
         raw_npy(header(record(titled[:-1] + ["(('t0', 'x'), '|b1')"]))), "title already used"),
        ("wide, title equal to a name at the end",
         raw_npy(header(record(titled[:-1] + ["(('n0', 'x'), '|b1')"]))), "title already used"),
        ("padding entries over the field cap", raw_npy(header(record(fill(lambda i: "('', '|V1')")))),
         "more than 65536 fields"),
        ("padding entries under the cap",
         raw_npy(header(record(["('', '|V1')"] * 60000)), b"\0" * 60000), None),
        ("deep nesting, wide inside",
         raw_npy(header(nested(30, record(fill(lambda i: f"('f{i}', '|b1')", budget=storable))), "(0,)")), None),
        ("nesting over the limit", raw_npy(header(nested(40, "'<f8'"))), "nests deeper than 64"),
        ("brackets over the limit", raw_npy("{" + "[" * 500_000 + "]" * 500_000 + ": 1}"), "nests deeper than 64"),
        ("one long name", raw_npy(header(f"[('{'n' * storable}', '|b1')]"), b"\0"), None),
        ("one long name over the descr limit", raw_npy(header(f"[('{'n' * (PAYLOAD_LIMIT - 200)}', '|b1')]")),
         "as np.save writes it, the limit is"),
        ("one long escaped name",
         raw_npy(header("[('" + "\\x41" * ((PAYLOAD_LIMIT - 200) // 4) + "', '|b1')]"), b"\0"), None),
        ("many subarray dims",
         raw_npy(header("[('a', '|b1', (" + "1, " * ((PAYLOAD_LIMIT - 200) // 3) + "))]")),
         "invalid shape in fixed-type tuple"),
        ("64 subarray dims per field",
         raw_npy(header(record(fill(lambda i: f"('f{i}', '|b1', {dims64})", budget=storable)), "(0,)")), None),
        ("nested subarray formats",
         raw_npy(header("[('c', " + "(" * 30 + "'|b1'" + ", (1,))" * 30 + ")]"), b"\1"), None),
        ("nested records in subarray formats, wide inside",
         raw_npy(header(
             "[('a', (" * 15 + record(fill(lambda i: f"('f{i}', '|b1')", budget=storable - 500)) + ", (1,)))]" * 15,
             "(0,)")), None),
        ("nested subarray formats over the limit",
         raw_npy(header("[('c', " + "(" * 62 + "'|b1'" + ", (1,))" * 62 + ")]")), "nests deeper than 64"),
        ("array shape with many dims",
         raw_npy(header("'|b1'", "(" + "1, " * ((PAYLOAD_LIMIT - 100) // 3) + ")")), "dimensions, the limit is 64"),
        ("huge integer", raw_npy(header("'|b1'", "(" + "9" * (PAYLOAD_LIMIT - 100) + ",)")), "out of range"),
        ("long typestr", raw_npy(header("'<f" + "8" * (PAYLOAD_LIMIT - 100) + "'")), "not a supported dtype"),
        ("long header key", raw_npy("{'" + "k" * (PAYLOAD_LIMIT - 100) + "': 1}"), "unexpected header key"),
        ("unterminated string", raw_npy("{'descr': '" + "x" * (PAYLOAD_LIMIT - 100)), "unterminated string"),
        ("whitespace", raw_npy(" " * (PAYLOAD_LIMIT - 100) + header("'<f8'"), b"\0" * 8), None),
        ("many header keys",
         raw_npy("{" + ", ".join(fill(lambda i: f"'k{i}': {i}")) + "}"), "unexpected header key"),
    ]


CASES = hostile_cases()


@pytest.mark.parametrize("name,payload,expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_payload_is_handled_in_bounded_time(redis_server, r, name, payload, expected):
    assert len(payload) <= 1_100_000
    print(f"\n{name}, {len(payload)} bytes")
    result = within_bound(redis_server, "NP.SET", lambda: r.execute_command("NP.SET", "k", payload))
    if expected is not None:
        assert isinstance(result, redis.ResponseError), result
        assert len(str(result)) < 300, "errors never echo the payload"
        assert re.search(expected, str(result)), str(result)
        assert r.exists("k") == 0
    else:
        assert result == b"OK", result
    assert r.ping()
    if expected is None:
        check_stored(redis_server, r, payload)


def check_stored(server, r, payload):
    """Every command on the stored value stays within the bound, and what it
    emits is accepted again, by the module and by np.load."""
    for command in (("NP.INFO", "k"), ("NP.DTYPE", "k"), ("NP.SHAPE", "k"), ("NP.GET", "k")):
        result = within_bound(server, command[0], lambda: r.execute_command(*command))
        assert not isinstance(result, redis.ResponseError), result
    stored = r.execute_command("NP.GET", "k")
    assert_np_save_writes(stored, payload)
    loaded = np.load(io.BytesIO(stored), max_header_size=1 << 21)
    r.execute_command("NP.SET", "again", stored)
    assert r.execute_command("NP.GET", "again") == stored
    r.delete("again")

    if loaded.ndim:
        one_row = npy(loaded[:1])
        result = within_bound(server, "NP.APPEND", lambda: r.execute_command("NP.APPEND", "k", one_row))
        assert not isinstance(result, redis.ResponseError), result

    dump = r.dump("k")
    result = within_bound(server, "RESTORE", lambda: r.restore("k", 0, dump, replace=True))
    assert not isinstance(result, redis.ResponseError), result
    before = r.execute_command("NP.GET", "k")
    # DEBUG RELOAD saves and loads the whole (one-key) dataset through dump.rdb.
    within_bound(server, "DEBUG RELOAD", lambda: r.execute_command("DEBUG", "RELOAD"))
    assert r.execute_command("NP.GET", "k") == before


# ---------------------------------------------------------------------------
# Every accepted value is loadable by np.load and NP.GET equals np.save of it.
# ---------------------------------------------------------------------------

def assert_np_save_writes(stored: bytes, payload: bytes) -> None:
    """`stored` is np.save(np.load(payload)): the same header, and the
    payload's data (np.save does not keep the bytes of padding fields, the
    module does)."""
    loaded = np.load(io.BytesIO(payload), max_header_size=1 << 21)
    saved = npy(loaded)
    data_at = len(saved) - loaded.nbytes
    assert stored[:data_at] == saved[:data_at], "the header np.save writes"
    assert stored[data_at:] == payload[len(payload) - loaded.nbytes:], "the payload's data"
    again = np.load(io.BytesIO(stored), max_header_size=1 << 21)
    assert again.dtype == loaded.dtype and again.shape == loaded.shape


def roundtrip_like_numpy(r, payload: bytes) -> bytes:
    r.execute_command("NP.SET", "k", payload)
    stored = r.execute_command("NP.GET", "k")
    assert_np_save_writes(stored, payload)
    loaded = np.load(io.BytesIO(stored), max_header_size=1 << 21)
    return stored


@pytest.mark.parametrize("descr", [
    "[('c', ('<f8', (5,)), (2,))]",
    "[('c', ('<f8', (5,)))]",
    "[('c', ('<f8', ()), (2,))]",
    "[('c', ('<f8', 3))]",
    "[('c', '<f8', 1)]",
    "[('c', '<f8', ())]",
    "[('c', (('<i2', (3,)), (5,)), (2,))]",
    "[('c', ([('a', '<i4'), ('b', ('|u1', (2, 2)))], (3,)), (2,))]",
    "[('a', '<f8', (" + ", ".join(["1"] * 64) + "))]",
    "[('c', ('<f8', (" + ", ".join(["1"] * 33) + ")), (" + ", ".join(["1"] * 31) + "))]",
    "[('', '|V0'), ('a', '<i4'), ('', '|V2'), ('', '|V3'), ('b', '<i4'), ('', '|V1', (3,))]",
    "[('', '|V0')]",
    "[('', '|V4')]",
    "[(('t', ''), '|V4')]",
    "[(('t', 'a'), '<i4'), (('u', 'b'), '<f8')]",
    # Names as np.save writes them: repr() of the decoded string.
    '[("a", \'<i4\'), (\'\\x41\\u00e9\', \'<i2\'), ("it\'s", \'|u1\'), (\'\\xa0\\t\\x00\', \'|u1\')]',
    '[((\'t"\', "\'n\'"), \'<i4\'), (\'\\u03bb\\u200b\\U0001f600\', \'|u1\')]',
])
def test_unusual_dtypes_roundtrip_like_numpy(r, descr):
    dtype = np.lib.format.descr_to_dtype(eval(descr))
    payload = raw_npy(header(descr, "(2,)"), b"\x01" * (2 * dtype.itemsize))
    roundtrip_like_numpy(r, payload)


def test_numpys_own_subarray_of_subarray_case_is_byte_exact(r):
    arr = np.zeros(3, np.dtype([('c', ('<f8', (5,)), (2,))]))
    arr['c'] = np.arange(30.0).reshape(3, 2, 5)
    payload = npy(arr)
    r.execute_command("NP.SET", "k", payload)
    assert r.execute_command("NP.GET", "k") == payload
    info = r.execute_command("NP.INFO", "k")
    info = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2]))
    assert info[b"descr"] == b"[('c', ('<f8', (5,)), (2,))]"


@pytest.mark.parametrize("descr,numpy_error", [
    ("[('a', '<f8', (" + ", ".join(["1"] * 65) + "))]", "invalid shape in fixed-type tuple"),
    ("[('c', ('<f8', (" + ", ".join(["1"] * 65) + ")))]", "invalid shape in fixed-type tuple"),
    ("[('a', '|b1', (0, 2147483648))]", "invalid shape in fixed-type tuple"),
    ("[(('a', 'a'), '<f8')]", "title already used as a name or title"),
    ("[(('t', 'a'), '<f8'), (('t', 'b'), '<i4')]", "title already used as a name or title"),
    ("[(('b', 'a'), '<f8'), ('b', '<i4')]", "name already used as a name or title"),
    ("[('b', '<i4'), (('b', 'a'), '<f8')]", "title already used as a name or title"),
    ("[('a', '<i4'), ('a', '<f8')]", "name already used as a name or title"),
])
def test_what_numpy_cannot_load_is_refused(r, descr, numpy_error):
    with pytest.raises(ValueError, match=numpy_error):
        np.lib.format.descr_to_dtype(eval(descr))
    with pytest.raises(redis.ResponseError, match=numpy_error):
        r.execute_command("NP.SET", "k", raw_npy(header(descr, "(0,)")))
    assert r.exists("k") == 0


# ---------------------------------------------------------------------------
# fortran_order as np.save writes it
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3,), (), (3, 1), (1, 3), (0,), (0, 3), (2, 0, 3), (1, 1, 4), (2, 3), (2, 1, 2)])
def test_fortran_order_is_canonical_like_np_save(r, shape):
    arr = np.asfortranarray(np.arange(int(np.prod(shape)), dtype="<i2").reshape(shape))
    data = arr.tobytes(order="F")
    payload = raw_npy(header("'<i2'", repr(tuple(shape)), fortran=True), data)
    stored = roundtrip_like_numpy(r, payload)
    assert (b"'fortran_order': True" in stored) == (arr.flags.f_contiguous and not arr.flags.c_contiguous)


def test_append_to_a_fortran_column_follows_numpys_layout(r):
    column = np.arange(3, dtype="<i4").reshape(3, 1)
    r.execute_command("NP.SET", "k", raw_npy(header("'<i4'", "(3, 1)", fortran=True), column.tobytes()))
    # np.load gives a C-contiguous (3, 1) array: it grows along axis 0.
    rows = np.array([[7], [8]], dtype="<i4")
    r.execute_command("NP.APPEND", "k", npy(rows))
    assert r.execute_command("NP.GET", "k") == npy(np.concatenate([column, rows]))
    r.execute_command("NP.APPEND", "k", npy(np.array([9], dtype="<i4")))
    with pytest.raises(redis.ResponseError, match="does not fit"):
        r.execute_command("NP.APPEND", "k", npy(np.arange(3, dtype="<i4")))
    assert r.execute_command("NP.GET", "k") == npy(np.concatenate([column, rows, np.array([[9]], "<i4")]))
