#!/usr/bin/env bash
# memcheck: runs a real redis-server with the module under valgrind, drives
# every command and callback (errors, WRONGTYPE, COPY, DUMP/RESTORE with
# corrupt payloads, DEBUG RELOAD, AOF rewrite in pieces + DEBUG LOADAOF,
# NP.APPEND growth, lazy and synchronous FLUSHALL), shuts the server down
# cleanly and reports memory errors attributable to the module.
#
#   scripts/memcheck.sh [--no-build]
#
# Counts: invalid reads/writes/frees, uninitialised values, and definitely or
# indirectly lost blocks whose stack has a frame in libredis_numpy.so (or a
# redis_numpy function). Redis's own "still reachable" memory and errors with
# no module frame are listed but do not fail the run.
#
# Exit status: 0 clean, 1 module memory errors, 2 workload or server failure.
# Environment: REDIS_NUMPY_MODULE (module path, default the release build),
# PYTHON (needs numpy and redis), MEMCHECK_KEEP=1 keeps the work directory.
#
# Debian's redis-server links the system libjemalloc; --soname-synonyms makes
# valgrind replace its malloc/free so Redis's (and so the module's) heap is tracked.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

build=1
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if ! command -v valgrind >/dev/null; then
    echo "memcheck: valgrind is not installed (apt-get install -y valgrind)" >&2
    exit 2
fi
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" -c 'import numpy, redis' || { echo "memcheck: $PYTHON lacks numpy/redis (make python-deps)" >&2; exit 2; }

if [ "$build" = 1 ] && [ -z "${REDIS_NUMPY_MODULE:-}" ]; then
    cargo build --release || exit 2
fi
MODULE=$(realpath "${REDIS_NUMPY_MODULE:-target/release/libredis_numpy.so}")
[ -f "$MODULE" ] || { echo "memcheck: module not found: $MODULE" >&2; exit 2; }

WORK=$(mktemp -d /tmp/redis-numpy-memcheck.XXXXXX)
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "memcheck: valgrind redis-server on 127.0.0.1:$PORT, module $MODULE, logs in $WORK"

# Known false positives of Redis itself, as in Redis's src/valgrind.sup:
# liblzf reads its hash table uninitialised by design (it is reached from
# RM_SaveStringBuffer too, hence a module frame on the stack).
cat >"$WORK/redis.supp" <<'SUPP'
{
   lzf_uninitialized_hash_table_cond
   Memcheck:Cond
   fun:lzf_compress
}
{
   lzf_uninitialized_hash_table_value4
   Memcheck:Value4
   fun:lzf_compress
}
{
   lzf_uninitialized_hash_table_value8
   Memcheck:Value8
   fun:lzf_compress
}
SUPP

# Children of fork (BGSAVE, AOF rewrite: where aof_rewrite runs) are checked
# too. A child inherits the parent's error count, so an error before a fork
# also makes that child exit 42 and Redis report the BGSAVE/rewrite as failed.
valgrind \
    --tool=memcheck \
    --soname-synonyms=somalloc='*jemalloc*' \
    --leak-check=full \
    --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=42 \
    --num-callers=40 \
    --suppressions="$WORK/redis.supp" \
    --xml=yes --xml-file="$WORK/valgrind.%p.xml" \
    --log-file="$WORK/valgrind.%p.log" \
    redis-server \
    --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --logfile "$WORK/redis.log" \
    --save '' --appendonly no --aof-use-rdb-preamble no \
    --enable-debug-command yes \
    --loadmodule "$MODULE" &
VG_PID=$!

