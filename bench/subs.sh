#!/usr/bin/env bash
# Many subscriptions: a connector generated at run time
# (bench/gen-subs-connector.sh) with N pull-latest-records collections, each
# polling the bench upstream's one small page (`GET /latest`, 2 records)
# every INTERVAL seconds, run by `runtime run` for S seconds after start-up.
# The host logs each cycle at debug level on the `runtime_host::schedule`
# target: `lag_ms` (how late the cycle started against its due time: the
# previous cycle's end plus the jittered interval) and `cycle_ms` (start to
# committed). Steady-state figures leave out each subscription's first cycle,
# which all start at once at start-up (reported separately).
#
#   bench/subs.sh           N=10000, INTERVAL=60, S=240; rewrites the
#                           "Many subscriptions" section of docs/benchmarks.md
#   bench/subs.sh --smoke   N=200, INTERVAL=2, S=10, no doc write; non-zero
#                           exit unless every subscription ran at least twice
# Options: --subs N, --interval SECS, --seconds S, --rounds R (ignored: one
# long run), --no-doc, --dry-run.
set -euo pipefail
name=subs

subs=10000
interval=60
seconds=240
smoke=0
write_doc=1
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; subs=200; interval=2; seconds=10; write_doc=0 ;;
    --subs) subs="${2:?--subs needs a number}"; shift ;;
    --interval) interval="${2:?--interval needs a whole number of seconds}"; shift ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift ;;
    --rounds) shift ;;
    --no-doc) write_doc=0 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench/subs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$dry_run" = 0 ] || exit 0

. "$(dirname "$0")/lib.sh"
need_bins "$runtime_bin" "$upstream_bin"

start_upstream --records 0
connector="$work/connector"
bench/gen-subs-connector.sh "$connector" "$subs" "$interval"
printf '{"parameters": {"baseUri": "%s"}}\n' "$base" >"$work/connection.json"

log="$work/run.log"
launched=$(now_us)
"$runtime_bin" run "$connector" --connection "$work/connection.json" --data-dir "$work/data" \
  --sink "file:$work/events.jsonl" --log "info,runtime_host::schedule=debug" 2>"$log" &
pid=$!
track "$pid"
# Start-up: loading the connector's specs, until the host logs "starting".
until grep -qs ' starting' "$log"; do
  kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "runtime run exited during start-up"; }
  sleep 0.05
done
started=$(now_us)
startup=$(awk -v d=$((started - launched)) 'BEGIN {print d / 1e6}')
echo "start-up with $subs collections: $startup s" >&2
: >"$work/rss"
end=$(( started + seconds * 1000000 ))
while [ "$(now_us)" -lt "$end" ]; do
  kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "runtime run exited early"; }
  awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" >>"$work/rss"
  sleep 1
done
peak=$(peak_rss_kib "$pid")
last_rss=$(tail -1 "$work/rss")
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
untrack "$pid"
[ "$status" = 0 ] || { tail -20 "$log" >&2; die "runtime run exited with status $status"; }

# "... runtime_host::schedule: cycle subscription=S first=B lag_ms=X cycle_ms=Y"
grep 'runtime_host::schedule' "$log" |
  sed -n 's/.*subscription=\([^ ]*\) first=\([a-z]*\) lag_ms=\([0-9.e+-]*\) cycle_ms=\([0-9.e+-]*\).*/\1 \2 \3 \4/p' \
  >"$work/cycles"
first_n=$(awk '$2 == "true"' "$work/cycles" | cut -d' ' -f1 | sort -u | wc -l)
steady_n=$(awk '$2 == "false"' "$work/cycles" | wc -l)
twice=$(awk '$2 == "false" {print $1}' "$work/cycles" | sort -u | wc -l)
failed=$(grep -c 'cycle failed' "$log" || true)
lag() { awk -v c="$1" '$2 == "false" {print $c}' "$work/cycles" | percentile "$2"; }
lag_p50=$(lag 3 50); lag_p99=$(lag 3 99); lag_max=$(lag 3 100)
cyc_p50=$(lag 4 50); cyc_p99=$(lag 4 99)
herd=$(awk '$2 == "true" {print $4}' "$work/cycles" | percentile 100)
# After its first cycle a subscription runs one every INTERVAL (+-10%), so
# S seconds hold between S/INTERVAL - 1 and S/INTERVAL more of each.
expected=$(awk -v n="$subs" -v s="$seconds" -v i="$interval" 'BEGIN {printf "%d to %d", n * (s / i - 1), n * s / i}')
peak_mib=$(awk -v k="$peak" 'BEGIN {printf "%.0f", k / 1024}')
last_mib=$(awk -v k="$last_rss" 'BEGIN {printf "%.0f", k / 1024}')
echo "first cycles: $first_n subscriptions (the last done $herd ms after it started); steady cycles: $steady_n ($twice subscriptions); failures: $failed" >&2

