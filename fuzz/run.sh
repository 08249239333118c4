#!/usr/bin/env bash
# Seeds the corpora, then fuzzes every target for N seconds each (default 60)
# and prints executions and crashes per target. Exits 1 if any target crashed.
#
#   fuzz/run.sh [seconds] [target...]
#
# Works on stable Rust: cargo-fuzz passes nightly-only flags (-Zsanitizer=address,
# sancov), which RUSTC_BOOTSTRAP=1 lets the stable compiler accept.
# Needs `cargo install cargo-fuzz`. Crash inputs land in fuzz/artifacts/<target>/;
# reproduce one with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>` and shrink
# it with `RUSTC_BOOTSTRAP=1 cargo fuzz tmin <target> <file>`.
set -uo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

seconds="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
./seed.sh || exit 2
cargo fuzz build || exit 2

mkdir -p logs
failed=0
printf '\n%-14s %8s %12s %10s %8s  %s\n' target seconds execs "execs/s" crashes artifact
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="logs/$t.log"
    before=$(find "artifacts/$t" -type f | wc -l)
    # -print_final_stats gives stat::number_of_executed_units; -rss_limit_mb
    # bounds memory (the parsers must never allocate from untrusted sizes).
    cargo fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -dict=dict/npy.dict -print_final_stats=1 \
        -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    artifact=$(grep -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes="rc=$rc"; fi
    printf '%-14s %8s %12s %10s %8s  %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$crashes" "${artifact:-}"
    if [ "$rc" -ne 0 ]; then
        failed=1
        grep -m1 -A12 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" | sed 's/^/    /'
    fi
done
echo "logs in fuzz/logs/"
exit "$failed"
