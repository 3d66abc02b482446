#!/usr/bin/env bash
# The apiClient-path benchmark: one connector function pages through N
# records (100 per page, ~1 KB each) from a local upstream in ONE call, run by
#   runtime  our binary: `runtime invoke bench/connector data/items/list-all`
#   node     the same list-all.js with Node's fetch (bench/fetch-runner.js)
#   deno     the same with Deno's fetch (bench/setup.sh installs Deno)
#   reqwest  plain reqwest + serde_json in Rust: the physical limit
# Runners alternate within each round; medians of the rounds are reported.
#
#   bench/apiclient.sh          full run (N=100000, 5 rounds), rewrites the
#                               "apiClient path" section of docs/benchmarks.md
#   bench/apiclient.sh --smoke  N=2000, 1 round, no doc write; exits non-zero
#                               if any runner fails or miscounts (CI)
# Options: --records N, --rounds R, --no-doc, --dry-run (check the arguments).
# bench/run.sh runs it with the other benchmarks.
# Binaries: RUNTIME_BIN (default target/release/runtime); bench-upstream and
# bench-reqwest are taken from the same directory (BENCH_BIN_DIR overrides).
# Build them first: cargo build --release -p runtime -p bench-upstream
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

records=100000
rounds=5
smoke=0
write_doc=1
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; records=2000; rounds=1; write_doc=0 ;;
    --records) records="${2:?--records needs a number}"; shift ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
    --no-doc) write_doc=0 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench/apiclient.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$dry_run" = 0 ] || exit 0

runtime_bin="${RUNTIME_BIN:-target/release/runtime}"
bin_dir="${BENCH_BIN_DIR:-$(dirname "$runtime_bin")}"
upstream_bin="$bin_dir/bench-upstream"
reqwest_bin="$bin_dir/bench-reqwest"
deno_bin="${DENO_BIN:-bench/.deno/node_modules/@deno/linux-x64-glibc/deno}"
for b in "$runtime_bin" "$upstream_bin" "$reqwest_bin"; do
  if [ ! -x "$b" ]; then
    echo "bench/apiclient.sh: $b not found; build it: cargo build --release -p runtime -p bench-upstream" >&2
    echo "  (or point RUNTIME_BIN at another build, e.g. RUNTIME_BIN=target/debug/runtime)" >&2
    exit 2
  fi
done
command -v node >/dev/null || { echo "bench/apiclient.sh: node not found on PATH" >&2; exit 2; }

runners=(runtime node reqwest)
if [ -x "$deno_bin" ]; then
  runners=(runtime node deno reqwest)
elif [ "$smoke" = 1 ]; then
  echo "bench/apiclient.sh: Deno not installed ($deno_bin); skipping it (bench/setup.sh installs it)" >&2
else
  echo "bench/apiclient.sh: Deno not installed; trying bench/setup.sh" >&2
  if bench/setup.sh >&2 && [ -x "$deno_bin" ]; then
    runners=(runtime node deno reqwest)
  else
    echo "bench/apiclient.sh: Deno could not be installed; it is left out" >&2
  fi
fi

work="$(mktemp -d)"
upstream_pid=""
cleanup() {
  if [ -n "$upstream_pid" ]; then kill "$upstream_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$upstream_bin" --records "$records" >"$work/upstream.out" 2>"$work/upstream.err" &
upstream_pid=$!
base=""
for _ in $(seq 600); do
  base="$(sed -n 's/^listening on //p' "$work/upstream.out")"
  [ -n "$base" ] && break
  kill -0 "$upstream_pid" 2>/dev/null || { cat "$work/upstream.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "bench/apiclient.sh: the upstream did not start in 60 s" >&2; exit 1; }
printf '{"parameters": {"baseUri": "%s"}}\n' "$base" >"$work/connection.json"

# Sets `cmd` to the command line of runner $1.
cmd_of() {
  case "$1" in
    runtime) cmd=("$runtime_bin" invoke bench/connector data/items/list-all
                  --connection "$work/connection.json" --compact) ;;
    node) cmd=(node bench/fetch-runner.js "$base") ;;
    deno) cmd=(env DENO_DIR="$root/bench/.deno/cache" DENO_NO_UPDATE_CHECK=1 "$deno_bin" run
               --no-prompt --allow-net=127.0.0.1 --allow-read=bench bench/fetch-runner.js "$base") ;;
    reqwest) cmd=("$reqwest_bin" "$base") ;;
  esac
}

