# Shared by the bench/*.sh benchmarks (sourced, not run): binaries, the
# upstream, timing, medians and writing a section of docs/benchmarks.md.
# Each benchmark sets `name` (for messages) before sourcing this file.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runtime_bin="${RUNTIME_BIN:-target/release/runtime}"
bin_dir="${BENCH_BIN_DIR:-$(dirname "$runtime_bin")}"
upstream_bin="$bin_dir/bench-upstream"
doc="${BENCH_DOC:-docs/benchmarks.md}"

die() { echo "bench/$name.sh: $*" >&2; exit 1; }

# Exits unless every binary given exists and Node is on PATH.
need_bins() {
  local b
  for b in "$@"; do
    if [ ! -x "$b" ]; then
      echo "bench/$name.sh: $b not found; build it: cargo build --release -p runtime -p bench-upstream" >&2
      echo "  (or point RUNTIME_BIN at another build, e.g. RUNTIME_BIN=target/debug/runtime)" >&2
      exit 2
    fi
  done
  command -v node >/dev/null || { echo "bench/$name.sh: node not found on PATH" >&2; exit 2; }
}

# A scratch directory removed at exit, with every process registered by
# `track PID` killed first.
work="$(mktemp -d)"
tracked=()
track() { tracked+=("$1"); }
# After `wait`ing for a tracked process, so a reused id is never killed.
untrack() {
  local p keep=()
  for p in "${tracked[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  tracked=("${keep[@]}")
}
cleanup() {
  local p
  for p in ${tracked[@]+"${tracked[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${tracked[@]+"${tracked[@]}"}; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts bench-upstream with the given arguments; sets `base` to its URL.
start_upstream() {
  "$upstream_bin" "$@" >"$work/upstream.out" 2>"$work/upstream.err" &
  local pid=$!
  track "$pid"
  base=""
  for _ in $(seq 1200); do
    base="$(sed -n 's/^listening on //p' "$work/upstream.out")"
    [ -n "$base" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/upstream.err" >&2; die "the upstream failed to start"; }
    sleep 0.1
  done
  die "the upstream did not start in 120 s"
}

now_us() { echo $(( $(date +%s%N) / 1000 )); }

# Median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Percentile $1 (0-100) of the numbers on stdin (nearest rank).
percentile() {
  sort -g | awk -v p="$1" '{a[NR]=$1} END {
    if (NR == 0) { print "nan"; exit }
    i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'
}

# The number after "KEY": in the JSON text of file $1.
json_num() { grep -o "\"$2\":-\?[0-9.e+-]*" "$1" | tail -1 | cut -d: -f2; }

# Peak RSS in KiB of a running process.
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The pids whose parent is $1 (e.g. `runtime serve`'s engine workers).
children_of() {
  local f
  for f in /proc/[0-9]*/stat; do
    # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
    sed -n 's/^\([0-9]*\) (.*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' "$f" 2>/dev/null
  done | awk -v p="$1" '$2 == p {print $1}'
}

# RSS in KiB of process $1 and its children, summed.
tree_rss_kib() {
  local p total=0 kib
  for p in "$1" $(children_of "$1"); do
    kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

# CPU clock ticks (user + system) of process $1, of its children that
# ended (counted by it once waited for), and of its live children.
tree_cpu_ticks() {
  local p total
  total=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13 + $14 + $15}')
  for p in $(children_of "$1"); do
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')))
  done
  echo "$total"
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# One paragraph on the machine and versions, for a doc section.
machine_note() {
  echo "Machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') RAM, $(uname -sm); load average"
  echo "before the run $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) (other work shares the machine);"
  local dirty=""
  git diff --quiet HEAD 2>/dev/null || dirty=" plus uncommitted changes"
  echo "node $(node --version), $(rustc --version | cut -d' ' -f1-2); runtime \`$runtime_bin\` built"
  echo "$(date -u -r "$runtime_bin" '+%Y-%m-%d %H:%M UTC'), tree at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty."
}

# Replaces the section of $doc from the line "## $1" to "<!-- end $1 -->"
# with the contents of file $2 (which carries both lines); appends it when
# the doc does not have it yet.
write_section() {
  local heading="$1" section="$2"
  awk -v sec="$section" -v h="## $heading" -v end="<!-- end $heading -->" '
    $0 == h {skip=1; while ((getline l < sec) > 0) print l; done=1; next}
    skip && $0 == end {skip=0; next}
    !skip {print}
    END {if (!done) {print ""; while ((getline l < sec) > 0) print l}}
  ' "$doc" >"$work/doc.md"
  cp "$work/doc.md" "$doc"
  echo "bench/$name.sh: wrote the \"$1\" section of $doc" >&2
}
