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
# The workload is tests/support/memcheck_workload.py (also run, without
# valgrind, by tests/python/test_memcheck_workload.py); the attribution is
# tests/support/valgrind_report.py.
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
        -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
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
"$PYTHON" tests/support/memcheck_workload.py "$PORT" "$ROOT/tests/fixtures/npy" || status=2

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

"$PYTHON" tests/support/valgrind_report.py "$WORK"
analysis=$?
if [ "$analysis" != 0 ]; then status=1; fi
if [ "$status" != 0 ]; then echo "memcheck: FAILED (status $status); logs kept in $WORK"; else echo "memcheck: OK"; fi
exit "$status"
