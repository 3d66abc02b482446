#!/usr/bin/env bash
# Many connections in one `runtime serve`: N connections of one connector
# (bench/gen-serve-connector.sh: 3 pull-latest-records collections each,
# polling the bench upstream's one small page every INTERVAL s), created
# through the admin API, then run for S seconds. Reports the time to create
# them, schedule lag (steady cycles: each subscription's first cycle left
# out), RSS and CPU, and memory per connection; then the Node baseline
# (bench/serve-node.js: one node:vm context per connection, the same
# connector file) doing the same job, measured right after on the same
# machine.
#
#   bench/serve.sh           N=10000, INTERVAL=60, S=240; rewrites the
#                            "runtime serve: many connections" section of docs/benchmarks.md
#   bench/serve.sh --smoke   N=50, INTERVAL=2, S=10, no doc write
# Failed cycles are counted and their reasons listed; the exit is non-zero
# unless every subscription ran its baseline and a steady cycle after it.
# Options: --connections N, --interval SECS, --seconds S, --no-node,
# --rounds R (ignored), --no-doc, --dry-run.
set -euo pipefail
name=serve

connections=10000
interval=60
seconds=240
write_doc=1
dry_run=0
node_baseline=1
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) connections=50; interval=2; seconds=10; write_doc=0 ;;
    --connections) connections="${2:?--connections needs a number}"; shift ;;
    --interval) interval="${2:?--interval needs a whole number of seconds}"; shift ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift ;;
    --no-node) node_baseline=0 ;;
    --rounds) shift ;;
    --no-doc) write_doc=0 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench/serve.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$dry_run" = 0 ] || exit 0

. "$(dirname "$0")/lib.sh"
need_bins "$runtime_bin" "$upstream_bin"
command -v curl >/dev/null || die "curl not found on PATH"

start_upstream --records 0
mkdir -p "$work/connectors"
connector="$work/connectors/bench-serve"
bench/gen-serve-connector.sh "$connector" "$interval"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api="http://127.0.0.1:$port"
token="bench-token-$$"
export RUNTIME_ADMIN_TOKEN="$token"
RUNTIME_SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export RUNTIME_SECRET_KEY
log="$work/serve.log"
"$runtime_bin" serve --connectors "$work/connectors" --store "sled:$work/store" \
  --listen "127.0.0.1:$port" --sink "file:$work/events.jsonl" \
  --allow-private-networks 127.0.0.0/8 --log "info,runtime_host::schedule=debug" 2>"$log" &
pid=$!
track "$pid"
until curl -sf "$api/healthz" >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "runtime serve exited during start-up"; }
  sleep 0.05
done
# Memory and CPU are the service's and its engine workers' together.
rss_empty=$(tree_rss_kib "$pid")

# Create the connections, 4 requests at a time.
created_at=$(now_us)
seq -f '%06g' 1 "$connections" | xargs -P 4 -I{} curl -sf -o /dev/null -X POST "$api/v1/connections" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"id\": \"t{}\", \"connector\": \"bench-serve\", \"credentials\": {\"token\": \"secret-{}\"}, \"parameters\": {\"baseUri\": \"$base\"}}" ||
  { tail -20 "$log" >&2; die "creating the connections failed"; }
created=$(now_us)
create_s=$(awk -v d=$((created - created_at)) 'BEGIN {print d / 1e6}')
echo "created $connections connections in $create_s s" >&2

: >"$work/rss"
ticks_before=$(tree_cpu_ticks "$pid")
end=$(( created + seconds * 1000000 ))
while [ "$(now_us)" -lt "$end" ]; do
  kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "runtime serve exited early"; }
  tree_rss_kib "$pid" >>"$work/rss"
  sleep 1
done
ticks_after=$(tree_cpu_ticks "$pid")
hz=$(getconf CLK_TCK)
cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v s="$seconds" 'BEGIN {printf "%.0f", 100 * t / hz / s}')
peak=$(sort -n "$work/rss" | tail -1)
workers=$(children_of "$pid" | wc -l)
last_rss=$(tail -1 "$work/rss")
service_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
echo "RSS at the end: $((service_rss / 1024)) MiB in the service, $(( (last_rss - service_rss) / 1024 )) MiB in its $workers engine workers" >&2
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
untrack "$pid"
[ "$status" = 0 ] || { tail -20 "$log" >&2; die "runtime serve exited with status $status"; }

# "... runtime_host::schedule: cycle subscription=S first=B lag_ms=X cycle_ms=Y connection=C"
grep 'runtime_host::schedule' "$log" |
  sed -n 's/.*subscription=\([^ ]*\) first=\([a-z]*\) lag_ms=\([0-9.e+-]*\) cycle_ms=\([0-9.e+-]*\) connection=\([^ ]*\).*/\5:\1 \2 \3 \4/p' \
  >"$work/cycles"
subs=$((connections * 3))
first_n=$(awk '$2 == "true"' "$work/cycles" | cut -d' ' -f1 | sort -u | wc -l)
steady_n=$(awk '$2 == "false"' "$work/cycles" | wc -l)
twice=$(awk '$2 == "false" {print $1}' "$work/cycles" | sort -u | wc -l)
failed=$(grep -c 'cycle failed' "$log" || true)
lag() { awk -v c="$1" '$2 == "false" {print $c}' "$work/cycles" | percentile "$2"; }
lag_p50=$(lag 3 50); lag_p99=$(lag 3 99); lag_max=$(lag 3 100)
peak_mib=$(awk -v k="$peak" 'BEGIN {printf "%.0f", k / 1024}')
last_mib=$(awk -v k="$last_rss" 'BEGIN {printf "%.0f", k / 1024}')
per_conn=$(awk -v a="$last_rss" -v e="$rss_empty" -v n="$connections" 'BEGIN {printf "%.1f", (a - e) / n}')
echo "first cycles: $first_n of $subs subscriptions; steady cycles: $steady_n ($twice subscriptions); failures: $failed" >&2