cleanup() {
    if kill -0 "$VG_PID" 2>/dev/null; then kill -9 "$VG_PID" 2>/dev/null; fi
    if [ "${MEMCHECK_KEEP:-0}" != 1 ] && [ "${status:-2}" = 0 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

status=0
"$PYTHON" - "$PORT" "$ROOT/tests/fixtures/npy" <<'PY' || status=2
"""The memcheck workload: every command, error path and type callback."""
import glob
import io
import os
import sys
import time

import numpy as np
import redis

port, fixtures = int(sys.argv[1]), sys.argv[2]


def connect(**kw):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=900, **kw)


r = connect()
deadline = time.monotonic() + 120
while True:
    try:
        r.ping()
        break
    except (redis.ConnectionError, redis.BusyLoadingError):
        if time.monotonic() > deadline:
            sys.exit("memcheck: redis-server under valgrind did not start")
        time.sleep(0.5)
r3 = connect(protocol=3)
checks = 0
t0 = time.monotonic()


def step(name):
    print(f"  [{time.monotonic() - t0:6.1f}s] {name}", flush=True)


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        sys.exit(f"memcheck workload check failed: {what}")


def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def np_cmd(*args):
    return r.execute_command(*args)


def expect_error(fragment, *args, client=None):
    try:
        (client or r).execute_command(*args)
    except redis.ResponseError as e:
        check(fragment.lower() in str(e).lower(), f"{args[:2]}: {e!r} lacks {fragment!r}")
        return
    check(False, f"{args[:2]} succeeded, expected an error with {fragment!r}")


def snapshot():
    return {k: np_cmd("NP.GET", k) for k in r.scan_iter(_type="numpy-arr", count=1000)}


# -- 1. every fixture through every read command ------------------------------
step("fixtures: NP.SET/GET/SHAPE/DTYPE/SIZE/INFO, MEMORY USAGE, DIGEST")
for path in sorted(glob.glob(os.path.join(fixtures, "*.npy"))):
    key = "fx:" + os.path.basename(path)
    data = open(path, "rb").read()
    check(np_cmd("NP.SET", key, data) == b"OK", key)
    check(np_cmd("NP.GET", key) == data, f"{key} not byte-exact")
    np_cmd("NP.SHAPE", key)
    np_cmd("NP.DTYPE", key)
    np_cmd("NP.SIZE", key)
    np_cmd("NP.INFO", key)
    r3.execute_command("NP.INFO", key)
    check(r.type(key) == b"numpy-arr", "TYPE")
    check(r.memory_usage(key) > 0, "MEMORY USAGE")
    r.execute_command("DEBUG", "DIGEST-VALUE", key)
r.execute_command("DEBUG", "DIGEST")
r.info("numpy")
r.config_get("numpy.*")
raw = connect()
raw.set_response_callback("COMMAND", lambda response, **kw: response)
raw.execute_command("COMMAND", "DOCS", "np.set", "np.get")
raw.execute_command("COMMAND", "INFO", "np.set", "np.append", "np.get", "np.info")
for cmd in ("NP.GET", "NP.SHAPE", "NP.DTYPE", "NP.SIZE", "NP.INFO"):
    check(np_cmd(cmd, "missing") is None, f"{cmd} on a missing key")

# -- 2. invalid payloads and arity ---------------------------------------------
step("invalid payloads, arity")
good = npy(np.arange(6, dtype="<i4").reshape(2, 3))


def v1(header, data=b""):
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
    (v1("{'descr': " + "[" * 200 + "]" * 200 + ", 'fortran_order': False, 'shape': ()}"), "deeper"),
    (v1("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", b"\0" * 15), "data is 15 bytes"),
    (v1("{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}"), "not a python literal"),
    (good[:-1], "data is"),
    (good + b"\0", "data is"),
]
for payload, fragment in bad_payloads:
    expect_error(fragment, "NP.SET", "bad", payload)
    expect_error(fragment, "NP.APPEND", "bad", payload)
check(r.exists("bad") == 0, "a refused payload created a key")
expect_error("wrong number of arguments", "NP.SET", "k")
expect_error("wrong number of arguments", "NP.GET")
expect_error("wrong number of arguments", "NP.APPEND", "k", good, good)

# -- 3. WRONGTYPE ------------------------------------------------------------
step("WRONGTYPE")
r.set("str", "x")
r.rpush("list", "x")
for key in ("str", "list"):
    for cmd in ("NP.GET", "NP.SHAPE", "NP.DTYPE", "NP.SIZE", "NP.INFO"):
        expect_error("WRONGTYPE", cmd, key)
    expect_error("WRONGTYPE", "NP.SET", key, good)
    expect_error("WRONGTYPE", "NP.APPEND", key, good)
check(r.get("str") == b"x", "WRONGTYPE changed the string")
expect_error("WRONGTYPE", "GET", "fx:int32.npy")

# -- 4. NP.APPEND growth ---------------------------------------------------------
step("NP.APPEND growth (C and Fortran order, structured, new keys)")
rng = np.random.default_rng(6)
expected = np.zeros((0, 16), dtype="<f4")
np_cmd("NP.SET", "grow", npy(expected))
for i in range(150):
    k = int(rng.integers(1, 6))
    rows = rng.standard_normal((k, 16)).astype("<f4")
    if i % 10 == 0:
        rows = rows[0]
        n = np_cmd("NP.APPEND", "grow", npy(rows))
        expected = np.concatenate([expected, rows[None]])
    else:
        n = np_cmd("NP.APPEND", "grow", npy(rows))
        expected = np.concatenate([expected, rows])
    check(n == len(expected), f"NP.APPEND replied {n}, expected {len(expected)}")