table="$work/table.md"
{
  echo "| subscriptions | start-up | first cycles done within | steady cycles (on schedule: N x (S / INTERVAL - 1) to N x S / INTERVAL) | lag p50 / p99 / max | cycle p50 / p99 | RSS peak / at the end |"
  echo "|---|---|---|---|---|---|---|"
  awk -v n="$subs" -v su="$startup" -v h="$herd" -v r="$steady_n" -v nom="$expected" \
      -v l50="$lag_p50" -v l99="$lag_p99" -v lmax="$lag_max" -v c50="$cyc_p50" -v c99="$cyc_p99" \
      -v pk="$peak_mib" -v la="$last_mib" \
    'BEGIN {printf "| %d | %.1f s | %.1f s | %d (%s) | %.1f / %.1f / %.1f ms | %.1f / %.1f ms | %d / %d MiB |\n", n, su, h / 1000, r, nom, l50, l99, lmax, c50, c99, pk, la}'
} >"$table"
cat "$table"

problems=""
[ "$first_n" = "$subs" ] || problems="$problems only $first_n of $subs subscriptions ran;"
[ "$failed" = 0 ] || problems="$problems $failed cycles failed;"
if [ "$smoke" = 1 ] && [ "$twice" != "$subs" ]; then
  problems="$problems only $twice of $subs subscriptions ran a second cycle;"
fi
if [ -n "$problems" ]; then
  tail -5 "$log" >&2
  die "$problems"
fi

[ "$write_doc" = 1 ] || exit 0
section="$work/section.md"
{
  echo "## Many subscriptions"
  echo
  echo "\`bench/subs.sh\` (written by it on $(date -u +%Y-%m-%d); rerun to refresh). A connector"
  echo "generated at run time (\`bench/gen-subs-connector.sh\`) with $subs pull-latest-records"
  echo "collections, each reading one page of 2 records from the bench upstream (\`GET /latest\`)"
  echo "every $interval s, run by \`runtime run --sink file:...\` for $seconds s after start-up. With"
  echo "\`--log info,runtime_host::schedule=debug\` the host logs every cycle's \`lag_ms\` (how late"
  echo "it started against its due time: the previous cycle's end plus the jittered interval) and"
  echo "\`cycle_ms\` (start to durable commit, including waiting for the one engine thread and the"
  echo "store). Start-up is launch to the host's \`starting\` line (loading $subs collection specs);"
  echo "every subscription's first cycle starts at once then, so those are reported apart (the"
  echo "column \"first cycles done within\") and left out of lag and cycle figures. RSS sampled from"
  echo "\`/proc/PID/status\` every second, peak is \`VmHWM\`."
  echo
  cat "$table"
  echo
  echo "Targets: lag p99 <= 1 s: $(awk -v l="$lag_p99" 'BEGIN {printf "%.1f ms, %s", l, (l <= 1000) ? "met" : "missed"}');"
  echo "RSS <= 2 GiB: $peak_mib MiB peak, $(awk -v p="$peak_mib" 'BEGIN {print (p <= 2048) ? "met" : "missed"}')."
  echo "$steady_n steady cycles from $twice subscriptions; $failed failed."
  echo
  machine_note
  echo "Command: \`bench/subs.sh --subs $subs --interval $interval --seconds $seconds\` (part of \`bench/run.sh\`)."
  echo "<!-- end Many subscriptions -->"
} >"$section"
write_section "Many subscriptions" "$section"
