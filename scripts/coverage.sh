#!/usr/bin/env bash
# Line coverage of src/ and of the Python client (`make coverage`).
#
# src/ is measured with rustc's -C instrument-coverage on three kinds of
# binaries, merged into one report:
#   - the module (cdylib) loaded by every redis-server the Rust integration
#     tests and the Python suites start, so the module glue is measured inside
#     a real server;
#   - the same module built with the debug-panic feature, for the panic guard
#     test;
#   - the Rust unit and integration test binaries (`cargo test`).
# Every instrumented process writes its own profile ($LLVM_PROFILE_FILE with
# %p) when it exits normally; a server stopped with SIGKILL writes nothing,
# which is why the test harnesses stop servers with SHUTDOWN NOSAVE first, and
# Redis's fork children (which leave with _exit) are made to exit() instead.
# Debian's llvm-19 reads rustc's profiles (LLVM_BIN to use another).
#
# The Python client is measured with coverage.py over the same Python runs,
# including the inspector processes the tests start.
#
# Everything goes to target/coverage/ (its own cargo target dir, so
# target/release is never touched): summary.txt, rust-uncovered.txt,
# python-uncovered.txt, html/ and python-html/.
# The report ends with each part's line coverage against its target (src/ 90%,
# client 95%), saying met or NOT met. COVERAGE_PARTS=python measures the client
# alone, against the uninstrumented module, without building anything.
# Test failures do not stop the report; the exit status is then non-zero.
set -uo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
LLVM_BIN=${LLVM_BIN:-/usr/lib/llvm-19/bin}
OUT=$ROOT/target/coverage
PROFILES=$OUT/profiles
MODULE_DIR=$OUT/module
PANIC_DIR=$OUT/module-debug-panic
# The panic test loads the debug-panic module from this fixed path.
PANIC_SLOT=$ROOT/target/debug-panic/libredis_numpy.so
# Python suites to run (override to measure a subset quickly).
PYTHON_TESTS=${PYTHON_TESTS:-tests/python python-client/tests tests/inspect}
# What to measure: "all", or "python" for the client alone (no instrumented
# build: the suites run against $REDIS_NUMPY_MODULE or target/release).
COVERAGE_PARTS=${COVERAGE_PARTS:-all}
# The targets the report checks (percent of lines).
RUST_TARGET=90
PYTHON_TARGET=95

export CARGO_TARGET_DIR=$OUT
export RUSTFLAGS="${RUSTFLAGS:-} -C instrument-coverage"
failed=()

step() { printf '\n== %s\n' "$*"; }

rm -rf "$PROFILES" "$OUT/python" "$OUT/html" "$OUT/python-html"
mkdir -p "$PROFILES" "$OUT/build-profiles" "$OUT/python" "$MODULE_DIR" "$PANIC_DIR"

case $COVERAGE_PARTS in
all | python) ;;
*) echo "COVERAGE_PARTS must be all or python, not $COVERAGE_PARTS" >&2; exit 2 ;;
esac

# The client's report, and whether each measured part meets its target.
python_report() {
    "$PY" -m coverage combine -q --rcfile=scripts/coverage.toml || exit 1
    "$PY" -m coverage report --rcfile=scripts/coverage.toml >"$OUT/python-summary.txt"
    "$PY" -m coverage html -q --rcfile=scripts/coverage.toml -d "$OUT/python-html"
    "$PY" -m coverage report --rcfile=scripts/coverage.toml --skip-covered >"$OUT/python-uncovered.txt"
}
verdict() { # name, measured percent, target percent
    "$PY" -c 'import math, sys
name, got, target = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
shown = math.floor(got * 10) / 10  # rounded down: 94.96% is not shown as a met 95.0%
print(f"{name}: {shown:.1f}% of lines (target >= {target:g}%): " + ("met" if got >= target else "NOT met"))' "$@"
}
targets() {
    echo "Targets:"
    if [ "$COVERAGE_PARTS" = all ]; then
        verdict "src/" "$("$PY" -c 'import sys
found = hit = 0
for line in open(sys.argv[1]):
    if line.startswith("LF:"): found += int(line[3:])
    elif line.startswith("LH:"): hit += int(line[3:])
print(100 * hit / found)' "$OUT/rust.lcov")" "$RUST_TARGET"
    fi
    verdict "Python client" "$("$PY" -m coverage report --rcfile=scripts/coverage.toml --format=total --precision=3)" "$PYTHON_TARGET"
}