# One timed run: appends "microseconds peak_rss_kib" to $work/<runner>.times.
measure() {
  local r="$1" start end count cmd
  cmd_of "$r"
  start=$(date +%s%N)
  if ! /usr/bin/time -f '%M' -o "$work/$r.rss" "${cmd[@]}" >"$work/$r.out" 2>"$work/$r.err"; then
    echo "bench/apiclient.sh: $r failed: ${cmd[*]}" >&2
    tail -20 "$work/$r.err" >&2
    return 1
  fi
  end=$(date +%s%N)
  count="$(grep -o '[0-9]\+' "$work/$r.out" | tail -1 || true)"
  if [ "$count" != "$records" ]; then
    echo "bench/apiclient.sh: $r counted '${count}' records, expected $records: ${cmd[*]}" >&2
    return 1
  fi
  echo "$(( (end - start) / 1000 )) $(tail -1 "$work/$r.rss")" >>"$work/$r.times"
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for round in $(seq "$rounds"); do
  # Rotate the order each round so no runner always goes first.
  n=${#runners[@]}
  for i in $(seq 0 $((n - 1))); do
    r="${runners[$(( (i + round - 1) % n ))]}"
    if measure "$r"; then
      echo "round $round: $r $(tail -1 "$work/$r.times" | awk '{printf "%.3f s, %d MiB", $1/1e6, $2/1024}')" >&2
    else
      failed=1
    fi
  done
done
[ "$failed" = 0 ] || { echo "bench/apiclient.sh: a runner failed" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
declare -A secs rss
for r in "${runners[@]}"; do
  secs[$r]="$(awk '{print $1/1e6}' "$work/$r.times" | median)"
  rss[$r]="$(awk '{print $2/1024}' "$work/$r.times" | median)"
done
rate() { awk -v n="$records" -v s="$1" 'BEGIN {printf "%.0f", n/s}'; }

table="$work/table.md"
{
  echo "| runner | median time | records/s | peak RSS | records/s vs reqwest | records/s vs Node |"
  echo "|---|---|---|---|---|---|"
  for r in "${runners[@]}"; do
    awk -v r="$r" -v s="${secs[$r]}" -v m="${rss[$r]}" -v n="$records" \
        -v q="${secs[reqwest]}" -v d="${secs[node]}" \
      'BEGIN {printf "| %s | %.3f s | %.0f | %.0f MiB | %.2fx | %.2fx |\n", r, s, n/s, m, q/s, d/s}'
  done
} >"$table"
cat "$table"

[ "$write_doc" = 1 ] || exit 0

deno_version="not installed (bench/setup.sh could not install it)"
[ -x "$deno_bin" ] && deno_version="$("$deno_bin" --version | head -1)"
section="$work/section.md"
{
  echo "## apiClient path"
  echo
  echo "\`bench/run.sh\` (written by it on $(date -u +%Y-%m-%d); rerun to refresh). One connector"
  echo "function, \`bench/connector/data/items/list-all.js\`, pages through all $records records"
  echo "of a local upstream (\`crates/bench-upstream\`: \`GET /items?cursor=N\`, 100 records"
  echo "of ~1 KB JSON per page, pre-serialized) inside ONE call, counting them. Node and"
  echo "Deno run the same file with their own \`fetch\` as \`apiClient\` (\`bench/fetch-runner.js\`);"
  echo "reqwest is a plain Rust loop doing the same requests and \`serde_json\` parsing"
  echo "(\`bench-reqwest\`), the physical limit of the path. Times are whole processes (start"
  echo "to exit, so they include start-up); $rounds rounds, runners alternating, medians;"
  echo "peak RSS from \`/usr/bin/time\`."
  echo
  cat "$table"
  echo
  echo "Machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') RAM, $(uname -sm); load average"
  echo "before the run $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) (other work shares the machine);"
  echo "node $(node --version), deno ${deno_version#deno }, $(rustc --version | cut -d' ' -f1-2)."
  echo "Command: \`bench/apiclient.sh --records $records --rounds $rounds\` (part of \`bench/run.sh\`)."
  echo "<!-- end apiClient path -->"
} >"$section"

doc="${BENCH_DOC:-docs/benchmarks.md}"
# Replace the section between its heading and its end marker; append it
# when the doc does not have it yet.
awk -v sec="$section" '
  /^## apiClient path$/ {skip=1; while ((getline l < sec) > 0) print l; done=1; next}
  skip && /^<!-- end apiClient path -->$/ {skip=0; next}
  !skip {print}
  END {if (!done) {print ""; while ((getline l < sec) > 0) print l}}
' "$doc" >"$work/doc.md"
cp "$work/doc.md" "$doc"
echo "wrote the apiClient path section of $doc" >&2
