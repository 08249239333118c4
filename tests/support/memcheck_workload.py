"""The memcheck workload: every command, error path and type callback of the
module, driven against one server (scripts/memcheck.sh runs it against
redis-server under valgrind; tests/python/test_memcheck_workload.py runs it
against a plain server so it stays correct).

    python tests/support/memcheck_workload.py PORT [FIXTURES_DIR]

Exits non-zero with the failed check's text when a check fails.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import redis
from dump_payload import DumpCrafter, varint
from npy_bytes import npy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "npy"
# A valid payload for the error paths.
GOOD = npy(np.arange(6, dtype="<i4").reshape(2, 3))


class CheckFailed(AssertionError):
    pass


class Session:
    """The connections and the running count of checks."""

    def __init__(self, port: int):
        self.port = port
        self.r = self.connect()
        self.r3 = self.connect(protocol=3)
        self.rng = np.random.default_rng(6)
        self.checks = 0
        self.t0 = time.monotonic()

    def connect(self, **kw: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=900, **kw)

    def step(self, name: str) -> None:
        print(f"  [{time.monotonic() - self.t0:6.1f}s] {name}", flush=True)

    def check(self, cond: bool, what: str) -> None:
        self.checks += 1
        if not cond:
            raise CheckFailed(f"memcheck workload check failed: {what}")

    def np(self, *args: Any) -> Any:
        return self.r.execute_command(*args)

    def expect_error(self, fragment: str, *args: Any) -> None:
        try:
            self.r.execute_command(*args)
        except redis.ResponseError as e:
            self.check(fragment.lower() in str(e).lower(), f"{args[:2]}: {e!r} lacks {fragment!r}")
            return
        self.check(False, f"{args[:2]} succeeded, expected an error with {fragment!r}")

    def dump(self, key: Any) -> bytes:
        payload = self.r.dump(key)
        assert isinstance(payload, bytes), f"DUMP {key!r}: {payload!r}"
        return payload

    def snapshot(self) -> dict[bytes, bytes]:
        return {k: self.np("NP.GET", k) for k in self.r.scan_iter(_type="numpy-arr", count=1000)}


def wait_ready(r: redis.Redis, seconds: float) -> None:
    """Valgrind makes the server start slowly."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            r.ping()
            return
        except (redis.ConnectionError, redis.BusyLoadingError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run(port: int, fixture_dir: Path = FIXTURES) -> int:
    """Runs every section against the server on `port`; the number of checks passed."""
    s = Session(port)
    wait_ready(s.r, 120)
    fixtures(s, fixture_dir)
    invalid_payloads(s)
    wrongtype(s)
    expected, sexp = append_growth(s)
    slices(s)
    set_options(s)
    rolling(s)
    ring(s)
    compute(s)
    mget_mset(s)
    layout_transitions(s)
    adopted(s)
    max_array_bytes(s)
    copy(s, expected, sexp)
    dump_restore(s)
    debug_reload(s)
    big_npy = aof_rewrite(s)
    flushall(s, big_npy)
    s.step(f"workload done: {s.checks} checks passed")
    return s.checks


def fixtures(s: Session, directory: Path) -> None:
    """1. every fixture through every read command"""
    s.step("fixtures: NP.SET/GET/SHAPE/DTYPE/SIZE/INFO, MEMORY USAGE, DIGEST")
    for path in sorted(directory.glob("*.npy")):
        key = "fx:" + path.name
        data = path.read_bytes()
        s.check(s.np("NP.SET", key, data) == b"OK", key)
        s.check(s.np("NP.GET", key) == data, f"{key} not byte-exact")
        s.np("NP.SHAPE", key)
        s.np("NP.DTYPE", key)
        s.np("NP.SIZE", key)
        s.np("NP.INFO", key)
        s.r3.execute_command("NP.INFO", key)
        s.check(s.r.type(key) == b"numpy-arr", "TYPE")
        s.check((s.r.memory_usage(key) or 0) > 0, "MEMORY USAGE")
        s.r.execute_command("DEBUG", "DIGEST-VALUE", key)
    s.r.execute_command("DEBUG", "DIGEST")
    s.r.info("numpy")
    s.r.config_get("numpy.*")
    raw = s.connect()
    raw.set_response_callback("COMMAND", lambda response, **kw: response)
    raw.execute_command("COMMAND", "DOCS", "np.set", "np.get")
    raw.execute_command("COMMAND", "INFO", "np.set", "np.append", "np.get", "np.info")
    for cmd in ("NP.GET", "NP.SHAPE", "NP.DTYPE", "NP.SIZE", "NP.INFO"):
        s.check(s.np(cmd, "missing") is None, f"{cmd} on a missing key")


def invalid_payloads(s: Session) -> None:
    """2. invalid payloads and arity"""
    s.step("invalid payloads, arity")

    def v1(header: str, data: bytes = b"") -> bytes:
        h = header.encode("latin-1")
        return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data

    bad_payloads = [
        (b"", "empty"),
        (b"hello world", "magic"),
        (b"\x93NUMPY", "truncated"),
        (b"\x93NUMPY\x04\x00\x10\x00", "version"),
        (b"\x93NUMPY\x01\x00\xff\x00{'descr'", "past the end"),
        (b"\x93NUMPY\x02\x00\xff\xff\xff\xff{", "limit"),
        (b"\x93NUMPY\x03\x00\x02\x00\x00\x00\xff\xfe", "UTF-8"),
        (v1("[1, 2]"), "not a dict"),
        (v1("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", b"\0" * 8), "object"),
        (v1("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}"), "negative"),
        (v1("{'descr': '<f8', 'fortran_order': False, 'shape': (%s)}" % ("1, " * 65)), "65 dimensions"),
        (v1("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"), "too big"),
        (v1("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}", b"\0" * 8), "needs"),
        (v1("{" + "[" * 200 + "]" * 200 + ": 1}"), "deeper"),
        (v1("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", b"\0" * 15), "data is 15 bytes"),
        (v1("{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}"), "not a python literal"),
        (GOOD[:-1], "data is"),
        (GOOD + b"\0", "data is"),
    ]
    for payload, fragment in bad_payloads:
        s.expect_error(fragment, "NP.SET", "bad", payload)
        s.expect_error(fragment, "NP.APPEND", "bad", payload)
    s.check(s.r.exists("bad") == 0, "a refused payload created a key")
    s.expect_error("wrong number of arguments", "NP.SET", "k")
    s.expect_error("wrong number of arguments", "NP.GET")
    s.expect_error("wrong number of arguments", "NP.APPEND", "k")
    s.expect_error("syntax error", "NP.APPEND", "k", GOOD, GOOD)  # as SET k v v


def wrongtype(s: Session) -> None:
    """3. WRONGTYPE"""
    s.step("WRONGTYPE")
    s.r.set("str", "x")
    s.r.rpush("list", "x")
    for key in ("str", "list"):
        for cmd in ("NP.GET", "NP.SHAPE", "NP.DTYPE", "NP.SIZE", "NP.INFO"):
            s.expect_error("WRONGTYPE", cmd, key)
        s.expect_error("WRONGTYPE", "NP.SET", key, GOOD)
        s.expect_error("WRONGTYPE", "NP.APPEND", key, GOOD)
    s.check(s.r.get("str") == b"x", "WRONGTYPE changed the string")
    s.expect_error("WRONGTYPE", "GET", "fx:int32.npy")


def append_growth(s: Session) -> tuple[np.ndarray, np.ndarray]:
    """4. NP.APPEND growth"""
    s.step("NP.APPEND growth (C and Fortran order, structured, new keys)")
    expected = np.zeros((0, 16), dtype="<f4")
    s.np("NP.SET", "grow", npy(expected))
    for i in range(150):
        k = int(s.rng.integers(1, 6))
        rows = s.rng.standard_normal((k, 16)).astype("<f4")
        if i % 10 == 0:
            rows = rows[0]
            n = s.np("NP.APPEND", "grow", npy(rows))
            expected = np.concatenate([expected, rows[None]])
        else:
            n = s.np("NP.APPEND", "grow", npy(rows))
            expected = np.concatenate([expected, rows])
        s.check(n == len(expected), f"NP.APPEND replied {n}, expected {len(expected)}")
    s.check(s.np("NP.GET", "grow") == npy(expected), "appended array differs")

    fexp = np.asfortranarray(np.arange(12, dtype=">i8").reshape(3, 4))
    s.np("NP.SET", "fgrow", npy(fexp))
    for i in range(20):
        cols = np.asfortranarray(s.rng.integers(0, 1000, (3, 2)).astype(">i8"))
        s.np("NP.APPEND", "fgrow", npy(cols))
        fexp = np.asfortranarray(np.concatenate([fexp, cols], axis=1).astype(">i8"))  # keep big-endian
    s.check(s.np("NP.GET", "fgrow") == npy(fexp), "Fortran append differs")

    rec = np.dtype([("a", "<i4"), ("b", "S3"), ("c", "<f8", (2,))])
    sexp = np.zeros(2, dtype=rec)
    s.np("NP.APPEND", "sgrow", npy(sexp))  # creates the key
    for i in range(10):
        more = np.array([(i, b"ab", (i, -i))], dtype=rec)
        s.np("NP.APPEND", "sgrow", npy(more))
        sexp = np.concatenate([sexp, more])
    s.check(s.np("NP.GET", "sgrow") == npy(sexp), "structured append differs")

    before = s.np("NP.GET", "grow")
    s.expect_error("does not match", "NP.APPEND", "grow", npy(np.zeros((1, 16), "<f8")))
    s.expect_error("does not fit", "NP.APPEND", "grow", npy(np.zeros((1, 15), "<f4")))
    s.expect_error("Fortran order", "NP.APPEND", "fgrow", npy(np.zeros((3, 2), ">i8")))
    s.np("NP.SET", "scalar", npy(np.float64(1.5)))
    s.expect_error("0-d", "NP.APPEND", "scalar", npy(np.float64(1.5)))
    s.check(s.np("NP.GET", "grow") == before, "a refused append changed the array")
    return expected, sexp


def slices(s: Session) -> None:
    """4b. slices, casts, typed values, in-place writes"""
    s.step("NP.GET SLICE / AS / VALUES, NP.SETSLICE, NP.SET overwrite in place")
    m = np.asfortranarray(np.arange(240, dtype=">i4").reshape(6, 8, 5))
    s.np("NP.SET", "m", npy(m))
    cases: list[tuple[str, Any]] = [("1", np.s_[1]), ("::-2, 3", np.s_[::-2, 3]), ("..., None, 0", np.s_[..., None, 0]),
                                   ("2, 3, 4", np.s_[2, 3, 4]), (":, 1:7:3", np.s_[:, 1:7:3])]
    for spec, index in cases:
        s.check(s.np("NP.GET", "m", "SLICE", spec) == npy(m[index]), f"SLICE {spec}")
    s.check(s.np("NP.GET", "m", "SLICE", "0", "AS", "float16") == npy(np.ascontiguousarray(m[0]).astype(np.float16)), "SLICE + AS")
    s.check(len(s.np("NP.GET", "m", "SLICE", "0, 0", "VALUES")) in (3, 6), "SLICE + VALUES")
    s.expect_error("out of bounds", "NP.GET", "m", "SLICE", "6")
    s.expect_error("not an integer", "NP.GET", "m", "SLICE", "x")
    s.np("NP.SETSLICE", "m", ":, ::2", npy(np.arange(5, dtype=">i4")))
    m[:, ::2] = np.arange(5, dtype=">i4")
    s.check(s.np("NP.GET", "m") == npy(m), "SETSLICE result")
    s.expect_error("dtype mismatch", "NP.SETSLICE", "m", "0", npy(np.zeros(5)))
    s.expect_error("could not broadcast", "NP.SETSLICE", "m", "0", npy(np.zeros(3, ">i4")))
    s.np("NP.SET", "m", npy(np.ones((8, 5, 6), "<f4")))  # same size: reuses the buffer
    s.check(s.np("NP.GET", "m") == npy(np.ones((8, 5, 6), "<f4")), "overwrite in place")


def set_options(s: Session) -> None:
    """4c. NP.SET options: NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL"""
    s.step("NP.SET NX/XX/GET/EX/PX/EXAT/PXAT/KEEPTTL")
    a, b = npy(np.arange(4, dtype="<i2")), npy(np.arange(3000, dtype="<f8"))
    s.r.delete("opt")
    s.check(s.np("NP.SET", "opt", a, "XX") is None, "XX on a missing key")
    s.check(s.np("NP.SET", "opt", a, "NX", "GET") is None, "NX GET on a missing key")
    s.check(s.np("NP.SET", "opt", b, "NX") is None, "NX on an existing key")
    s.check(s.np("NP.SET", "opt", b, "XX", "GET", "EX", "100") == a, "XX GET EX")
    s.check(0 < s.r.ttl("opt") <= 100, "EX sets a TTL")
    s.check(s.np("NP.SET", "opt", a, "KEEPTTL", "GET") == b, "KEEPTTL GET")
    s.check(0 < s.r.ttl("opt") <= 100, "KEEPTTL keeps it")
    s.np("NP.SET", "opt", a, "px", "100000")
    s.np("NP.SET", "opt", b, "EXAT", str(int(time.time()) + 1000))
    s.np("NP.SET", "opt", a, "PXAT", str(int(time.time() * 1000) + 1000000), "GET")
    s.np("NP.SET", "opt", b)
    s.check(s.r.ttl("opt") == -1 and s.np("NP.GET", "opt") == b, "a plain NP.SET drops the TTL")
    s.r.set("optstr", "x")
    s.check(s.np("NP.SET", "optstr", a, "NX") is None, "NX on a string")
    s.expect_error("WRONGTYPE", "NP.SET", "optstr", a, "XX", "GET")
    s.expect_error("WRONGTYPE", "NP.SET", "list", a, "EX", "10")
    for options, fragment in [
        (["NX", "XX"], "syntax"),
        (["EX", "10", "PX", "10"], "syntax"),
        (["KEEPTTL", "EX", "1"], "syntax"),
        (["EX"], "syntax"),
        (["EX", "0"], "invalid expire"),
        (["EX", "x"], "not an integer"),
        (["EX", "9223372036854775807"], "invalid expire"),
        (["PXAT", "1"], "past"),
        (["BOGUS"], "syntax"),
    ]:
        s.expect_error(fragment, "NP.SET", "opt", a, *options)
        s.expect_error(fragment, "NP.SET", "opt", b"not npy", *options)
    s.check(s.np("NP.GET", "opt") == b, "a refused NP.SET changed the value")
    s.r.delete("opt", "optstr")


def rolling(s: Session) -> None:
    """4d. NP.APPEND MAXLEN and NP.TRIM across the packed and full layouts"""
    s.step("NP.APPEND MAXLEN, NP.TRIM")
    expected = np.zeros((0, 8), "<f4")
    for i in range(80):
        rows = s.rng.standard_normal((int(s.rng.integers(1, 20)), 8)).astype("<f4")
        maxlen = int(s.rng.integers(0, 200)) if i % 9 else 0
        n = s.np("NP.APPEND", "roll", npy(rows), "MAXLEN", maxlen)
        grown = np.concatenate([expected, rows])
        expected = grown[max(len(grown) - maxlen, 0) :]
        s.check(n == len(expected), f"APPEND MAXLEN replied {n}, expected {len(expected)}")
        if i % 10 == 3:
            keep = int(s.rng.integers(0, 150))
            s.check(s.np("NP.TRIM", "roll", keep) == min(keep, len(expected)), "NP.TRIM reply")
            expected = expected[max(len(expected) - keep, 0) :]
        s.check(s.np("NP.GET", "roll") == npy(expected), f"rolling buffer differs after step {i}")
    f = np.asfortranarray(np.arange(12, dtype=">i8").reshape(3, 4))
    s.np("NP.SET", "froll", npy(f))
    s.np("NP.APPEND", "froll", npy(np.asfortranarray(np.ones((3, 700), ">i8"))), "maxlen", "500")
    f = np.asfortranarray(np.concatenate([f, np.ones((3, 700), ">i8")], axis=1)[:, -500:].astype(">i8"))
    s.check(s.np("NP.GET", "froll") == npy(f), "Fortran MAXLEN")
    s.check(s.np("NP.TRIM", "froll", "2") == 2, "Fortran TRIM")
    s.check(s.np("NP.GET", "froll") == npy(np.asfortranarray(f[:, -2:])), "Fortran TRIM result")
    s.check(s.np("NP.TRIM", "missing", "3") == 0 and not s.r.exists("missing"), "TRIM of a missing key")
    before = s.np("NP.GET", "roll")
    s.expect_error("syntax", "NP.APPEND", "roll", npy(np.ones((1, 8), "<f4")), "MAXLEN")
    s.expect_error(">= 0", "NP.APPEND", "roll", npy(np.ones((1, 8), "<f4")), "MAXLEN", "-1")
    s.expect_error("not an integer", "NP.TRIM", "roll", "x")
    s.expect_error("0-d", "NP.TRIM", "scalar", "1")
    s.expect_error("0-d", "NP.APPEND", "scalar", npy(np.float64(1.5)), "MAXLEN", "1")
    s.expect_error("WRONGTYPE", "NP.TRIM", "str", "1")
    s.check(s.np("NP.GET", "roll") == before, "a refused APPEND/TRIM changed the array")


def ring(s: Session) -> None:
    """4d'. A rolling buffer whose appends wrapped around: reads of its two
    segments, runs in place inside and across the wrap, and the commands
    that make it contiguous first"""
    s.step("wrapped rolling buffer")
    expected = np.zeros((0, 4, 64), "<f4")

    def layout() -> bytes:
        info = s.np("NP.INFO", "ring")
        fields = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2]))
        return bytes(fields[b"layout"])

    wrapped = 0
    for i in range(120):
        row = np.full((1, 4, 64), i, "<f4")
        s.np("NP.APPEND", "ring", npy(row), "MAXLEN", 20)
        expected = np.concatenate([expected, row])[-20:]
        wrapped += layout() == b"wrapped"
        if layout() == b"wrapped" and i > 60:
            break
    s.check(wrapped > 0 and layout() == b"wrapped", "the ring never wrapped")
    s.check(s.np("NP.GET", "ring") == npy(expected), "whole read of a wrapped buffer")
    s.check(s.np("NP.MGET", "ring", "missing") == [npy(expected), None], "NP.MGET of a wrapped buffer")
    for a in range(0, 20, 3):
        for b in range(a + 1, 21, 4):
            s.check(s.np("NP.GET", "ring", "SLICE", f"{a}:{b}") == npy(expected[a:b]), f"run {a}:{b}")
    copied = s.r.copy("ring", "ring2")
    s.check(bool(copied) and s.np("NP.GET", "ring2") == npy(expected), "COPY of a wrapped buffer")
    s.np("NP.SET", "ring_plain", npy(expected))
    s.check(s.dump("ring") == s.dump("ring_plain"), "a wrapped buffer dumps as its contiguous form")
    s.check(layout() == b"wrapped", "reads made it contiguous")
    s.check(s.np("NP.GET", "ring", "SLICE", "::3") == npy(expected[::3]), "a non-run slice")
    s.check(layout() == b"full", "a non-run slice reads it contiguous")
    s.r.delete("ring", "ring2", "ring_plain")


