#!/usr/bin/env bash
# Events/s end to end through `runtime serve` with 100 busy connections,
# beside `runtime run` with one, measured in the same script (A B A B...).
# Both use bench/connectors/e2e: a custom-pull collection whose pull returns
# 1,000 new events per call (made in JavaScript, no HTTP), cycling as fast
# as it can (`--interval 0.001`), so each cycle is one engine call (in an
# engine worker process for serve), one durable sled commit of state and
# events, and delivery to the file sink. Timed from the first connection's
# creation (serve) or the process start (run) until the N-th line is in the
# file; then every line is checked (no event of a connection twice).
#
#   bench/serve-e2e.sh           N=200000 events, 100 connections, 3 rounds;
#                                rewrites the "runtime serve: events end to end"
#                                section of docs/benchmarks.md
#   bench/serve-e2e.sh --smoke   N=5000, 4 connections, 1 round, no doc write
# Options: --events N, --connections C, --rounds R, --no-doc, --dry-run.
set -euo pipefail
name=serve-e2e

events=200000
connections=100
rounds=3
write_doc=1
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) events=5000; connections=4; rounds=1; write_doc=0 ;;
    --events) events="${2:?--events needs a number}"; shift ;;
    --connections) connections="${2:?--connections needs a number}"; shift ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
    --no-doc) write_doc=0 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench/serve-e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$dry_run" = 0 ] || exit 0

. "$(dirname "$0")/lib.sh"
need_bins "$runtime_bin"
command -v curl >/dev/null || die "curl not found on PATH"

# Waits for the N-th line of $1 while $2 lives; prints how many it saw.
lines_until() {
  timeout 600 tail --pid="$2" -n +1 -F "$1" 2>/dev/null | head -n "$events" | wc -l || true
}

# One round of `runtime run`: "seconds peak_rss_kib".
run_round() {
  local data="$work/run-data" sink="$work/run.jsonl" start end pid got rss status=0
  rm -rf "$data"; : >"$sink"
  start=$(now_us)
  "$runtime_bin" run bench/connectors/e2e --data-dir "$data" --sink "file:$sink" \
    --interval 0.001 2>"$work/run.err" &
  pid=$!; track "$pid"
  got=$(lines_until "$sink" "$pid")
  end=$(now_us)
  rss=$(peak_rss_kib "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || status=$?
  untrack "$pid"
  [ "$status" = 0 ] || { tail -20 "$work/run.err" >&2; die "runtime run exited with status $status"; }
  [ "$got" = "$events" ] || die "run: only $got of $events events reached the sink"
  awk -v d=$((end - start)) -v r="$rss" 'BEGIN {print d / 1e6, r}'
}

# One round of `runtime serve` with $connections connections:
# "seconds peak_rss_kib (service + workers, sampled)".
serve_round() {
  local store="$work/serve-store" sink="$work/serve.jsonl" port api start end pid got status=0 sampler
  rm -rf "$store" "$work/connectors"; : >"$sink"
  mkdir -p "$work/connectors"
  cp -r bench/connectors/e2e "$work/connectors/bench-e2e"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  api="http://127.0.0.1:$port"
  RUNTIME_ADMIN_TOKEN="bench-$$" RUNTIME_SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    "$runtime_bin" serve --connectors "$work/connectors" --store "sled:$store" \
    --listen "127.0.0.1:$port" --sink "file:$sink" --interval 0.001 2>"$work/serve.err" &
  pid=$!; track "$pid"
  until curl -sf "$api/healthz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/serve.err" >&2; die "runtime serve exited during start-up"; }
    sleep 0.05
  done
  : >"$work/serve-rss"
  ( while kill -0 "$pid" 2>/dev/null; do tree_rss_kib "$pid" >>"$work/serve-rss"; sleep 0.5; done ) &
  sampler=$!
  start=$(now_us)
  seq -f '%04g' 1 "$connections" | xargs -P 4 -I{} curl -sf -o /dev/null -X POST "$api/v1/connections" \
    -H "Authorization: Bearer bench-$$" -H 'Content-Type: application/json' \
    -d '{"id": "c{}", "connector": "bench-e2e", "credentials": {"token": "unused"}}' ||
    { tail -20 "$work/serve.err" >&2; die "creating the connections failed"; }
  got=$(lines_until "$sink" "$pid")
  end=$(now_us)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || status=$?
  untrack "$pid"
  wait "$sampler" 2>/dev/null || true
  [ "$status" = 0 ] || { tail -20 "$work/serve.err" >&2; die "runtime serve exited with status $status"; }
  [ "$got" = "$events" ] || die "serve: only $got of $events events reached the sink"
  # Per connection, no event id twice.
  dupes=$(grep -o '"connection":"c[0-9]*"\|"recordId":"ev-[0-9]*"' "$sink" | paste -d' ' - - | sort | uniq -d | wc -l)
  [ "$dupes" = 0 ] || die "serve: $dupes events twice in the sink"
  busy=$(grep -o '"connection":"c[0-9]*"' "$sink" | sort -u | wc -l)
  echo "$busy" >"$work/busy"
  awk -v d=$((end - start)) -v r="$(sort -n "$work/serve-rss" | tail -1)" 'BEGIN {print d / 1e6, r}'
}