if [ "$COVERAGE_PARTS" = python ]; then
    step "Python suites under coverage.py (client only, module ${REDIS_NUMPY_MODULE:-target/release}): $PYTHON_TESTS"
    export COVERAGE_FILE=$OUT/python/.coverage
    # shellcheck disable=SC2086
    "$PY" -m coverage run --rcfile=scripts/coverage.toml -m pytest -q -p no:cacheprovider $PYTHON_TESTS ||
        failed+=("pytest")
    python_report
    { echo "Python client (coverage.py):"; cat "$OUT/python-summary.txt"; echo; targets; } | tee "$OUT/summary.txt"
    echo
    echo "uncovered lines: $OUT/python-uncovered.txt; line by line: $OUT/python-html/index.html"
    if [ ${#failed[@]} -gt 0 ]; then
        echo "coverage measured, but these failed: ${failed[*]}" >&2
        exit 1
    fi
    exit 0
fi

# Build scripts and proc macros are instrumented too: keep their profiles apart.
export LLVM_PROFILE_FILE=$OUT/build-profiles/%p-%m.profraw

step "instrumented module with the debug-panic feature"
cargo build --release --features debug-panic || exit 1
cp "$OUT/release/libredis_numpy.so" "$PANIC_DIR/"
step "instrumented module"
cargo build --release || exit 1
cp "$OUT/release/libredis_numpy.so" "$MODULE_DIR/"
step "instrumented test binaries"
mapfile -t TEST_BINARIES < <(
    cargo test --release --no-run --message-format=json 2>/dev/null |
        "$PY" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])'
)
[ ${#TEST_BINARIES[@]} -gt 0 ] || { echo "no test binaries built"; exit 1; }

step "redis-server whose fork children write their profiles too"
# Both harnesses find redis-server on PATH (the Python one through
# $REDIS_SERVER first): a wrapper preloads scripts/coverage_exit.c into it.
mkdir -p "$OUT/bin"
cc -shared -fPIC -O2 -o "$OUT/coverage_exit.so" scripts/coverage_exit.c || exit 1
real_server=${REDIS_SERVER:-$(command -v redis-server)}
printf '#!/bin/sh\nexport LD_PRELOAD=%s\nexec %s "$@"\n' "$OUT/coverage_exit.so" "$real_server" >"$OUT/bin/redis-server"
chmod +x "$OUT/bin/redis-server"
export PATH=$OUT/bin:$PATH
export REDIS_SERVER=$OUT/bin/redis-server

export LLVM_PROFILE_FILE=$PROFILES/%p-%m.profraw
export REDIS_NUMPY_MODULE=$MODULE_DIR/libredis_numpy.so

step "cargo test (instrumented tests, instrumented module in real servers)"
# Put the instrumented debug-panic build where the panic test looks for it,
# and put back whatever was there afterwards.
saved=""
if [ -f "$PANIC_SLOT" ]; then saved=$(mktemp) && cp -a "$PANIC_SLOT" "$saved"; fi
restore_panic_slot() {
    if [ -n "$saved" ]; then mv -f "$saved" "$PANIC_SLOT"; else rm -f "$PANIC_SLOT"; fi
}
trap restore_panic_slot EXIT
mkdir -p "$(dirname "$PANIC_SLOT")" && cp "$PANIC_DIR/libredis_numpy.so" "$PANIC_SLOT"
cargo test --release || failed+=("cargo test")
restore_panic_slot
trap - EXIT

step "Python suites under coverage.py, against the instrumented module: $PYTHON_TESTS"
export COVERAGE_FILE=$OUT/python/.coverage
# shellcheck disable=SC2086
"$PY" -m coverage run --rcfile=scripts/coverage.toml -m pytest -q -p no:cacheprovider $PYTHON_TESTS ||
    failed+=("pytest")

step "merging profiles"
shopt -s nullglob
profiles=("$PROFILES"/*.profraw)
echo "${#profiles[@]} profiles"
"$LLVM_BIN/llvm-profdata" merge -sparse "${profiles[@]}" -o "$OUT/merged.profdata" || exit 1

# llvm-cov takes the first binary as a plain argument, the others after -object.
objects=("$MODULE_DIR/libredis_numpy.so" -object "$PANIC_DIR/libredis_numpy.so")
for binary in "${TEST_BINARIES[@]}"; do objects+=(-object "$binary"); done
# src/ only: no registry crates, no std, no tests/, and not the property tests
# (src/proptests.rs is test code).
filters=(-ignore-filename-regex '/(\.cargo|rustc)/|/tests/|src/proptests\.rs$' -instr-profile "$OUT/merged.profdata")

"$LLVM_BIN/llvm-cov" report "${filters[@]}" "${objects[@]}" "$ROOT/src" >"$OUT/rust-summary.txt" || exit 1
"$LLVM_BIN/llvm-cov" export -format=lcov "${filters[@]}" "${objects[@]}" "$ROOT/src" >"$OUT/rust.lcov" || exit 1
"$LLVM_BIN/llvm-cov" show -format=html -output-dir="$OUT/html" -show-line-counts-or-regions \
    "${filters[@]}" "${objects[@]}" "$ROOT/src" >/dev/null || exit 1
"$PY" scripts/uncovered.py "$OUT/rust.lcov" "$ROOT" >"$OUT/rust-uncovered.txt"

python_report

{
    echo "src/ (llvm-cov; lines, functions and regions):"
    cat "$OUT/rust-summary.txt"
    echo
    echo "Python client (coverage.py):"
    cat "$OUT/python-summary.txt"
    echo
    targets
} | tee "$OUT/summary.txt"
echo
echo "uncovered lines: $OUT/rust-uncovered.txt, $OUT/python-uncovered.txt"
echo "line by line: $OUT/html/index.html, $OUT/python-html/index.html"

if [ ${#failed[@]} -gt 0 ]; then
    echo "coverage measured, but these failed: ${failed[*]}" >&2
    exit 1
fi