def compute(s: Session) -> None:
    """4e. NP.RESHAPE, NP.TRANSPOSE, NP.REDUCE, NP.UPDATE"""
    s.step("NP.RESHAPE, NP.TRANSPOSE, NP.REDUCE, NP.UPDATE")
    cases: list[tuple[Literal["C", "F"], str, int]] = [("C", "<f8", 24), ("F", ">i4", 24), ("C", "<f4", 3000)]
    for order, dtype, n in cases:
        a = np.asarray(np.arange(n, dtype=dtype).reshape(4, -1), order=order)
        s.np("NP.SET", "c", npy(a))
        s.check(s.np("NP.RESHAPE", "c", "(2, -1, 2)") == [2, n // 4, 2], "RESHAPE reply")
        a = a.reshape(2, -1, 2)
        s.check(s.np("NP.GET", "c") == npy(a), "RESHAPE result")
        s.check(s.np("NP.TRANSPOSE", "c") == [2, n // 4, 2][::-1], "TRANSPOSE reply")
        a = a.T
        s.check(s.np("NP.GET", "c") == npy(a), "TRANSPOSE result")
        for op in ("sum", "prod", "mean", "min", "max", "argmin", "argmax", "std", "var", "count_nonzero", "any", "all"):
            s.np("NP.REDUCE", "c", op)
            s.np("NP.REDUCE", "c", op, "AXIS", "-1", "SLICE", "..., ::2")
        s.check(s.np("NP.REDUCE", "c", "sum", "AXIS", "0", "AS", "float64") == npy(a.sum(axis=0, dtype="f8")), "REDUCE AS")
        s.np("NP.REDUCE", "c", "max", "AXIS", "1", "VALUES")
        for op in ("add", "sub", "mul", "min", "max"):
            s.np("NP.UPDATE", "c", op, npy(np.ones(a.shape[-1], a.dtype)))
        s.np("NP.UPDATE", "c", "add", npy(np.array(3, a.dtype)), "SLICE", "0, [1, 0, 1]")
        s.np("NP.UPDATE", "c", "mul", "SLICE", "..., 1", npy(np.array(2, a.dtype)))
        if a.dtype.kind == "i":
            for op in ("and", "or", "xor"):
                s.np("NP.UPDATE", "c", op, npy(np.array(6, a.dtype)))
        else:
            s.np("NP.UPDATE", "c", "div", npy(np.array(2, a.dtype)))
    before = s.np("NP.GET", "c")
    for args, fragment in [
        (("NP.RESHAPE", "c", "(7, -1)"), "cannot reshape"),
        (("NP.RESHAPE", "c", "(-1, -1)"), "one unknown"),
        (("NP.RESHAPE", "c", "x"), ""),
        (("NP.RESHAPE", "missing", "(1,)"), "no such key"),
        (("NP.TRANSPOSE", "missing"), "no such key"),
        (("NP.REDUCE", "c", "median"), ""),
        (("NP.REDUCE", "c", "sum", "AXIS", "9"), "out of bounds"),
        (("NP.REDUCE", "c", "sum", "AXIS"), "wrong number"),
        (("NP.REDUCE", "c", "sum", "AXIS", "x"), "integer"),
        (("NP.REDUCE", "c", "sum", "AS", "object"), ""),
        (("NP.REDUCE", "c", "sum", "VALUES", "VALUES"), "twice"),
        (("NP.REDUCE", "c", "min", "SLICE", "0:0"), ""),
        (("NP.UPDATE", "c", "add", npy(np.ones(7, "<f4"))), "broadcast"),
        (("NP.UPDATE", "c", "pow", npy(np.ones(1, "<f4"))), ""),
        (("NP.UPDATE", "c", "and", npy(np.ones(1, "<f4"))), ""),
        (("NP.UPDATE", "c", "add", b"not npy"), "invalid .npy"),
        (("NP.UPDATE", "c", "add", npy(np.ones(1, "<f4")), "SLIC", "0"), "unknown"),
        (("NP.UPDATE", "missing", "add", npy(np.ones(1, "<f4"))), "no such key"),
        (("NP.UPDATE", "str", "add", npy(np.ones(1, "<f4"))), "WRONGTYPE"),
    ]:
        s.expect_error(fragment, *args)
    s.check(s.np("NP.GET", "c") == before, "a refused compute command changed the array")
    s.check(s.np("NP.REDUCE", "missing", "sum") is None, "REDUCE of a missing key")


def mget_mset(s: Session) -> None:
    """4f. NP.MGET, NP.MSET, NP.GET MAXBYTES, typed reads"""
    s.step("NP.MGET, NP.MSET, NP.GET MAXBYTES")
    arrays = {f"ms:{i}": s.rng.standard_normal((i % 5, 3)).astype(["<f4", ">f8", "<i2"][i % 3]) for i in range(12)}
    arrays["ms:big"] = np.arange(5000, dtype="<u2")
    arrays["ms:rec"] = np.zeros(3, dtype=[("a", "<i4"), ("b", "S2")])
    flat = [x for k, v in arrays.items() for x in (k, npy(v))]
    s.check(s.np("NP.MSET", *flat) == b"OK", "NP.MSET")
    reply = s.np("NP.MGET", *arrays, "missing", "str", "ms:0")
    s.check(reply == [npy(v) for v in arrays.values()] + [None, None, npy(arrays["ms:0"])], "NP.MGET")
    s.expect_error("wrong number", "NP.MSET", "ms:x", npy(arrays["ms:0"]), "ms:y")
    s.expect_error("invalid .npy", "NP.MSET", "ms:x", npy(arrays["ms:0"]), "ms:y", b"bad")
    s.expect_error("WRONGTYPE", "NP.MSET", "ms:x", npy(arrays["ms:0"]), "str", npy(arrays["ms:0"]))
    s.check(s.r.exists("ms:x", "ms:y") == 0, "a refused NP.MSET wrote a key")
    big = arrays["ms:big"]
    s.check(s.np("NP.GET", "ms:big", "MAXBYTES", big.nbytes) == npy(big), "MAXBYTES at the size")
    s.expect_error("reply array would be", "NP.GET", "ms:big", "MAXBYTES", big.nbytes - 1)
    s.expect_error("reply array would be", "NP.GET", "ms:big", "AS", "complex128", "MAXBYTES", big.nbytes)
    s.check(s.np("NP.GET", "ms:big", "SLICE", "[1, 4000, -1]", "AS", "int64", "MAXBYTES", "24") == npy(big[[1, 4000, -1]].astype("<i8")), "SLICE list AS MAXBYTES")
    s.expect_error("non-negative", "NP.GET", "ms:big", "MAXBYTES", "-1")
    s.expect_error("twice", "NP.GET", "ms:big", "AS", "int8", "AS", "int8")
    s.expect_error("unknown", "NP.GET", "ms:big", "BOGUS")
    for to in ("bool", "int8", "uint64", "float16", "float32", "complex64", ">f8", "datetime64[s]", "S4"):
        try:
            s.np("NP.GET", "ms:0", "AS", to)
            s.np("NP.GET", "ms:big", "SLICE", "::7", "AS", to, "VALUES")
        except redis.ResponseError:
            pass
    s.expect_error("not supported", "NP.GET", "ms:rec", "VALUES")
    s.r3.execute_command("NP.GET", "ms:1", "VALUES")
    s.r.delete(*[k for k in arrays if k != "ms:rec"])


def layout_transitions(s: Session) -> None:
    """4g. every layout transition: packed, full with the header kept, full with the data at its exact size"""
    s.step("layout transitions")
    packed = np.arange(16, dtype="<f4")
    kept = np.arange(6000, dtype="u1")
    exact = np.arange(1024, dtype="<f4")  # 4 KiB of data: the header lives apart
    strings = np.array([b"ab", b"c"] * 8)  # not numeric: never packed
    values: list[Any] = [packed, kept, exact, strings, np.zeros((0, 3), "<f4"), np.float64(2.5), exact.reshape(32, 32).T]
    for i, first in enumerate(values):
        for j, second in enumerate(values):
            key = f"lt:{i}:{j}"
            s.np("NP.SET", key, npy(first))
            s.np("NP.SET", key, npy(second))  # overwrite, in place when it fits
            s.check(s.np("NP.GET", key) == npy(second), f"layout {i} -> {j}")
            s.r.delete(key)
    # Growth and shrinking across the 4 KiB packed limit and a power of two.
    s.np("NP.SET", "lt", npy(np.zeros((1, 16), "<f4")))
    expected = np.zeros((1, 16), "<f4")
    for rows in (62, 1, 1, 1, 1, 60, 4, 130):
        more = np.full((rows, 16), rows, "<f4")
        s.np("NP.APPEND", "lt", npy(more))
        expected = np.concatenate([expected, more])
        s.check(s.np("NP.GET", "lt") == npy(expected), f"append to {len(expected)} rows")
    for keep in (256, 255, 64, 63, 1, 0):
        s.np("NP.TRIM", "lt", keep)
        expected = expected[max(len(expected) - keep, 0) :]
        s.check(s.np("NP.GET", "lt") == npy(expected), f"trim to {keep} rows")
    for key, arr in (("ltp", packed), ("ltk", kept), ("lte", exact), ("lts", strings)):
        s.np("NP.SET", key, npy(arr))
        s.np("NP.SETSLICE", key, "[0, -1]", npy(arr[[1, 2]]))
        arr = arr.copy()
        arr[[0, -1]] = arr[[1, 2]]
        s.check(s.np("NP.GET", key) == npy(arr), f"SETSLICE list on {key}")
        s.np("NP.RESHAPE", key, "(2, -1)")
        s.check(s.np("NP.GET", key) == npy(arr.reshape(2, -1)), f"RESHAPE on {key}")
        s.r.copy(key, key + ":copy")
        s.check(s.np("NP.GET", key + ":copy") == npy(arr.reshape(2, -1)), f"COPY of {key}")
        s.r.restore(key + ":restored", 0, s.dump(key))
        s.check(s.np("NP.GET", key + ":restored") == npy(arr.reshape(2, -1)), f"RESTORE of {key}")
        s.r.delete(key + ":copy", key + ":restored")


def adopted(s: Session) -> None:
    """4h. the adopted layout: a large NP.SET whose header is np.save's keeps
    the argument as the value; reads use it in place, every change and typed
    read moves it to a buffer of its own; its string is released on each path"""
    s.step("adopted layout: reads, typed reads, every change, MSET, COPY, RESTORE, release")

    def layout(key: str) -> bytes:
        info = s.np("NP.INFO", key)
        return (info if isinstance(info, dict) else dict(zip(info[::2], info[1::2])))[b"layout"]

    def put(key: str, arr: np.ndarray) -> None:
        s.check(s.np("NP.SET", key, npy(arr)) == b"OK", f"NP.SET {key}")
        s.check(layout(key) == b"adopted", f"{key} is not adopted")

    arr = s.rng.integers(-1000, 1000, (300, 41)).astype("<i4")  # 49,200 B: not 2^k, adopted by default
    put("ad", arr)
    s.check(s.np("NP.GET", "ad") == npy(arr), "adopted NP.GET")
    s.check(s.np("NP.GET", "ad", "SLICE", "7:90:3, ::-2") == npy(np.ascontiguousarray(arr[7:90:3, ::-2])), "adopted SLICE")
    s.check(s.np("NP.MGET", "ad", "missing") == [npy(arr), None], "adopted NP.MGET")
    s.check((s.r.memory_usage("ad") or 0) > arr.nbytes, "adopted MEMORY USAGE")
    s.r.execute_command("DEBUG", "DIGEST-VALUE", "ad")
    s.check(s.np("NP.REDUCE", "ad", "sum", "AXIS", "0") == npy(arr.sum(axis=0)), "REDUCE of an adopted value")
    s.check(layout("ad") == b"full", "a typed read moves the value")
    s.check(s.np("NP.GET", "ad") == npy(arr), "moved value")
    put("ad", arr)
    s.check(s.np("NP.GET", "ad", "AS", "float64") == npy(arr.astype("<f8")), "AS on an adopted value")
    changes: list[tuple[tuple[Any, ...], np.ndarray]] = []
    edited = arr.copy()
    edited[3:9] = 5
    changes.append((("NP.SETSLICE", "ad", "3:9", npy(np.int32(5))), edited))
    changes.append((("NP.UPDATE", "ad", "mul", npy(np.int32(3))), arr * np.int32(3)))
    changes.append((("NP.APPEND", "ad", npy(arr[:7])), np.concatenate([arr, arr[:7]])))
    changes.append((("NP.APPEND", "ad", npy(arr[:7]), "MAXLEN", "100"), np.concatenate([arr, arr[:7]])[-100:]))
    changes.append((("NP.TRIM", "ad", "10"), arr[-10:]))
    changes.append((("NP.RESHAPE", "ad", "(41, 300)"), arr.reshape(41, 300)))
    changes.append((("NP.TRANSPOSE", "ad"), arr.T))
    changes.append((("NP.RESERVE", "ad", "1000"), arr))
    for command, expected in changes:
        put("ad", arr)
        s.np(*command)
        s.check(s.np("NP.GET", "ad") == npy(expected), f"{command[0]} of an adopted value")
    put("ad", arr)
    other = s.rng.integers(0, 9, 20_000).astype("<i8")
    s.check(s.np("NP.SET", "ad", npy(other), "GET") == npy(arr), "NP.SET GET over an adopted value")
    s.check(layout("ad") == b"adopted" and s.np("NP.GET", "ad") == npy(other), "adopted over adopted")
    s.np("NP.SET", "ad", npy(np.arange(3)))
    s.check(s.np("NP.GET", "ad") == npy(np.arange(3)), "small over adopted")
    s.check(s.np("NP.MSET", "ad:m1", npy(arr), "ad:m2", npy(other), "ad:m1", npy(other)) == b"OK", "NP.MSET")
    s.check(s.np("NP.MGET", "ad:m1", "ad:m2") == [npy(other)] * 2 and layout("ad:m2") == b"adopted", "NP.MSET adopts")
    put("ad:keep", arr)  # left for DUMP/RESTORE, DEBUG RELOAD, the AOF rewrite and FLUSHALL ASYNC
    s.check(s.r.copy("ad:keep", "ad:copy") == 1, "COPY of an adopted value")
    s.r.restore("ad:restored", 0, s.dump("ad:keep"))
    s.check(s.np("NP.MGET", "ad:copy", "ad:restored") == [npy(arr)] * 2, "COPY / RESTORE of an adopted value")
    pipe = s.r.pipeline(transaction=True)
    pipe.execute_command("NP.SET", "ad:multi", npy(arr))
    pipe.execute_command("NP.SETSLICE", "ad:multi", "0", npy(np.int32(1)))
    pipe.execute()
    edited = arr.copy()
    edited[0] = 1
    s.check(s.np("NP.GET", "ad:multi") == npy(edited), "adopting NP.SET in a transaction")
    s.r.config_set("numpy.adopt-always", "yes")
    put("ad:pow2", np.zeros(1 << 14, "<f4"))  # 64 KiB: copied by default, adopted with adopt-always
    s.r.config_set("numpy.adopt-always", "no")
    s.r.delete("ad:m1", "ad:copy", "ad:restored")
    s.r.unlink("ad:m2", "ad:multi")
    s.r.pexpire("ad", 1)
    time.sleep(0.01)
    s.check(s.r.exists("ad") == 0, "an adopted value expires")


def max_array_bytes(s: Session) -> None:
    """5. max-array-bytes"""
    s.step("numpy.max-array-bytes")
    (limit,) = s.np("CONFIG", "GET", "numpy.max-array-bytes").values()
    s.r.config_set("numpy.max-array-bytes", 4096)
    s.expect_error("max-array-bytes", "NP.SET", "big", npy(np.zeros(1024, "<f8")))
    s.expect_error("max-array-bytes", "NP.APPEND", "grow", npy(np.zeros((100, 16), "<f4")))
    s.r.config_set("numpy.max-array-bytes", limit)
    s.check(s.r.exists("big") == 0, "a refused NP.SET created a key")


def copy(s: Session, expected: np.ndarray, sexp: np.ndarray) -> None:
    """6. COPY"""
    s.step("COPY")
    s.check(s.r.copy("grow", "grow2") == 1, "COPY")
    s.np("NP.APPEND", "grow2", npy(np.ones((3, 16), "<f4")))
    s.check(s.np("NP.GET", "grow") == npy(expected), "COPY is not independent")
    s.check(s.r.copy("sgrow", "grow2", replace=True) == 1, "COPY REPLACE")
    s.check(s.np("NP.GET", "grow2") == npy(sexp), "COPY REPLACE result")
    s.r.delete("grow2")


def dump_restore(s: Session) -> None:
    """7. DUMP / RESTORE, corrupt payloads"""
    s.step("DUMP/RESTORE and corrupt RESTORE payloads")
    for key in list(s.r.scan_iter(_type="numpy-arr", count=1000)):
        dump = s.dump(key)
        s.r.restore(key + b":restored", 0, dump)
        s.check(s.np("NP.GET", key + b":restored") == s.np("NP.GET", key), f"RESTORE of {key!r}")
        s.r.restore(key + b":restored", 0, dump, replace=True)
        s.r.delete(key + b":restored")

    # Crafted payloads with a valid checksum reach the module's loader.
    sample = s.dump("fx:int32.npy")
    crafter = DumpCrafter(sample)

    def dump_of(strings: list[bytes], encver: int = 2, eof: bool = True) -> bytes:
        return crafter.dump(strings, encver, eof)

    meta = b"\x00" + varint(1) + varint(3) + b"'<f8'"
    data = np.arange(3, dtype="<f8").tobytes()
    s.r.restore("crafted", 0, dump_of([meta, data]))
    s.check(s.np("NP.GET", "crafted") == npy(np.arange(3, dtype="<f8")), "crafted dump loads")
    corrupt = [
        ("unknown flags", [b"\x02" + meta[1:], data], 1, True),
        ("object dtype", [b"\x00\x01\x03'|O'", data], 1, True),
        ("65 dimensions", [b"\x00" + varint(65) + b"\x01" * 65 + b"'<f8'", data], 1, True),
        ("short data", [meta, data[:-1]], 1, True),
        ("long data", [meta, data + b"\0"], 1, True),
        ("newer encoding", [meta, data], 3, True),
        ("v2 data string cut short", [meta, data[:-1]], 2, True),
        ("v2 data in two strings", [meta, data[:8], data[8:]], 2, True),
        ("v2 huge shape, little data", [b"\x00\x01" + varint(1 << 50) + b"'|u1'", data], 2, True),
        ("encoding 0", [meta, data], 0, True),
        ("empty meta", [b"", data], 1, True),
        ("truncated varint", [b"\x00\x81", data], 1, True),
        ("descr not UTF-8", [b"\x00\x01\x03'\xff'", data], 1, True),
        ("bad descr", [b"\x00\x01\x03[('a', '<i4'), ('a', '<i4')]", data], 1, True),
        ("huge shape", [b"\x00\x02" + varint(1 << 40) * 2 + b"'<f8'", data], 1, True),
        ("missing data string", [meta], 1, True),
        ("missing everything", [], 1, False),
        ("stream ends early", [meta, data], 1, False),
        ("extra string", [meta, data, b"x"], 1, True),
    ]
    for what, strings, encver, eof in corrupt:
        payload = dump_of(strings, encver, eof)
        try:
            s.r.restore("corrupt", 0, payload)
            s.check(False, f"RESTORE of a corrupt payload ({what}) succeeded")
        except redis.ResponseError:
            pass
        s.check(s.r.ping(), f"server died on {what}")
    s.check(s.r.exists("corrupt") == 0, "a corrupt RESTORE created a key")
    bad_crc = bytearray(sample)
    bad_crc[-1] ^= 0xFF
    s.expect_error("checksum", "RESTORE", "corrupt", 0, bytes(bad_crc))
    # Random byte flips inside the meta and data (with a valid checksum).
    for i in range(60):
        m, d = bytearray(meta), bytearray(data)
        target = m if i % 2 == 0 else d
        target[int(s.rng.integers(0, len(target)))] ^= int(s.rng.integers(1, 256))
        try:
            s.r.restore("flipped", 0, dump_of([bytes(m), bytes(d)]), replace=True)
        except redis.ResponseError:
            pass
        s.check(s.r.ping(), "server died on a flipped RESTORE")
    s.r.delete("flipped", "crafted")


def debug_reload(s: Session) -> None:
    """8. DEBUG RELOAD"""
    s.step("DEBUG RELOAD")
    before = s.snapshot()
    digest = s.r.execute_command("DEBUG", "DIGEST")
    s.r.execute_command("DEBUG", "RELOAD")
    s.check(s.snapshot() == before, "DEBUG RELOAD changed an array")
    s.check(s.r.execute_command("DEBUG", "DIGEST") == digest, "DEBUG DIGEST changed across RELOAD")
    s.r.bgsave()
    while s.r.info("persistence")["rdb_bgsave_in_progress"]:
        time.sleep(0.5)
    s.check(s.r.info("persistence")["rdb_last_bgsave_status"] == "ok", "BGSAVE failed")


def aof_rewrite(s: Session) -> bytes:
    """9. AOF rewrite in pieces, DEBUG LOADAOF, lazy free of a big array"""
    s.step("AOF rewrite (65 MiB array in NP.SET + NP.APPEND pieces), DEBUG LOADAOF")
    big = np.arange(65 * 1024 * 1024, dtype="u1").reshape(-1, 1024)
    big_npy = npy(big)
    s.np("NP.SET", "big", big_npy)
    before = s.snapshot()

    def wait_rewrite() -> dict[str, Any]:
        while True:
            p = s.r.info("persistence")
            if not p["aof_rewrite_in_progress"] and not p["aof_rewrite_scheduled"]:
                return p
            time.sleep(0.5)

    s.r.config_set("appendonly", "yes")
    wait_rewrite()
    s.r.bgrewriteaof()
    p = wait_rewrite()
    s.check(p["aof_last_bgrewrite_status"] == "ok", "BGREWRITEAOF failed")
    s.np("NP.APPEND", "grow", npy(np.ones((2, 16), "<f4")))  # incremental AOF entry
    before[b"grow"] = s.np("NP.GET", "grow")
    s.r.execute_command("DEBUG", "LOADAOF")
    after = s.snapshot()
    s.check(after.keys() == before.keys(), "DEBUG LOADAOF lost keys")
    s.check(all(after[k] == before[k] for k in before), "DEBUG LOADAOF changed an array")
    del after, before
    s.r.config_set("appendonly", "no")
    s.r.unlink("big")  # free effort > 64: freed by the lazy-free thread
    return big_npy


def flushall(s: Session, big_npy: bytes) -> None:
    """10. FLUSHALL ASYNC and FLUSHALL"""
    s.step("FLUSHALL ASYNC, FLUSHALL")
    for i in range(200):
        s.np("NP.SET", f"many:{i}", npy(s.rng.standard_normal((i % 7, 5))))
    s.np("NP.SET", "big", big_npy)
    s.r.flushall(asynchronous=True)
    for i in range(50):
        s.np("NP.SET", f"again:{i}", npy(np.arange(i)))
    s.r.flushall()
    deadline = time.monotonic() + 300
    while s.r.info("memory").get("lazyfree_pending_objects", 0):
        s.check(time.monotonic() < deadline, "lazy free did not finish")
        time.sleep(0.5)
    stats = s.r.info("numpy")
    s.check(stats["numpy_arrays"] == 0, f"INFO numpy counts arrays after FLUSHALL: {stats}")
    s.check(stats["numpy_data_bytes"] == 0, f"INFO numpy counts bytes after FLUSHALL: {stats}")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(int(argv[1]), Path(argv[2]) if len(argv) == 3 else FIXTURES)
    except CheckFailed as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