: >"$work/run-times"; : >"$work/serve-times"
for round in $(seq "$rounds"); do
  run_round >>"$work/run-times"
  serve_round >>"$work/serve-times"
  echo "round $round: run $(tail -1 "$work/run-times" | cut -d' ' -f1) s, serve $(tail -1 "$work/serve-times" | cut -d' ' -f1) s ($(cat "$work/busy") connections had events)" >&2
done

row() {
  local secs rss
  secs=$(awk '{print $1}' "$2" | median)
  rss=$(awk '{print $2 / 1024}' "$2" | median)
  awk -v who="$1" -v n="$events" -v s="$secs" -v m="$rss" 'BEGIN {printf "| %s | %d | %.2f s | %d | %.0f MiB |\n", who, n, s, n / s, m}'
}
table="$work/table.md"
{
  echo "| runner | events | median time | events/s | peak RSS |"
  echo "|---|---|---|---|---|"
  row "runtime run, 1 connection" "$work/run-times"
  row "runtime serve, $connections connections (in engine workers)" "$work/serve-times"
} >"$table"
cat "$table"
run_rate=$(awk -v n="$events" '{print n / $1}' "$work/run-times" | median)
serve_rate=$(awk -v n="$events" '{print n / $1}' "$work/serve-times" | median)
ratio=$(awk -v a="$serve_rate" -v b="$run_rate" 'BEGIN {printf "%.2f", a / b}')
echo "serve / run: $ratio" >&2

[ "$write_doc" = 1 ] || exit 0
section="$work/section.md"
{
  echo "## runtime serve: events end to end"
  echo
  echo "\`bench/serve-e2e.sh\` (written by it on $(date -u +%Y-%m-%d); rerun to refresh). The"
  echo "connector of \"End to end\" (a custom-pull collection returning 1,000 new events per pull,"
  echo "no HTTP) cycling as fast as it can (\`--interval 0.001\`): \`runtime run\` with its one"
  echo "connection, and \`runtime serve\` with $connections connections created through the admin API"
  echo "(4 at a time, the clock running), their calls in one engine worker process, the rounds"
  echo "alternating (run, serve, run, ...). Time until the ${events}th line is in the file sink;"
  echo "serve's RSS is the service's and its worker's, sampled every 0.5 s. $rounds rounds, medians."
  echo
  cat "$table"
  echo
  echo "serve / run: $ratio (events/s)."
  echo
  machine_note
  echo "Command: \`bench/serve-e2e.sh --events $events --connections $connections --rounds $rounds\` (part of \`bench/run.sh\`)."
  echo "<!-- end runtime serve: events end to end -->"
} >"$section"
write_section "runtime serve: events end to end" "$section"
