#!/usr/bin/env bash
# Builds every fuzz target once, then runs each for a bounded time from its seeds (fuzz/seeds/)
# and the corpus it grew before (fuzz/corpus/, not committed). Fails if any target finds a
# crash, a timeout or a leak; libFuzzer's artifact path is printed. See docs/fuzzing.md.
#
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_SANITIZER  none (default) or address
#   FUZZ_TARGETS    space-separated targets to run (default: all)
#   FUZZ_BUILD_ONLY 1: build, then stop (.ci/run builds early, in the background, and runs later)
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-30}
sanitizer=${FUZZ_SANITIZER:-none}
# cargo-fuzz passes nightly `-Z` flags to rustc; the toolchain here is stable.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed; installing it"
  cargo install cargo-fuzz --locked
fi

targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
started=$(date +%s)
# Every target builds on the parsers crate alone (see fuzz/Cargo.toml).
cargo fuzz build --sanitizer "$sanitizer"
echo "built the targets in $(($(date +%s) - started)) s"
if [[ ${FUZZ_BUILD_ONLY:-} == 1 ]]; then
  exit 0
fi
bin="target/$(rustc -vV | sed -n 's/^host: //p')/release"

failed=()
summary=()
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="target/fuzz-$t.log"
  echo "--- $t: $seconds s"
  # The binary built above, run directly (`cargo fuzz run` would rebuild if a source changed
  # meanwhile). The first directory receives new inputs; the seeds are only read.
  if "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "corpus/$t" "seeds/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    summary+=("$t: ${runs:-?} runs, ${rate:-?} execs/s, ${cov:-cov: ?}")
  else
    failed+=("$t")
    tail -n 40 "$log"
    grep -h 'Test unit written to' "$log" || true
    summary+=("$t: FAILED (log: fuzz/$log)")
  fi
done

echo
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzzing found a problem in: ${failed[*]}"
  echo "reproduce with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer <target> <artifact>)"
  exit 1
fi
