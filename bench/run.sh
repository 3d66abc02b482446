#!/usr/bin/env bash
# Every benchmark, one command. Each one is its own script and writes its own
# section of docs/benchmarks.md (between "## <heading>" and "<!-- end <heading> -->"):
#   apiclient  bench/apiclient.sh  one call paging through 100,000 records vs Node, Deno, reqwest
#   fullscan   bench/fullscan.sh   full scan of 1,000,000 records, unchanged and 1% changed, vs Node
#   invoke     bench/invoke.sh     warm call and cold start of a constant function, vs Node
#   e2e        bench/e2e.sh        custom-pull batches of 1,000 events into the file sink
#   subs       bench/subs.sh       10,000 subscriptions: schedule lag and RSS
#   serve      bench/serve.sh      10,000 connections in runtime serve vs a node:vm-per-connection baseline
#   serve-e2e  bench/serve-e2e.sh  events/s through runtime serve with 100 busy connections vs run
#
#   bench/run.sh                  all of them, full size (about half an hour)
#   bench/run.sh fullscan e2e     only those
#   bench/run.sh --smoke          all at a small N, no doc writes; exits non-zero
#                                 if any benchmark fails or miscounts (CI, < 2 min
#                                 on a debug build: RUNTIME_BIN=target/debug/runtime)
# Other options (--no-doc, --rounds R, --records N, ...) are passed to every
# benchmark selected; each script's --help lists its own. Binaries:
# RUNTIME_BIN (default target/release/runtime), the bench binaries from the
# same directory (BENCH_BIN_DIR overrides). Build them first:
#   cargo build --release -p runtime -p bench-upstream
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
all=(apiclient fullscan invoke e2e subs serve serve-e2e)
selected=()
options=()
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    apiclient|fullscan|invoke|e2e|subs|serve|serve-e2e) selected+=("$a") ;;
    *) options+=("$a") ;;
  esac
done
[ ${#selected[@]} -gt 0 ] || selected=("${all[@]}")

# Check every script's arguments before running anything long.
for b in "${selected[@]}"; do
  "$here/$b.sh" "${options[@]}" --dry-run || {
    echo "bench/run.sh: bench/$b.sh does not take these options: ${options[*]}" >&2
    exit 2
  }
done

failed=()
for b in "${selected[@]}"; do
  echo "=== $b" >&2
  start=$(date +%s)
  if "$here/$b.sh" "${options[@]}"; then
    echo "=== $b done in $(( $(date +%s) - start )) s" >&2
  else
    failed+=("$b")
    echo "=== $b FAILED" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