check(np_cmd("NP.GET", "grow") == npy(expected), "appended array differs")

fexp = np.asfortranarray(np.arange(12, dtype=">i8").reshape(3, 4))
np_cmd("NP.SET", "fgrow", npy(fexp))
for i in range(20):
    cols = np.asfortranarray(rng.integers(0, 1000, (3, 2)).astype(">i8"))
    np_cmd("NP.APPEND", "fgrow", npy(cols))
    fexp = np.asfortranarray(np.concatenate([fexp, cols], axis=1).astype(">i8"))  # keep big-endian
check(np_cmd("NP.GET", "fgrow") == npy(fexp), "Fortran append differs")

rec = np.dtype([("a", "<i4"), ("b", "S3"), ("c", "<f8", (2,))])
sexp = np.zeros(2, dtype=rec)
np_cmd("NP.APPEND", "sgrow", npy(sexp))  # creates the key
for i in range(10):
    more = np.array([(i, b"ab", (i, -i))], dtype=rec)
    np_cmd("NP.APPEND", "sgrow", npy(more))
    sexp = np.concatenate([sexp, more])
check(np_cmd("NP.GET", "sgrow") == npy(sexp), "structured append differs")

before = np_cmd("NP.GET", "grow")
expect_error("does not match", "NP.APPEND", "grow", npy(np.zeros((1, 16), "<f8")))
expect_error("does not fit", "NP.APPEND", "grow", npy(np.zeros((1, 15), "<f4")))
expect_error("Fortran order", "NP.APPEND", "fgrow", npy(np.zeros((3, 2), ">i8")))
np_cmd("NP.SET", "scalar", npy(np.float64(1.5)))
expect_error("0-d", "NP.APPEND", "scalar", npy(np.float64(1.5)))
check(np_cmd("NP.GET", "grow") == before, "a refused append changed the array")

# -- 4b. slices, casts, typed values, in-place writes ---------------------------
step("NP.GET SLICE / AS / VALUES, NP.SETSLICE, NP.SET overwrite in place")
m = np.asfortranarray(np.arange(240, dtype=">i4").reshape(6, 8, 5))
np_cmd("NP.SET", "m", npy(m))
for spec, index in [("1", np.s_[1]), ("::-2, 3", np.s_[::-2, 3]), ("..., None, 0", np.s_[..., None, 0]),
                    ("2, 3, 4", np.s_[2, 3, 4]), (":, 1:7:3", np.s_[:, 1:7:3])]:
    check(np_cmd("NP.GET", "m", "SLICE", spec) == npy(m[index]), f"SLICE {spec}")
check(np_cmd("NP.GET", "m", "SLICE", "0", "AS", "float16") == npy(np.ascontiguousarray(m[0]).astype(np.float16)), "SLICE + AS")
check(len(np_cmd("NP.GET", "m", "SLICE", "0, 0", "VALUES")) in (3, 6), "SLICE + VALUES")
expect_error("out of bounds", "NP.GET", "m", "SLICE", "6")
expect_error("not an integer", "NP.GET", "m", "SLICE", "x")
np_cmd("NP.SETSLICE", "m", ":, ::2", npy(np.arange(5, dtype=">i4")))
m[:, ::2] = np.arange(5, dtype=">i4")
check(np_cmd("NP.GET", "m") == npy(m), "SETSLICE result")
expect_error("dtype mismatch", "NP.SETSLICE", "m", "0", npy(np.zeros(5)))
expect_error("could not broadcast", "NP.SETSLICE", "m", "0", npy(np.zeros(3, ">i4")))
np_cmd("NP.SET", "m", npy(np.ones((8, 5, 6), "<f4")))  # same size: reuses the buffer
check(np_cmd("NP.GET", "m") == npy(np.ones((8, 5, 6), "<f4")), "overwrite in place")

# -- 5. max-array-bytes ----------------------------------------------------------
step("numpy.max-array-bytes")
r.config_set("numpy.max-array-bytes", 4096)
expect_error("max-array-bytes", "NP.SET", "big", npy(np.zeros(1024, "<f8")))
expect_error("max-array-bytes", "NP.APPEND", "grow", npy(np.zeros((100, 16), "<f4")))
r.config_set("numpy.max-array-bytes", 512 * 1024 * 1024)
check(r.exists("big") == 0, "a refused NP.SET created a key")

