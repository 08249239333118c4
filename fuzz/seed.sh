#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from tests/fixtures/npy (np.save outputs) plus
# synthesized arrays, RDB records (rdb::encode_meta) and descr texts.
# Idempotent: existing corpus entries (e.g. ones libFuzzer found) are kept.
# The corpus is git-ignored; never commit it.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --release --example seed -- ../tests/fixtures/npy corpus
