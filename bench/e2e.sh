#!/usr/bin/env bash
# End to end: `runtime run bench/connectors/e2e --sink file:F --interval 0.001`.
# Its custom-pull collection returns a batch of 1,000 new events on every
# pull (made in JavaScript, no HTTP), so each cycle is: engine call, decode,
# one durable sled commit (state + outbox), delivery to the file sink
# (fsync per batch), acknowledgement. Timed from the process start until the
# N-th event line is in the file; then the run is stopped (SIGTERM) and every
# line is checked (ids consecutive, none twice).
#
#   bench/e2e.sh           N=200000 events, 3 rounds; rewrites the
#                          "End to end" section of docs/benchmarks.md
#   bench/e2e.sh --smoke   N=5000, 1 round, no doc write; non-zero exit on failure
# Options: --events N, --rounds R, --no-doc, --dry-run.
set -euo pipefail
name=e2e

events=200000
rounds=3
write_doc=1
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) events=5000; rounds=1; write_doc=0 ;;
    --events) events="${2:?--events needs a number}"; shift ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
    --no-doc) write_doc=0 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench/e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$dry_run" = 0 ] || exit 0

. "$(dirname "$0")/lib.sh"
need_bins "$runtime_bin"

for round in $(seq "$rounds"); do
  data="$work/data" sink="$work/events.jsonl"
  rm -rf "$data" "$sink"
  : >"$sink"
  start=$(now_us)
  "$runtime_bin" run bench/connectors/e2e --data-dir "$data" --sink "file:$sink" \
    --interval 0.001 2>"$work/run.err" &
  pid=$!
  track "$pid"
  # `tail -F` wakes on every write (inotify); `head` ends at the N-th line.
  got="$(timeout 600 tail --pid="$pid" -n +1 -F "$sink" 2>/dev/null | head -n "$events" | wc -l || true)"
  end=$(now_us)
  rss=$(peak_rss_kib "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  status=0
  wait "$pid" || status=$?
  untrack "$pid"
  [ "$status" = 0 ] || { tail -20 "$work/run.err" >&2; die "runtime run exited with status $status"; }
  [ "$got" = "$events" ] || { tail -20 "$work/run.err" >&2; die "only $got of $events events reached the sink"; }
  total=$(wc -l <"$sink")
  distinct=$(grep -o '"recordId":"ev-[0-9]*"' "$sink" | sort -u | wc -l)
  highest=$(grep -o '"recordId":"ev-[0-9]*"' "$sink" | grep -o '[0-9]*' | sort -n | tail -1)
  [ "$distinct" = "$total" ] || die "$total lines but $distinct distinct event ids"
  [ "$highest" = "$((total - 1))" ] || die "$total events but the highest id is ev-$highest"
  secs=$(awk -v d=$((end - start)) 'BEGIN {print d / 1e6}')
  echo "$secs $rss" >>"$work/times"
  echo "round $round: $events events in $secs s ($(awk -v n="$events" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')/s), peak RSS $((rss / 1024)) MiB; $total on disk after the stop" >&2
done

secs="$(awk '{print $1}' "$work/times" | median)"
rate="$(awk -v n="$events" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')"
rss_mib="$(awk '{print $2 / 1024}' "$work/times" | median)"
line_bytes="$(awk -v b="$(stat -c %s "$work/events.jsonl" 2>/dev/null || echo 0)" -v n="$(wc -l <"$work/events.jsonl")" 'BEGIN {printf "%.0f", n ? b / n : 0}')"
table="$work/table.md"
{
  echo "| events | median time | events/s | peak RSS |"
  echo "|---|---|---|---|"
  awk -v n="$events" -v s="$secs" -v r="$rate" -v m="$rss_mib" 'BEGIN {printf "| %d | %.2f s | %d | %.0f MiB |\n", n, s, r, m}'
} >"$table"
cat "$table"

[ "$write_doc" = 1 ] || exit 0
section="$work/section.md"
{
  echo "## End to end"
  echo
  echo "\`bench/e2e.sh\` (written by it on $(date -u +%Y-%m-%d); rerun to refresh). \`runtime run"
  echo "bench/connectors/e2e --sink file:... --interval 0.001\`: a custom-pull collection whose"
  echo "\`pull\` returns 1,000 new events per call (built in JavaScript, no HTTP; a line is about"
  echo "$line_bytes bytes), so each cycle is one engine call, one durable commit of state and"
  echo "events to sled, and delivery to the file sink (written and fsynced per batch of up to 5,000, then"
  echo "acknowledged). Time from the process start (start-up included) until the ${events}th line is"
  echo "in the file; every line checked afterwards (consecutive ids, no duplicates). $rounds rounds,"
  echo "medians; peak RSS from \`/proc/PID/status\`."
  echo
  cat "$table"
  echo
  echo "Target >= 50,000 events/s: $rate, $(awk -v r="$rate" 'BEGIN {print (r >= 50000) ? "met" : "missed"}')."
  echo
  machine_note
  echo "Command: \`bench/e2e.sh --events $events --rounds $rounds\` (part of \`bench/run.sh\`)."
  echo "<!-- end End to end -->"
} >"$section"
write_section "End to end" "$section"