# -- 6. COPY ---------------------------------------------------------------------
step("COPY")
check(r.copy("grow", "grow2") == 1, "COPY")
np_cmd("NP.APPEND", "grow2", npy(np.ones((3, 16), "<f4")))
check(np_cmd("NP.GET", "grow") == npy(expected), "COPY is not independent")
check(r.copy("sgrow", "grow2", replace=True) == 1, "COPY REPLACE")
check(np_cmd("NP.GET", "grow2") == npy(sexp), "COPY REPLACE result")
r.delete("grow2")

# -- 7. DUMP / RESTORE, corrupt payloads -------------------------------------------
step("DUMP/RESTORE and corrupt RESTORE payloads")
for key in list(r.scan_iter(_type="numpy-arr", count=1000)):
    dump = r.dump(key)
    r.restore(key + b":restored", 0, dump)
    check(np_cmd("NP.GET", key + b":restored") == np_cmd("NP.GET", key), f"RESTORE of {key!r}")
    r.restore(key + b":restored", 0, dump, replace=True)
    r.delete(key + b":restored")

# Crafted payloads with a valid checksum reach the module's loader.
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "support"))
from dump_payload import DumpCrafter, varint  # noqa: E402

sample = r.dump("fx:int32.npy")
crafter = DumpCrafter(sample)


def dump_of(strings, encver=2, eof=True):
    return crafter.dump(strings, encver, eof)


meta = b"\x00" + varint(1) + varint(3) + b"'<f8'"
data = np.arange(3, dtype="<f8").tobytes()
r.restore("crafted", 0, dump_of([meta, data]))
check(np_cmd("NP.GET", "crafted") == npy(np.arange(3, dtype="<f8")), "crafted dump loads")
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
        r.restore("corrupt", 0, payload)
        check(False, f"RESTORE of a corrupt payload ({what}) succeeded")
    except redis.ResponseError:
        pass
    check(r.ping(), f"server died on {what}")
check(r.exists("corrupt") == 0, "a corrupt RESTORE created a key")
bad_crc = bytearray(sample)
bad_crc[-1] ^= 0xFF
expect_error("checksum", "RESTORE", "corrupt", 0, bytes(bad_crc))
# Random byte flips inside the meta and data (with a valid checksum).
for i in range(60):
    m, d = bytearray(meta), bytearray(data)
    target = m if i % 2 == 0 else d
    target[int(rng.integers(0, len(target)))] ^= int(rng.integers(1, 256))
    try:
        r.restore("flipped", 0, dump_of([bytes(m), bytes(d)]), replace=True)
    except redis.ResponseError:
        pass
    check(r.ping(), "server died on a flipped RESTORE")
r.delete("flipped", "crafted")

# -- 8. DEBUG RELOAD -----------------------------------------------------------------
step("DEBUG RELOAD")
before = snapshot()
digest = r.execute_command("DEBUG", "DIGEST")
r.execute_command("DEBUG", "RELOAD")
check(snapshot() == before, "DEBUG RELOAD changed an array")
check(r.execute_command("DEBUG", "DIGEST") == digest, "DEBUG DIGEST changed across RELOAD")
r.bgsave()
while r.info("persistence")["rdb_bgsave_in_progress"]:
    time.sleep(0.5)
check(r.info("persistence")["rdb_last_bgsave_status"] == "ok", "BGSAVE failed")

# -- 9. AOF rewrite in pieces, DEBUG LOADAOF, lazy free of a big array ---------------
step("AOF rewrite (65 MiB array in NP.SET + NP.APPEND pieces), DEBUG LOADAOF")
big = np.arange(65 * 1024 * 1024, dtype="u1").reshape(-1, 1024)
big_npy = npy(big)
np_cmd("NP.SET", "big", big_npy)
before = snapshot()


def wait_rewrite():
    while True:
        p = r.info("persistence")
        if not p["aof_rewrite_in_progress"] and not p["aof_rewrite_scheduled"]:
            return p
        time.sleep(0.5)


r.config_set("appendonly", "yes")
wait_rewrite()
r.bgrewriteaof()
p = wait_rewrite()
check(p["aof_last_bgrewrite_status"] == "ok", "BGREWRITEAOF failed")
np_cmd("NP.APPEND", "grow", npy(np.ones((2, 16), "<f4")))  # incremental AOF entry
before[b"grow"] = np_cmd("NP.GET", "grow")
r.execute_command("DEBUG", "LOADAOF")
after = snapshot()
check(after.keys() == before.keys(), "DEBUG LOADAOF lost keys")
check(all(after[k] == before[k] for k in before), "DEBUG LOADAOF changed an array")
del after, before
r.config_set("appendonly", "no")
r.unlink("big")  # free effort > 64: freed by the lazy-free thread