node_row=""
if [ "$node_baseline" = 1 ]; then
  node_out=$(node bench/serve-node.js "$base" "$connections" "$interval" "$seconds" "$connector")
  echo "node: $node_out" >&2
  node_row=$(echo "$node_out" | awk -v n="$connections" '{
    match($0, /"lag_p50_ms":[0-9.e+-]+/); p50 = substr($0, RSTART + 13, RLENGTH - 13)
    match($0, /"lag_p99_ms":[0-9.e+-]+/); p99 = substr($0, RSTART + 13, RLENGTH - 13)
    match($0, /"rss_peak_mib":[0-9]+/); rss = substr($0, RSTART + 15, RLENGTH - 15)
    match($0, /"steady":[0-9]+/); st = substr($0, RSTART + 9, RLENGTH - 9)
    match($0, /"failed":[0-9]+/); fl = substr($0, RSTART + 9, RLENGTH - 9)
    printf "| Node, one node:vm context per connection | %d | - | %d (%d failed) | %.1f / %.1f ms | %d MiB | - | - |\n", n, st, fl, p50, p99, rss }')
fi

table="$work/table.md"
{
  echo "| runner | connections (x 3 subscriptions) | created in | steady cycles | lag p50 / p99 | RSS peak | RSS per connection | CPU |"
  echo "|---|---|---|---|---|---|---|---|"
  awk -v n="$connections" -v cr="$create_s" -v st="$steady_n" -v fl="$failed" -v l50="$lag_p50" -v l99="$lag_p99" \
      -v pk="$peak_mib" -v pc="$per_conn" -v cpu="$cpu" \
    'BEGIN {printf "| runtime serve | %d | %.1f s | %d (%d failed) | %.1f / %.1f ms | %d MiB | %.1f KiB | %d %% |\n", n, cr, st, fl, l50, l99, pk, pc, cpu}'
  [ -z "$node_row" ] || echo "$node_row"
} >"$table"
cat "$table"

# A failed cycle is reported, with its reason; it sinks the run only when
# it was not recovered from: every subscription must have run its baseline
# and at least one steady cycle after it.
reasons="$work/reasons"
grep 'cycle failed' "$log" | sed 's/.*cycle failed: //' | sort | uniq -c | sort -rn | head -5 >"$reasons" || true
[ ! -s "$reasons" ] || { echo "failed cycles by reason:" >&2; cat "$reasons" >&2; }
problems=""
[ "$first_n" = "$subs" ] || problems="$problems only $first_n of $subs subscriptions ran;"
[ "$twice" = "$subs" ] || problems="$problems only $twice of $subs subscriptions ran a steady cycle;"
if [ -n "$problems" ]; then
  tail -5 "$log" >&2
  die "$problems"
fi

[ "$write_doc" = 1 ] || exit 0
section="$work/section.md"
{
  echo "## runtime serve: many connections"
  echo
  echo "\`bench/serve.sh\` (written by it on $(date -u +%Y-%m-%d); rerun to refresh). One"
  echo "\`runtime serve\` with $connections connections of one connector"
  echo "(\`bench/gen-serve-connector.sh\`: 3 pull-latest-records collections, each reading one page"
  echo "of 2 records from the bench upstream every $interval s), created through the admin API"
  echo "(4 requests at a time), then run for $seconds s. Lag is how late a cycle started against its"
  echo "due time (the previous cycle's end plus the jittered interval), steady cycles only (each"
  echo "subscription's first cycle, its baseline, is left out). RSS and CPU are the service's and"
  echo "its engine worker processes' ($workers at the end) summed; the peak is the largest of the"
  echo "samples taken each second. RSS per connection is the RSS at the end less the RSS of the"
  echo "empty service, divided by the connections; CPU is user + system time over the $seconds s"
  echo "(workers that ended included), as a share of one core. The Node row"
  echo "is \`bench/serve-node.js\`: one \`node:vm\` context per connection running the same"
  echo "\`pull-latest-records.js\` (its \`export default\` rewritten for a script), watermarks in"
  echo "memory, no store and no sink, run right after on the same machine."
  echo
  cat "$table"
  echo
  if [ -s "$reasons" ]; then
    echo "Failed cycles by reason (each retried; every subscription ran its steady cycles after):"
    echo
    sed 's/^ *\([0-9]*\) \(.*\)/- \1 x `\2`/' "$reasons"
    echo
  fi
  echo "Targets: lag p99 <= 1 s: $(awk -v l="$lag_p99" 'BEGIN {printf "%.1f ms, %s", l, (l <= 1000) ? "met" : "missed"}');"
  echo "RSS <= 2 GiB: $peak_mib MiB peak, $(awk -v p="$peak_mib" 'BEGIN {print (p <= 2048) ? "met" : "missed"}')."
  echo
  machine_note
  echo "Command: \`bench/serve.sh --connections $connections --interval $interval --seconds $seconds\` (part of \`bench/run.sh\`)."
  echo "<!-- end runtime serve: many connections -->"
} >"$section"
write_section "runtime serve: many connections" "$section"
