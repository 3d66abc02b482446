#!/usr/bin/env bash
# Fuzzes the parsers that read what users, connectors and webhook senders
# give the runtime (fuzz/fuzz_targets, docs/reliability.md "Fuzzing").
#   scripts/fuzz.sh [TARGET ...]     each target (default: all) for N seconds
#   FUZZ_SECONDS=N                   time per target (default 60)
#   FUZZ_JOBS=J                      parallel fuzzing processes (default 1)
# Needs the nightly toolchain (sanitizers); installs cargo-fuzz if missing.
# The corpus grows in fuzz/corpus/<target> (not in git); fuzz/seeds/<target>
# is the small seed corpus that is. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes this script fail (after the other
# targets have had their turn); replay it with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-1}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=("-dict=fuzz/dicts/$t.dict")
  par=()
  # -jobs=1 would still fork a worker that logs to a file: only for J > 1.
  [ "$jobs" -gt 1 ] && par=("-jobs=$jobs" "-workers=$jobs")
  echo "fuzz: $t for ${seconds}s" >&2
  # -timeout: an input slower than 10 s is a finding (a parser that hangs).
  if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 "${par[@]}" "${dict[@]}"; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