# -- 10. FLUSHALL ASYNC and FLUSHALL ---------------------------------------------------
step("FLUSHALL ASYNC, FLUSHALL")
for i in range(200):
    np_cmd("NP.SET", f"many:{i}", npy(rng.standard_normal((i % 7, 5))))
np_cmd("NP.SET", "big", big_npy)
r.flushall(asynchronous=True)
for i in range(50):
    np_cmd("NP.SET", f"again:{i}", npy(np.arange(i)))
r.flushall()
deadline = time.monotonic() + 300
while r.info("memory").get("lazyfree_pending_objects", 0):
    check(time.monotonic() < deadline, "lazy free did not finish")
    time.sleep(0.5)
stats = r.info("numpy")
check(stats.get("numpy_arrays", stats.get("arrays")) == 0, f"INFO numpy counts arrays after FLUSHALL: {stats}")
check(stats.get("numpy_data_bytes", stats.get("data_bytes")) == 0, f"INFO numpy counts bytes after FLUSHALL: {stats}")
step(f"workload done: {checks} checks passed")
PY

if [ "$status" = 0 ]; then
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1
else
    echo "memcheck: workload failed; shutting the server down for the report" >&2
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1
fi
wait "$VG_PID"
vg_rc=$?
echo "memcheck: valgrind exited with $vg_rc (42 = errors somewhere, module or Redis)"
if grep -q "Redis is now ready to exit" "$WORK/redis.log" 2>/dev/null; then
    echo "memcheck: redis-server shut down cleanly"
else
    echo "memcheck: redis-server did not shut down cleanly; log tail:" >&2
    tail -20 "$WORK/redis.log" >&2
    status=2
fi

"$PYTHON" - "$WORK" <<'PY'
"""Attributes valgrind's errors (every process: server and fork children)."""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

work = sys.argv[1]
COUNTED_LEAKS = {"Leak_DefinitelyLost", "Leak_IndirectlyLost"}
module_errors, other_errors, processes = [], 0, 0


def frames(error):
    for f in error.iter("frame"):
        yield {k: (f.findtext(k) or "") for k in ("fn", "obj", "file", "line")}


def is_module(frame):
    return "libredis_numpy" in frame["obj"] or "redis_numpy" in frame["fn"]


def errors():
    """Every <error> record. A fork child appends its own XML document to the
    parent's file, so the files are split into records, not parsed whole."""
    global processes
    for path in sorted(glob.glob(os.path.join(work, "valgrind.*.xml"))):
        text = open(path, errors="replace").read()
        processes += text.count("<valgrindoutput>")
        if text.count("<valgrindoutput>") != text.count("</valgrindoutput>"):
            print(f"  {os.path.basename(path)}: a process did not finish its report (killed?)")
        for record in re.findall(r"<error>.*?</error>", text, re.S):
            try:
                yield path, ET.fromstring(record)
            except ET.ParseError as e:
                print(f"  {os.path.basename(path)}: unreadable error record ({e})")


for path, error in errors():
    kind = error.findtext("kind") or "?"
    if kind.startswith("Leak_") and kind not in COUNTED_LEAKS:
        continue  # possibly lost / still reachable: Redis keeps its globals to the end
    fs = list(frames(error))
    if any(is_module(f) for f in fs):
        what = error.findtext("what") or error.findtext("xwhat/text") or ""
        stack = "\n".join(
            f"      {f['fn'] or '???'} ({os.path.basename(f['obj'])}"
            + (f" {f['file']}:{f['line']}" if f["file"] else "")
            + ")"
            for f in fs[:12]
        )
        module_errors.append(f"  [{os.path.basename(path)}] {kind}: {what}\n{stack}")
    else:
        other_errors += 1

print(f"memcheck: {processes} process report(s) read (server and fork children)")
print(f"memcheck: {other_errors} error(s)/leak(s) without a module frame (Redis itself; not counted)")
if module_errors:
    print(f"memcheck: {len(module_errors)} module memory error(s):")
    print("\n".join(module_errors))
    sys.exit(1)
print("memcheck: no memory errors or definite/indirect leaks attributable to the module")
PY
analysis=$?
if [ "$analysis" != 0 ]; then status=1; fi
if [ "$status" != 0 ]; then echo "memcheck: FAILED (status $status); logs kept in $WORK"; else echo "memcheck: OK"; fi
exit "$status"
