#!/usr/bin/env bash
# Warm and cold calls of a function that returns a constant
# (bench/connectors/invoke/data/items/constant.js). Runners, alternating:
#   runtime  bench-invoke: the runtime-engine API as `runtime invoke` uses it;
#            cold = load the connector, start the engine, first call (the
#            JavaScript runtime is created then); warm = each of N more calls
#   node     bench/invoke-node.js: import the file, call it N times in one process
# plus whole processes for one call: `runtime invoke` and `node bench/invoke-node.js --calls 0`.
#
#   bench/invoke.sh           N=10000 calls, 5 rounds; rewrites the
#                             "Warm and cold invoke" section of docs/benchmarks.md
#   bench/invoke.sh --smoke   N=200, 1 round, no doc write; non-zero exit on failure
# Options: --calls N, --rounds R, --no-doc, --dry-run.
set -euo pipefail
name=invoke

calls=10000
rounds=5
write_doc=1
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) calls=200; rounds=1; write_doc=0 ;;
    --calls) calls="${2:?--calls needs a number}"; shift ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
    --no-doc) write_doc=0 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench/invoke.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$dry_run" = 0 ] || exit 0

. "$(dirname "$0")/lib.sh"
invoke_bin="$bin_dir/bench-invoke"
need_bins "$runtime_bin" "$invoke_bin"
connector=bench/connectors/invoke
function=data/items/constant
expect='{"ok":true}'

# Runs one runner; appends its figures to $work/<runner>.
measure() {
  local start end ms
  case "$1" in
    runtime)
      "$invoke_bin" "$connector" "$function" --calls "$calls" --expect "$expect" >"$work/out" 2>"$work/err" ||
        { cat "$work/err" >&2; die "bench-invoke failed"; } ;;
    node)
      node bench/invoke-node.js --calls "$calls" >"$work/out" 2>"$work/err" ||
        { cat "$work/err" >&2; die "invoke-node.js failed"; } ;;
    runtime-process|node-process)
      start=$(now_us)
      if [ "$1" = runtime-process ]; then
        "$runtime_bin" invoke "$connector" "$function" --compact >"$work/out" 2>"$work/err" ||
          { cat "$work/err" >&2; die "runtime invoke failed"; }
        [ "$(cat "$work/out")" = "$expect" ] || die "runtime invoke printed $(cat "$work/out"), expected $expect"
      else
        node bench/invoke-node.js --calls 0 >"$work/out" 2>"$work/err" ||
          { cat "$work/err" >&2; die "invoke-node.js failed"; }
      fi
      end=$(now_us)
      ms=$(awk -v d=$((end - start)) 'BEGIN {print d / 1000}')
      echo "$ms" >>"$work/$1"
      echo "round $round: $1 ${ms} ms" >&2
      return ;;
  esac
  [ "$(json_num "$work/out" calls)" = "$calls" ] || die "$1 made $(json_num "$work/out" calls) calls, expected $calls"
  echo "$(json_num "$work/out" coldMs) $(json_num "$work/out" warmMedianUs) $(json_num "$work/out" warmP99Us) $(json_num "$work/out" importMs)" >>"$work/$1"
  echo "round $round: $1 $(cat "$work/out")" >&2
}

runners=(runtime node runtime-process node-process)
for round in $(seq "$rounds"); do
  n=${#runners[@]}
  for i in $(seq 0 $((n - 1))); do
    measure "${runners[$(( (i + round - 1) % n ))]}"
  done
done

col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }
rt_cold="$(col runtime 1)"; rt_warm="$(col runtime 2)"; rt_p99="$(col runtime 3)"
nd_cold="$(col node 1)"; nd_warm="$(col node 2)"; nd_p99="$(col node 3)"; nd_import="$(col node 4)"
rt_proc="$(col runtime-process 1)"; nd_proc="$(col node-process 1)"

table="$work/table.md"
{
  echo "| runner | warm call, median | warm call, p99 | cold: first call in the process | cold: whole process, one call |"
  echo "|---|---|---|---|---|"
  awk -v w="$rt_warm" -v p="$rt_p99" -v c="$rt_cold" -v q="$rt_proc" \
    'BEGIN {printf "| runtime | %.1f µs | %.1f µs | %.1f ms (load connector, start engine, first call) | %.0f ms (`runtime invoke`) |\n", w, p, c, q}'
  awk -v w="$nd_warm" -v p="$nd_p99" -v c="$nd_cold" -v i="$nd_import" -v q="$nd_proc" \
    'BEGIN {printf "| node | %.2f µs | %.2f µs | %.1f ms (import and first call: %.1f ms after Node started) | %.0f ms (`node bench/invoke-node.js --calls 0`) |\n", w, p, c, i, q}'
  awk -v rw="$rt_warm" -v nw="$nd_warm" -v rc="$rt_cold" -v nc="$nd_cold" -v rq="$rt_proc" -v nq="$nd_proc" \
    'BEGIN {printf "| runtime / node | %.0fx | | %.2fx | %.2fx |\n", rw / nw, rc / nc, rq / nq}'
} >"$table"
cat "$table"

[ "$write_doc" = 1 ] || exit 0
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN {print (v <= lim) ? "met" : "missed"}'; }
section="$work/section.md"
{
  echo "## Warm and cold invoke"
  echo
  echo "\`bench/invoke.sh\` (written by it on $(date -u +%Y-%m-%d); rerun to refresh). The function is"
  echo "\`bench/connectors/invoke/data/items/constant.js\` (\`return { ok: true }\`; the connector has a"
  echo "\`make-api-client.js\`, as real ones do). **runtime**: \`bench-invoke\` (crates/bench-upstream)"
  echo "drives the runtime-engine API configured as \`runtime invoke\` configures it; cold is"
  echo "loading the connector's specs, \`Engine::start\` and the first \`Engine::call\` (which"
  echo "creates the JavaScript runtime and loads the modules); warm is each of $calls further"
  echo "calls, \`Engine::call\` to result, one after another. **node**: \`bench/invoke-node.js\`"
  echo "imports the same file and awaits it $calls times with a fresh argument object,"
  echo "serializing each result; its in-process cold counts from Node's process start."
  echo "Whole-process times are wall clock from the shell. $rounds rounds, runners alternating, medians."
  echo
  cat "$table"
  echo
  echo "Targets: warm <= 50 µs: $(awk -v w="$rt_warm" 'BEGIN {printf "%.1f µs", w}'), $(verdict "$rt_warm" 50);"
  echo "cold <= 30 ms: $(awk -v c="$rt_cold" 'BEGIN {printf "%.1f ms", c}') in process, $(verdict "$rt_cold" 30)."
  echo
  machine_note
  echo "Command: \`bench/invoke.sh --calls $calls --rounds $rounds\` (part of \`bench/run.sh\`)."
  echo "<!-- end Warm and cold invoke -->"
} >"$section"
write_section "Warm and cold invoke" "$section"
